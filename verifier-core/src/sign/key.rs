//! Private keys: PKCS#8 in and out, generation, and the raw signature primitives the Notary
//! Project allows (signature-specification, "Algorithm Selection": RSASSA-PSS with MGF1 and a
//! salt as long as the hash; ECDSA on P-256/384/521 with the curve's matching hash, encoded as
//! JWS's fixed-size `R ‖ S`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::Decode;
use getrandom::SysRng;
use p256::elliptic_curve::Generate;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding, PrivateKeyInfoRef};
use rand_core::UnwrapErr;
use rsa::traits::PublicKeyParts;
use rsa::PrivateKey as RsaPrivateKey;
use sha2::Digest;
use signature::hazmat::PrehashSigner;
use signature::{RandomizedSigner, SignatureEncoding, Signer};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoOwned};

use super::SignError;
use crate::alg::SignatureAlgorithm;

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The kinds of key this module can generate. RSA-1024 exists only for negative tests (the Notary
/// Project rejects RSA keys under 2048 bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyType {
    Rsa1024,
    Rsa2048,
    /// What `generate-test` uses unless told otherwise (notation's own test helpers use
    /// RSA-3072 for their signing certificates).
    #[default]
    Rsa3072,
    Rsa4096,
    EcP256,
    EcP384,
    EcP521,
}

impl KeyType {
    /// Every kind the Notary Project allows (all but RSA-1024), smallest RSA first.
    pub const NOTARY: [KeyType; 6] = [
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::EcP521,
    ];

    /// A short name: `rsa-3072`, `ec-p256`, … (the CLI's `--key-type` values).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa1024 => "rsa-1024",
            Self::Rsa2048 => "rsa-2048",
            Self::Rsa3072 => "rsa-3072",
            Self::Rsa4096 => "rsa-4096",
            Self::EcP256 => "ec-p256",
            Self::EcP384 => "ec-p384",
            Self::EcP521 => "ec-p521",
        }
    }

    /// Parses [`KeyType::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "rsa-1024" => Self::Rsa1024,
            "rsa-2048" => Self::Rsa2048,
            "rsa-3072" => Self::Rsa3072,
            "rsa-4096" => Self::Rsa4096,
            "ec-p256" => Self::EcP256,
            "ec-p384" => Self::EcP384,
            "ec-p521" => Self::EcP521,
            _ => return None,
        })
    }
}

/// A message digest, for certificate signatures (where SHA-1 exists for negative tests) and for
/// computing the input of a prehash signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The hash a JWS algorithm uses.
    pub fn of(alg: SignatureAlgorithm) -> Self {
        use SignatureAlgorithm::*;
        match alg {
            Ps256 | Es256 => Self::Sha256,
            Ps384 | Es384 => Self::Sha384,
            Ps512 | Es512 => Self::Sha512,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }
}

/// A private key that signs envelopes and certificates.
#[derive(Clone)]
pub struct SigningKey {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    // Boxed: an RSA key is several times the size of an EC one.
    Rsa(alloc::boxed::Box<RsaPrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

// Keys are secrets: never print them, not even in test failure output.
impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SigningKey({})", self.kind())
    }
}

impl SigningKey {
    /// Generates a fresh key from the OS random source. RSA generation is slow in debug builds
    /// (seconds for 2048 bits, much longer for 4096).
    pub fn generate(key_type: KeyType) -> Result<Self, SignError> {
        let rsa = |bits| RsaPrivateKey::new(&mut SysRng, bits).map(|k| Inner::Rsa(k.into()));
        let inner = match key_type {
            KeyType::Rsa1024 => rsa(1024)?,
            KeyType::Rsa2048 => rsa(2048)?,
            KeyType::Rsa3072 => rsa(3072)?,
            KeyType::Rsa4096 => rsa(4096)?,
            KeyType::EcP256 => Inner::P256(p256::SecretKey::try_generate_from_rng(&mut SysRng)?),
            KeyType::EcP384 => Inner::P384(p384::SecretKey::try_generate_from_rng(&mut SysRng)?),
            KeyType::EcP521 => Inner::P521(p521::SecretKey::try_generate_from_rng(&mut SysRng)?),
        };
        Ok(Self { inner })
    }

