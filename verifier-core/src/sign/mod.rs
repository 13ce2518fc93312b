//! Signing and test-certificate generation (feature `sign`, needs `std`).
//!
//! The verifier never signs; this module exists so that the client can produce Notary Project
//! signatures and so that tests can make every kind of key, certificate and envelope, valid or
//! deliberately broken, without fixtures from other tools.
//!
//! | item | what it is for |
//! |---|---|
//! | [`SigningKey`] | a PKCS#8 private key (RSA 2048–4096, EC P-256/384/521) that signs as the Notary Project requires (RSASSA-PSS, raw `R‖S` ECDSA) |
//! | [`sign_envelope`] | a flattened JWS JSON envelope exactly as `notation sign` writes it |
//! | [`assemble`] | the low-level envelope builder for tests that craft malformed headers |
//! | [`generate_test_certificate`] | the equivalent of `notation cert generate-test` |
//! | [`CertificateSpec`] | a builder for test certificates with every extension knob (test tooling) |
//! | [`notation_cases`] | the Notary Project's signature vectors as verification requests (test tooling) |

// The crate is `no_std`; this module runs on hosts only (it needs OS randomness and a clock), so it
// loads `std` for itself without asking the crate root to.
extern crate std;

mod cert;
mod envelope;
mod error;
mod key;
mod names;
mod time;
mod vectors;

pub use cert::{
    generate_test_certificate, BasicConstraintsSpec, CertificateSpec, ExtendedKeyUsageSpec, Issuer,
    KeyUsageBit, KeyUsageSpec, SignatureHash, TestCertificate, EKU_ANY, EKU_CLIENT_AUTH,
    EKU_CODE_SIGNING, EKU_EMAIL_PROTECTION, EKU_SERVER_AUTH, EKU_TIME_STAMPING,
};
pub use envelope::{
    assemble, b64url, protected_header, sign_envelope, SignOptions, CONTENT_TYPE_PAYLOAD,
    CRIT_EXPIRY, CRIT_SIGNING_SCHEME, HEADER_EXPIRY, HEADER_SIGNING_AGENT, HEADER_SIGNING_SCHEME,
    HEADER_SIGNING_TIME, SIGNING_SCHEME_X509,
};
pub use error::SignError;
pub use key::{HashAlgorithm, KeyType, SigningKey};
pub use names::parse_name;
pub use time::{format_rfc3339, system_time_to_unix};
pub use vectors::{notation_cases, NotationCase};

/// PEM-encodes DER bytes under `label` (`CERTIFICATE`, `PRIVATE KEY`, …) with LF line endings.
pub fn pem_encode(label: &str, der: &[u8]) -> Result<alloc::string::String, SignError> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).map_err(SignError::Pem)
}

/// Decodes every `CERTIFICATE` block of a PEM bundle, in file order (a chain is leaf first).
/// Blocks with other labels are an error, so that a key pasted by mistake is not skipped silently.
pub fn pem_decode_certificates(
    pem: &str,
) -> Result<alloc::vec::Vec<alloc::vec::Vec<u8>>, SignError> {
    let mut out = alloc::vec::Vec::new();
    let mut rest = pem;
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start..];
        let end_marker = after
            .find(END)
            .ok_or(SignError::Pem(der::pem::Error::PostEncapsulationBoundary))?;
        // The END line runs to the closing dashes.
        let tail = &after[end_marker + END.len()..];
        let close = tail
            .find("-----")
            .ok_or(SignError::Pem(der::pem::Error::PostEncapsulationBoundary))?;
        let block_len = end_marker + END.len() + close + 5;
        let block = &after[..block_len];
        let (label, der) = der::pem::decode_vec(block.as_bytes()).map_err(SignError::Pem)?;
        if label != "CERTIFICATE" {
            return Err(SignError::UnexpectedPemLabel {
                expected: "CERTIFICATE",
                label: label.into(),
            });
        }
        out.push(der);
        rest = &after[block_len..];
    }
    if out.is_empty() {
        return Err(SignError::NoCertificates);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
