//! Helpers shared by the integration tests: an in-process registry driven
//! through `tower::ServiceExt::oneshot`, a real one on a loopback socket, and
//! the `nv2-registry` binary as a child process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use nv2_registry::{app, AppState, Config, FsStorage};
use oci_model::Digest;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// An in-process registry over a temp directory.
pub struct Reg {
    pub router: Router,
    pub dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers.get(n).and_then(|v| v.to_str().ok())
    }

    /// The first OCI error code of the body.
    pub fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

impl Reg {
    pub fn new() -> Reg {
        Reg::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Reg {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FsStorage::open(dir.path(), config.max_blob_bytes).unwrap());
        Reg {
            router: app(AppState::new(store, config)),
            dir,
        }
    }

    pub fn with_state(dir: tempfile::TempDir, state: AppState) -> Reg {
        Reg {
            router: app(state),
            dir,
        }
    }

    pub async fn req(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .router
            .clone()
            .oneshot(b.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.req(Method::GET, uri, &[], Body::empty()).await
    }

    /// Monolithic blob push; asserts 201.
    pub async fn push_blob(&self, name: &str, data: &[u8]) -> Digest {
        let d = Digest::sha256_of(data);
        let r = self
            .req(
                Method::POST,
                &format!("/v2/{name}/blobs/uploads/?digest={d}"),
                &[],
                data.to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        d
    }

    /// Pushes a manifest; returns the response.
    pub async fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Resp {
        self.req(
            Method::PUT,
            &format!("/v2/{name}/manifests/{reference}"),
            &[("content-type", media_type)],
            body.to_vec(),
        )
        .await
    }
}

/// An OCI image manifest over the empty config and the given layers.
pub fn image_manifest(
    layers: &[(&Digest, usize)],
    subject: Option<(&Digest, usize)>,
    artifact_type: Option<&str>,
) -> Vec<u8> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|(d, n)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": n}))
        .collect();
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_TYPE, "digest": Digest::sha256_of(b"{}").to_string(), "size": 2},
        "layers": layers,
    });
    if let Some((d, n)) = subject {
        m["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": n});
    }
    if let Some(t) = artifact_type {
        m["artifactType"] = json!(t);
        m["annotations"] = json!({"org.example.kind": t});
    }
    serde_json::to_vec(&m).unwrap()
}

/// Whether tests must fail rather than skip when a peer tool is missing.
pub fn peers_required() -> bool {
    std::env::var("NV2_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// `true` if `tool` runs; otherwise SKIP (or fail under NV2_REQUIRE_PEERS=1).
pub fn have_tool(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if peers_required() {
            panic!("{tool} is required (NV2_REQUIRE_PEERS=1) but missing: run scripts/registry-peers.sh");
        }
        eprintln!("SKIP: {tool} not installed (run scripts/registry-peers.sh)");
    }
    ok
}

/// The `nv2-registry` binary serving `root` on a free loopback port.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn start(root: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nv2-registry"))
            .arg("serve")
            .arg("--root")
            .arg(root)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nv2-registry");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line.trim().rsplit(' ').next().unwrap().to_string();
        assert!(base.starts_with("http"), "unexpected first line {line:?}");
        Server { child, base }
    }

    /// host:port without the scheme.
    pub fn host(&self) -> &str {
        self.base.split("://").nth(1).unwrap()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A reqwest client. The workspace builds reqwest's rustls without a default
/// crypto provider (as oci-client asks), so install ring first.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Pushes a subject image and three referrers (two signatures, one SBoM).
pub async fn subject_with_referrers(reg: &Reg, name: &str) -> (Digest, Vec<Digest>) {
    reg.push_blob(name, b"{}").await;
    let subject = image_manifest(&[], None, None);
    let sd = Digest::sha256_of(&subject);
    let mut refs = Vec::new();
    for (i, t) in [
        "application/vnd.cncf.notary.signature",
        "application/vnd.cncf.notary.signature",
        "application/spdx+json",
    ]
    .iter()
    .enumerate()
    {
        let layer = reg.push_blob(name, format!("payload {i}").as_bytes()).await;
        let body = image_manifest(&[(&layer, 9)], Some((&sd, subject.len())), Some(t));
        let d = Digest::sha256_of(&body);
        // The subject does not exist yet for the first referrer: allowed.
        let r = reg
            .put_manifest(name, &d.to_string(), OCI_MANIFEST, &body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.header("oci-subject"), Some(sd.to_string().as_str()));
        refs.push(d);
        if i == 0 {
            assert_eq!(
                reg.put_manifest(name, "v1", OCI_MANIFEST, &subject)
                    .await
                    .status,
                StatusCode::CREATED
            );
        }
    }
    (sd, refs)
}
