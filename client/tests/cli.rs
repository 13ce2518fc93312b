//! The real `nv2` binary end to end: `cert generate-test` → `sign-envelope` → a Contract 1
//! request → `verify` exits 0; the same request with a tampered subject digest exits 1; usage
//! and I/O errors exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const NV2: &str = env!("CARGO_BIN_EXE_nv2");
const DIGEST: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

/// A fresh directory per test under cargo's scratch space for integration tests.
fn workdir(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn nv2(args: &[&str], dir: &Path) -> Output {
    Command::new(NV2)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run nv2")
}

fn nv2_stdin(args: &[&str], dir: &Path, stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(NV2)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn policy() -> Value {
    json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": "demo",
            "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:demo"],
            "trustedIdentities": ["x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=demo"]
        }]
    })
}

fn subject(digest: &str) -> Value {
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 517})
}

/// generate-test + sign-envelope in `dir`; returns (envelope bytes, certificate PEM).
fn sign_in(dir: &Path, key_type: Option<&str>) -> (Vec<u8>, String) {
    let mut args = vec!["cert", "generate-test", "demo", "--out", "keys"];
    if let Some(k) = key_type {
        args.extend(["--key-type", k]);
    }
    let out = nv2(&args, dir);
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wrote key: keys/demo.key"), "{stdout}");
    assert!(
        stdout.contains("wrote certificate: keys/demo.crt"),
        "{stdout}"
    );

    std::fs::write(dir.join("subject.json"), subject(DIGEST).to_string()).unwrap();
    let out = nv2(
        &[
            "sign-envelope",
            "--key",
            "keys/demo.key",
            "--cert",
            "keys/demo.crt",
            "--subject",
            "subject.json",
            "--expiry",
            "24h",
        ],
        dir,
    );
    ok(&out);
    let cert = std::fs::read_to_string(dir.join("keys/demo.crt")).unwrap();
    (out.stdout, cert)
}

fn request(envelope: &[u8], cert: &str, digest: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let r = verifier_core::Request::new(
        format!("registry.example/net-monitor@{DIGEST}"),
        serde_json::from_value(subject(digest)).unwrap(),
        serde_json::from_value(policy()).unwrap(),
        verifier_core::TrustStores::new(),
        verifier_core::sign::format_rfc3339(now).unwrap(),
    )
    .signature_envelope(envelope)
    .trust_store_pem("ca:demo", cert);
    serde_json::to_vec_pretty(&r).unwrap()
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "report is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn sign_then_verify_and_tamper() {
    let dir = workdir("flow");
    let (envelope, cert) = sign_in(&dir, Some("ec-p256"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("keys/demo.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is for its owner only");
    }

    std::fs::write(dir.join("request.json"), request(&envelope, &cert, DIGEST)).unwrap();
    let out = nv2(&["verify", "--request", "request.json"], &dir);
    ok(&out);
    let r = report(&out);
    assert_eq!(r["verified"], true);
    assert_eq!(r["signatures"][0]["checks"]["integrity"], "ok");

    // The same request through stdin.
    let out = nv2_stdin(
        &["verify", "--request", "-"],
        &dir,
        &request(&envelope, &cert, DIGEST),
    );
    ok(&out);

    // Tampered subject: the signature is for another digest.
    let tampered = DIGEST.replace("sha256:b", "sha256:c");
    std::fs::write(
        dir.join("tampered.json"),
        request(&envelope, &cert, &tampered),
    )
    .unwrap();
    let out = nv2(&["verify", "--request", "tampered.json"], &dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report(&out)["verified"], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not verified"));
}

#[test]
fn default_rsa_key_and_request_built_from_parts() {
    let dir = workdir("parts");
    let (envelope, _cert) = sign_in(&dir, None);
    let env: Value = serde_json::from_slice(&envelope).unwrap();
    let protected = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(
        env["protected"].as_str().unwrap(),
    )
    .unwrap();
    let protected: Value = serde_json::from_slice(&protected).unwrap();
    assert_eq!(
        protected["alg"], "PS384",
        "rsa-3072 is the default key type"
    );
    assert_eq!(
        protected["crit"],
        json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"])
    );

    std::fs::write(dir.join("envelope.jws.json"), &envelope).unwrap();
    std::fs::write(dir.join("policy.json"), policy().to_string()).unwrap();
    let reference = format!("registry.example/net-monitor@{DIGEST}");
    let out = nv2(
        &[
            "verify",
            "--envelope",
            "envelope.jws.json",
            "--subject",
            "subject.json",
            "--trust-policy",
            "policy.json",
            "--trust-store",
            "ca:demo=keys/demo.crt",
            "--reference",
            &reference,
            "--save-request",
            "saved.json",
        ],
        &dir,
    );
    ok(&out);
    assert_eq!(report(&out)["verified"], true);
    let saved: Value =
        serde_json::from_slice(&std::fs::read(dir.join("saved.json")).unwrap()).unwrap();
    assert_eq!(saved["reference"], reference);
    assert_eq!(saved["signatures"][0]["mediaType"], "application/jose+json");
    assert_eq!(
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(
            saved["signatures"][0]["envelope"].as_str().unwrap()
        )
        .unwrap(),
        envelope
    );
    assert!(saved["signatures"][0]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let demo_crt = std::fs::read_to_string(dir.join("keys/demo.crt")).unwrap();
    assert_eq!(saved["trustStores"], json!({"ca:demo": [demo_crt]}));
    assert_eq!(saved["subject"], subject(DIGEST));
    assert_eq!(saved["trustPolicy"], policy());
}

#[test]
fn errors_exit_2_with_a_message() {
    let dir = workdir("errors");
    // Usage error (clap).
    let out = nv2(&["verify"], &dir);
    assert_eq!(out.status.code(), Some(2));
    // Missing file.
    let out = nv2(&["verify", "--request", "missing.json"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
    // A name that would escape the output directory.
    let out = nv2(
        &["cert", "generate-test", "../evil", "--key-type", "ec-p256"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    // A bad duration.
    let out = nv2(
        &[
            "sign-envelope",
            "--key",
            "k",
            "--cert",
            "c",
            "--subject",
            "s",
            "--expiry",
            "1y",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown unit"));
    // An existing key is not overwritten without --force.
    ok(&nv2(
        &["cert", "generate-test", "k", "--key-type", "ec-p256"],
        &dir,
    ));
    let out = nv2(
        &["cert", "generate-test", "k", "--key-type", "ec-p256"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    ok(&nv2(
        &[
            "cert",
            "generate-test",
            "k",
            "--key-type",
            "ec-p256",
            "--force",
        ],
        &dir,
    ));
    // A key that does not belong to the certificate.
    ok(&nv2(
        &["cert", "generate-test", "other", "--key-type", "ec-p256"],
        &dir,
    ));
    std::fs::write(dir.join("s.json"), subject(DIGEST).to_string()).unwrap();
    let out = nv2(
        &[
            "sign-envelope",
            "--key",
            "other.key",
            "--cert",
            "k.crt",
            "--subject",
            "s.json",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
    // A request from parts whose trust policy is not a trust policy document.
    std::fs::write(dir.join("bad-policy.json"), r#"{"version": 1}"#).unwrap();
    let out = nv2(
        &[
            "verify",
            "--envelope",
            "s.json",
            "--subject",
            "s.json",
            "--trust-policy",
            "bad-policy.json",
            "--reference",
            "registry.example/app:v1",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad-policy.json"));
}
