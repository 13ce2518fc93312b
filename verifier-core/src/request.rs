//! The Contract 1 verification request (DESIGN.md): what Rego passes as `input`, what the wasm
//! module parses, and what native callers build.
//!
//! [`Request`] reads and writes the contract's JSON (`reference`, `subject`, `signatures`,
//! `trustPolicy`, `trustStores`, `time`); build one with [`Request::new`], which takes every
//! required member, so a member added to the contract fails to compile wherever a request is
//! made without it:
//!
//! ```
//! use verifier_core::{Descriptor, Request, SignatureEntry, SignatureVerification,
//!     TrustPolicyDocument, TrustPolicyStatement, JWS_MEDIA_TYPE};
//!
//! let policy = TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
//!     "wabbit-networks-images",
//!     vec!["*".into()],
//!     SignatureVerification::new("strict"),
//! )
//! .with_trust_stores(vec!["ca:wabbit-networks".into()])
//! .with_trusted_identities(vec!["*".into()])]);
//! let subject = Descriptor::new(
//!     "application/vnd.oci.image.manifest.v1+json",
//!     "sha256:b8479de3f8f2b2a7ec9bd3e4b8fa7e1ce0d0c7c0dd4fa1ab2ba4b1e0a1cbd1d7",
//!     517,
//! );
//! let request = Request::new(
//!     "registry.example/net-monitor:v1",
//!     subject,
//!     policy,
//!     Default::default(),
//!     "2026-11-28T12:00:00Z",
//! )
//! .trust_store_pem("ca:wabbit-networks", "-----BEGIN CERTIFICATE-----…")
//! .signature_envelope(b"{\"payload\": \"...\"}");
//! assert_eq!(request.signatures[0].media_type.as_deref(), Some(JWS_MEDIA_TYPE));
//! let json = serde_json::to_vec(&request).unwrap();
//! // Nothing here is signed, so it does not verify; but it is a well-formed request.
//! assert!(!verifier_core::verify_json(&json).verified);
//! ```

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::policy::TrustPolicyDocument;

/// The media type of a JWS signature envelope (the only one this verifier reads).
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";

/// Named trust stores (`ca:NAME`, `signingAuthority:NAME`), each a list of PEM texts.
pub type TrustStores = BTreeMap<String, PemList>;

/// A verification request.
///
/// Parsed with [`verify_json`](crate::verify_json) from the contract's JSON, or built with
/// [`Request::new`] and serialised (`serde_json::to_vec`) to that same JSON.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Fully qualified repository plus tag or digest; picks the trust policy.
    pub reference: String,
    /// The artifact the signatures must be for.
    pub subject: Descriptor,
    /// The signature envelopes found for the subject.
    #[serde(default)]
    pub signatures: Vec<SignatureEntry>,
    /// The Notary Project trust policy document (version 1.0).
    pub trust_policy: TrustPolicyDocument,
    /// Named trust stores (`ca:NAME`, `signingAuthority:NAME`) of PEM certificates.
    #[serde(default)]
    pub trust_stores: TrustStores,
    /// The verification time, RFC 3339 (the core has no clock).
    pub time: String,
}

impl Request {
    /// A request with every member but the signatures, which [`Request::signature`] and
    /// [`Request::signature_envelope`] add. `time` is RFC 3339 (see
    /// [`Timestamp::to_rfc3339`](crate::Timestamp::to_rfc3339)); it is checked when the request
    /// is verified, not here, as every other member is.
    pub fn new(
        reference: impl Into<String>,
        subject: Descriptor,
        trust_policy: TrustPolicyDocument,
        trust_stores: TrustStores,
        time: impl Into<String>,
    ) -> Self {
        Request {
            reference: reference.into(),
            subject,
            signatures: Vec::new(),
            trust_policy,
            trust_stores,
            time: time.into(),
        }
    }

    /// Adds a signature entry.
    pub fn signature(mut self, entry: SignatureEntry) -> Self {
        self.signatures.push(entry);
        self
    }

    /// Adds a JWS envelope blob (`application/jose+json`), with its digest.
    pub fn signature_envelope(self, envelope: &[u8]) -> Self {
        self.signature(SignatureEntry::from_envelope(JWS_MEDIA_TYPE, envelope))
    }

    /// Appends a PEM text to trust store `name` (`ca:NAME`, `signingAuthority:NAME`), creating
    /// the store when it is new; a store's texts keep the order in which they were added.
    pub fn trust_store_pem(mut self, name: impl Into<String>, pem: impl Into<String>) -> Self {
        self.trust_stores
            .entry(name.into())
            .or_insert_with(|| PemList::Many(Vec::new()))
            .push(pem.into());
        self
    }
}

/// An OCI descriptor's identifying fields.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Descriptor {
    /// A descriptor of `size` bytes with `digest` (`sha256:…`).
    pub fn new(media_type: impl Into<String>, digest: impl Into<String>, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest: digest.into(),
            size,
        }
    }
}

/// One signature: the envelope blob and, for reports, its descriptor fields.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureEntry {
    /// The envelope's media type; absent means [`JWS_MEDIA_TYPE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The envelope blob's digest, echoed in the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Standard base64 of the envelope blob's bytes.
    pub envelope: String,
}

