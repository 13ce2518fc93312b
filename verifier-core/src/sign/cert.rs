//! X.509 certificates for signing and for tests.
//!
//! [`generate_test_certificate`] makes what `notation cert generate-test` makes. [`CertificateSpec`]
//! is **test tooling**: it hand-builds the `TBSCertificate` so that every field and extension the
//! Notary Project's certificate rules look at (signature-specification, "Certificate
//! Requirements") can be set right or wrong on purpose. Nothing here checks that the result is
//! a sensible certificate; that is the verifier's job.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::asn1::{BitString, Null, OctetString};
use der::flagset::FlagSet;
use der::{Any, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use super::names::parse_name;
use super::std::time::SystemTime;
use super::time::{system_time_to_unix, x509_time};
use super::{pem_encode, HashAlgorithm, KeyType, SignError, SigningKey};

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), the one EKU a Notary signing certificate may have.
pub const EKU_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// id-kp-serverAuth.
pub const EKU_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// id-kp-clientAuth.
pub const EKU_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// id-kp-emailProtection.
pub const EKU_EMAIL_PROTECTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");
/// id-kp-timeStamping (what a TSA certificate carries).
pub const EKU_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// anyExtendedKeyUsage (2.5.29.37.0).
pub const EKU_ANY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

/// Validity of `generate-test` certificates: one year. Notation's generator (testhelper) has used
/// one day and, lately, ten minutes for its leaf certificates, too short to sign today and verify
/// tomorrow; its earlier releases had `--expiry` defaulting to 365 days, which we follow.
const TEST_CERT_VALIDITY_SECS: u64 = 365 * 24 * 60 * 60;

/// Makes a key and a self-signed code-signing certificate like `notation cert generate-test NAME`:
/// subject and issuer `C=US, ST=WA, L=Seattle, O=Notary, CN=NAME`, a random serial, valid from
/// `now` for one year, keyUsage critical digitalSignature, extendedKeyUsage codeSigning (not
/// critical) and, as notation does, no basicConstraints (the verifier treats a single self-signed
/// certificate as the leaf and as its own trust anchor).
///
/// Returns `(PKCS#8 PEM private key, PEM certificate)`.
pub fn generate_test_certificate(
    name: &str,
    key_type: KeyType,
    now: SystemTime,
) -> Result<(String, String), SignError> {
    let now = system_time_to_unix(now)?;
    let cert = CertificateSpec::new(&test_subject(name), now, now + TEST_CERT_VALIDITY_SECS)
        .key_type(key_type)
        .build()?;
    Ok((cert.key.to_pkcs8_pem()?, cert.pem()?))
}

/// The subject notation gives its test certificates.
fn test_subject(common_name: &str) -> String {
    let mut cn = String::new();
    for c in common_name.chars() {
        // Escape what would otherwise start a new RDN.
        if c == ',' || c == '\\' {
            cn.push('\\');
        }
        cn.push(c);
    }
    alloc::format!("C=US, ST=WA, L=Seattle, O=Notary, CN={cn}")
}

/// The keyUsage bits tests can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUsageBit {
    DigitalSignature,
    NonRepudiation,
    KeyEncipherment,
    DataEncipherment,
    KeyAgreement,
    KeyCertSign,
    CrlSign,
}

impl KeyUsageBit {
    fn flag(self) -> KeyUsages {
        match self {
            Self::DigitalSignature => KeyUsages::DigitalSignature,
            Self::NonRepudiation => KeyUsages::NonRepudiation,
            Self::KeyEncipherment => KeyUsages::KeyEncipherment,
            Self::DataEncipherment => KeyUsages::DataEncipherment,
            Self::KeyAgreement => KeyUsages::KeyAgreement,
            Self::KeyCertSign => KeyUsages::KeyCertSign,
            Self::CrlSign => KeyUsages::CRLSign,
        }
    }
}

/// basicConstraints when present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicConstraintsSpec {
    pub critical: bool,
    pub ca: bool,
    pub path_len: Option<u8>,
}

/// keyUsage when present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUsageSpec {
    pub critical: bool,
    pub bits: Vec<KeyUsageBit>,
}

/// extendedKeyUsage when present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendedKeyUsageSpec {
    pub critical: bool,
    pub oids: Vec<ObjectIdentifier>,
}

/// Which hash the issuer signs the certificate with (PKCS#1 v1.5 for RSA issuers, ECDSA for
/// EC issuers). SHA-1 only exists for negative tests.
pub type SignatureHash = HashAlgorithm;

