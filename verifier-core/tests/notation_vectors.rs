//! Every case of the Notary Project's own signatures in `../shared/vectors/notation/*/expected.json`:
//! the verdict and, for failures, the failing stage. Skipped, with a message, when that folder is
//! absent (a user's fresh clone); CI and development sessions always have it.

use std::path::{Path, PathBuf};

use verifier_core::sign::notation_cases;
use verifier_core::verify_json;

fn vectors_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/notation");
    dir.is_dir().then_some(dir)
}

#[test]
fn notation_vectors_give_the_expected_verdict_and_stage() {
    let Some(root) = vectors_dir() else {
        println!(
            "SKIPPED: ../shared/vectors/notation not found; the notation vectors were not run"
        );
        return;
    };
    let cases = notation_cases(&root).expect("read the notation vectors");
    let ran = cases.len();
    let mut failures = Vec::new();
    for case in cases {
        let report = verify_json(&serde_json::to_vec(&case.request).unwrap());
        let name = &case.name;
        if report.verified != case.valid {
            failures.push(format!(
                "{name}: verified={} errors={:?}",
                report.verified, report.errors
            ));
            continue;
        }
        if !case.valid {
            let stage = report.signatures[0]
                .failure
                .as_ref()
                .map(|e| e.stage().name());
            if stage != case.stage.as_deref() {
                failures.push(format!(
                    "{name}: failed at {stage:?}, expected {:?}: {:?}",
                    case.stage, report.errors
                ));
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
