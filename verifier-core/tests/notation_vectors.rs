//! Every case of the Notary Project's own signatures in `../shared/vectors/notation/*/expected.json`:
//! the verdict and, for failures, the failing stage. Skipped, with a message, when that folder is
//! absent (a user's fresh clone); CI and development sessions always have it.

use std::fs;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use serde_json::{json, Value};
use verifier_core::verify_json;

fn vectors_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/notation");
    dir.is_dir().then_some(dir)
}

/// Builds the Contract 1 request for one case of one vector folder.
fn request_for(dir: &Path, expected: &Value, case: &Value) -> Value {
    let get = |k: &str| {
        case.get(k)
            .filter(|v| !v.is_null())
            .or_else(|| expected.get(k))
            .cloned()
            .unwrap()
    };
    let roots: Vec<String> = get("trust_roots")
        .as_array()
        .unwrap()
        .iter()
        .map(|f| fs::read_to_string(dir.join(f.as_str().unwrap())).unwrap())
        .collect();
    let subject: Value =
        serde_json::from_slice(&fs::read(dir.join(get("subject").as_str().unwrap())).unwrap())
            .unwrap();
    let envelope = fs::read(dir.join(case["file"].as_str().unwrap())).unwrap();
    json!({
        "reference": "registry.example/vectors/app@sha256:00",
        "subject": subject,
        "signatures": [{"mediaType": "application/jose+json", "digest": "sha256:test", "envelope": Base64::encode_string(&envelope)}],
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "vectors", "registryScopes": ["*"],
            "signatureVerification": {"level": get("level")},
            "trustStores": ["ca:vectors", "signingAuthority:vectors"],
            "trustedIdentities": get("trustedIdentities"),
        }]},
        "trustStores": {"ca:vectors": roots.clone(), "signingAuthority:vectors": roots},
        "time": get("now"),
    })
}

#[test]
fn notation_vectors_give_the_expected_verdict_and_stage() {
    let Some(root) = vectors_dir() else {
        println!(
            "SKIPPED: ../shared/vectors/notation not found; the notation vectors were not run"
        );
        return;
    };
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut ran = 0;
    let mut failures = Vec::new();
    for dir in dirs {
        let expected: Value =
            serde_json::from_slice(&fs::read(dir.join("expected.json")).unwrap()).unwrap();
        for case in expected["cases"].as_array().unwrap() {
            let request = request_for(&dir, &expected, case);
            let report = verify_json(&serde_json::to_vec(&request).unwrap());
            let name = format!(
                "{} / {} ({})",
                dir.file_name().unwrap().to_string_lossy(),
                case["file"],
                case["why"]
            );
            ran += 1;
            let want_valid = case["expected"] == "valid";
            if report.verified != want_valid {
                failures.push(format!(
                    "{name}: verified={} errors={:?}",
                    report.verified, report.errors
                ));
                continue;
            }
            if !want_valid {
                let stage = report.signatures[0]
                    .failure
                    .as_ref()
                    .map(|e| e.stage().name());
                if stage != case["stage"].as_str() {
                    failures.push(format!(
                        "{name}: failed at {stage:?}, expected {}: {:?}",
                        case["stage"], report.errors
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} notation cases disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran >= 10, "only {ran} notation cases found");
    println!("{ran} notation vector cases verified as expected");
}