/// Who signs a certificate: a name (the new certificate's issuer field) and a private key.
#[derive(Clone, Debug)]
pub struct Issuer {
    pub name: String,
    pub key: SigningKey,
}

impl Issuer {
    pub fn new(name: &str, key: SigningKey) -> Self {
        Self {
            name: name.to_string(),
            key,
        }
    }
}

/// A certificate made by [`CertificateSpec::build`], with the key it certifies.
#[derive(Clone, Debug)]
pub struct TestCertificate {
    /// The DER certificate.
    pub der: Vec<u8>,
    /// The subject's private key.
    pub key: SigningKey,
    /// The subject name as given to the spec.
    pub subject: String,
}

impl TestCertificate {
    /// The certificate as PEM.
    pub fn pem(&self) -> Result<String, SignError> {
        pem_encode("CERTIFICATE", &self.der)
    }

    /// This certificate's subject and key, to issue further certificates with.
    pub fn issuer(&self) -> Issuer {
        Issuer::new(&self.subject, self.key.clone())
    }
}

/// A builder for test certificates (**test tooling**: it makes broken certificates as readily as
/// good ones). Defaults are a notation-style code-signing leaf: self-signed, fresh EC P-256 key,
/// random 16-byte serial, the issuer key's usual hash, keyUsage critical {digitalSignature}, EKU {codeSigning}
/// (not critical), no basicConstraints, a subject key identifier only on CA certificates and an
/// authority key identifier only when issued by another key (as Go's crypto/x509 does).
///
/// ```
/// # #[cfg(feature = "sign")] {
/// use verifier_core::sign::{BasicConstraintsSpec, CertificateSpec, KeyType, KeyUsageBit};
/// let root = CertificateSpec::ca("C=US, O=Acme, CN=root", 0, 4_000_000_000)
///     .key_type(KeyType::EcP384)
///     .build()
///     .unwrap();
/// let leaf = CertificateSpec::new("C=US, O=Acme, CN=leaf", 0, 4_000_000_000)
///     .issued_by(root.issuer())
///     .build()
///     .unwrap();
/// assert!(!leaf.der.is_empty());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct CertificateSpec {
    subject: String,
    not_before: u64,
    not_after: u64,
    key: KeySource,
    issuer: Option<Issuer>,
    serial: Option<Vec<u8>>,
    basic_constraints: Option<BasicConstraintsSpec>,
    key_usage: Option<KeyUsageSpec>,
    extended_key_usage: Option<ExtendedKeyUsageSpec>,
    signature_hash: Option<HashAlgorithm>,
    subject_key_id: Option<bool>,
    authority_key_id: Option<bool>,
    extra_extensions: Vec<Extension>,
}

#[derive(Clone, Debug)]
enum KeySource {
    Generate(KeyType),
    Given(SigningKey),
}

impl CertificateSpec {
    /// A code-signing leaf for `subject` (e.g. `"C=US, ST=WA, O=Acme, CN=leaf"`), valid from
    /// `not_before` to `not_after` (Unix seconds).
    pub fn new(subject: &str, not_before: u64, not_after: u64) -> Self {
        Self {
            subject: subject.to_string(),
            not_before,
            not_after,
            key: KeySource::Generate(KeyType::EcP256),
            issuer: None,
            serial: None,
            basic_constraints: None,
            key_usage: Some(KeyUsageSpec {
                critical: true,
                bits: alloc::vec![KeyUsageBit::DigitalSignature],
            }),
            extended_key_usage: Some(ExtendedKeyUsageSpec {
                critical: false,
                oids: alloc::vec![EKU_CODE_SIGNING],
            }),
            signature_hash: None,
            subject_key_id: None,
            authority_key_id: None,
            extra_extensions: Vec::new(),
        }
    }

    /// A CA certificate: basicConstraints critical cA=true (no pathLen), keyUsage critical
    /// {keyCertSign, cRLSign}, no EKU.
    pub fn ca(subject: &str, not_before: u64, not_after: u64) -> Self {
        Self::new(subject, not_before, not_after)
            .basic_constraints(Some(BasicConstraintsSpec {
                critical: true,
                ca: true,
                path_len: None,
            }))
            .key_usage(Some(KeyUsageSpec {
                critical: true,
                bits: alloc::vec![KeyUsageBit::KeyCertSign, KeyUsageBit::CrlSign],
            }))
            .extended_key_usage(None)
    }

