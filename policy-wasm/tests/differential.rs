//! Differential test: `dist/bundle/policy.wasm` under the official npm OPA host
//! (`@open-policy-agent/opa-wasm`, driven by `tests/opa_wasm_host.mjs`) must give, request for
//! request, the report `verifier_core::verify_json` gives natively.
//!
//! The requests: valid signatures for every key type, tampered, expired and untrusted ones,
//! audit-level and multi-signature cases, malformed and hostile requests, and every case of the
//! Notary Project vectors in `../shared/vectors/notation` (skipped, with a message, when that
//! folder is absent). Each is evaluated three ways: the SDK's own `evaluate` (ABI 1.2
//! `opa_eval`, JSON), the ABI 1.0 context calls, and `opa_eval` with Rego value output.
//!
//! Needs `make bundle` (the module) and `scripts/npm-setup.sh` (node_modules). Without them the
//! test prints SKIPPED, or fails when `NV2_REQUIRE_PEERS=1` (CI and `make test`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding};
use serde_json::{json, Value};
use verifier_core::sign::{
    pem_encode, sign_envelope, CertificateSpec, KeyType, SignOptions, SigningKey, TestCertificate,
};
use verifier_core::{
    verify_json, Descriptor, Request, SignatureEntry, SignatureVerification, TrustPolicyDocument,
    TrustPolicyStatement, TrustStores, JWS_MEDIA_TYPE,
};

/// The verification time of the generated cases: 2027-01-15T08:00:00Z.
const NOW: u64 = 1_800_000_000;
const NOW_TEXT: &str = "2027-01-15T08:00:00Z";
const DAY: u64 = 86_400;

fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Whether a missing peer (module, node, node_modules) fails the test instead of skipping it.
fn peers_required() -> bool {
    std::env::var("NV2_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Returns the reason the differential cannot run, if any.
fn missing_peer(wasm: &Path) -> Option<String> {
    if !wasm.is_file() {
        return Some(format!(
            "{} is missing: run `make bundle` (cargo run -p xtask -- bundle)",
            wasm.display()
        ));
    }
    let sdk =
        root_dir().join("policy-wasm/node/node_modules/@open-policy-agent/opa-wasm/package.json");
    if !sdk.is_file() {
        return Some(
            "policy-wasm/node/node_modules is missing: run scripts/npm-setup.sh".to_string(),
        );
    }
    if Command::new("node")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        return Some("node is not installed: run scripts/npm-setup.sh".to_string());
    }
    None
}

/// Source files newer than the module mean `make bundle` was not re-run after a change.
fn stale_sources(wasm: &Path) -> Vec<PathBuf> {
    let built = fs::metadata(wasm)
        .and_then(|m| m.modified())
        .unwrap_or(UNIX_EPOCH);
    let mut stale = Vec::new();
    for dir in ["policy-wasm/src", "verifier-core/src"] {
        let mut stack = vec![root_dir().join(dir)];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t > built)
                {
                    stale.push(path);
                }
            }
        }
    }
    stale
}

/// One generated request and, when the case pins it, the verdict the native core must give (so
/// that a broken generator cannot make the comparison vacuous).
struct Case {
    name: String,
    bytes: Vec<u8>,
    expect_verified: Option<bool>,
    /// Whether the ABI 1.0 path (the host's parse, then the module's JSON) must agree too; not
    /// for text whose meaning the re-serialization changes (a lone surrogate becomes U+FFFD).
    compare_ctx: bool,
}

fn case(name: &str, request: &Value, expect_verified: Option<bool>) -> Case {
    Case {
        name: name.to_string(),
        bytes: serde_json::to_vec(request).unwrap(),
        expect_verified,
        compare_ctx: true,
    }
}

fn raw_case(name: &str, bytes: &[u8]) -> Case {
    Case {
        name: name.to_string(),
        bytes: bytes.to_vec(),
        expect_verified: Some(false),
        compare_ctx: true,
    }
}

