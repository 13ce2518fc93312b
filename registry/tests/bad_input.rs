//! Bad input: malformed JSON, wrong digests, wrong sizes, bad names, huge
//! manifests, truncated uploads. Each gets a clear OCI error and leaves the
//! store unchanged (compared as a listing of every file under the root).

mod common;

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use bytes::Bytes;
use common::*;
use nv2_registry::Config;
use oci_model::Digest;
use serde_json::json;

/// Every file under the root except in-flight upload sessions, with sizes.
fn snapshot(root: &Path) -> Vec<(String, u64)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, u64)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().display().to_string(),
                    e.metadata().unwrap().len(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.retain(|(p, _)| !p.starts_with("uploads/"));
    out.sort();
    out
}

async fn seeded() -> (Reg, Digest) {
    let reg = Reg::new();
    reg.push_blob("repo", b"{}").await;
    let layer = reg.push_blob("repo", b"layer").await;
    let body = image_manifest(&[(&layer, 5)], None, None);
    assert_eq!(
        reg.put_manifest("repo", "v1", OCI_MANIFEST, &body)
            .await
            .status,
        StatusCode::CREATED
    );
    (reg, layer)
}

#[tokio::test]
async fn malformed_and_invalid_manifests() {
    let (reg, layer) = seeded().await;
    let before = snapshot(reg.dir.path());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not json", b"{\"schemaVersion\": 2,".to_vec(), "MANIFEST_INVALID"),
        ("wrong field type", br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":"x","layers":[]}"#.to_vec(), "MANIFEST_INVALID"),
        ("no config", br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#.to_vec(), "MANIFEST_INVALID"),
        ("unknown type", br#"{"schemaVersion":2,"mediaType":"text/plain"}"#.to_vec(), "MANIFEST_INVALID"),
        ("bad layer digest", serde_json::to_vec(&json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,
            "config":{"mediaType":EMPTY_TYPE,"digest":Digest::sha256_of(b"{}").to_string(),"size":2},
            "layers":[{"mediaType":"x","digest":"sha256:1234","size":1}]})).unwrap(), "MANIFEST_INVALID"),
        ("missing blob", image_manifest(&[(&Digest::sha256_of(b"absent"), 6)], None, None), "MANIFEST_BLOB_UNKNOWN"),
        ("wrong blob size", image_manifest(&[(&layer, 999)], None, None), "MANIFEST_INVALID"),
    ];
    for (what, body, code) in cases {
        let r = reg.put_manifest("repo", "v2", OCI_MANIFEST, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(r.code(), code, "{what}");
        assert!(!r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .is_empty());
    }
    // Content-Type disagreeing with the body.
    let body = image_manifest(&[], None, None);
    let r = reg.put_manifest("repo", "v2", OCI_INDEX, &body).await;
    assert_eq!(r.code(), "MANIFEST_INVALID");
    // PUT by a digest that is not the body's.
    let r = reg
        .put_manifest(
            "repo",
            &Digest::sha256_of(b"other").to_string(),
            OCI_MANIFEST,
            &body,
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
    assert_eq!(snapshot(reg.dir.path()), before, "store changed");
    assert_eq!(
        reg.get("/v2/repo/manifests/v2").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn huge_manifest_gets_413() {
    let reg = Reg::with_config(Config {
        max_manifest_bytes: 64 * 1024,
        ..Config::default()
    });
    let before = snapshot(reg.dir.path());
    let big = format!(
        "{{\"schemaVersion\":2,\"annotations\":{{\"x\":\"{}\"}}}}",
        "a".repeat(100 * 1024)
    );
    let r = reg
        .put_manifest("repo", "big", OCI_MANIFEST, big.as_bytes())
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID")
    );
    // Without Content-Length (streamed), the limit still holds.
    let stream = futures_util::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 8192]))),
    );
    let r = reg
        .req(
            Method::PUT,
            "/v2/repo/manifests/big",
            &[("content-type", OCI_MANIFEST)],
            Body::from_stream(stream),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(snapshot(reg.dir.path()), before);

    // The default limit is the spec's 4 MiB.
    let reg = Reg::new();
    let big = vec![b' '; 4 * 1024 * 1024 + 1];
    assert_eq!(
        reg.put_manifest("repo", "big", OCI_MANIFEST, &big)
            .await
            .status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn wrong_blob_digests() {
    let (reg, _) = seeded().await;
    let before = snapshot(reg.dir.path());
    let wrong = Digest::sha256_of(b"something else");
    let r = reg
        .req(
            Method::POST,
            &format!("/v2/repo/blobs/uploads/?digest={wrong}"),
            &[],
            "payload",
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
    for bad in [
        "sha256:abc",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "nocolon",
        "sha256:../../etc/passwd",
    ] {
        let r = reg
            .req(
                Method::POST,
                &format!("/v2/repo/blobs/uploads/?digest={bad}"),
                &[],
                "payload",
            )
            .await;
        assert_eq!(r.code(), "DIGEST_INVALID", "{bad}");
        let g = reg.get(&format!("/v2/repo/blobs/{bad}")).await;
        if bad.contains('/') {
            // Extra path segments: no blob route has that shape.
            assert_eq!(g.status, StatusCode::NOT_FOUND, "{bad}");
        } else {
            assert_eq!(g.code(), "DIGEST_INVALID", "{bad}");
        }
    }
    // Closing a session with the wrong digest: nothing visible, session kept.
    let loc = reg
        .req(Method::POST, "/v2/repo/blobs/uploads/", &[], Body::empty())
        .await
        .header("location")
        .unwrap()
        .to_string();
    let r = reg
        .req(
            Method::PUT,
            &format!("{loc}?digest={wrong}"),
            &[],
            "payload",
        )
        .await;
    assert_eq!(r.code(), "DIGEST_INVALID");
    assert_eq!(
        reg.get(&format!("/v2/repo/blobs/{wrong}")).await.status,
        StatusCode::NOT_FOUND
    );
    let right = Digest::sha256_of(b"payload");
    assert_eq!(
        reg.get(&format!("/v2/repo/blobs/{right}")).await.status,
        StatusCode::NOT_FOUND
    );
    // PUT without digest.
    assert_eq!(
        reg.req(Method::PUT, &loc, &[], Body::empty()).await.code(),
        "DIGEST_INVALID"
    );
    assert_eq!(snapshot(reg.dir.path()), before);
    // The session still works with the right digest.
    assert_eq!(
        reg.req(
            Method::PUT,
            &format!("{loc}?digest={right}"),
            &[],
            Body::empty()
        )
        .await
        .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn wrong_sizes_and_ranges() {
    let reg = Reg::new();
    let loc = reg
        .req(Method::POST, "/v2/repo/blobs/uploads/", &[], Body::empty())
        .await
        .header("location")
        .unwrap()
        .to_string();
    // Content-Range that disagrees with Content-Length.
    let r = reg
        .req(
            Method::PATCH,
            &loc,
            &[("content-range", "0-99"), ("content-length", "5")],
            "12345",
        )
        .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let r = reg
        .req(
            Method::PATCH,
            &loc,
            &[("content-range", "garbage")],
            "12345",
        )
        .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(reg.get(&loc).await.header("range"), Some("0-0"));
    // Blob over the configured limit.
    let reg = Reg::with_config(Config {
        max_blob_bytes: 1000,
        ..Config::default()
    });
    let data = vec![1u8; 2000];
    let r = reg
        .req(
            Method::POST,
            &format!(
                "/v2/repo/blobs/uploads/?digest={}",
                Digest::sha256_of(&data)
            ),
            &[],
            data,
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID")
    );
}

#[tokio::test]
async fn bad_names_and_paths() {
    let reg = Reg::new();
    for path in [
        "/v2/UPPER/tags/list",
        "/v2/a//b/tags/list",
        "/v2/../etc/tags/list",
        "/v2/a/../../b/tags/list",
        "/v2/a%2Fb/tags/list",
        "/v2/a%2F..%2F..%2Fetc/manifests/latest",
        "/v2/-lead/blobs/uploads/",
    ] {
        let r = reg.get(path).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::BAD_REQUEST, "NAME_INVALID"),
            "{path}"
        );
    }
    // No manifest can have a reference that is not a tag: a read is 404, a
    // write 400.
    let r = reg.get("/v2/ok/manifests/bad..tag%00").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN")
    );
    let r = reg
        .put_manifest("ok", "bad..tag%00", OCI_MANIFEST, b"{}")
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "TAG_INVALID")
    );
    let r = reg.get("/v2/ok/blobs/uploads/../../../../etc").await;
    assert!(r.status.is_client_error());
    let r = reg
        .req(
            Method::PATCH,
            "/v2/ok/blobs/uploads/0123456789abcdef0123456789abcdef",
            &[],
            "x",
        )
        .await;
    assert_eq!(r.code(), "BLOB_UPLOAD_UNKNOWN");
    let r = reg
        .req(
            Method::POST,
            "/v2/ok/blobs/uploads/?mount=sha256:00&from=../x",
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nothing was created outside repositories/.
    assert!(!reg.dir.path().join("etc").exists());
}

#[tokio::test]
async fn truncated_upload_rolls_back() {
    let reg = Reg::new();
    let loc = reg
        .req(Method::POST, "/v2/repo/blobs/uploads/", &[], Body::empty())
        .await
        .header("location")
        .unwrap()
        .to_string();
    let r = reg.req(Method::PATCH, &loc, &[], vec![7u8; 100]).await;
    assert_eq!(r.header("range"), Some("0-99"));
    // A body that fails midway (client gone): the chunk is rolled back.
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(vec![8u8; 50])),
        Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        )),
    ];
    let r = reg
        .req(
            Method::PATCH,
            &loc,
            &[],
            Body::from_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID")
    );
    assert_eq!(reg.get(&loc).await.header("range"), Some("0-99"));
    let d = Digest::sha256_of(&[7u8; 100]);
    assert_eq!(
        reg.req(
            Method::PUT,
            &format!("{loc}?digest={d}"),
            &[],
            Body::empty()
        )
        .await
        .status,
        StatusCode::CREATED
    );

    // A truncated monolithic upload leaves no session and no blob.
    let full = vec![9u8; 1000];
    let d = Digest::sha256_of(&full);
    let r = reg
        .req(
            Method::POST,
            &format!("/v2/repo/blobs/uploads/?digest={d}"),
            &[],
            full[..600].to_vec(),
        )
        .await;
    assert_eq!(r.code(), "DIGEST_INVALID");
    assert_eq!(
        reg.get(&format!("/v2/repo/blobs/{d}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        std::fs::read_dir(reg.dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn upload_sessions_are_bounded() {
    let reg = Reg::with_config(Config {
        max_upload_sessions: 2,
        ..Config::default()
    });
    for _ in 0..2 {
        assert_eq!(
            reg.req(Method::POST, "/v2/r/blobs/uploads/", &[], Body::empty())
                .await
                .status,
            StatusCode::ACCEPTED
        );
    }
    let r = reg
        .req(Method::POST, "/v2/r/blobs/uploads/", &[], Body::empty())
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS")
    );
}

#[tokio::test]
async fn sessions_expire_and_belong_to_their_repository() {
    use nv2_registry::{FsStorage, Storage};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let store = FsStorage::open(dir.path(), 0).unwrap();
    let id = store.upload_create("a").await.unwrap();
    assert!(
        store.upload_status("b", &id).await.is_err(),
        "another repository must not see it"
    );
    assert_eq!(
        store
            .upload_expire(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        store
            .upload_expire(Duration::from_millis(10))
            .await
            .unwrap(),
        1
    );
    assert!(store.upload_status("a", &id).await.is_err());
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn unknown_endpoints_and_methods() {
    let reg = Reg::new();
    assert_eq!(
        reg.get("/v2/repo/unknown").await.status,
        StatusCode::NOT_FOUND
    );
    let r = reg
        .req(Method::POST, "/v2/repo/tags/list", &[], Body::empty())
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED")
    );
}
