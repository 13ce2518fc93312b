//! X.509 for Notary Project signatures: a parsed view of each certificate ([`CertificateView`]),
//! the keys and signatures they carry ([`key`]), names ([`name`]), and the chain rules of
//! signature-specification.md, "Certificate Requirements" ([`chain`]).

pub mod chain;
pub mod key;
pub mod name;
#[cfg(feature = "ring")]
mod native;
mod rsa_key;

use alloc::string::String;
use alloc::vec::Vec;

use der::asn1::ObjectIdentifier;
use der::{Decode, Reader, SliceReader};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::Certificate;

use crate::time::Timestamp;
use key::{Hash, PublicKey};

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// An extension value with its criticality.
#[derive(Clone, Debug)]
pub struct Ext<T> {
    pub critical: bool,
    pub value: T,
}

/// How a certificate is signed, when the algorithm is one we accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertSignatureAlgorithm {
    RsaPkcs1(Hash),
    Ecdsa(Hash),
}

/// One certificate, parsed once, with what the rules need.
pub struct CertificateView<'a> {
    pub der: &'a [u8],
    /// The exact DER of `tbsCertificate`: what the issuer signed.
    pub tbs_der: &'a [u8],
    pub cert: Certificate,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub basic_constraints: Option<Ext<BasicConstraints>>,
    pub key_usage: Option<Ext<KeyUsage>>,
    pub extended_key_usage: Option<Ext<ExtendedKeyUsage>>,
    /// Critical extensions this verifier does not process; their presence fails the chain.
    pub unknown_critical: Vec<ObjectIdentifier>,
    pub public_key: Result<PublicKey, String>,
}

impl<'a> CertificateView<'a> {
    /// Parses DER (strictly, with nothing after it) and decodes the extensions the rules read.
    pub fn parse(der: &'a [u8]) -> Result<Self, String> {
        let cert = Certificate::from_der(der).map_err(|e| alloc::format!("{e}"))?;
        let tbs_der = tbs_bytes(der).map_err(|e| alloc::format!("{e}"))?;
        let validity = cert.tbs_certificate().validity();
        let not_before = unix(validity.not_before.to_unix_duration());
        let not_after = unix(validity.not_after.to_unix_duration());

        let mut basic_constraints = None;
        let mut key_usage = None;
        let mut extended_key_usage = None;
        let mut unknown_critical = Vec::new();
        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        for ext in cert.tbs_certificate().extensions().into_iter().flatten() {
            // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
            if seen.contains(&ext.extn_id) {
                return Err(alloc::format!("extension {} appears twice", ext.extn_id));
            }
            seen.push(ext.extn_id);
            let bytes = ext.extn_value.as_bytes();
            let bad = |what: &str| alloc::format!("malformed {what} extension");
            match ext.extn_id {
                OID_BASIC_CONSTRAINTS => {
                    let value =
                        BasicConstraints::from_der(bytes).map_err(|_| bad("basicConstraints"))?;
                    basic_constraints = Some(Ext {
                        critical: ext.critical,
                        value,
                    });
                }
                OID_KEY_USAGE => {
                    let value = KeyUsage::from_der(bytes).map_err(|_| bad("keyUsage"))?;
                    key_usage = Some(Ext {
                        critical: ext.critical,
                        value,
                    });
                }
                OID_EXT_KEY_USAGE => {
                    let value =
                        ExtendedKeyUsage::from_der(bytes).map_err(|_| bad("extendedKeyUsage"))?;
                    extended_key_usage = Some(Ext {
                        critical: ext.critical,
                        value,
                    });
                }
                OID_SUBJECT_ALT_NAME => {}
                other if ext.critical => unknown_critical.push(other),
                _ => {}
            }
        }
        let public_key = PublicKey::from_spki(&cert.tbs_certificate().subject_public_key_info());
        Ok(Self {
            der,
            tbs_der,
            cert,
            not_before,
            not_after,
            basic_constraints,
            key_usage,
            extended_key_usage,
            unknown_critical,
            public_key,
        })
    }

    /// The signature algorithm, if allowed: RSA PKCS#1 v1.5 or ECDSA with SHA-256/384/512.
    /// SHA-1 and anything else are refused (signature-specification.md, "Certificate
    /// Requirements"); the inner and outer algorithm identifiers must agree (RFC 5280 §4.1.1.2).
    pub fn signature_algorithm(&self) -> Result<CertSignatureAlgorithm, String> {
        let outer = &self.cert.signature_algorithm();
        let oid = outer.oid;
        if self.cert.tbs_certificate().signature() != *outer {
            return Err(alloc::format!(
                "{oid} (tbsCertificate names another algorithm)"
            ));
        }
        let alg = match alloc::format!("{oid}").as_str() {
            "1.2.840.113549.1.1.11" => CertSignatureAlgorithm::RsaPkcs1(Hash::Sha256),
            "1.2.840.113549.1.1.12" => CertSignatureAlgorithm::RsaPkcs1(Hash::Sha384),
            "1.2.840.113549.1.1.13" => CertSignatureAlgorithm::RsaPkcs1(Hash::Sha512),
            "1.2.840.10045.4.3.2" => CertSignatureAlgorithm::Ecdsa(Hash::Sha256),
            "1.2.840.10045.4.3.3" => CertSignatureAlgorithm::Ecdsa(Hash::Sha384),
            "1.2.840.10045.4.3.4" => CertSignatureAlgorithm::Ecdsa(Hash::Sha512),
            "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => {
                return Err(alloc::format!("{oid} (SHA-1 is forbidden)"))
            }
            _ => return Err(alloc::format!("{oid}")),
        };
        Ok(alg)
    }

    /// Whether `issuer`'s key made this certificate's signature (with an allowed algorithm that
    /// fits the issuer's key type).
    pub fn is_signed_by(&self, issuer: &CertificateView<'_>) -> bool {
        let (Ok(alg), Ok(key)) = (self.signature_algorithm(), issuer.public_key.as_ref()) else {
            return false;
        };
        let Some(signature) = self.cert.signature().as_bytes() else {
            return false;
        };
        match alg {
            CertSignatureAlgorithm::RsaPkcs1(h) if key.is_rsa() => {
                key.verify_certificate_signature(h, self.tbs_der, signature)
            }
            CertSignatureAlgorithm::Ecdsa(h) if !key.is_rsa() => {
                key.verify_certificate_signature(h, self.tbs_der, signature)
            }
            _ => false,
        }
    }

    /// Whether issuer and subject are the same name (DER equality).
    pub fn names_itself_as_issuer(&self) -> bool {
        self.cert.tbs_certificate().issuer() == self.cert.tbs_certificate().subject()
    }

    /// The subject's attributes.
    pub fn subject_attributes(&self) -> Vec<name::Attribute> {
        name::attributes(&self.cert.tbs_certificate().subject())
    }

    /// The subject as `CN=…,O=…,ST=…,C=…`.
    pub fn subject_string(&self) -> String {
        name::display(&self.subject_attributes())
    }
}

fn unix(d: core::time::Duration) -> Timestamp {
    Timestamp::from_unix(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The raw bytes of the first element of the outer SEQUENCE: the signed `tbsCertificate`.
/// Taken from the input, not re-encoded, so a signature is checked over exactly what was signed.
fn tbs_bytes(der: &[u8]) -> der::Result<&[u8]> {
    let mut outer = SliceReader::new(der)?;
    let header = der::Header::decode(&mut outer)?;
    let body = outer.read_slice(header.length())?;
    let mut inner = SliceReader::new(body)?;
    inner.tlv_bytes()
}