fn subject() -> Descriptor {
    Descriptor::new(
        "application/vnd.oci.image.manifest.v1+json",
        "sha256:b8479de3f8f2b2a7ec9bd3e4b8fa7e1ce0d0c7c0dd4fa1ab2ba4b1e0a1cbd1d7",
        517,
    )
}

fn typed_request(envelopes: &[Vec<u8>], trusted: &[&TestCertificate], level: &str) -> Request {
    let pems: Vec<String> = trusted
        .iter()
        .map(|c| pem_encode("CERTIFICATE", &c.der).unwrap())
        .collect();
    let policy = TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
        "acme",
        vec!["*".into()],
        SignatureVerification::new(level),
    )
    .with_trust_stores(vec!["ca:acme".into()])
    .with_trusted_identities(vec!["*".into()])]);
    let mut request = Request::new(
        "registry.acme.io/apps/builder@sha256:00",
        subject(),
        policy,
        TrustStores::from([("ca:acme".to_string(), pems.into())]),
        NOW_TEXT,
    );
    for (i, e) in envelopes.iter().enumerate() {
        let mut entry = SignatureEntry::from_envelope(JWS_MEDIA_TYPE, e);
        entry.digest = Some(format!("sha256:sig{i}"));
        request = request.signature(entry);
    }
    request
}

/// The request as JSON, for the cases that break it.
fn request(envelopes: &[Vec<u8>], trusted: &[&TestCertificate], level: &str) -> Value {
    serde_json::to_value(typed_request(envelopes, trusted, level)).unwrap()
}

/// A request under a `skip` policy, which the specification allows only for named scopes and
/// without trust stores or identities.
fn skip_request(envelopes: &[Vec<u8>]) -> Value {
    let mut r = typed_request(envelopes, &[], "skip");
    r.trust_policy.trust_policies[0] = TrustPolicyStatement::new(
        "skip-builder",
        vec!["registry.acme.io/apps/builder".into()],
        SignatureVerification::new("skip"),
    );
    serde_json::to_value(r).unwrap()
}

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

fn sign(key: &SigningKey, chain: &[&TestCertificate], options: &SignOptions) -> Vec<u8> {
    let chain: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
    sign_envelope(key, &chain, &json!(subject()), options).unwrap()
}

/// Changes one character of the envelope's base64url `signature` member.
fn tamper_signature(envelope: &[u8]) -> Vec<u8> {
    let mut object: Value = serde_json::from_slice(envelope).unwrap();
    let sig = object["signature"].as_str().unwrap().to_string();
    let mut chars: Vec<char> = sig.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    object["signature"] = Value::String(chars.into_iter().collect());
    serde_json::to_vec(&object).unwrap()
}

