//! Fixtures for the generated verification cases: a PKI made fresh for each test binary, an
//! envelope builder whose every part can be bent, and a request builder for Contract 1.

#![allow(dead_code)]

use std::sync::OnceLock;

use base64ct::{Base64, Encoding};
use serde_json::{json, Map, Value};
use verifier_core::sign::{
    assemble, b64url, BasicConstraintsSpec, CertificateSpec, KeyType, KeyUsageBit, KeyUsageSpec,
    SigningKey, TestCertificate,
};
use verifier_core::{verify_json, Report, SignatureAlgorithm, Stage};
use verifier_core::{
    Descriptor, SignatureEntry, SignatureVerification, TrustPolicyDocument, TrustPolicyStatement,
    TrustStores, JWS_MEDIA_TYPE,
};

/// The verification time of every generated case: 2027-01-15T08:00:00Z.
pub const NOW: u64 = 1_800_000_000;
pub const NOW_TEXT: &str = "2027-01-15T08:00:00Z";
pub const DAY: u64 = 86_400;
pub const LEAF_SUBJECT: &str = "C=US, ST=WA, L=Seattle, O=Acme, CN=builder";
pub const ROOT_SUBJECT: &str = "C=US, ST=WA, O=Acme, CN=Acme Root";
pub const INTER_SUBJECT: &str = "C=US, ST=WA, O=Acme, CN=Acme Intermediate";

pub fn subject() -> Descriptor {
    Descriptor::new(
        "application/vnd.oci.image.manifest.v1+json",
        "sha256:b8479de3f8f2b2a7ec9bd3e4b8fa7e1ce0d0c7c0dd4fa1ab2ba4b1e0a1cbd1d7",
        517,
    )
}

/// Keys are costly to make; each kind is made once per test binary.
pub fn key(kind: KeyType) -> SigningKey {
    static KEYS: OnceLock<std::sync::Mutex<Vec<(KeyType, SigningKey)>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    if let Some((_, k)) = keys.lock().unwrap().iter().find(|(t, _)| *t == kind) {
        return k.clone();
    }
    let k = SigningKey::generate(kind).unwrap();
    keys.lock().unwrap().push((kind, k.clone()));
    k
}

pub fn root_spec() -> CertificateSpec {
    CertificateSpec::ca(ROOT_SUBJECT, NOW - 365 * DAY, NOW + 3650 * DAY).key(key(KeyType::EcP384))
}

pub fn leaf_spec(kind: KeyType) -> CertificateSpec {
    CertificateSpec::new(LEAF_SUBJECT, NOW - DAY, NOW + 365 * DAY).key(key(kind))
}

/// A root, and a leaf it issued.
pub struct Pki {
    pub root: TestCertificate,
    pub leaf: TestCertificate,
}

pub fn pki(kind: KeyType) -> Pki {
    let root = root_spec().build().unwrap();
    let leaf = leaf_spec(kind).issued_by(root.issuer()).build().unwrap();
    Pki { root, leaf }
}

pub fn ca_usage() -> Option<KeyUsageSpec> {
    Some(KeyUsageSpec {
        critical: true,
        bits: vec![KeyUsageBit::KeyCertSign, KeyUsageBit::CrlSign],
    })
}

pub fn ca_constraints(path_len: Option<u8>) -> Option<BasicConstraintsSpec> {
    Some(BasicConstraintsSpec {
        critical: true,
        ca: true,
        path_len,
    })
}

/// A protected header as notation writes it, as an ordered JSON map the test may edit.
pub fn header(alg: SignatureAlgorithm) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("alg".into(), json!(alg.name()));
    h.insert("crit".into(), json!(["io.cncf.notary.signingScheme"]));
    h.insert(
        "cty".into(),
        json!("application/vnd.cncf.notary.payload.v1+json"),
    );
    h.insert("io.cncf.notary.signingScheme".into(), json!("notary.x509"));
    h.insert(
        "io.cncf.notary.signingTime".into(),
        json!("2027-01-15T07:00:00Z"),
    );
    h
}

/// Everything an envelope is made of; each part can be changed before [`Envelope::build`].
pub struct Envelope {
    pub protected: Vec<u8>,
    pub payload: Vec<u8>,
    pub unprotected: Value,
    pub key: SigningKey,
    pub alg: SignatureAlgorithm,
}

