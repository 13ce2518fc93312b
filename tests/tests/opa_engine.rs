//! Every Rego file we ship, under OPA's own compiler and evaluator (not only regorus): the
//! bundle's files compile as OPA activates them, the `*_test.rego` rules pass under OPA and under
//! regorus with the same outcome each, and the class of defect regorus cannot see (a rule that
//! reads all of `data`, so recursive in OPA) fails here.

use gatekeeper::bundle::Bundle;
use gatekeeper::rego::{rego_files, run_rego_tests, RegoTestOutcome, Verifier};
use nv2_e2e::bundle::{roots_overlap, under};
use nv2_e2e::policy::{opa_available, opa_engine, read_modules, run_opa_tests, verifier};
use nv2_e2e::{require, workspace_root};
use serde_json::json;

/// Compiles `modules` (name, source) with the verify shim; OPA's errors name file and line.
fn compile(modules: &[(String, String)]) -> Result<(), String> {
    let opa = opa_engine(modules, Verifier::Native).map_err(|e| e.to_string())?;
    // Preparing any query compiles every module; no image means no request leaves.
    opa.eval("data.notary.policy.allow", Some(&json!({})))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn the_bundle_compiles_under_opa_and_its_packages_lie_under_its_roots() {
    if !opa_available() {
        return;
    }
    let path = workspace_root().join("dist/bundle.tar.gz");
    let Some(()) = require(
        path.is_file().then_some(()),
        "dist/bundle.tar.gz is missing: run `make bundle`",
    ) else {
        return;
    };
    let bundle = Bundle::open(&path).expect("the bundle");
    let manifest = bundle.manifest.as_ref().expect("the manifest");
    let roots: Vec<&str> = manifest["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .map(|r| r.as_str().expect("a root"))
        .collect();
    assert!(bundle.verify_wasm.is_some(), "no module for notary/verify");
    let modules = &bundle.modules;
    assert!(!modules.is_empty(), "the bundle holds no Rego");
    for (name, source) in modules {
        let package = source
            .lines()
            .find_map(|l| l.trim().strip_prefix("package "))
            .unwrap_or_else(|| panic!("{name}: no package"))
            .replace('.', "/");
        assert!(
            roots.iter().any(|r| under(&package, r)),
            "{name}: package {package} is outside the roots {roots:?}"
        );
    }
    assert!(
        !roots.iter().any(|r| roots_overlap(r, "notary/config")),
        "the roots {roots:?} own notary/config: OPA would erase the user's configuration"
    );
    compile(modules).unwrap_or_else(|e| panic!("the bundle's Rego does not compile in OPA:\n{e}"));
}

#[test]
fn every_rego_file_in_the_repository_compiles_under_opa() {
    if !opa_available() {
        return;
    }
    let files = rego_files(&workspace_root().join("rego"), true).expect("rego files");
    compile(&read_modules(&files))
        .unwrap_or_else(|e| panic!("Rego that does not compile in OPA:\n{e}"));
}

#[test]
fn reading_all_of_data_is_caught_as_recursion() {
    if !opa_available() {
        return;
    }
    // The shape of the defect OPA found and regorus did not: a rule of package notary.policy that
    // reads `data` as a whole depends on every rule of its own package.
    let modules = [(
        "recursive.rego".to_string(),
        "package notary.policy\n\nimport rego.v1\n\nconfig := object.get(data, [\"notary\", \"config\"], {})\n\nallow if config.on\n".to_string(),
    )];
    let err = compile(&modules).expect_err("OPA must refuse a rule that reads all of data");
    assert!(
        err.contains("rego_recursion_error") && err.contains("recursive.rego:"),
        "{err}"
    );
}

fn summary(outcomes: &[RegoTestOutcome]) -> Vec<(String, Option<String>)> {
    outcomes
        .iter()
        .map(|o| (o.rule.clone(), o.failure.clone()))
        .collect()
}

#[test]
fn rego_unit_tests_pass_under_opa_and_regorus_alike() {
    // The notary policy's tests; the Gatekeeper template's mock external_data, which regorus's
    // `with` cannot replace (tests/tests/admission.rs runs them under OPA, and their cases under
    // regorus through the admission evaluator).
    let dir = workspace_root().join("rego/notary");
    let regorus = run_rego_tests(&dir, verifier()).expect("load rego tests (regorus)");
    assert!(
        regorus.len() >= 10,
        "only {} rego tests found",
        regorus.len()
    );
    let failed = |outcomes: &[RegoTestOutcome]| -> Vec<String> {
        outcomes
            .iter()
            .filter_map(|o| o.failure.as_ref().map(|f| format!("{}: {f}", o.rule)))
            .collect()
    };
    println!(
        "regorus: {} rego tests, {} failed",
        regorus.len(),
        failed(&regorus).len()
    );
    assert!(
        failed(&regorus).is_empty(),
        "under regorus:\n{}",
        failed(&regorus).join("\n")
    );
    if !opa_available() {
        return;
    }
    let opa = run_opa_tests(&dir, verifier()).expect("load rego tests (OPA)");
    println!(
        "OPA: {} rego tests, {} failed",
        opa.len(),
        failed(&opa).len()
    );
    assert!(
        failed(&opa).is_empty(),
        "under OPA:\n{}",
        failed(&opa).join("\n")
    );
    assert_eq!(summary(&opa), summary(&regorus), "the engines disagree");
}

#[test]
fn a_failing_rego_test_fails_under_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t_test.rego"),
        "package t_test\n\nimport rego.v1\n\ntest_passes if true\n\ntest_fails if 1 == 2\n\ntest_not_true := 3\n",
    )
    .unwrap();
    let expected = vec![
        ("data.t_test.test_passes".to_string(), None),
        (
            "data.t_test.test_fails".to_string(),
            Some("undefined".to_string()),
        ),
        (
            "data.t_test.test_not_true".to_string(),
            Some("evaluated to 3".to_string()),
        ),
    ];
    let regorus = run_rego_tests(dir.path(), verifier()).expect("regorus");
    assert_eq!(summary(&regorus), expected);
    if !opa_available() {
        return;
    }
    let opa = run_opa_tests(dir.path(), verifier()).expect("OPA");
    assert_eq!(summary(&opa), expected);
}

#[test]
fn the_shim_answers_data_notary_verify_in_opa_as_the_verifier_does() {
    if !opa_available() {
        return;
    }
    let files = rego_files(&workspace_root().join("rego/notary"), false).expect("files");
    let opa = opa_engine(&read_modules(&files), verifier()).expect("engine");
    // A malformed request: a report with verified false, never an error.
    let report = opa
        .eval(
            "data.notary.verify with input as {\"signatures\": \"not a list\"}",
            None,
        )
        .expect("eval")
        .expect("a report");
    assert_eq!(report["verified"], json!(false), "{report}");
    assert!(!report["errors"].as_array().unwrap().is_empty(), "{report}");
}