fn generated_cases() -> Vec<Case> {
    let root_key = SigningKey::generate(KeyType::EcP384).unwrap();
    let root = CertificateSpec::ca(
        "C=US, ST=WA, O=Acme, CN=Acme Root",
        NOW - 365 * DAY,
        NOW + 3650 * DAY,
    )
    .key(root_key)
    .build()
    .unwrap();
    let other_root = CertificateSpec::ca(
        "C=US, ST=WA, O=Other, CN=Other Root",
        NOW - 365 * DAY,
        NOW + 3650 * DAY,
    )
    .key_type(KeyType::EcP256)
    .build()
    .unwrap();
    let signed_an_hour_ago = SignOptions::new(at(NOW - 3600));
    let mut cases = Vec::new();

    for kind in KeyType::NOTARY {
        let key = SigningKey::generate(kind).unwrap();
        let leaf = CertificateSpec::new(
            "C=US, ST=WA, L=Seattle, O=Acme, CN=builder",
            NOW - DAY,
            NOW + 365 * DAY,
        )
        .key(key.clone())
        .issued_by(root.issuer())
        .build()
        .unwrap();
        let envelope = sign(&key, &[&leaf, &root], &signed_an_hour_ago);
        let name = kind.name();
        cases.push(case(
            &format!("valid-{name}"),
            &request(std::slice::from_ref(&envelope), &[&root], "strict"),
            Some(true),
        ));
        cases.push(case(
            &format!("tampered-{name}"),
            &request(&[tamper_signature(&envelope)], &[&root], "strict"),
            Some(false),
        ));
        cases.push(case(
            &format!("untrusted-{name}"),
            &request(std::slice::from_ref(&envelope), &[&other_root], "strict"),
            Some(false),
        ));
        if matches!(kind, KeyType::EcP256 | KeyType::Rsa2048) {
            // Expired signature: signed two days ago with a one-day expiry.
            let mut options = SignOptions::new(at(NOW - 2 * DAY));
            options.expiry = Some(Duration::from_secs(DAY));
            let expired = sign(&key, &[&leaf, &root], &options);
            cases.push(case(
                &format!("expired-signature-{name}"),
                &request(std::slice::from_ref(&expired), &[&root], "strict"),
                Some(false),
            ));
            // The audit level only logs expiry.
            cases.push(case(
                &format!("expired-signature-audit-{name}"),
                &request(&[expired], &[&root], "audit"),
                Some(true),
            ));
            // Expired certificate: validity ended a day before the verification time.
            let old_leaf = CertificateSpec::new(
                "C=US, ST=WA, L=Seattle, O=Acme, CN=builder",
                NOW - 30 * DAY,
                NOW - DAY,
            )
            .key(key.clone())
            .issued_by(root.issuer())
            .build()
            .unwrap();
            let old = sign(
                &key,
                &[&old_leaf, &root],
                &SignOptions::new(at(NOW - 10 * DAY)),
            );
            cases.push(case(
                &format!("expired-certificate-{name}"),
                &request(&[old], &[&root], "strict"),
                Some(false),
            ));
            // One bad signature beside a good one: verified by the good one.
            cases.push(case(
                &format!("bad-and-good-{name}"),
                &request(
                    &[tamper_signature(&envelope), envelope.clone()],
                    &[&root],
                    "strict",
                ),
                Some(true),
            ));
            cases.push(case(
                &format!("skip-level-{name}"),
                &skip_request(std::slice::from_ref(&envelope)),
                Some(true),
            ));
        }
    }

    // Malformed and hostile requests: verified false, never a trap.
    let valid = request(&[], &[&root], "strict");
    cases.push(raw_case("not-json", b"this is not json"));
    cases.push(raw_case(
        "truncated",
        br#"{"reference": "registry.acme.io/a"#,
    ));
    cases.push(raw_case("empty-object", b"{}"));
    cases.push(raw_case("array", b"[1, 2, 3]"));
    cases.push(raw_case("null", b"null"));
    cases.push(raw_case("bad-utf8", b"{\"reference\": \"\xff\xfe\"}"));
    cases.push(Case {
        compare_ctx: false,
        ..raw_case("lone-surrogate", br#"{"reference": "\ud800"}"#)
    });
    let mut wrong_type = valid.clone();
    wrong_type["subject"]["size"] = json!("528");
    cases.push(case("wrong-type", &wrong_type, Some(false)));
    let mut no_time = valid.clone();
    no_time.as_object_mut().unwrap().remove("time");
    cases.push(case("missing-time", &no_time, Some(false)));
    let mut bad_time = valid.clone();
    bad_time["time"] = json!("yesterday");
    cases.push(case("bad-time", &bad_time, Some(false)));
    let mut bad_b64 = valid.clone();
    bad_b64["signatures"] = json!([{"mediaType": "application/jose+json", "digest": "sha256:x", "envelope": "%%%not base64"}]);
    cases.push(case("bad-base64-envelope", &bad_b64, Some(false)));
    let mut not_envelope = valid.clone();
    not_envelope["signatures"] = json!([{"mediaType": "application/jose+json", "envelope": Base64::encode_string(b"{\"payload\": 1}")}]);
    cases.push(case("envelope-not-jws", &not_envelope, Some(false)));
    let mut no_signatures = valid.clone();
    no_signatures["signatures"] = json!([]);
    cases.push(case("no-signatures-strict", &no_signatures, Some(false)));
    let mut unicode = valid.clone();
    unicode["reference"] = json!("registry.acme.io/äpps/bü\u{1F600}lder\"quoted\"\\/@sha256:00");
    cases.push(case("unicode-reference", &unicode, Some(false)));
    // Deep nesting inside a trust store (serde_json's limit is 128) and past it.
    for depth in [100usize, 127, 400] {
        let nested = "[".repeat(depth) + &"]".repeat(depth);
        let text = format!(
            r#"{{"reference":"r","subject":{{"mediaType":"m","digest":"d","size":1}},"trustPolicy":{{"version":"1.0","trustPolicies":[]}},"trustStores":{{"ca:x":{nested}}},"time":"{NOW_TEXT}"}}"#
        );
        cases.push(raw_case(&format!("nested-{depth}"), text.as_bytes()));
    }
    // A multi-megabyte envelope: memory grows past what the host gave.
    let mut huge = valid.clone();
    huge["signatures"] =
        json!([{"mediaType": "application/jose+json", "envelope": "QUFB".repeat(700_000)}]);
    cases.push(case("huge-envelope", &huge, Some(false)));
    // Whitespace and a trailing newline around a valid document.
    let pretty = serde_json::to_vec_pretty(&skip_request(&[])).unwrap();
    cases.push(Case {
        name: "pretty-printed".into(),
        bytes: [pretty, b"\n\n".to_vec()].concat(),
        expect_verified: Some(true),
        compare_ctx: true,
    });
    cases
}

/// The cases of `../shared/vectors/notation/*/expected.json`.
fn notation_cases() -> Vec<Case> {
    let root = root_dir().join("../shared/vectors/notation");
    if !root.is_dir() {
        println!("SKIPPED (notation vectors): {} not found", root.display());
        return Vec::new();
    }
    verifier_core::sign::notation_cases(&root)
        .expect("read the notation vectors")
        .into_iter()
        .map(|c| {
            let request = serde_json::to_value(&c.request).unwrap();
            case(&format!("notation {}", c.name), &request, Some(c.valid))
        })
        .collect()
}

/// Error strings of serde_json end in " at line L column C"; the ABI 1.0 path hands the core the
/// module's compact re-serialization of the input, so positions differ there and only there.
fn without_positions(mut report: Value) -> Value {
    if let Some(errors) = report.get_mut("errors").and_then(Value::as_array_mut) {
        for e in errors {
            if let Some(s) = e.as_str() {
                if let Some(at) = s.find(" at line ") {
                    *e = Value::String(s[..at].to_string());
                }
            }
        }
    }
    report
}

#[test]
fn npm_opa_host_reports_equal_native_reports() {
    let wasm = root_dir().join("dist/bundle/policy.wasm");
    if let Some(reason) = missing_peer(&wasm) {
        if peers_required() {
            panic!("NV2_REQUIRE_PEERS=1 but {reason}");
        }
        println!("SKIPPED: {reason}");
        return;
    }
    let stale = stale_sources(&wasm);
    if !stale.is_empty() {
        let message = format!(
            "dist/bundle/policy.wasm is older than {} source files (e.g. {}): run `make bundle`",
            stale.len(),
            stale[0].display()
        );
        if peers_required() {
            panic!("{message}");
        }
        println!("WARNING: {message}");
    }

    let mut cases = generated_cases();
    let vectors = notation_cases();
    let vector_count = vectors.len();
    cases.extend(vectors);

    let dir = std::env::temp_dir().join(format!("policy-wasm-differential-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let slug: String = c
            .name
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
            .collect();
        let path = dir.join(format!("{i:03}-{slug}.json"));
        fs::write(&path, &c.bytes).unwrap();
        files.push(path);
    }
    let output = Command::new("node")
        .arg(root_dir().join("policy-wasm/tests/opa_wasm_host.mjs"))
        .arg(&wasm)
        .args(&files)
        .output()
        .expect("run node");
    let _ = fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the node host failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.len(),
        cases.len() + 4,
        "one line per request plus absent, oom, abi and memory:\n{stdout}"
    );

    let mut failures = Vec::new();
    for (c, line) in cases.iter().zip(&lines) {
        let native: Value = serde_json::from_str(&verify_json(&c.bytes).to_json()).unwrap();
        if let Some(want) = c.expect_verified {
            if native["verified"] != want {
                failures.push(format!(
                    "{}: the native core says verified={} (the case expects {want}): {}",
                    c.name, native["verified"], native["errors"]
                ));
            }
        }
        if line["fast"] != native {
            failures.push(format!(
                "{}: npm evaluate (opa_eval, JSON) differs:\n  wasm:   {}\n  native: {native}",
                c.name, line["fast"]
            ));
        }
        if line["ctx"] == json!({"parse_failed": true}) {
            // The host could not even hand this over (opa_json_parse refused it, e.g. nesting
            // past the limit); fine exactly when the core rejects the text as malformed too.
            if !native["errors"][0]
                .as_str()
                .is_some_and(|e| e.starts_with("request: malformed request"))
            {
                failures.push(format!(
                    "{}: opa_json_parse refused a request the core accepts: {native}",
                    c.name
                ));
            }
        } else if c.compare_ctx
            && !line["ctx"].is_null()
            && without_positions(line["ctx"].clone()) != without_positions(native.clone())
        {
            failures.push(format!(
                "{}: ABI 1.0 eval differs:\n  wasm:   {}\n  native: {native}",
                c.name, line["ctx"]
            ));
        }
        match line["rego"]
            .as_str()
            .and_then(|t| t.strip_prefix(r#"{{"result":"#))
            .and_then(|t| t.strip_suffix("}}"))
        {
            Some(inner) if serde_json::from_str::<Value>(inner).ok().as_ref() == Some(&native) => {}
            _ => failures.push(format!(
                "{}: opa_eval format 1 is not {{{{\"result\": report}}}}: {}",
                c.name, line["rego"]
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    let absent = &lines[cases.len()];
    assert_eq!(absent["fast"]["verified"], false, "{absent}");
    assert!(
        absent["fast"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("no input document"),
        "{absent}"
    );

    let oom = &lines[cases.len() + 1];
    assert!(
        oom["fast"]["abort"]
            .as_str()
            .is_some_and(|m| m.starts_with("opa_malloc: out of memory")),
        "running out of memory must abort through opa_abort with a message: {oom}"
    );

    let abi = &lines[cases.len() + 2]["abi"];
    assert_eq!(
        abi,
        &json!({
            "entrypoints": r#"{"notary/verify":0}"#,
            "builtins": "{}",
            "add_path": 0,
            "after_add": r#"{"a":{"keep":true,"b":{"c":[1,2]}}}"#,
            "after_add_rego": r#"{"a":{"keep":true,"b":{"c":{1,2}}}}"#,
            "add_bad_path": 3,
            "remove_path": 0,
            "after_remove": r#"{"a":{"b":{"c":[1,2]}}}"#,
            "nul_terminated": r#"{"nul":"terminated"}"#,
            "json_parse_rejects_sets": true,
            "go_quoted": "{\"s\":\"Aé\\u0007\",\"e\":[]}",
            "go_quoted_rego": "{\"s\":\"Aé\\u0007\",\"e\":set()}",
        })
    );

    let memory = &lines[cases.len() + 3];
    let (used, size) = (
        memory["stack_used"].as_u64().unwrap(),
        memory["stack_size"].as_u64().unwrap(),
    );
    // The deepest case is serde_json at its recursion limit (nested-127), about half the stack;
    // a quarter must stay free so that a change in the core's frames shows up here first.
    assert!(
        used * 4 <= size * 3,
        "the deepest evaluation used {used} of {size} stack bytes; keep a quarter free: {memory}"
    );
    assert_eq!(
        memory["memory_after_first_pass"], memory["memory_after_second_pass"],
        "a second pass grew memory: {memory}"
    );
    println!(
        "{} cases ({} notation vectors) agree across npm evaluate, ABI 1.0 eval and Rego output; stack high-water {used} of {size} bytes",
        cases.len(),
        vector_count
    );
}
