//! `nv2-gatekeeper certs` and `nv2-gatekeeper serve` as the real binary: the files and the
//! caBundle, and a server that comes up over TLS 1.3 with JSON logs, says why it is not ready,
//! and becomes ready when a valid trust policy appears.
//! (The provider's answers against a registry are in `tests/tests/provider.rs`, nv2-e2e.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nv2-gatekeeper"))
}

#[test]
fn certs_writes_the_three_files_and_prints_the_ca_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["certs", "--out"])
        .arg(dir.path())
        .args(["--dns", "nv2.test", "--ip", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ca = std::fs::read(dir.path().join("ca.crt")).unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(Base64::decode_vec(printed.trim()).unwrap(), ca);
    assert!(dir.path().join("tls.crt").is_file() && dir.path().join("tls.key").is_file());
}

/// `GET path` over TLS 1.3 trusting `ca`: status line and body.
fn get(port: u16, ca: &Path, path: &str) -> std::io::Result<String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("nv2.test").unwrap())
            .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(("127.0.0.1", port))?);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: nv2.test\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    tls.read_to_string(&mut text)?;
    Ok(text)
}

/// `certs` into `dir`, then `serve` on a free port with a trust policy that does not exist yet
/// (`dir/missing-trustpolicy.json`) and `extra` flags, stderr into `stderr`.
fn start_serve(dir: &Path, extra: &[&str], stderr: Stdio) -> (std::process::Child, u16) {
    let status = bin()
        .args(["certs", "--out"])
        .arg(dir)
        .args(["--dns", "nv2.test"])
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = bin()
        .args(["serve", "--engine", "native"])
        .args(extra)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .arg("--trust-policy")
        .arg(dir.join("missing-trustpolicy.json"))
        .arg("--trust-store")
        .arg(dir.join("truststore"))
        .env_remove("RUST_LOG")
        .stderr(stderr)
        .spawn()
        .unwrap();
    (child, port)
}

#[test]
fn serve_starts_not_ready_without_a_trust_policy_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start_serve(
        dir.path(),
        &["--log-format", "json", "--reload-interval", "100"],
        Stdio::piped(),
    );
    let ca = dir.path().join("ca.crt");
    let started = Instant::now();
    let health = loop {
        match get(port, &ca, "/healthz") {
            Ok(text) => break text,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("serve did not come up: {e}"),
        }
    };
    let ready = get(port, &ca, "/readyz").unwrap();
    // A valid policy written later is picked up by the reloader (every 100 ms here).
    let policy = serde_json::json!({"version": "1.0", "trustPolicies": [{
        "name": "later", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:later"], "trustedIdentities": ["*"]}]});
    std::fs::write(
        dir.path().join("missing-trustpolicy.json"),
        policy.to_string(),
    )
    .unwrap();
    let started = Instant::now();
    let reloaded = loop {
        let text = get(port, &ca, "/readyz").unwrap();
        if text.starts_with("HTTP/1.1 200") || started.elapsed() > Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap();
    let _ = child.wait();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok"), "{health}");
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.contains("missing-trustpolicy.json"), "{ready}");
    assert!(reloaded.ends_with("ready"), "{reloaded}");
    // Every log line is one JSON object.
    let lines: Vec<String> = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert!(!lines.is_empty());
    // The first line says where it listens.
    assert!(
        lines[0].contains(&format!("serving on https://127.0.0.1:{port}")),
        "{lines:?}"
    );
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("serving")), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("trust configuration loaded")),
        "{lines:?}"
    );
}

#[test]
fn text_logs_into_a_file_carry_no_escape_codes_and_start_with_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let (mut child, port) = start_serve(dir.path(), &[], log.into());
    let ca = dir.path().join("ca.crt");
    let started = Instant::now();
    while get(port, &ca, "/healthz").is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let text = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(!text.contains('\x1b'), "escape codes in a file: {text:?}");
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains("INFO") && first.contains(&format!("serving on https://127.0.0.1:{port}")),
        "{text}"
    );
}
