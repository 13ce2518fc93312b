//! `nv2-gatekeeper policy eval` and `policy test`, run as the real binary: output, exit codes, and
//! clear errors for bad input. (The policy against live registries is in `tests/` (nv2-e2e).)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn gatekeeper<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nv2-gatekeeper"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run nv2-gatekeeper")
}

/// `policy eval --native --bundle rego/notary ARGS…`: the repository's policy, verified natively.
fn native_eval(args: &[&str]) -> Output {
    let mut all = vec!["policy", "eval", "--native", "--bundle", "rego/notary"];
    all.extend_from_slice(args);
    gatekeeper(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nv2-gk-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `make bundle` wrote `path`; when not, skips (or fails when peers are required).
fn built(path: &str) -> bool {
    if workspace().join(path).is_file() {
        return true;
    }
    assert!(
        std::env::var_os("NV2_REQUIRE_PEERS").is_none(),
        "{path} is missing: run `make bundle`"
    );
    println!("SKIPPED: {path} is missing (make bundle)");
    false
}

/// A loopback address nobody listens on.
fn closed_registry() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

#[test]
fn policy_test_runs_the_repository_rego_tests() {
    // The notary policy's: the Gatekeeper template's tests mock external_data, which regorus's
    // `with` cannot replace (they run under OPA in tests/tests/admission.rs).
    let out = gatekeeper(&["policy", "test", "rego/notary"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("PASS data.notary.policy_test.test_"),
        "{text}"
    );
    assert!(text.contains(" 0 failed"), "{text}");
}

#[test]
fn policy_test_names_each_failing_rule_and_exits_1() {
    let dir = Scratch::new("failing");
    dir.write(
        "t_test.rego",
        "package t\n\nimport rego.v1\n\n\
         test_passes if { 1 == 1 }\n\n\
         test_is_false := false\n\n\
         test_is_undefined if { input.nothing == 1 }\n",
    );
    let out = gatekeeper(&["policy", "test", dir.0.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("PASS data.t.test_passes"), "{text}");
    assert!(
        text.contains("FAIL data.t.test_is_false: evaluated to false"),
        "{text}"
    );
    assert!(
        text.contains("FAIL data.t.test_is_undefined: undefined"),
        "{text}"
    );
    assert!(text.contains("1 passed, 2 failed"), "{text}");
}

#[test]
fn policy_eval_denies_an_image_whose_registry_is_down() {
    let dir = Scratch::new("down");
    let host = closed_registry();
    let data = dir.write(
        "data.json",
        &json!({"notary": {"config": {
            "registries": {&host: {"scheme": "http"}},
            "trustPolicy": {"version": "1.0", "trustPolicies": [{
                "name": "all", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
                "trustStores": ["ca:none"], "trustedIdentities": ["*"],
            }]},
            "trustStores": {"ca:none": []},
        }}})
        .to_string(),
    );
    let input = dir.write(
        "input.json",
        &json!({"image": format!("{host}/apps/web:v1")}).to_string(),
    );
    let out = native_eval(&[
        "--data",
        &data,
        "--input",
        &input,
        "data.notary.policy.allow",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "false");

    let out = native_eval(&[
        "--data",
        &data,
        "--input",
        &input,
        "data.notary.policy.deny",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let deny: Vec<String> = serde_json::from_slice(&out.stdout).expect("deny as JSON");
    assert!(
        deny.iter()
            .any(|m| m.contains(&host) && m.contains("registry unreachable")),
        "{deny:?}"
    );
}

#[test]
fn policy_eval_answers_expressions_and_undefined() {
    let dir = Scratch::new("expr");
    let input = dir.write("input.json", r#"{"image": "registry.example:5000/a/b:v1"}"#);
    let eval = |query: &str| native_eval(&["--input", &input, query]);
    let out = eval("data.notary.policy.parse_reference(input.image).repository");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "\"a/b\"");

    let out = eval("data.notary.policy.no_such_rule");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "undefined");
}

#[test]
fn policy_eval_takes_the_tarball_as_opa_eval_b_does() {
    if !built("dist/bundle.tar.gz") {
        return;
    }
    let dir = Scratch::new("tarball");
    let host = closed_registry();
    let data = dir.write(
        "config.json",
        &json!({"notary": {"config": {
            "registries": {&host: {"scheme": "http"}},
            "trustPolicy": {"version": "1.0", "trustPolicies": []},
        }}})
        .to_string(),
    );
    let input = dir.write(
        "input.json",
        &json!({"image": format!("{host}/apps/web:v1")}).to_string(),
    );
    // The README's command, with OPA's short flags; the default bundle is the tarball.
    for bundle in [&["-b", "dist/bundle.tar.gz"][..], &[]] {
        let mut args = vec!["policy", "eval"];
        args.extend_from_slice(bundle);
        args.extend_from_slice(&["-d", &data, "-i", &input, "data.notary.policy.deny"]);
        let out = gatekeeper(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let deny: Vec<String> = serde_json::from_slice(&out.stdout).expect("deny as JSON");
        assert!(
            deny.iter().any(|m| m.contains("registry unreachable")),
            "{deny:?}"
        );
    }
    // The module inside the tarball answers data.notary.verify.
    let bad = dir.write("bad.json", r#"{"signatures": "not a list"}"#);
    let out = gatekeeper(&["policy", "eval", "-i", &bad, "data.notary.verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("report as JSON");
    assert_eq!(report["verified"], json!(false), "{report}");
    // A file that is no tarball is a clear error.
    let not_tar = dir.write("bundle.tar.gz", "not a tarball");
    let out = gatekeeper(&["policy", "eval", "-b", &not_tar, "data.notary.policy.allow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&not_tar), "{}", stderr(&out));
}

#[test]
fn policy_eval_through_policy_wasm_reports_a_bad_request() {
    if !built("dist/bundle/policy.wasm") {
        return;
    }
    let dir = Scratch::new("wasm");
    let input = dir.write("input.json", r#"{"signatures": "not a list"}"#);
    let out = gatekeeper(&[
        "policy",
        "eval",
        "--bundle",
        "dist/bundle",
        "--input",
        &input,
        "data.notary.verify",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("report as JSON");
    assert_eq!(report["verified"], json!(false), "{report}");
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2() {
    let dir = Scratch::new("bad");
    let not_json = dir.write("data.json", "{ not json");
    let missing = dir.0.join("missing.json");
    let missing = missing.to_str().unwrap();
    let empty = dir.0.to_str().unwrap();
    let cases = [
        (
            native_eval(&["--data", &not_json, "data.notary.policy.allow"]),
            format!("{not_json} is not JSON"),
        ),
        (
            native_eval(&["--input", missing, "data.notary.policy.allow"]),
            format!("reading {missing}"),
        ),
        (
            // Without --native the bundle must hold policy.wasm.
            gatekeeper(&[
                "policy",
                "eval",
                "--bundle",
                "rego/notary",
                "data.notary.policy.allow",
            ]),
            "policy.wasm".to_string(),
        ),
        (
            gatekeeper(&[
                "policy",
                "eval",
                "--native",
                "--bundle",
                empty,
                "data.notary.policy.allow",
            ]),
            "holds no .rego file".to_string(),
        ),
    ];
    for (out, expected) in cases {
        assert_eq!(out.status.code(), Some(2), "{expected}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.starts_with("nv2-gatekeeper: "), "{err}");
        assert!(err.contains(&expected), "{expected}: {err}");
    }
}
