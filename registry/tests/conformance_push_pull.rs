//! Conformance-style workflows, pull and push: blobs with ranges, monolithic,
//! session, chunked (an out-of-order chunk gets 416) and cancelled uploads,
//! cross-repository mount, and manifests of every accepted kind by tag and
//! by digest (mirrors the distribution-spec conformance "pull" and "push").
mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use oci_model::Digest;
use serde_json::json;

#[tokio::test]
async fn base_endpoint_answers_200() {
    let reg = Reg::new();
    let r = reg.get("/v2/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
}

#[tokio::test]
async fn push_monolithic_then_pull_blob_with_ranges() {
    let reg = Reg::new();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let d = reg.push_blob("org/team/app", &data).await;

    let head = reg
        .req(
            Method::HEAD,
            &format!("/v2/org/team/app/blobs/{d}"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-length"), Some("5000"));
    assert_eq!(
        head.header("docker-content-digest"),
        Some(d.to_string().as_str())
    );
    assert!(head.body.is_empty());

    let get = reg.get(&format!("/v2/org/team/app/blobs/{d}")).await;
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(&get.body[..], &data[..]);

    let part = reg
        .req(
            Method::GET,
            &format!("/v2/org/team/app/blobs/{d}"),
            &[("range", "bytes=100-199")],
            Body::empty(),
        )
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&part.body[..], &data[100..200]);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/5000"));

    let bad = reg
        .req(
            Method::GET,
            &format!("/v2/org/team/app/blobs/{d}"),
            &[("range", "bytes=6000-")],
            Body::empty(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::RANGE_NOT_SATISFIABLE);

    // Another repository does not see the blob.
    assert_eq!(
        reg.get(&format!("/v2/other/blobs/{d}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn push_session_then_single_put() {
    let reg = Reg::new();
    let start = reg
        .req(Method::POST, "/v2/a/blobs/uploads/", &[], Body::empty())
        .await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    let loc = start.header("location").unwrap().to_string();
    let d = Digest::sha256_of(b"hello");
    let put = reg
        .req(Method::PUT, &format!("{loc}?digest={d}"), &[], "hello")
        .await;
    assert_eq!(put.status, StatusCode::CREATED);
    assert_eq!(
        put.header("location"),
        Some(format!("/v2/a/blobs/{d}").as_str())
    );
    assert_eq!(
        &reg.get(&format!("/v2/a/blobs/{d}")).await.body[..],
        b"hello"
    );
}

#[tokio::test]
async fn push_chunked_with_status_and_out_of_order_chunk_rejected() {
    let reg = Reg::new();
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    let d = Digest::sha256_of(&data);
    let start = reg
        .req(
            Method::POST,
            "/v2/chunky/blobs/uploads/",
            &[],
            Body::empty(),
        )
        .await;
    let mut loc = start.header("location").unwrap().to_string();

    let p1 = reg
        .req(
            Method::PATCH,
            &loc,
            &[("content-range", "0-999"), ("content-length", "1000")],
            data[..1000].to_vec(),
        )
        .await;
    assert_eq!(p1.status, StatusCode::ACCEPTED);
    assert_eq!(p1.header("range"), Some("0-999"));
    loc = p1.header("location").unwrap().to_string();

    // Out of order: skips 1000..2000.
    let ooo = reg
        .req(
            Method::PATCH,
            &loc,
            &[("content-range", "2000-2999"), ("content-length", "1000")],
            data[2000..].to_vec(),
        )
        .await;
    assert_eq!(ooo.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(ooo.header("range"), Some("0-999"));

    let status = reg.get(&loc).await;
    assert_eq!(status.status, StatusCode::NO_CONTENT);
    assert_eq!(status.header("range"), Some("0-999"));

    let p2 = reg
        .req(
            Method::PATCH,
            &loc,
            &[("content-range", "1000-1999"), ("content-length", "1000")],
            data[1000..2000].to_vec(),
        )
        .await;
    assert_eq!(p2.status, StatusCode::ACCEPTED);
    // The last chunk comes with the closing PUT.
    let put = reg
        .req(
            Method::PUT,
            &format!("{loc}?digest={d}"),
            &[("content-range", "2000-2999"), ("content-length", "1000")],
            data[2000..].to_vec(),
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);
    assert_eq!(
        &reg.get(&format!("/v2/chunky/blobs/{d}")).await.body[..],
        &data[..]
    );
    // The session is gone.
    assert_eq!(reg.get(&loc).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cancel_upload() {
    let reg = Reg::new();
    let loc = reg
        .req(Method::POST, "/v2/a/blobs/uploads/", &[], Body::empty())
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert_eq!(
        reg.req(Method::DELETE, &loc, &[], Body::empty())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = reg.get(&loc).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn cross_repository_mount() {
    let reg = Reg::new();
    let d = reg.push_blob("src/repo", b"shared layer").await;
    let m = reg
        .req(
            Method::POST,
            &format!("/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(m.status, StatusCode::CREATED);
    assert_eq!(
        m.header("location"),
        Some(format!("/v2/dst/repo/blobs/{d}").as_str())
    );
    assert_eq!(
        &reg.get(&format!("/v2/dst/repo/blobs/{d}")).await.body[..],
        b"shared layer"
    );
    // Mount from a repository without the blob falls back to a session.
    let other = Digest::sha256_of(b"nope");
    let f = reg
        .req(
            Method::POST,
            &format!("/v2/dst/repo/blobs/uploads/?mount={other}&from=src/repo"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(f.status, StatusCode::ACCEPTED);
    assert!(f.header("location").unwrap().contains("/blobs/uploads/"));
}

#[tokio::test]
async fn manifest_push_pull_by_tag_and_digest() {
    let reg = Reg::new();
    reg.push_blob("app", b"{}").await;
    let layer = reg.push_blob("app", b"layer-bytes").await;
    let body = image_manifest(&[(&layer, 11)], None, None);
    let d = Digest::sha256_of(&body);
    let put = reg.put_manifest("app", "v1", OCI_MANIFEST, &body).await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);
    assert_eq!(
        put.header("docker-content-digest"),
        Some(d.to_string().as_str())
    );
    assert!(put.header("oci-subject").is_none());

    for reference in ["v1".to_string(), d.to_string()] {
        let g = reg
            .req(
                Method::GET,
                &format!("/v2/app/manifests/{reference}"),
                &[("accept", OCI_MANIFEST)],
                Body::empty(),
            )
            .await;
        assert_eq!(g.status, StatusCode::OK);
        assert_eq!(&g.body[..], &body[..], "bytes must be returned unchanged");
        assert_eq!(g.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(
            g.header("docker-content-digest"),
            Some(d.to_string().as_str())
        );
        let h = reg
            .req(
                Method::HEAD,
                &format!("/v2/app/manifests/{reference}"),
                &[],
                Body::empty(),
            )
            .await;
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(
            h.header("content-length"),
            Some(body.len().to_string().as_str())
        );
    }
    // Accept that lists only another manifest type is refused.
    let neg = reg
        .req(
            Method::GET,
            "/v2/app/manifests/v1",
            &[(
                "accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            )],
            Body::empty(),
        )
        .await;
    assert_eq!(neg.status, StatusCode::NOT_FOUND);

    // Push by digest: no tag is created.
    let body2 = image_manifest(&[], None, Some("application/x.example"));
    let d2 = Digest::sha256_of(&body2);
    assert_eq!(
        reg.put_manifest("app", &d2.to_string(), OCI_MANIFEST, &body2)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        reg.get("/v2/app/tags/list").await.json()["tags"],
        json!(["v1"])
    );

    // An index over the pushed manifests; one over a missing manifest is refused.
    let index = |digests: &[&Digest]| {
        let ms: Vec<_> = digests
            .iter()
            .map(|d| json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": 1}))
            .collect();
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": ms}))
            .unwrap()
    };
    assert_eq!(
        reg.put_manifest("app", "multi", OCI_INDEX, &index(&[&d, &d2]))
            .await
            .status,
        StatusCode::CREATED
    );
    let missing = Digest::sha256_of(b"missing");
    let r = reg
        .put_manifest("app", "broken", OCI_INDEX, &index(&[&d, &missing]))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "MANIFEST_BLOB_UNKNOWN");
}

/// References that are neither a valid tag nor a valid digest.
fn malformed_references() -> Vec<String> {
    vec![
        // The suite's `nonexistentManifest`.
        ".INVALID_MANIFEST_NAME".to_string(),
        "-lead".to_string(),
        "a".repeat(129),
        "sha256:zz".to_string(),
        "md5:d41d8cd98f00b204e9800998ecf8427e".to_string(),
    ]
}

/// The suite's "GET/HEAD nonexistent manifest should return 404" pull
/// `.INVALID_MANIFEST_NAME`: a reference that is no valid tag or digest names
/// no manifest that could exist, so a read is 404 `MANIFEST_UNKNOWN` (HEAD
/// without a body), in a repository that exists and in one that does not.
#[tokio::test]
async fn pull_of_a_malformed_reference_is_404_manifest_unknown() {
    let reg = Reg::new();
    reg.push_blob("app", b"{}").await;
    let body = image_manifest(&[], None, None);
    let put = reg.put_manifest("app", "v1", OCI_MANIFEST, &body).await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);
    for name in ["app", "nothing-here"] {
        for reference in malformed_references() {
            let uri = format!("/v2/{name}/manifests/{reference}");
            let g = reg.get(&uri).await;
            assert_eq!(
                (g.status, g.code().as_str()),
                (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
                "GET {uri}"
            );
            let h = reg.req(Method::HEAD, &uri, &[], Body::empty()).await;
            assert_eq!(h.status, StatusCode::NOT_FOUND, "HEAD {uri}");
            assert!(h.body.is_empty(), "HEAD {uri} has a body: {:?}", h.body);
        }
    }
}

/// A push names a valid tag or digest: a malformed tag is 400 `TAG_INVALID`,
/// a malformed digest 400 `DIGEST_INVALID`, and nothing is stored.
#[tokio::test]
async fn push_to_a_malformed_reference_is_400() {
    let reg = Reg::new();
    reg.push_blob("app", b"{}").await;
    let body = image_manifest(&[], None, None);
    for reference in malformed_references() {
        let code = if reference.contains(':') {
            "DIGEST_INVALID"
        } else {
            "TAG_INVALID"
        };
        let r = reg
            .put_manifest("app", &reference, OCI_MANIFEST, &body)
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::BAD_REQUEST, code),
            "PUT {reference}"
        );
    }
    let d = Digest::sha256_of(&body);
    assert_eq!(
        reg.get(&format!("/v2/app/manifests/{d}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn docker_schema2_manifest_and_list() {
    let reg = Reg::new();
    let cfg = reg.push_blob("d", b"{\"architecture\":\"amd64\"}").await;
    let layer = reg.push_blob("d", b"gz").await;
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cfg.to_string(), "size": 24},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer.to_string(), "size": 2}]
    }))
    .unwrap();
    let r = reg
        .put_manifest(
            "d",
            "latest",
            "application/vnd.docker.distribution.manifest.v2+json",
            &m,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let list = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": Digest::sha256_of(&m).to_string(), "size": m.len()}]
    }))
    .unwrap();
    let r = reg
        .put_manifest(
            "d",
            "list",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            &list,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let g = reg.get("/v2/d/manifests/list").await;
    assert_eq!(
        g.header("content-type"),
        Some("application/vnd.docker.distribution.manifest.list.v2+json")
    );
}