    /// Generate the subject key of this type (default EC P-256: fast in debug builds).
    pub fn key_type(mut self, key_type: KeyType) -> Self {
        self.key = KeySource::Generate(key_type);
        self
    }

    /// Certify this existing key instead of generating one.
    pub fn key(mut self, key: SigningKey) -> Self {
        self.key = KeySource::Given(key);
        self
    }

    /// Subject name (RDN string in written order, see [`super::parse_name`]).
    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = subject.to_string();
        self
    }

    /// Validity period in Unix seconds.
    pub fn validity(mut self, not_before: u64, not_after: u64) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// The serial number's big-endian magnitude (default: 16 random bytes).
    pub fn serial(mut self, serial: &[u8]) -> Self {
        self.serial = Some(serial.to_vec());
        self
    }

    /// Signed by `issuer` (its name becomes the issuer field). Default: self-signed.
    pub fn issued_by(mut self, issuer: Issuer) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Self-signed, with the issuer field equal to the subject (the default).
    pub fn self_signed(mut self) -> Self {
        self.issuer = None;
        self
    }

    /// basicConstraints: `None` leaves the extension out.
    pub fn basic_constraints(mut self, bc: Option<BasicConstraintsSpec>) -> Self {
        self.basic_constraints = bc;
        self
    }

    /// keyUsage: `None` leaves the extension out.
    pub fn key_usage(mut self, ku: Option<KeyUsageSpec>) -> Self {
        self.key_usage = ku;
        self
    }

    /// extendedKeyUsage: `None` leaves the extension out.
    pub fn extended_key_usage(mut self, eku: Option<ExtendedKeyUsageSpec>) -> Self {
        self.extended_key_usage = eku;
        self
    }

    /// The hash of the issuer's signature (default, as Go's crypto/x509 picks: SHA-256 for RSA
    /// and P-256 issuers, SHA-384 for P-384, SHA-512 for P-521).
    pub fn signature_hash(mut self, hash: HashAlgorithm) -> Self {
        self.signature_hash = Some(hash);
        self
    }

    /// Force the subjectKeyIdentifier / authorityKeyIdentifier extensions on or off
    /// (default: SKI on CA certificates, AKI when issued by another certificate).
    pub fn key_identifiers(mut self, subject_key_id: bool, authority_key_id: bool) -> Self {
        self.subject_key_id = Some(subject_key_id);
        self.authority_key_id = Some(authority_key_id);
        self
    }

    /// Adds an arbitrary extension (e.g. an unknown critical one); `value` is the DER inside
    /// the extnValue OCTET STRING. Added after the standard ones.
    pub fn extension(
        mut self,
        oid: ObjectIdentifier,
        critical: bool,
        value: &[u8],
    ) -> Result<Self, SignError> {
        self.extra_extensions.push(Extension {
            extn_id: oid,
            critical,
            extn_value: OctetString::new(value)?,
        });
        Ok(self)
    }

    /// Encodes and signs the certificate.
    pub fn build(self) -> Result<TestCertificate, SignError> {
        let key = match self.key {
            KeySource::Generate(t) => SigningKey::generate(t)?,
            KeySource::Given(k) => k,
        };
        let subject = parse_name(&self.subject)?;
        let (issuer_name, issuer_key): (Name, &SigningKey) = match &self.issuer {
            Some(i) => (parse_name(&i.name)?, &i.key),
            None => (subject.clone(), &key),
        };
        let spki = key.public_key_info()?;
        let is_ca = self.basic_constraints.is_some_and(|b| b.ca);

        let mut extensions = Vec::new();
        if let Some(ku) = &self.key_usage {
            let flags = ku
                .bits
                .iter()
                .fold(FlagSet::<KeyUsages>::default(), |acc, b| acc | b.flag());
            extensions.push(ext(OID_KEY_USAGE, ku.critical, &KeyUsage(flags))?);
        }
        if let Some(eku) = &self.extended_key_usage {
            let value = ExtendedKeyUsage(eku.oids.clone());
            extensions.push(ext(OID_EXT_KEY_USAGE, eku.critical, &value)?);
        }
        if let Some(bc) = self.basic_constraints {
            let value = BasicConstraints {
                ca: bc.ca,
                path_len_constraint: bc.path_len,
            };
            extensions.push(ext(OID_BASIC_CONSTRAINTS, bc.critical, &value)?);
        }
        if self.subject_key_id.unwrap_or(is_ca) {
            let id = SubjectKeyIdentifier(OctetString::new(key_id(&key)?)?);
            extensions.push(ext(OID_SUBJECT_KEY_ID, false, &id)?);
        }
        if self.authority_key_id.unwrap_or(self.issuer.is_some()) {
            let id = AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(key_id(issuer_key)?)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            };
            extensions.push(ext(OID_AUTHORITY_KEY_ID, false, &id)?);
        }
        extensions.extend(self.extra_extensions);

        let serial = match self.serial {
            Some(s) => s,
            None => random_serial()?,
        };
        let hash = self.signature_hash.unwrap_or(match issuer_key.kind() {
            "EC P-384" => HashAlgorithm::Sha384,
            "EC P-521" => HashAlgorithm::Sha512,
            _ => HashAlgorithm::Sha256,
        });
        let signature_algorithm = signature_algorithm(issuer_key, hash);
        let tbs = Tbs {
            version: Version::V3,
            serial_number: SerialNumber::new(&serial)?,
            signature: signature_algorithm.clone(),
            issuer: issuer_name,
            validity: Validity::new(x509_time(self.not_before)?, x509_time(self.not_after)?),
            subject,
            subject_public_key_info: spki,
            extensions: if extensions.is_empty() {
                None
            } else {
                Some(extensions)
            },
        };
        let tbs_der = tbs.to_der()?;
        let signature = if issuer_key.is_rsa() {
            issuer_key.sign_pkcs1v15(hash, &tbs_der)?
        } else {
            issuer_key.sign_ecdsa_der(hash, &tbs_der)?
        };
        let cert = Cert {
            tbs_certificate: tbs,
            signature_algorithm,
            signature: BitString::from_bytes(&signature)?,
        };
        Ok(TestCertificate {
            der: cert.to_der()?,
            key,
            subject: self.subject,
        })
    }
}

