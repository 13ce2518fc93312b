//! Public keys of certificates and the signatures they verify: the JWS signature (raw R||S
//! ECDSA or RSASSA-PSS) and certificate signatures (PKCS#1 v1.5 or DER ECDSA).
//!
//! signature-specification.md, "Algorithm Selection": the key dictates the algorithm, and only
//! RSA 2048/3072/4096 and EC P-256/P-384/P-521 keys are allowed.

use alloc::string::String;
use alloc::vec::Vec;

use der::asn1::ObjectIdentifier;
use der::Decode;
use rsa::PublicKey as RsaPublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashVerifier;
use spki::SubjectPublicKeyInfoOwned;

use super::rsa_key::RsaKey;
use crate::alg::SignatureAlgorithm;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// A public key of an allowed type: the parsed key, and its raw bytes (PKCS#1 `RSAPublicKey`
/// or the SEC1 point) for the native backend.
#[derive(Clone)]
pub struct PublicKey {
    kind: KeyKind,
    #[cfg_attr(not(feature = "ring"), allow(dead_code))]
    raw: Vec<u8>,
}

/// The key, checked at parse (RSA by [`RsaKey`], EC by the curve crates).
#[derive(Clone)]
pub(crate) enum KeyKind {
    Rsa(RsaKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.kind {
            KeyKind::Rsa(key) => write!(f, "RSA-{}", key.bits()),
            KeyKind::P256(_) => f.write_str("P-256"),
            KeyKind::P384(_) => f.write_str("P-384"),
            KeyKind::P521(_) => f.write_str("P-521"),
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
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| String::from("key bits are not whole bytes"))?;
        if spki.algorithm.oid == RSA_ENCRYPTION {
            let key = RsaKey::from_pkcs1_der(key_bytes)
                .map_err(|e| alloc::format!("malformed RSA key: {e}"))?;
            return Ok(PublicKey {
                kind: KeyKind::Rsa(key),
                raw: key_bytes.to_vec(),
            });
        }
        if spki.algorithm.oid == EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| String::from("EC key without a named curve"))?;
            let bad = |_| String::from("malformed EC point");
            let kind = match curve {
                SECP256R1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                    .map(KeyKind::P256)
                    .map_err(bad),
                SECP384R1 => p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                    .map(KeyKind::P384)
                    .map_err(bad),
                SECP521R1 => p521::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                    .map(KeyKind::P521)
                    .map_err(bad),
                other => Err(alloc::format!(
                    "EC curve {other} is not P-256, P-384 or P-521"
                )),
            }?;
            return Ok(PublicKey {
                kind,
                raw: key_bytes.to_vec(),
            });
        }
        Err(alloc::format!(
            "key algorithm {} is neither RSA nor EC",
            spki.algorithm.oid
        ))
    }

    /// signature-specification.md, "Algorithm Selection": the only algorithm this key may sign
    /// with. RSA keys other than 2048, 3072 and 4096 bits have none.
    pub fn required_algorithm(&self) -> Result<SignatureAlgorithm, String> {
        match &self.kind {
            KeyKind::Rsa(key) => match key.bits() {
                2048 => Ok(SignatureAlgorithm::Ps256),
                3072 => Ok(SignatureAlgorithm::Ps384),
                4096 => Ok(SignatureAlgorithm::Ps512),
                bits => Err(alloc::format!(
                    "RSA-{bits} is not allowed (2048, 3072 or 4096 bits)"
                )),
            },
            KeyKind::P256(_) => Ok(SignatureAlgorithm::Es256),
            KeyKind::P384(_) => Ok(SignatureAlgorithm::Es384),
            KeyKind::P521(_) => Ok(SignatureAlgorithm::Es512),
        }
    }

    /// Whether this is an RSA key (else EC).
    pub fn is_rsa(&self) -> bool {
        matches!(self.kind, KeyKind::Rsa(_))
    }

    /// Whether this key may appear in a chain at all: RSA of at least 2048 bits, or an allowed
    /// curve (already guaranteed by [`PublicKey::from_spki`]).
    pub fn check_strength(&self) -> Result<(), String> {
        match &self.kind {
            KeyKind::Rsa(key) if key.bits() < 2048 => Err(alloc::format!(
                "RSA-{} is weaker than 2048 bits",
                key.bits()
            )),
            _ => Ok(()),
        }
    }

    /// Verifies a JWS signature made with `alg` over `message`. ECDSA signatures must be raw
    /// `R || S` of the curve's size (RFC 7518 §3.4), never DER; RSASSA-PSS uses MGF1 with the same
    /// hash and a salt as long as the hash (RFC 7518 §3.5).
    pub fn verify_jws(
        &self,
        alg: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), JwsSignatureError> {
        use SignatureAlgorithm::*;
        // The encoding is checked before any backend runs, so both report the same error.
        let expected_len = match (&self.kind, alg) {
            (KeyKind::Rsa(key), Ps256 | Ps384 | Ps512) => key.size(),
            (KeyKind::P256(_), Es256) | (KeyKind::P384(_), Es384) | (KeyKind::P521(_), Es512) => {
                alg.ecdsa_signature_len().unwrap_or(0)
            }
            _ => return Err(JwsSignatureError::Invalid),
        };
        if signature.len() != expected_len {
            return Err(JwsSignatureError::Encoding);
        }
        #[cfg(feature = "ring")]
        if let Some(ok) = super::native::verify_jws(&self.kind, &self.raw, alg, message, signature)
        {
            return if ok {
                Ok(())
            } else {
                Err(JwsSignatureError::Invalid)
            };
        }
        let ok = match (&self.kind, alg) {
            (KeyKind::Rsa(key), Ps256) => key
                .get()
                .is_some_and(|k| verify_pss::<sha2::Sha256>(k, message, signature)),
            (KeyKind::Rsa(key), Ps384) => key
                .get()
                .is_some_and(|k| verify_pss::<sha2::Sha384>(k, message, signature)),
            (KeyKind::Rsa(key), _) => key
                .get()
                .is_some_and(|k| verify_pss::<sha2::Sha512>(k, message, signature)),
            (KeyKind::P256(key), _) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_prehash(&Sha256::digest(message), &sig).is_ok()),
            (KeyKind::P384(key), _) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_prehash(&Sha384::digest(message), &sig).is_ok()),
            (KeyKind::P521(key), _) => p521::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_prehash(&Sha512::digest(message), &sig).is_ok()),
        };
        if ok {
            Ok(())
        } else {
            Err(JwsSignatureError::Invalid)
        }
    }

    /// Verifies a certificate signature: PKCS#1 v1.5 for RSA, DER ECDSA for EC keys.
    pub fn verify_certificate_signature(&self, hash: Hash, tbs: &[u8], signature: &[u8]) -> bool {
        #[cfg(feature = "ring")]
        if let Some(ok) =
            super::native::verify_certificate(&self.kind, &self.raw, hash, tbs, signature)
        {
            return ok;
        }
        let digest = hash.digest(tbs);
        match &self.kind {
            KeyKind::Rsa(key) => {
                use rsa::Pkcs1v15Sign;
                let scheme = match hash {
                    Hash::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
                    Hash::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
                    Hash::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
                };
                key.get()
                    .is_some_and(|k| k.verify(scheme, &digest, signature).is_ok())
            }
            KeyKind::P256(key) => p256::ecdsa::Signature::from_der(signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
            KeyKind::P384(key) => p384::ecdsa::Signature::from_der(signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
            KeyKind::P521(key) => p521::ecdsa::Signature::from_der(signature)
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

/// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash (the Notary Project's
/// only PSS parameters).
fn verify_pss<D>(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + sha2::digest::FixedOutputReset,
{
    let digest = D::digest(message);
    let salt_len = <D as sha2::Digest>::output_size();
    key.verify(rsa::Pss::<D>::new_with_salt(salt_len), &digest, signature)
        .is_ok()
}

/// Parses a DER SubjectPublicKeyInfo (for callers holding raw bytes, such as tests).
pub fn public_key_from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
    let spki = SubjectPublicKeyInfoOwned::from_der(der).map_err(|e| alloc::format!("{e}"))?;
    PublicKey::from_spki(&spki)
}
