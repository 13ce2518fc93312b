//! Basic auth from an htpasswd file (challenge, anonymous read, read-only)
//! and TLS through the binary's `--tls-cert`/`--tls-key`.

mod common;

use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::*;
use nv2_registry::{AppState, Config, FsStorage, Htpasswd};

fn reg_with_auth(config: Config) -> Reg {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStorage::open(dir.path(), 0).unwrap());
    // Cost 4: the minimum, to keep the test quick.
    let line = format!("alice:{}\n", bcrypt::hash("s3cret", 4).unwrap());
    let state = AppState::new(store, config).with_htpasswd(Htpasswd::parse(&line).unwrap());
    Reg::with_state(dir, state)
}

fn basic(user: &str, pw: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

#[tokio::test]
async fn htpasswd_basic_auth_with_challenge() {
    let reg = reg_with_auth(Config::default());
    let r = reg.get("/v2/").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"nv2-registry\"")
    );
    let bad = basic("alice", "wrong");
    assert_eq!(
        reg.req(
            Method::GET,
            "/v2/",
            &[("authorization", &bad)],
            Body::empty()
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let good = basic("alice", "s3cret");
    for _ in 0..2 {
        // The second time is served from the verified-credentials cache.
        assert_eq!(
            reg.req(
                Method::GET,
                "/v2/",
                &[("authorization", &good)],
                Body::empty()
            )
            .await
            .status,
            StatusCode::OK
        );
    }
    let d = oci_model::Digest::sha256_of(b"x");
    let r = reg
        .req(
            Method::POST,
            &format!("/v2/a/blobs/uploads/?digest={d}"),
            &[("authorization", &good)],
            "x",
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        reg.get(&format!("/v2/a/blobs/{d}")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn anonymous_read_allows_pulls_only() {
    let reg = reg_with_auth(Config {
        anonymous_read: true,
        ..Config::default()
    });
    assert_eq!(reg.get("/v2/").await.status, StatusCode::OK);
    assert_eq!(reg.get("/v2/_catalog").await.status, StatusCode::OK);
    let r = reg
        .req(Method::POST, "/v2/a/blobs/uploads/", &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").is_some());
}

#[tokio::test]
async fn read_only_denies_writes() {
    let reg = Reg::with_config(Config {
        read_only: true,
        ..Config::default()
    });
    let r = reg
        .req(Method::POST, "/v2/a/blobs/uploads/", &[], Body::empty())
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::FORBIDDEN, "DENIED")
    );
    assert_eq!(reg.get("/v2/").await.status, StatusCode::OK);
}

#[test]
fn htpasswd_rejects_non_bcrypt() {
    assert!(Htpasswd::parse("bob:{SHA}abc").is_err());
    assert!(Htpasswd::parse("# comment\n\n").is_ok());
}

#[tokio::test]
async fn tls_serves_https() {
    if !have_tool("openssl", &["version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        // An end-entity certificate that is its own trust anchor.
        .args([
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let root = dir.path().join("root");
    let server = Server::start(
        &root,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.base.starts_with("https://"));
    let _ = client();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let c = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let r = c.get(format!("{}/v2/", server.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP to the TLS port is refused.
    assert!(client()
        .get(format!("http://{}/v2/", server.host()))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true));
}
