//! Notary Project JWS envelopes (signature-envelope-jws.md): the flattened JWS JSON
//! serialization with the Notary protected header, the `targetArtifact` payload and the
//! unprotected `x5c` chain, written member for member the way notation writes them.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde::Serialize;
use serde_json::Value;

use super::std::time::SystemTime;
use super::time::{format_rfc3339, system_time_to_unix};
use super::{SignError, SigningKey};
use crate::alg::SignatureAlgorithm;

/// `cty` of every Notary payload.
pub const CONTENT_TYPE_PAYLOAD: &str = "application/vnd.cncf.notary.payload.v1+json";
/// Protected header naming the signing scheme.
pub const HEADER_SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
/// Protected header with the signer-claimed signing time (scheme `notary.x509`).
pub const HEADER_SIGNING_TIME: &str = "io.cncf.notary.signingTime";
/// Protected header with the signature's expiry time.
pub const HEADER_EXPIRY: &str = "io.cncf.notary.expiry";
/// Unprotected header naming the program that signed.
pub const HEADER_SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
/// The only signing scheme we produce: the signing time is the signer's claim.
pub const SIGNING_SCHEME_X509: &str = "notary.x509";
/// `crit` entry always present (the scheme must be understood).
pub const CRIT_SIGNING_SCHEME: &str = HEADER_SIGNING_SCHEME;
/// `crit` entry present when the signature has an expiry.
pub const CRIT_EXPIRY: &str = HEADER_EXPIRY;

/// What [`sign_envelope`] needs besides the key, chain and subject.
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// The signer-claimed signing time (written with whole seconds, UTC).
    pub signing_time: SystemTime,
    /// How long after `signing_time` the signature expires; `None` writes no expiry.
    pub expiry: Option<Duration>,
    /// The `io.cncf.notary.signingAgent` value; `None` omits the header.
    pub signing_agent: Option<String>,
}

impl SignOptions {
    /// Options with our own signing agent (`nv2/<version>`) and no expiry.
    pub fn new(signing_time: SystemTime) -> Self {
        Self {
            signing_time,
            expiry: None,
            signing_agent: Some(String::from(concat!("nv2/", env!("CARGO_PKG_VERSION")))),
        }
    }
}

/// The protected header, field for field in the order notation writes it (Go marshals its
/// header map with sorted keys).
#[derive(Serialize)]
struct ProtectedHeader<'a> {
    alg: &'a str,
    crit: Vec<&'a str>,
    cty: &'a str,
    #[serde(
        rename = "io.cncf.notary.expiry",
        skip_serializing_if = "Option::is_none"
    )]
    expiry: Option<String>,
    #[serde(rename = "io.cncf.notary.signingScheme")]
    signing_scheme: &'a str,
    #[serde(rename = "io.cncf.notary.signingTime")]
    signing_time: String,
}

/// The unprotected header in notation's member order.
#[derive(Serialize)]
struct UnprotectedHeader<'a> {
    x5c: Vec<String>,
    #[serde(
        rename = "io.cncf.notary.signingAgent",
        skip_serializing_if = "Option::is_none"
    )]
    signing_agent: Option<&'a str>,
}

/// The envelope in notation's member order (payload, protected, header, signature).
#[derive(Serialize)]
struct Envelope<'a> {
    payload: &'a Value,
    protected: &'a Value,
    header: &'a Value,
    signature: &'a Value,
}

/// The JSON bytes of a Notary protected header for scheme `notary.x509`:
/// `alg`, `crit` (`signingScheme`, plus `expiry` when there is one), `cty`, the optional expiry,
/// the scheme, and the signing time, each time as RFC 3339 in UTC with whole seconds.
pub fn protected_header(
    alg: SignatureAlgorithm,
    signing_time_unix: u64,
    expiry_unix: Option<u64>,
) -> Result<Vec<u8>, SignError> {
    let mut crit = alloc::vec![CRIT_SIGNING_SCHEME];
    if expiry_unix.is_some() {
        crit.push(CRIT_EXPIRY);
    }
    let header = ProtectedHeader {
        alg: alg.name(),
        crit,
        cty: CONTENT_TYPE_PAYLOAD,
        expiry: expiry_unix.map(format_rfc3339).transpose()?,
        signing_scheme: SIGNING_SCHEME_X509,
        signing_time: format_rfc3339(signing_time_unix)?,
    };
    Ok(serde_json::to_vec(&header).expect("a struct of strings always serializes"))
}

