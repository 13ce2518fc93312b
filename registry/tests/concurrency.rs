//! Many clients at once over real loopback sockets: the same blob pushed by
//! many, different blobs (monolithic and chunked), and referrers of one
//! subject pushed in parallel. Every digest must come back right.

mod common;

use std::sync::Arc;

use nv2_registry::{app, AppState, Config, FsStorage};
use oci_model::Digest;
use serde_json::Value;

async fn serve() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStorage::open(dir.path(), 0).unwrap());
    let router = app(AppState::new(store, Config::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, dir)
}

fn data(seed: u64, len: usize) -> Vec<u8> {
    // A cheap deterministic generator (xorshift) so each blob differs.
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn push_chunked(c: &reqwest::Client, base: &str, name: &str, bytes: &[u8]) -> Digest {
    let d = Digest::sha256_of(bytes);
    let r = c
        .post(format!("{base}/v2/{name}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let mut loc = r.headers()["location"].to_str().unwrap().to_string();
    let mut off = 0;
    for chunk in bytes.chunks(64 * 1024) {
        let range = format!("{}-{}", off, off + chunk.len() - 1);
        let r = c
            .patch(format!("{base}{loc}"))
            .header("content-range", range)
            .header("content-type", "application/octet-stream")
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        loc = r.headers()["location"].to_str().unwrap().to_string();
        off += chunk.len();
    }
    let r = c
        .put(format!("{base}{loc}?digest={d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_same_and_different_blobs() {
    let (base, _dir) = serve().await;
    let shared = Arc::new(data(42, 300_000));
    let shared_digest = Digest::sha256_of(&shared);
    let mut tasks = Vec::new();
    for i in 0..48u64 {
        let (base, shared) = (base.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let c = common::client();
            let name = format!("team{}/app", i % 3);
            // Everyone pushes the shared blob.
            let r = c
                .post(format!(
                    "{base}/v2/{name}/blobs/uploads/?digest={}",
                    Digest::sha256_of(&shared)
                ))
                .body(shared.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            // And one of its own, half of them chunked.
            let own = data(1000 + i, 50_000 + (i as usize) * 1_000);
            let d = if i % 2 == 0 {
                push_chunked(&c, &base, &name, &own).await
            } else {
                let d = Digest::sha256_of(&own);
                let r = c
                    .post(format!("{base}/v2/{name}/blobs/uploads/?digest={d}"))
                    .body(own.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                d
            };
            (name, d, own)
        }));
    }
    let c = common::client();
    for t in tasks {
        let (name, d, own) = t.await.unwrap();
        let got = c
            .get(format!("{base}/v2/{name}/blobs/{d}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(Digest::sha256_of(&got), d);
        assert_eq!(got.len(), own.len());
        let got = c
            .get(format!("{base}/v2/{name}/blobs/{shared_digest}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(Digest::sha256_of(&got), shared_digest);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_referrers_of_one_subject() {
    let (base, _dir) = serve().await;
    let c = common::client();
    let r = c
        .post(format!(
            "{base}/v2/s/blobs/uploads/?digest={}",
            Digest::sha256_of(b"{}")
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let subject = Digest::sha256_of(b"subject that is never pushed");
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (base, subject) = (base.clone(), subject.clone());
        tasks.push(tokio::spawn(async move {
            let body = common::image_manifest(
                &[],
                Some((&subject, 10)),
                Some(&format!("application/x.kind{i}")),
            );
            let d = Digest::sha256_of(&body);
            let r = common::client()
                .put(format!("{base}/v2/s/manifests/{d}"))
                .header("content-type", common::OCI_MANIFEST)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            assert_eq!(
                r.headers()["oci-subject"].to_str().unwrap(),
                subject.to_string()
            );
            d
        }));
    }
    let mut pushed = Vec::new();
    for t in tasks {
        pushed.push(t.await.unwrap().to_string());
    }
    pushed.sort();
    let idx: Value = c
        .get(format!("{base}/v2/s/referrers/{subject}"))
        .send()
        .await
        .unwrap()
        .json_bytes()
        .await;
    let mut listed: Vec<String> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, pushed);
}

/// reqwest 0.13 without its `json` feature: parse the body ourselves.
trait JsonBytes {
    async fn json_bytes(self) -> Value;
}

impl JsonBytes for reqwest::Response {
    async fn json_bytes(self) -> Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}
