//! The native signature backend (feature `ring`): the same checks as the RustCrypto path, done
//! by `ring`'s assembly-optimised RSA and ECDSA, several times faster on hosts. The wasm build
//! never has it. Combinations `ring` lacks (P-521, P-256 with SHA-512, RSA under 2048 bits)
//! return `None` and fall back to RustCrypto.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use super::key::{Hash, KeyKind};
use crate::alg::SignatureAlgorithm;

/// Verifies a JWS signature whose encoding has already been checked; `None` when `ring` has no
/// algorithm for this key.
pub(crate) fn verify_jws(
    kind: &KeyKind,
    raw: &[u8],
    alg: SignatureAlgorithm,
    message: &[u8],
    sig: &[u8],
) -> Option<bool> {
    use SignatureAlgorithm::*;
    let algorithm: &dyn VerificationAlgorithm = match (kind, alg) {
        (KeyKind::Rsa(key), _) if key.bits() < 2048 => return None,
        (KeyKind::Rsa(_), Ps256) => &signature::RSA_PSS_2048_8192_SHA256,
        (KeyKind::Rsa(_), Ps384) => &signature::RSA_PSS_2048_8192_SHA384,
        (KeyKind::Rsa(_), Ps512) => &signature::RSA_PSS_2048_8192_SHA512,
        (KeyKind::P256(_), Es256) => &signature::ECDSA_P256_SHA256_FIXED,
        (KeyKind::P384(_), Es384) => &signature::ECDSA_P384_SHA384_FIXED,
        _ => return None,
    };
    Some(
        UnparsedPublicKey::new(algorithm, raw)
            .verify(message, sig)
            .is_ok(),
    )
}

/// Verifies a certificate signature (PKCS#1 v1.5 or DER ECDSA); `None` when `ring` has no
/// algorithm for this key and hash.
pub(crate) fn verify_certificate(
    kind: &KeyKind,
    raw: &[u8],
    hash: Hash,
    tbs: &[u8],
    sig: &[u8],
) -> Option<bool> {
    let algorithm: &dyn VerificationAlgorithm = match (kind, hash) {
        (KeyKind::Rsa(key), _) if key.bits() < 2048 => return None,
        (KeyKind::Rsa(_), Hash::Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (KeyKind::Rsa(_), Hash::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (KeyKind::Rsa(_), Hash::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (KeyKind::P256(_), Hash::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
        (KeyKind::P256(_), Hash::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
        (KeyKind::P384(_), Hash::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
        (KeyKind::P384(_), Hash::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
        _ => return None,
    };
    Some(
        UnparsedPublicKey::new(algorithm, raw)
            .verify(tbs, sig)
            .is_ok(),
    )
}
