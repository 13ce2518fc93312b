//! A request built with [`verifier_core::Request`] is the Contract 1 JSON that callers used to
//! write by hand: the verifier reads the one as it read the other and gives the same report.

mod common;

use std::path::Path;

use base64ct::{Base64, Encoding};
use common::*;
use serde_json::{json, Value};
use verifier_core::sign::{notation_cases, pem_encode, KeyType};
use verifier_core::{verify_json, Report};

fn report_of(request: &Value) -> Value {
    let report: Report = verify_json(&serde_json::to_vec(request).unwrap());
    serde_json::from_str(&report.to_json()).unwrap()
}

/// The request as the test helpers wrote it before the type existed.
fn hand_written(envelope: &[u8], trusted_der: &[u8], level: &str, time: &str) -> Value {
    json!({
        "reference": "registry.acme.io/apps/builder@sha256:00",
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:b8479de3f8f2b2a7ec9bd3e4b8fa7e1ce0d0c7c0dd4fa1ab2ba4b1e0a1cbd1d7", "size": 517},
        "signatures": [{"mediaType": "application/jose+json", "digest": "sha256:sig0", "envelope": Base64::encode_string(envelope)}],
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "acme", "registryScopes": ["*"], "signatureVerification": {"level": level},
            "trustStores": ["ca:acme"], "trustedIdentities": ["*"],
        }]},
        "trustStores": {"ca:acme": [pem_encode("CERTIFICATE", trusted_der).unwrap()]},
        "time": time,
    })
}

#[test]
fn a_built_request_is_the_hand_written_one_and_verifies_the_same() {
    let pki = pki(KeyType::EcP256);
    let good = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]).build();
    let stranger = root_spec().build().unwrap();
    // Valid; untrusted; valid only under audit; expired certificates.
    for (trusted, level, time, verified) in [
        (&pki.root, "strict", NOW_TEXT, true),
        (&stranger, "strict", NOW_TEXT, false),
        (&stranger, "audit", NOW_TEXT, true),
        (&pki.root, "strict", "2040-01-01T00:00:00Z", false),
    ] {
        let mut req = Request::new(good.clone(), trusted);
        req.level = verifier_core::SignatureVerification::new(level);
        req.time = time.into();
        let built = req.json();
        let written = hand_written(&good, &trusted.der, level, time);
        assert_eq!(built, written, "{level} at {time}");
        let report = report_of(&built);
        assert_eq!(report["verified"], verified, "{report}");
        assert_eq!(report, report_of(&written));
        // And the type read back from the hand-written JSON is the built request.
        let parsed: verifier_core::Request = serde_json::from_value(written).unwrap();
        assert_eq!(parsed, req.request());
    }
}

/// The Notary Project's own signatures, as `notation_cases` wrote them by hand before: the same
/// verdicts. Skipped when `../shared/vectors/notation` is absent.
#[test]
fn notation_cases_verify_as_the_hand_written_requests_did() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/notation");
    if !root.is_dir() {
        eprintln!(
            "SKIPPED: {} is absent (the Notary Project vectors)",
            root.display()
        );
        return;
    }
    let cases = notation_cases(&root).expect("read the notation vectors");
    assert!(!cases.is_empty());
    for case in cases {
        let built = serde_json::to_value(&case.request).unwrap();
        let r = &case.request;
        let statement = &r.trust_policy.trust_policies[0];
        let written = json!({
            "reference": "registry.example/vectors/app@sha256:00",
            "subject": r.subject,
            "signatures": [{"mediaType": "application/jose+json", "digest": "sha256:test", "envelope": r.signatures[0].envelope}],
            "trustPolicy": {"version": "1.0", "trustPolicies": [{
                "name": "vectors", "registryScopes": ["*"],
                "signatureVerification": {"level": statement.signature_verification.level},
                "trustStores": ["ca:vectors", "signingAuthority:vectors"],
                "trustedIdentities": statement.trusted_identities,
            }]},
            "trustStores": {"ca:vectors": r.trust_stores["ca:vectors"], "signingAuthority:vectors": r.trust_stores["signingAuthority:vectors"]},
            "time": r.time,
        });
        let report = report_of(&built);
        assert_eq!(report, report_of(&written), "{}", case.name);
        assert_eq!(report["verified"], case.valid, "{}", case.name);
    }
}
