//! Generated cases for trust (stores by DER, trusted identities), verification levels, every
//! allowed algorithm, and request-level errors.

mod common;

use common::*;
use serde_json::json;
use verifier_core::sign::{CertificateSpec, KeyType};
use verifier_core::{
    verify_json, Error, SignatureVerification, Stage, TrustPolicyDocument, TrustPolicyStatement,
    TrustStores,
};

#[test]
fn every_allowed_algorithm_verifies_once() {
    for kind in KeyType::NOTARY {
        let pki = pki(kind);
        let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]);
        let report = Request::new(env.build(), &pki.root).verify();
        assert!(report.verified, "{kind:?}: {:?}", report.errors);
    }
}

#[test]
fn untrusted_root_fails_authenticity_and_audit_only_logs_it() {
    let pki = pki(KeyType::EcP256);
    let other = root_spec().build().unwrap();
    let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]);
    let report = Request::new(env.build(), &other).verify();
    assert_fails(&report, Stage::Authenticity, |e| {
        matches!(e, Error::UntrustedChain)
    });
    // After an enforced failure, later stages are not processed.
    assert_eq!(report.signatures[0].checks.expiry, "skipped");

    let mut req = Request::new(env.build(), &other);
    req.level = SignatureVerification::new("audit");
    let report = req.verify();
    assert_valid(&report);
    assert_eq!(report.level.as_deref(), Some("audit"));
    assert!(report.signatures[0]
        .checks
        .authenticity
        .starts_with("authenticity:"));
    assert!(!report.warnings.is_empty());
    // Audit still enforces integrity.
    let mut req = Request::new(env.build(), &other);
    req.level = SignatureVerification::new("audit");
    req.subject.size = 1;
    assert_fails(&req.verify(), Stage::Integrity, |e| {
        matches!(e, Error::SubjectMismatch { .. })
    });
}

#[test]
fn trusted_identities_match_the_leaf_subject() {
    let pki = pki(KeyType::EcP256);
    let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]);
    let mut req = Request::new(env.build(), &pki.root);
    req.identities = vec!["x509.subject: C=US, ST=WA, O=Acme, CN=builder".into()];
    assert_valid(&req.verify());
    req.identities = vec!["x509.subject: C=US, ST=WA, O=Acme, CN=someone-else".into()];
    assert_fails(&req.verify(), Stage::Authenticity, |e| {
        matches!(e, Error::UntrustedIdentity { .. })
    });
    // The root's subject is not the signer's.
    req.identities = vec!["x509.subject: C=US, ST=WA, O=Acme, CN=Acme Root".into()];
    assert_fails(&req.verify(), Stage::Authenticity, |e| {
        matches!(e, Error::UntrustedIdentity { .. })
    });
}

#[test]
fn one_good_signature_among_bad_ones_verifies() {
    let pki = pki(KeyType::EcP256);
    let good = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]).build();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 5] ^= 1;
    let mut req = Request::new(bad.clone(), &pki.root);
    assert!(!req.verify().verified);
    req.envelopes = vec![bad, good];
    let report = req.verify();
    assert_valid(&report);
    assert!(!report.signatures[0].verified && report.signatures[1].verified);
}

#[test]
fn request_level_errors_never_verify() {
    let pki = pki(KeyType::EcP256);
    let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]).build();
    let good = Request::new(env, &pki.root).json();

    let stage_of = |v: serde_json::Value| {
        let r = verify_json(&serde_json::to_vec(&v).unwrap());
        assert!(!r.verified);
        r.error.expect("a request-level error").stage()
    };
    let mut v = good.clone();
    v["time"] = json!("now");
    assert_eq!(stage_of(v), Stage::Request);
    let mut v = good.clone();
    v["signatures"] = json!([]);
    assert_eq!(stage_of(v), Stage::Request);
    let mut v = good.clone();
    v["trustPolicy"]["version"] = json!("2.0");
    assert_eq!(stage_of(v), Stage::Request);
    let mut v = good.clone();
    v["trustPolicy"]["trustPolicies"][0]["registryScopes"] = json!(["registry.acme.io/other"]);
    assert_eq!(stage_of(v), Stage::Request);
    let mut v = good.clone();
    v["trustStores"]["ca:acme"] = json!(["not a certificate"]);
    assert_eq!(stage_of(v), Stage::Request);
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("subject");
    assert_eq!(stage_of(v), Stage::Request);
    for junk in [
        &b""[..],
        b"null",
        b"[]",
        b"{\"reference\":1}",
        &[0xff, 0xfe],
    ] {
        let r = verify_json(junk);
        assert!(
            !r.verified && r.errors[0].starts_with("request:"),
            "{:?}",
            r.errors
        );
    }
    // A store named by the policy but absent from the request fails authenticity.
    let mut v = good.clone();
    v["trustStores"] = json!({});
    let r = verify_json(&serde_json::to_vec(&v).unwrap());
    assert!(matches!(
        r.signatures[0].failure,
        Some(Error::TrustStoreMissing { .. })
    ));
}

#[test]
fn skip_level_verifies_without_signatures_for_its_scope() {
    let policy = TrustPolicyDocument::new(vec![
        TrustPolicyStatement::new(
            "unsigned",
            vec!["registry.acme.io/unsigned/tool".into()],
            SignatureVerification::new("skip"),
        ),
        TrustPolicyStatement::new(
            "rest",
            vec!["*".into()],
            SignatureVerification::new("strict"),
        )
        .with_trust_stores(vec!["ca:acme".into()])
        .with_trusted_identities(vec!["*".into()]),
    ]);
    let request = verifier_core::Request::new(
        "registry.acme.io/unsigned/tool:1.0",
        subject(),
        policy,
        TrustStores::new(),
        NOW_TEXT,
    );
    let report = verify_json(&serde_json::to_vec(&request).unwrap());
    assert!(report.verified);
    assert_eq!(report.policy.as_deref(), Some("unsigned"));
    let mut other = request.clone();
    other.reference = "registry.acme.io/apps/x:1".into();
    let report = verify_json(&serde_json::to_vec(&other).unwrap());
    assert!(!report.verified);
    assert_eq!(report.policy.as_deref(), Some("rest"));
}

#[test]
fn report_serialises_as_contract_1() {
    let pki = pki(KeyType::EcP256);
    let root2 = CertificateSpec::ca(ROOT_SUBJECT, NOW - DAY, NOW + DAY)
        .build()
        .unwrap();
    let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]).build();
    let report = Request::new(env, &root2).verify();
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(v["verified"], false);
    assert_eq!(v["policy"], "acme");
    assert_eq!(v["level"], "strict");
    assert_eq!(v["signatures"][0]["digest"], "sha256:sig0");
    assert_eq!(v["signatures"][0]["checks"]["integrity"], "ok");
    assert!(v["signatures"][0]["checks"]["authenticity"]
        .as_str()
        .unwrap()
        .starts_with("authenticity: "));
    assert!(v["signatures"][0]["error"]
        .as_str()
        .unwrap()
        .starts_with("authenticity: "));
    assert!(v["signatures"][0]["signingTime"].is_string());
    assert!(v["errors"].as_array().unwrap().len() == 1);
    assert!(v["warnings"].is_array());
}
