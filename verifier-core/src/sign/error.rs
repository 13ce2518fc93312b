//! The one error type of the signing side.

use alloc::string::String;
use core::fmt;

use crate::alg::SignatureAlgorithm;

/// Why signing, key handling or certificate generation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignError {
    /// The private key is not valid PKCS#8 (or its PEM armour is broken).
    Pkcs8(pkcs8::Error),
    /// The PKCS#8 key is of a kind we do not sign with (its algorithm OID, or curve OID for EC).
    UnsupportedKey { oid: String },
    /// An RSA key whose modulus size is not 2048, 3072 or 4096 bits has no Notary algorithm.
    UnsupportedRsaSize { bits: usize },
    /// The requested algorithm cannot be produced with this key (e.g. ES256 with an RSA key).
    AlgorithmMismatch {
        alg: SignatureAlgorithm,
        key: &'static str,
    },
    /// The requested certificate signature hash cannot be used with this key.
    HashMismatch {
        hash: &'static str,
        key: &'static str,
    },
    /// RSA key generation or signing failed.
    Rsa(rsa::Error),
    /// ECDSA signing failed.
    Ecdsa(signature::Error),
    /// DER encoding failed (names, extensions, times out of range, …).
    Der(der::Error),
    /// A PEM block could not be decoded.
    Pem(der::pem::Error),
    /// A PEM block has the wrong label (`expected` is what was asked for, e.g. a
    /// `PRIVATE KEY` where an `RSA PRIVATE KEY` was found).
    UnexpectedPemLabel {
        expected: &'static str,
        label: String,
    },
    /// A PEM bundle held no certificate.
    NoCertificates,
    /// A distinguished-name string could not be parsed.
    InvalidName { name: String, reason: &'static str },
    /// The subject descriptor is not a JSON object with `mediaType`, `digest` and `size`.
    InvalidDescriptor { reason: &'static str },
    /// The private key does not belong to the leaf certificate.
    KeyCertificateMismatch,
    /// The certificate chain is empty (a Notary envelope needs at least the signing certificate).
    EmptyChain,
    /// A time is before 1970 or too far in the future to encode.
    TimeOutOfRange,
    /// The operating system's random source failed (key generation, serials).
    Random(getrandom::Error),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pkcs8(e) => write!(f, "invalid PKCS#8 private key: {e}"),
            Self::UnsupportedKey { oid } => write!(f, "unsupported private key type (OID {oid})"),
            Self::UnsupportedRsaSize { bits } => write!(
                f,
                "RSA key of {bits} bits has no Notary Project algorithm (2048, 3072 or 4096 bits)"
            ),
            Self::AlgorithmMismatch { alg, key } => {
                write!(f, "cannot sign {} with a {key} key", alg.name())
            }
            Self::HashMismatch { hash, key } => {
                write!(f, "cannot sign a {hash} digest with a {key} key")
            }
            Self::Rsa(e) => write!(f, "RSA: {e}"),
            Self::Ecdsa(e) => write!(f, "ECDSA: {e}"),
            Self::Der(e) => write!(f, "DER: {e}"),
            Self::Pem(e) => write!(f, "PEM: {e}"),
            Self::UnexpectedPemLabel { expected, label } => {
                write!(f, "expected a {expected} PEM block, found {label}")?;
                if *expected == "PRIVATE KEY" && label.ends_with("PRIVATE KEY") {
                    // SEC1 or PKCS#1 keys: say how to convert rather than just refuse.
                    write!(f, " (convert it with `openssl pkcs8 -topk8 -nocrypt`)")?;
                }
                Ok(())
            }
            Self::NoCertificates => write!(f, "no CERTIFICATE PEM block found"),
            Self::InvalidName { name, reason } => {
                write!(f, "invalid distinguished name {name:?}: {reason}")
            }
            Self::InvalidDescriptor { reason } => write!(f, "invalid subject descriptor: {reason}"),
            Self::KeyCertificateMismatch => {
                write!(
                    f,
                    "the private key does not match the signing (first) certificate"
                )
            }
            Self::EmptyChain => write!(f, "the certificate chain is empty"),
            Self::TimeOutOfRange => write!(f, "time out of the encodable range"),
            Self::Random(e) => write!(f, "the OS random source failed: {e}"),
        }
    }
}

impl super::std::error::Error for SignError {}

impl From<pkcs8::Error> for SignError {
    fn from(e: pkcs8::Error) -> Self {
        Self::Pkcs8(e)
    }
}

impl From<der::Error> for SignError {
    fn from(e: der::Error) -> Self {
        Self::Der(e)
    }
}

impl From<rsa::Error> for SignError {
    fn from(e: rsa::Error) -> Self {
        Self::Rsa(e)
    }
}

impl From<getrandom::Error> for SignError {
    fn from(e: getrandom::Error) -> Self {
        Self::Random(e)
    }
}

impl From<signature::Error> for SignError {
    fn from(e: signature::Error) -> Self {
        Self::Ecdsa(e)
    }
}
