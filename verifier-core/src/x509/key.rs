//! Public keys of certificates and the signatures they verify: the JWS signature (raw R||S
//! ECDSA or RSASSA-PSS) and certificate signatures (PKCS#1 v1.5 or DER ECDSA).
//!
//! signature-specification.md, "Algorithm Selection": the key dictates the algorithm, and only
//! RSA 2048/3072/4096 and EC P-256/P-384/P-521 keys are allowed.

use alloc::string::String;
use alloc::vec::Vec;

use der::asn1::ObjectIdentifier;
use der::Decode;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashVerifier;
use spki::SubjectPublicKeyInfoOwned;

use crate::alg::SignatureAlgorithm;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// A public key of an allowed type.
#[derive(Clone)]
pub enum PublicKey {
    Rsa { key: RsaPublicKey, bits: usize },
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PublicKey::Rsa { bits, .. } => write!(f, "RSA-{bits}"),
            PublicKey::P256(_) => f.write_str("P-256"),
            PublicKey::P384(_) => f.write_str("P-384"),
            PublicKey::P521(_) => f.write_str("P-521"),
        }
    }
}

/// The hash of a signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

impl PublicKey {
    /// Reads a SubjectPublicKeyInfo. Unsupported key types and curves are errors with a reason;
    /// sizes are checked by [`PublicKey::required_algorithm`], so that a chain can name the
    /// certificate that breaks the rule.
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, String> {
        let key_bytes = spki.subject_public_key.as_bytes().ok_or_else(|| String::from("key bits are not whole bytes"))?;
        if spki.algorithm.oid == RSA_ENCRYPTION {
            let key = RsaPublicKey::from_pkcs1_der(key_bytes)
                .map_err(|e| alloc::format!("malformed RSA key: {e}"))?;
            let bits = key.n().bits();
            return Ok(PublicKey::Rsa { key, bits });
        }
        if spki.algorithm.oid == EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| String::from("EC key without a named curve"))?;
            let bad = |_| String::from("malformed EC point");
            return match curve {
                SECP256R1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map(PublicKey::P256).map_err(bad),
                SECP384R1 => p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map(PublicKey::P384).map_err(bad),
                SECP521R1 => p521::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map(PublicKey::P521).map_err(bad),
                other => Err(alloc::format!("EC curve {other} is not P-256, P-384 or P-521")),
            };
        }
        Err(alloc::format!("key algorithm {} is neither RSA nor EC", spki.algorithm.oid))
    }

    /// signature-specification.md, "Algorithm Selection": the only algorithm this key may sign
    /// with. RSA keys other than 2048, 3072 and 4096 bits have none.
    pub fn required_algorithm(&self) -> Result<SignatureAlgorithm, String> {
        match self {
            PublicKey::Rsa { bits: 2048, .. } => Ok(SignatureAlgorithm::Ps256),
            PublicKey::Rsa { bits: 3072, .. } => Ok(SignatureAlgorithm::Ps384),
            PublicKey::Rsa { bits: 4096, .. } => Ok(SignatureAlgorithm::Ps512),
            PublicKey::Rsa { bits, .. } => Err(alloc::format!("RSA-{bits} is not allowed (2048, 3072 or 4096 bits)")),
            PublicKey::P256(_) => Ok(SignatureAlgorithm::Es256),
            PublicKey::P384(_) => Ok(SignatureAlgorithm::Es384),
            PublicKey::P521(_) => Ok(SignatureAlgorithm::Es512),
        }
    }

    /// Whether this key may appear in a chain at all: RSA of at least 2048 bits, or an allowed
    /// curve (already guaranteed by [`PublicKey::from_spki`]).
    pub fn check_strength(&self) -> Result<(), String> {
        match self {
            PublicKey::Rsa { bits, .. } if *bits < 2048 => Err(alloc::format!("RSA-{bits} is weaker than 2048 bits")),
            _ => Ok(()),
        }
    }

    /// Verifies a JWS signature made with `alg` over `message`. ECDSA signatures must be raw
    /// `R || S` of the curve's size (RFC 7518 §3.4), never DER; RSASSA-PSS uses MGF1 with the same
    /// hash and a salt as long as the hash (RFC 7518 §3.5).
    pub fn verify_jws(&self, alg: SignatureAlgorithm, message: &[u8], signature: &[u8]) -> Result<(), JwsSignatureError> {
        use SignatureAlgorithm::*;
        match (self, alg) {
            (PublicKey::Rsa { key, .. }, Ps256) => verify_pss::<Sha256>(key, message, signature),
            (PublicKey::Rsa { key, .. }, Ps384) => verify_pss::<Sha384>(key, message, signature),
            (PublicKey::Rsa { key, .. }, Ps512) => verify_pss::<Sha512>(key, message, signature),
            (PublicKey::P256(key), Es256) => {
                let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| JwsSignatureError::Encoding)?;
                key.verify_prehash(&Sha256::digest(message), &sig).map_err(|_| JwsSignatureError::Invalid)
            }
            (PublicKey::P384(key), Es384) => {
                let sig = p384::ecdsa::Signature::from_slice(signature).map_err(|_| JwsSignatureError::Encoding)?;
                key.verify_prehash(&Sha384::digest(message), &sig).map_err(|_| JwsSignatureError::Invalid)
            }
            (PublicKey::P521(key), Es512) => {
                if signature.len() != 132 {
                    return Err(JwsSignatureError::Encoding);
                }
                let sig = p521::ecdsa::Signature::from_slice(signature).map_err(|_| JwsSignatureError::Encoding)?;
                key.verify_prehash(&Sha512::digest(message), &sig).map_err(|_| JwsSignatureError::Invalid)
            }
            _ => Err(JwsSignatureError::Invalid),
        }
    }

    /// Verifies a certificate signature: PKCS#1 v1.5 for RSA, DER ECDSA for EC keys.
    pub fn verify_certificate_signature(&self, hash: Hash, tbs: &[u8], signature: &[u8]) -> bool {
        let digest = hash.digest(tbs);
        match self {
            PublicKey::Rsa { key, .. } => {
                let scheme = match hash {
                    Hash::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                    Hash::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                    Hash::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
                };
                key.verify(scheme, &digest, signature).is_ok()
            }
            PublicKey::P256(key) => p256::ecdsa::Signature::from_der(signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
            PublicKey::P384(key) => p384::ecdsa::Signature::from_der(signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
            PublicKey::P521(key) => p521::ecdsa::Signature::from_der(signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
        }
    }
}

/// Why a JWS signature failed.
#[derive(Debug, PartialEq, Eq)]
pub enum JwsSignatureError {
    /// Not the algorithm's encoding (a DER ECDSA signature, a wrong length).
    Encoding,
    /// Well-formed but not made by this key over this message.
    Invalid,
}

fn verify_pss<D>(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> Result<(), JwsSignatureError>
where
    D: Digest + sha2::digest::FixedOutputReset + sha2::digest::DynDigest + Clone + Send + Sync + 'static,
{
    // The signature is exactly the modulus length (RFC 8017 §8.1.2 step 1).
    if signature.len() != key.size() {
        return Err(JwsSignatureError::Encoding);
    }
    let digest = D::digest(message);
    let salt_len = <D as Digest>::output_size();
    key.verify(rsa::Pss::new_with_salt::<D>(salt_len), &digest, signature)
        .map_err(|_| JwsSignatureError::Invalid)
}

/// Parses a DER SubjectPublicKeyInfo (for callers holding raw bytes, such as tests).
pub fn public_key_from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
    let spki = SubjectPublicKeyInfoOwned::from_der(der).map_err(|e| alloc::format!("{e}"))?;
    PublicKey::from_spki(&spki)
}
