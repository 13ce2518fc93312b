//! Contract 1 requests made from fresh keys and certificates (as in
//! `verifier-core/tests/common` and `verifier-core/benches/verify.rs`): valid ones for each key
//! kind, tampered ones, and malformed ones. Shared by the policy.wasm test and the benchmark.

#![allow(dead_code)]

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};
use verifier_core::sign::{
    pem_encode, sign_envelope, CertificateSpec, HashAlgorithm, KeyType, SignOptions,
    TestCertificate,
};
use verifier_core::{
    Descriptor, Request, SignatureEntry, SignatureVerification, TrustPolicyDocument,
    TrustPolicyStatement, TrustStores, JWS_MEDIA_TYPE,
};

/// The verification time of every generated request: 2027-01-15T08:00:00Z.
pub const NOW: u64 = 1_800_000_000;
pub const NOW_TEXT: &str = "2027-01-15T08:00:00Z";
const DAY: u64 = 86_400;
pub const SIGNER: &str = "C=US, ST=WA, O=Bench, CN=Signer";

pub fn subject() -> Descriptor {
    Descriptor::new(
        "application/vnd.oci.image.manifest.v1+json",
        "sha256:b8479de3f8f2b2a7ec9bd3e4b8fa7e1ce0d0c7c0dd4fa1ab2ba4b1e0a1cbd1d7",
        517,
    )
}

/// A self-signed signer (what `notation cert generate-test` makes).
pub fn self_signed(kind: KeyType, hash: HashAlgorithm) -> TestCertificate {
    CertificateSpec::new(SIGNER, NOW - DAY, NOW + 365 * DAY)
        .key_type(kind)
        .signature_hash(hash)
        .build()
        .unwrap()
}

/// A leaf issued by a root: `(leaf, root)`.
pub fn chain(leaf: KeyType, root: KeyType) -> (TestCertificate, TestCertificate) {
    let root = CertificateSpec::ca("C=US, ST=WA, O=Bench, CN=Root", NOW - DAY, NOW + 365 * DAY)
        .key_type(root)
        .build()
        .unwrap();
    let leaf = CertificateSpec::new(SIGNER, NOW - DAY, NOW + 365 * DAY)
        .key_type(leaf)
        .issued_by(root.issuer())
        .build()
        .unwrap();
    (leaf, root)
}

/// A notation-shaped envelope for [`subject`] (or `subject` given) signed by `chain[0]`.
pub fn envelope(
    chain: &[&TestCertificate],
    subject: &Descriptor,
    expiry: Option<Duration>,
) -> Vec<u8> {
    let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
    let mut options = SignOptions::new(UNIX_EPOCH + Duration::from_secs(NOW - 60));
    options.expiry = expiry;
    sign_envelope(&chain[0].key, &ders, &json!(subject), &options).unwrap()
}

/// The request for one envelope, trusting `anchor`, at `level`, for `identity`.
pub fn request_with(
    envelopes: &[Vec<u8>],
    anchor: &TestCertificate,
    level: &str,
    identity: &str,
    time: &str,
) -> Request {
    let policy = TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
        "bench",
        vec!["*".into()],
        SignatureVerification::new(level),
    )
    .with_trust_stores(vec!["ca:bench".into()])
    .with_trusted_identities(vec![identity.into()])]);
    let mut request = Request::new(
        "registry.example/net-monitor:v1",
        subject(),
        policy,
        TrustStores::new(),
        time,
    )
    .trust_store_pem("ca:bench", pem_encode("CERTIFICATE", &anchor.der).unwrap());
    for (i, e) in envelopes.iter().enumerate() {
        let mut entry = SignatureEntry::from_envelope(JWS_MEDIA_TYPE, e);
        entry.digest = Some(format!("sha256:{i:064x}"));
        request = request.signature(entry);
    }
    request
}

/// The valid strict request for a chain anchored at its last certificate.
pub fn request(chain: &[&TestCertificate]) -> Vec<u8> {
    let anchor = chain[chain.len() - 1];
    let env = envelope(chain, &subject(), None);
    serde_json::to_vec(&request_with(
        &[env],
        anchor,
        "strict",
        "x509.subject: C=US, ST=WA, O=Bench",
        NOW_TEXT,
    ))
    .unwrap()
}

/// The three benchmark requests (those of `verifier-core/benches/verify.rs`), all valid.
pub fn bench_cases() -> Vec<(&'static str, Vec<u8>)> {
    let rsa2048 = self_signed(KeyType::Rsa2048, HashAlgorithm::Sha256);
    let (rsa_leaf, rsa_root) = chain(KeyType::Rsa3072, KeyType::Rsa3072);
    let (ec_leaf, ec_root) = chain(KeyType::EcP256, KeyType::EcP256);
    vec![
        ("ps256_self_signed_rsa2048", request(&[&rsa2048])),
        ("ps384_chain_rsa3072", request(&[&rsa_leaf, &rsa_root])),
        ("es256_chain_p256", request(&[&ec_leaf, &ec_root])),
    ]
}