/// RFC 5280's `TBSCertificate`, field for field (without the unique IDs, which nothing uses).
/// x509-cert 0.3 keeps its own type's fields private and builds it only through a profile-checking
/// builder; this tooling must be able to write wrong certificates, so it encodes this mirror.
#[derive(Sequence)]
struct Tbs {
    #[asn1(context_specific = "0", default = "Default::default")]
    version: Version,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

/// RFC 5280's `Certificate` around [`Tbs`].
#[derive(Sequence)]
struct Cert {
    tbs_certificate: Tbs,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

fn ext(oid: ObjectIdentifier, critical: bool, value: &impl Encode) -> Result<Extension, SignError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
fn key_id(key: &SigningKey) -> Result<Vec<u8>, SignError> {
    let spki = key.public_key_info()?;
    Ok(HashAlgorithm::Sha1.digest(spki.subject_public_key.raw_bytes()))
}

/// A positive 128-bit serial (RFC 5280 allows up to 20 octets; CAs use at least 64 random bits).
fn random_serial() -> Result<Vec<u8>, SignError> {
    let mut serial = alloc::vec![0u8; 16];
    getrandom::fill(&mut serial)?;
    // Positive and without a leading zero octet, so it encodes in exactly 16 octets.
    serial[0] = (serial[0] & 0x7f) | 0x01;
    Ok(serial)
}

/// The AlgorithmIdentifier of the issuer's signature: sha*WithRSAEncryption (parameters NULL)
/// or ecdsa-with-SHA* (no parameters), RFC 4055 / RFC 5758.
fn signature_algorithm(issuer_key: &SigningKey, hash: HashAlgorithm) -> AlgorithmIdentifierOwned {
    let (oid, rsa) = match (issuer_key.is_rsa(), hash) {
        (true, HashAlgorithm::Sha1) => ("1.2.840.113549.1.1.5", true),
        (true, HashAlgorithm::Sha256) => ("1.2.840.113549.1.1.11", true),
        (true, HashAlgorithm::Sha384) => ("1.2.840.113549.1.1.12", true),
        (true, HashAlgorithm::Sha512) => ("1.2.840.113549.1.1.13", true),
        (false, HashAlgorithm::Sha1) => ("1.2.840.10045.4.1", false),
        (false, HashAlgorithm::Sha256) => ("1.2.840.10045.4.3.2", false),
        (false, HashAlgorithm::Sha384) => ("1.2.840.10045.4.3.3", false),
        (false, HashAlgorithm::Sha512) => ("1.2.840.10045.4.3.4", false),
    };
    AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap(oid),
        parameters: if rsa { Some(Any::from(Null)) } else { None },
    }
}