impl SignatureEntry {
    /// The entry for an envelope blob of `media_type`: its `sha256:` digest and its bytes in
    /// standard base64.
    pub fn from_envelope(media_type: impl Into<String>, envelope: &[u8]) -> Self {
        SignatureEntry {
            media_type: Some(media_type.into()),
            digest: Some(sha256_digest(envelope)),
            envelope: Base64::encode_string(envelope),
        }
    }
}

/// `sha256:<lowercase hex>` of `bytes`, an OCI digest.
fn sha256_digest(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in Sha256::digest(bytes) {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A trust store's certificates: a list of PEM texts (each may hold several certificates), or
/// one PEM text.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
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

    /// Appends a PEM text (a single text becomes a list of two).
    pub fn push(&mut self, pem: String) {
        match self {
            PemList::Many(v) => v.push(pem),
            PemList::One(s) => *self = PemList::Many(alloc::vec![core::mem::take(s), pem]),
        }
    }
}

impl From<Vec<String>> for PemList {
    fn from(texts: Vec<String>) -> Self {
        PemList::Many(texts)
    }
}

impl From<String> for PemList {
    fn from(text: String) -> Self {
        PemList::One(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{SignatureVerification, TrustPolicyStatement};
    use serde_json::json;

    fn built() -> Request {
        let policy = TrustPolicyDocument::new(alloc::vec![
            TrustPolicyStatement::new(
                "wabbit-networks-images",
                alloc::vec!["registry.example/net-monitor".into()],
                SignatureVerification::new("strict").with_override("expiry", "log"),
            )
            .with_trust_stores(alloc::vec!["ca:wabbit-networks".into()])
            .with_trusted_identities(alloc::vec!["*".into()]),
            TrustPolicyStatement::new(
                "unsigned",
                alloc::vec!["registry.example/tools".into()],
                SignatureVerification::new("skip"),
            ),
        ]);
        Request::new(
            "registry.example/net-monitor@sha256:00",
            Descriptor::new(
                "application/vnd.oci.image.manifest.v1+json",
                "sha256:00",
                528,
            ),
            policy,
            TrustStores::new(),
            "2026-11-28T12:00:00Z",
        )
        .signature_envelope(b"env")
        .signature(SignatureEntry {
            media_type: None,
            digest: None,
            envelope: "ZW52".into(),
        })
        .trust_store_pem("ca:wabbit-networks", "A")
        .trust_store_pem("ca:wabbit-networks", "B")
        .trust_store_pem("signingAuthority:x", "C")
    }

    #[test]
    fn serialises_to_the_contract_1_names() {
        let expected = json!({
            "reference": "registry.example/net-monitor@sha256:00",
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:00", "size": 528},
            "signatures": [
                {"mediaType": "application/jose+json",
                 // sha256("env") and standard base64 of "env".
                 "digest": "sha256:b77349bf1fa9b26d45d545d7d64dad96737e9cfbb3cbb5f5d10fb77b0fcc44ad",
                 "envelope": "ZW52"},
                {"envelope": "ZW52"},
            ],
            "trustPolicy": {"version": "1.0", "trustPolicies": [
                {"name": "wabbit-networks-images", "registryScopes": ["registry.example/net-monitor"],
                 "signatureVerification": {"level": "strict", "override": {"expiry": "log"}},
                 "trustStores": ["ca:wabbit-networks"], "trustedIdentities": ["*"]},
                {"name": "unsigned", "registryScopes": ["registry.example/tools"],
                 "signatureVerification": {"level": "skip"}},
            ]},
            "trustStores": {"ca:wabbit-networks": ["A", "B"], "signingAuthority:x": ["C"]},
            "time": "2026-11-28T12:00:00Z",
        });
        assert_eq!(serde_json::to_value(built()).unwrap(), expected);
    }

    #[test]
    fn digest_of_the_empty_config() {
        // DESIGN.md, media types: the empty config `{}`.
        assert_eq!(
            sha256_digest(b"{}"),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let entry = SignatureEntry::from_envelope(JWS_MEDIA_TYPE, b"{}");
        assert_eq!(entry.envelope, "e30=");
        assert_eq!(entry.digest.as_deref(), Some(sha256_digest(b"{}").as_str()));
    }

    #[test]
    fn round_trips() {
        let request = built();
        let bytes = serde_json::to_vec(&request).unwrap();
        let back: Request = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, request);
        // And the other way: the contract's JSON, read and written again, is unchanged.
        let text = serde_json::to_value(&request).unwrap();
        let again =
            serde_json::to_value(serde_json::from_value::<Request>(text.clone()).unwrap()).unwrap();
        assert_eq!(again, text);
    }

    #[test]
    fn a_single_pem_text_stays_one_and_grows_into_a_list() {
        let r: Request = serde_json::from_value(json!({
            "reference": "r", "subject": {"mediaType": "m", "digest": "d", "size": 1},
            "trustPolicy": {"version": "1.0", "trustPolicies": []},
            "trustStores": {"ca:x": "A"}, "time": "t",
        }))
        .unwrap();
        assert_eq!(r.trust_stores["ca:x"], PemList::One("A".into()));
        assert!(r.signatures.is_empty());
        assert_eq!(
            serde_json::to_value(&r).unwrap()["trustStores"]["ca:x"],
            "A"
        );
        let r = r.trust_store_pem("ca:x", "B");
        assert_eq!(r.trust_stores["ca:x"].texts(), ["A", "B"]);
    }
}