/// Valid, tampered and malformed requests, named; the verdict is the verifier's to give.
pub fn all_cases() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = bench_cases()
        .into_iter()
        .map(|(n, r)| (n.to_string(), r))
        .collect();
    let (p384_leaf, p384_root) = chain(KeyType::EcP384, KeyType::EcP384);
    let (p521_leaf, p521_root) = chain(KeyType::EcP521, KeyType::EcP384);
    cases.push((
        "es384_chain_p384".into(),
        request(&[&p384_leaf, &p384_root]),
    ));
    cases.push((
        "es512_chain_p521".into(),
        request(&[&p521_leaf, &p521_root]),
    ));

    let (leaf, root) = chain(KeyType::EcP256, KeyType::EcP256);
    let good = envelope(&[&leaf, &root], &subject(), None);
    let identity = "x509.subject: C=US, ST=WA, O=Bench";
    let with = |envs: &[Vec<u8>], level: &str, identity: &str, time: &str| {
        serde_json::to_vec(&request_with(envs, &root, level, identity, time)).unwrap()
    };

    // Tampered: a flipped signature byte, a payload for another digest, a foreign root.
    let mut flipped: Value = serde_json::from_slice(&good).unwrap();
    let sig = flipped["signature"].as_str().unwrap().to_string();
    let swapped = match sig.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &sig[1..]),
    };
    flipped["signature"] = json!(swapped);
    cases.push((
        "tampered_signature".into(),
        with(
            &[serde_json::to_vec(&flipped).unwrap()],
            "strict",
            identity,
            NOW_TEXT,
        ),
    ));
    let mut other = subject();
    other.digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000".into();
    cases.push((
        "tampered_subject".into(),
        with(
            &[envelope(&[&leaf, &root], &other, None)],
            "strict",
            identity,
            NOW_TEXT,
        ),
    ));
    let (_, stranger) = chain(KeyType::EcP256, KeyType::EcP256);
    cases.push((
        "untrusted_root".into(),
        serde_json::to_vec(&request_with(
            std::slice::from_ref(&good),
            &stranger,
            "strict",
            identity,
            NOW_TEXT,
        ))
        .unwrap(),
    ));
    cases.push((
        "wrong_identity".into(),
        with(
            std::slice::from_ref(&good),
            "strict",
            "x509.subject: C=US, O=Else",
            NOW_TEXT,
        ),
    ));

    // Time and levels: an expired signature under each level, a time past the certificates.
    let expiring = envelope(&[&leaf, &root], &subject(), Some(Duration::from_secs(30)));
    for level in ["strict", "permissive", "audit", "skip"] {
        cases.push((
            format!("expired_signature_{level}"),
            with(std::slice::from_ref(&expiring), level, identity, NOW_TEXT),
        ));
    }
    cases.push((
        "certificate_expired".into(),
        with(
            std::slice::from_ref(&good),
            "strict",
            identity,
            "2030-01-01T00:00:00Z",
        ),
    ));
    cases.push((
        "one_bad_one_good".into(),
        with(
            &[serde_json::to_vec(&flipped).unwrap(), good.clone()],
            "strict",
            identity,
            NOW_TEXT,
        ),
    ));

    // Malformed: not JSON, not the contract's shape, broken fields.
    cases.push(("not_json".into(), b"this is not json".to_vec()));
    cases.push(("empty_object".into(), b"{}".to_vec()));
    cases.push(("json_array".into(), b"[1,2,3]".to_vec()));
    cases.push((
        "no_signatures".into(),
        with(&[], "strict", identity, NOW_TEXT),
    ));
    cases.push((
        "envelope_not_json".into(),
        with(
            &[b"{not an envelope".to_vec()],
            "strict",
            identity,
            NOW_TEXT,
        ),
    ));
    // The valid strict request with one field broken.
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut req = serde_json::to_value(request_with(
            std::slice::from_ref(&good),
            &root,
            "strict",
            identity,
            NOW_TEXT,
        ))
        .unwrap();
        edit(&mut req);
        serde_json::to_vec(&req).unwrap()
    };
    cases.push((
        "envelope_not_base64".into(),
        edited(&|r| r["signatures"][0]["envelope"] = json!("***not base64***")),
    ));
    cases.push((
        "bad_time".into(),
        edited(&|r| r["time"] = json!("yesterday")),
    ));
    cases.push((
        "bad_trust_store_pem".into(),
        edited(&|r| {
            r["trustStores"]["ca:bench"] =
                json!(["-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"])
        }),
    ));
    cases.push((
        "unknown_policy_version".into(),
        edited(&|r| r["trustPolicy"]["version"] = json!("9.9")),
    ));
    cases
}