    /// Reads a PKCS#8 `PRIVATE KEY` PEM (what `notation cert generate-test` and
    /// `openssl genpkey` write). Encrypted keys and SEC1/PKCS#1 PEMs are not accepted.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SignError> {
        let (label, der) = der::pem::decode_vec(pem.trim().as_bytes()).map_err(SignError::Pem)?;
        if label != "PRIVATE KEY" {
            return Err(SignError::UnexpectedPemLabel {
                expected: "PRIVATE KEY",
                label: label.into(),
            });
        }
        Self::from_pkcs8_der(&der)
    }

    /// Reads a DER PKCS#8 `PrivateKeyInfo`; the algorithm (and curve) OIDs pick the key type.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SignError> {
        let info = PrivateKeyInfoRef::from_der(der).map_err(|e| SignError::Pkcs8(e.into()))?;
        let oid = info.algorithm.oid;
        let inner = if oid == OID_RSA_ENCRYPTION {
            Inner::Rsa(RsaPrivateKey::from_pkcs8_der(der)?.into())
        } else if oid == OID_EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| SignError::Pkcs8(e.into()))?;
            match curve {
                c if c == OID_P256 => Inner::P256(p256::SecretKey::from_pkcs8_der(der)?),
                c if c == OID_P384 => Inner::P384(p384::SecretKey::from_pkcs8_der(der)?),
                c if c == OID_P521 => Inner::P521(p521::SecretKey::from_pkcs8_der(der)?),
                c => return Err(SignError::UnsupportedKey { oid: c.to_string() }),
            }
        } else {
            return Err(SignError::UnsupportedKey {
                oid: oid.to_string(),
            });
        };
        Ok(Self { inner })
    }

    /// Writes the key as a PKCS#8 `PRIVATE KEY` PEM with LF line endings.
    pub fn to_pkcs8_pem(&self) -> Result<String, SignError> {
        let pem = match &self.inner {
            Inner::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF)?,
            Inner::P256(k) => k.to_pkcs8_pem(LineEnding::LF)?,
            Inner::P384(k) => k.to_pkcs8_pem(LineEnding::LF)?,
            Inner::P521(k) => k.to_pkcs8_pem(LineEnding::LF)?,
        };
        Ok(String::from(pem.as_str()))
    }

    /// The public key as a DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self) -> Result<Vec<u8>, SignError> {
        let doc = match &self.inner {
            Inner::Rsa(k) => k.to_public_key().to_public_key_der(),
            Inner::P256(k) => k.public_key().to_public_key_der(),
            Inner::P384(k) => k.public_key().to_public_key_der(),
            Inner::P521(k) => k.public_key().to_public_key_der(),
        }
        .map_err(|e| SignError::Pkcs8(e.into()))?;
        Ok(doc.into_vec())
    }

    pub(crate) fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned, SignError> {
        Ok(SubjectPublicKeyInfoOwned::from_der(
            &self.public_key_der()?,
        )?)
    }

    /// The RSA modulus size in bits, or `None` for EC keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.inner {
            Inner::Rsa(k) => Some(k.size() * 8),
            _ => None,
        }
    }

    /// Whether this is an RSA key (certificate signatures are then PKCS#1 v1.5, else ECDSA).
    pub fn is_rsa(&self) -> bool {
        matches!(self.inner, Inner::Rsa(_))
    }

    /// A short human name of the key: `RSA-3072`, `EC P-256`, ….
    pub fn kind(&self) -> &'static str {
        match &self.inner {
            Inner::Rsa(k) => match k.size() * 8 {
                1024 => "RSA-1024",
                2048 => "RSA-2048",
                3072 => "RSA-3072",
                4096 => "RSA-4096",
                _ => "RSA",
            },
            Inner::P256(_) => "EC P-256",
            Inner::P384(_) => "EC P-384",
            Inner::P521(_) => "EC P-521",
        }
    }

    /// The algorithm the key dictates (signature-specification, "Algorithm Selection"): the
    /// signer has no choice; RSA-2048/3072/4096 give PS256/384/512 and P-256/384/521 give
    /// ES256/384/512. Other RSA sizes have no Notary algorithm.
    pub fn algorithm(&self) -> Result<SignatureAlgorithm, SignError> {
        use SignatureAlgorithm::*;
        Ok(match &self.inner {
            Inner::Rsa(k) => match k.size() * 8 {
                2048 => Ps256,
                3072 => Ps384,
                4096 => Ps512,
                bits => return Err(SignError::UnsupportedRsaSize { bits }),
            },
            Inner::P256(_) => Es256,
            Inner::P384(_) => Es384,
            Inner::P521(_) => Es512,
        })
    }

    /// Signs `message` as JWS `alg` does: RSASSA-PSS (MGF1 with the same hash, salt length =
    /// hash length) for PS*, or ECDSA encoded as fixed-size `R ‖ S` for ES*.
    ///
    /// The key need not be the one `alg` dictates, so that tests can make mismatched
    /// signatures: any RSA key signs any PS*, and an EC key signs any ES* by hashing with the
    /// algorithm's hash and signing that digest on its own curve (so `R ‖ S` has the key's
    /// size). An RSA key cannot produce ES* nor an EC key PS*.
    pub fn sign_raw(&self, alg: SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignError> {
        use SignatureAlgorithm::*;
        match (&self.inner, alg) {
            (Inner::Rsa(k), Ps256) => Ok(pss::<sha2::Sha256>(k, message)),
            (Inner::Rsa(k), Ps384) => Ok(pss::<sha2::Sha384>(k, message)),
            (Inner::Rsa(k), Ps512) => Ok(pss::<sha2::Sha512>(k, message)),
            (Inner::Rsa(_), _) => Err(SignError::AlgorithmMismatch {
                alg,
                key: self.kind(),
            }),
            (_, Ps256 | Ps384 | Ps512) => Err(SignError::AlgorithmMismatch {
                alg,
                key: self.kind(),
            }),
            _ => {
                let (raw, _der) = self.ecdsa_prehash(&HashAlgorithm::of(alg).digest(message))?;
                Ok(raw)
            }
        }
    }

    /// Like [`SigningKey::sign_raw`] for ES*, but returns the ASN.1 DER `Ecdsa-Sig-Value`
    /// encoding, which JWS forbids: for negative tests only.
    pub fn sign_raw_der(
        &self,
        alg: SignatureAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, SignError> {
        if alg.ecdsa_signature_len().is_none() || self.is_rsa() {
            return Err(SignError::AlgorithmMismatch {
                alg,
                key: self.kind(),
            });
        }
        let (_raw, der) = self.ecdsa_prehash(&HashAlgorithm::of(alg).digest(message))?;
        Ok(der)
    }

    /// RSASSA-PKCS1-v1_5 over `message` with `hash` (JWS RS256/384/512 when SHA-2, which the
    /// Notary Project forbids; also how certificates are signed). RSA keys only.
    pub fn sign_pkcs1v15(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let Inner::Rsa(k) = &self.inner else {
            return Err(SignError::HashMismatch {
                hash: hash.name(),
                key: self.kind(),
            });
        };
        let k = RsaPrivateKey::clone(k);
        // Deterministic scheme: no randomness needed (the key's blinding uses none either).
        Ok(match hash {
            HashAlgorithm::Sha1 => rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(k)
                .try_sign(message)?
                .to_vec(),
            HashAlgorithm::Sha256 => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k)
                .try_sign(message)?
                .to_vec(),
            HashAlgorithm::Sha384 => rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(k)
                .try_sign(message)?
                .to_vec(),
            HashAlgorithm::Sha512 => rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(k)
                .try_sign(message)?
                .to_vec(),
        })
    }

    /// ECDSA over `message` hashed with `hash`, DER-encoded (how X.509 certificates carry
    /// ECDSA signatures). EC keys only.
    pub fn sign_ecdsa_der(
        &self,
        hash: HashAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, SignError> {
        if self.is_rsa() {
            return Err(SignError::HashMismatch {
                hash: hash.name(),
                key: self.kind(),
            });
        }
        self.ecdsa_prehash(&hash.digest(message))
            .map(|(_raw, der)| der)
            // The only failure for a valid key is a digest shorter than half the curve order
            // (SHA-1 with P-384/521), which RustCrypto refuses to sign.
            .map_err(|_| SignError::HashMismatch {
                hash: hash.name(),
                key: self.kind(),
            })
    }

    /// Signs a precomputed digest; returns (fixed-size R‖S, DER).
    fn ecdsa_prehash(&self, digest: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SignError> {
        match &self.inner {
            Inner::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    p256::ecdsa::SigningKey::from(k).sign_prehash(digest)?;
                Ok((sig.to_bytes().to_vec(), sig.to_der().as_bytes().to_vec()))
            }
            Inner::P384(k) => {
                let sig: p384::ecdsa::Signature =
                    p384::ecdsa::SigningKey::from(k).sign_prehash(digest)?;
                Ok((sig.to_bytes().to_vec(), sig.to_der().as_bytes().to_vec()))
            }
            Inner::P521(k) => {
                let sig: p521::ecdsa::Signature =
                    p521::ecdsa::SigningKey::from(k).sign_prehash(digest)?;
                Ok((sig.to_bytes().to_vec(), sig.to_der().as_bytes().to_vec()))
            }
            Inner::Rsa(_) => Err(SignError::Ecdsa(signature::Error::new())),
        }
    }
}

/// RSASSA-PSS with MGF1(`D`) and salt length = output size of `D` (RFC 7518 §3.5); rsa 0.10
/// blinds every private-key operation.
fn pss<D>(key: &RsaPrivateKey, message: &[u8]) -> Vec<u8>
where
    D: sha2::Digest + sha2::digest::FixedOutputReset,
{
    rsa::pss::SigningKey::<D>::new(key.clone())
        .sign_with_rng(&mut UnwrapErr(SysRng), message)
        .to_vec()
}
