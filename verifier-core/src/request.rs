//! The Contract 1 verification request (DESIGN.md): what Rego passes as `input`, what the wasm
//! module parses, and what native callers build.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::policy::TrustPolicyDocument;

/// The media type of a JWS signature envelope (the only one this verifier reads).
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";

/// A verification request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Fully qualified repository plus tag or digest; picks the trust policy.
    pub reference: String,
    /// The artifact the signatures must be for.
    pub subject: Descriptor,
    /// The signature envelopes found for the subject.
    #[serde(default)]
    pub signatures: Vec<SignatureInput>,
    pub trust_policy: TrustPolicyDocument,
    /// Named trust stores (`ca:NAME`, `signingAuthority:NAME`) of PEM certificates.
    #[serde(default)]
    pub trust_stores: BTreeMap<String, PemList>,
    /// The verification time, RFC 3339 (the core has no clock).
    pub time: String,
}

/// An OCI descriptor's identifying fields.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// One signature: the envelope blob and, for reports, its descriptor fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureInput {
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    /// Standard base64 of the envelope blob's bytes.
    pub envelope: String,
}

/// A trust store's certificates: a list of PEM texts (each may hold several certificates), or
/// one PEM text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PemList {
    Many(Vec<String>),
    One(String),
}

impl PemList {
    /// The PEM texts.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            PemList::Many(v) => v.iter().map(String::as_str).collect(),
            PemList::One(s) => alloc::vec![s.as_str()],
        }
    }
}