/// base64url without padding, as JWS uses for `protected`, `payload` and `signature`.
pub fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Signs a Notary Project envelope for `subject` (an OCI descriptor: `mediaType`, `digest`,
/// `size`, optionally more) with `key`, whose certificate is `chain_der[0]`, followed by its
/// issuers. The algorithm is the one the key dictates, and the key must match the leaf
/// certificate (a mismatch would only produce an envelope no verifier accepts).
///
/// Returns the envelope bytes, the blob that is pushed with media type `application/jose+json`.
pub fn sign_envelope(
    key: &SigningKey,
    chain_der: &[Vec<u8>],
    subject: &Value,
    options: &SignOptions,
) -> Result<Vec<u8>, SignError> {
    let leaf = chain_der.first().ok_or(SignError::EmptyChain)?;
    check_key_matches_leaf(key, leaf)?;
    check_descriptor(subject)?;
    let alg = key.algorithm()?;

    let signing_time = system_time_to_unix(options.signing_time)?;
    let expiry = options
        .expiry
        .map(|d| {
            signing_time
                .checked_add(d.as_secs())
                .ok_or(SignError::TimeOutOfRange)
        })
        .transpose()?;
    let protected = protected_header(alg, signing_time, expiry)?;

    let mut payload = serde_json::Map::new();
    payload.insert("targetArtifact".to_string(), subject.clone());
    let payload = serde_json::to_vec(&Value::Object(payload)).expect("a JSON value serializes");

    let header = UnprotectedHeader {
        x5c: chain_der.iter().map(|c| Base64::encode_string(c)).collect(),
        signing_agent: options.signing_agent.as_deref(),
    };
    let header = serde_json::to_value(&header).expect("a struct of strings serializes");

    let envelope = assemble(&protected, &payload, header, key, alg)?;
    let envelope = Envelope {
        payload: &envelope["payload"],
        protected: &envelope["protected"],
        header: &envelope["header"],
        signature: &envelope["signature"],
    };
    Ok(serde_json::to_vec(&envelope).expect("a JSON value serializes"))
}

/// Builds a flattened JWS JSON object from raw parts: `protected` and `payload` are taken as the
/// exact bytes to encode (so a test can put duplicate keys, `alg: none`, unknown `crit` entries
/// or padding quirks in them), `header` becomes the unprotected header as given, and the
/// signature is `key` signing `ASCII(b64url(protected) + "." + b64url(payload))` with `alg`
/// (see [`SigningKey::sign_raw`] for which key/alg pairs work).
///
/// Returns `{"payload", "protected", "header", "signature"}` as a JSON object that tests may
/// mutate further (replace the signature with [`SigningKey::sign_raw_der`] output, drop
/// members, …) before serializing.
pub fn assemble(
    protected: &[u8],
    payload: &[u8],
    header: Value,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<Value, SignError> {
    let protected_b64 = b64url(protected);
    let payload_b64 = b64url(payload);
    let mut signing_input = String::with_capacity(protected_b64.len() + 1 + payload_b64.len());
    signing_input.push_str(&protected_b64);
    signing_input.push('.');
    signing_input.push_str(&payload_b64);
    let signature = key.sign_raw(alg, signing_input.as_bytes())?;

    let mut obj = serde_json::Map::new();
    obj.insert("payload".to_string(), Value::String(payload_b64));
    obj.insert("protected".to_string(), Value::String(protected_b64));
    obj.insert("header".to_string(), header);
    obj.insert("signature".to_string(), Value::String(b64url(&signature)));
    Ok(Value::Object(obj))
}

/// The subject must look like an OCI descriptor (signature-specification, "Payload": the
/// `targetArtifact` carries at least `mediaType`, `digest` and `size`).
fn check_descriptor(subject: &Value) -> Result<(), SignError> {
    let bad = |reason| Err(SignError::InvalidDescriptor { reason });
    let Some(obj) = subject.as_object() else {
        return bad("not a JSON object");
    };
    match obj.get("mediaType") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return bad("mediaType missing or not a string"),
    }
    match obj.get("digest") {
        Some(Value::String(s)) if s.contains(':') => {}
        _ => return bad("digest missing or not of the form algorithm:hex"),
    }
    match obj.get("size") {
        Some(Value::Number(n)) if n.is_u64() => {}
        _ => return bad("size missing or not a non-negative integer"),
    }
    Ok(())
}

/// The leaf certificate must carry the key's public key.
fn check_key_matches_leaf(key: &SigningKey, leaf_der: &[u8]) -> Result<(), SignError> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(leaf_der)?;
    // Compare the key bits only: encoders differ on RSA's NULL algorithm parameters.
    let cert_key = &cert
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key;
    if *cert_key != key.public_key_info()?.subject_public_key {
        return Err(SignError::KeyCertificateMismatch);
    }
    Ok(())
}