impl Envelope {
    /// A valid envelope for [`subject`] signed by `signer` with `chain` in x5c.
    pub fn new(signer: &SigningKey, chain: &[&TestCertificate]) -> Self {
        let alg = signer.algorithm().unwrap();
        Envelope {
            protected: serde_json::to_vec(&header(alg)).unwrap(),
            payload: serde_json::to_vec(&json!({"targetArtifact": subject()})).unwrap(),
            unprotected: json!({"x5c": chain.iter().map(|c| Base64::encode_string(&c.der)).collect::<Vec<_>>(),
                                 "io.cncf.notary.signingAgent": "nv2-tests"}),
            key: signer.clone(),
            alg,
        }
    }

    pub fn with_header(mut self, edit: impl FnOnce(&mut Map<String, Value>)) -> Self {
        let mut h: Map<String, Value> = serde_json::from_slice(&self.protected).unwrap();
        edit(&mut h);
        self.protected = serde_json::to_vec(&h).unwrap();
        self
    }

    /// The envelope as a JSON object (for structural edits).
    pub fn object(&self) -> Value {
        assemble(
            &self.protected,
            &self.payload,
            self.unprotected.clone(),
            &self.key,
            self.alg,
        )
        .unwrap()
    }

    pub fn build(&self) -> Vec<u8> {
        serde_json::to_vec(&self.object()).unwrap()
    }
}

/// The signing input of an envelope object, for tests that sign by other means.
pub fn signing_input(protected: &[u8], payload: &[u8]) -> String {
    format!("{}.{}", b64url(protected), b64url(payload))
}

/// A Contract 1 request around one envelope, with the parts tests change as fields.
pub struct Request {
    pub envelopes: Vec<Vec<u8>>,
    pub trust: Vec<Vec<u8>>,
    pub level: SignatureVerification,
    pub identities: Vec<String>,
    pub time: String,
    pub subject: Descriptor,
}

impl Request {
    pub fn new(envelope: Vec<u8>, trusted: &TestCertificate) -> Self {
        Request {
            envelopes: vec![envelope],
            trust: vec![trusted.der.clone()],
            level: SignatureVerification::new("strict"),
            identities: vec!["*".into()],
            time: NOW_TEXT.into(),
            subject: subject(),
        }
    }

    /// The request: policy `acme` for every registry, trusting `ca:acme`.
    pub fn request(&self) -> verifier_core::Request {
        let policy = TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
            "acme",
            vec!["*".into()],
            self.level.clone(),
        )
        .with_trust_stores(vec!["ca:acme".into()])
        .with_trusted_identities(self.identities.clone())]);
        let pems: Vec<String> = self
            .trust
            .iter()
            .map(|d| verifier_core::sign::pem_encode("CERTIFICATE", d).unwrap())
            .collect();
        let stores = TrustStores::from([("ca:acme".to_string(), pems.into())]);
        let mut request = verifier_core::Request::new(
            "registry.acme.io/apps/builder@sha256:00",
            self.subject.clone(),
            policy,
            stores,
            self.time.clone(),
        );
        for (i, e) in self.envelopes.iter().enumerate() {
            // Digests the report echoes (`sha256:sig0`, …), not the envelopes' own.
            let mut entry = SignatureEntry::from_envelope(JWS_MEDIA_TYPE, e);
            entry.digest = Some(format!("sha256:sig{i}"));
            request = request.signature(entry);
        }
        request
    }

    /// The request as JSON, for tests that break it.
    pub fn json(&self) -> Value {
        serde_json::to_value(self.request()).unwrap()
    }

    pub fn verify(&self) -> Report {
        verify_json(&serde_json::to_vec(&self.request()).unwrap())
    }
}

/// Asserts the report verified.
#[track_caller]
pub fn assert_valid(report: &Report) {
    assert!(
        report.verified,
        "expected verified, got errors {:?} / {:#?}",
        report.errors, report.signatures
    );
}

/// Asserts the report failed at `stage` with an error that `matches`.
#[track_caller]
pub fn assert_fails(
    report: &Report,
    stage: Stage,
    matches: impl Fn(&verifier_core::Error) -> bool,
) {
    assert!(
        !report.verified,
        "expected failure at {stage:?}, but verified: {report:#?}"
    );
    let failure = report
        .signatures
        .first()
        .and_then(|s| s.failure.as_ref())
        .or(report.error.as_ref());
    let failure = failure.unwrap_or_else(|| panic!("no failure recorded: {report:#?}"));
    assert_eq!(failure.stage(), stage, "wrong stage: {failure}");
    assert!(matches(failure), "unexpected error: {failure:?}");
}
