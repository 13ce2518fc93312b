//! Workflow tests mirroring the distribution-spec conformance suite: pull,
//! push (monolithic, chunked, out-of-order chunk, mount), content discovery
//! (tags paging, referrers with and without filter, missing subject, paging)
//! and content management (delete manifest, tag, blob), plus the
//! prototype-2 artifact manifests and links endpoint.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use nv2_registry::Config;
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

#[tokio::test]
async fn tags_paging_with_link() {
    let reg = Reg::new();
    reg.push_blob("t", b"{}").await;
    let body = image_manifest(&[], None, None);
    for tag in ["e", "b", "a", "d", "c"] {
        assert_eq!(
            reg.put_manifest("t", tag, OCI_MANIFEST, &body).await.status,
            StatusCode::CREATED
        );
    }
    let all = reg.get("/v2/t/tags/list").await;
    assert_eq!(
        all.json(),
        json!({"name": "t", "tags": ["a", "b", "c", "d", "e"]})
    );
    assert!(all.header("link").is_none());
    let p1 = reg.get("/v2/t/tags/list?n=2").await;
    assert_eq!(p1.json()["tags"], json!(["a", "b"]));
    assert_eq!(
        p1.header("link"),
        Some("</v2/t/tags/list?n=2&last=b>; rel=\"next\"")
    );
    let p2 = reg.get("/v2/t/tags/list?n=2&last=b").await;
    assert_eq!(p2.json()["tags"], json!(["c", "d"]));
    let p3 = reg.get("/v2/t/tags/list?n=2&last=d").await;
    assert_eq!(p3.json()["tags"], json!(["e"]));
    assert!(p3.header("link").is_none());
    assert_eq!(
        reg.get("/v2/t/tags/list?n=0").await.json()["tags"],
        json!([])
    );
    let unknown = reg.get("/v2/nope/tags/list").await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "NAME_UNKNOWN")
    );
}

#[tokio::test]
async fn catalog_paging() {
    let reg = Reg::new();
    for name in ["b/x", "a", "c/d/e"] {
        reg.push_blob(name, b"x").await;
    }
    assert_eq!(
        reg.get("/v2/_catalog").await.json(),
        json!({"repositories": ["a", "b/x", "c/d/e"]})
    );
    let p1 = reg.get("/v2/_catalog?n=1").await;
    assert_eq!(p1.json()["repositories"], json!(["a"]));
    assert_eq!(
        p1.header("link"),
        Some("</v2/_catalog?n=1&last=a>; rel=\"next\"")
    );
    assert_eq!(
        reg.get("/v2/_catalog?n=5&last=a").await.json()["repositories"],
        json!(["b/x", "c/d/e"])
    );
}

/// Pushes a subject image and three referrers (two signatures, one SBoM).
async fn subject_with_referrers(reg: &Reg, name: &str) -> (Digest, Vec<Digest>) {
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

#[tokio::test]
async fn referrers_listing_and_filter() {
    let reg = Reg::new();
    let (sd, refs) = subject_with_referrers(&reg, "net-monitor").await;
    let r = reg.get(&format!("/v2/net-monitor/referrers/{sd}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some(OCI_INDEX));
    assert!(r.header("oci-filters-applied").is_none());
    let idx = r.json();
    assert_eq!(idx["schemaVersion"], 2);
    assert_eq!(idx["mediaType"], OCI_INDEX);
    let ms = idx["manifests"].as_array().unwrap();
    assert_eq!(ms.len(), 3);
    let mut listed: Vec<String> = ms
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = refs.iter().map(|d| d.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    for m in ms {
        assert_eq!(m["mediaType"], OCI_MANIFEST);
        assert!(m["size"].as_u64().unwrap() > 0);
        assert_eq!(m["annotations"]["org.example.kind"], m["artifactType"]);
    }

    let f = reg
        .get(&format!(
            "/v2/net-monitor/referrers/{sd}?artifactType=application/vnd.cncf.notary.signature"
        ))
        .await;
    assert_eq!(f.header("oci-filters-applied"), Some("artifactType"));
    let fm = f.json()["manifests"].as_array().unwrap().clone();
    assert_eq!(fm.len(), 2);
    assert!(fm
        .iter()
        .all(|m| m["artifactType"] == "application/vnd.cncf.notary.signature"));

    // artifactType falls back to the config media type.
    reg.push_blob("net-monitor", b"cfg").await;
    let cfg = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/x.custom.config", "digest": Digest::sha256_of(b"cfg").to_string(), "size": 3},
        "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": sd.to_string(), "size": 1}
    }))
    .unwrap();
    reg.put_manifest("net-monitor", "cfgref", OCI_MANIFEST, &cfg)
        .await;
    let c = reg
        .get(&format!(
            "/v2/net-monitor/referrers/{sd}?artifactType=application/x.custom.config"
        ))
        .await;
    assert_eq!(
        c.json()["manifests"][0]["artifactType"],
        "application/x.custom.config"
    );
}

#[tokio::test]
async fn referrers_of_missing_subject_and_bad_digest() {
    let reg = Reg::new();
    let missing = Digest::sha256_of(b"never pushed");
    let r = reg.get(&format!("/v2/anything/referrers/{missing}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["manifests"], json!([]));
    let bad = reg.get("/v2/anything/referrers/sha256:xyz").await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
}

#[tokio::test]
async fn referrers_pagination_link_only_when_full() {
    let reg = Reg::with_config(Config {
        referrers_page_size: 2,
        ..Config::default()
    });
    let (sd, refs) = subject_with_referrers(&reg, "p").await;
    let mut seen = Vec::new();
    let mut url = format!("/v2/p/referrers/{sd}");
    let mut pages = 0;
    loop {
        let r = reg.get(&url).await;
        pages += 1;
        let ms = r.json()["manifests"].as_array().unwrap().clone();
        seen.extend(ms.iter().map(|m| m["digest"].as_str().unwrap().to_string()));
        match r.header("link") {
            Some(l) => {
                assert_eq!(ms.len(), 2, "Link only on a full page");
                url = l
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 2);
    seen.sort();
    let mut expected: Vec<String> = refs.iter().map(|d| d.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn deleting_a_referrer_unlists_it_and_subject_delete_keeps_referrers() {
    let reg = Reg::new();
    let (sd, refs) = subject_with_referrers(&reg, "del").await;
    let r = reg
        .req(
            Method::DELETE,
            &format!("/v2/del/manifests/{}", refs[0]),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let listed = reg.get(&format!("/v2/del/referrers/{sd}")).await.json()["manifests"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, 2);
    assert_eq!(
        reg.get(&format!("/v2/del/manifests/{}", refs[0]))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Default: deleting the subject leaves its referrers in place.
    assert_eq!(
        reg.req(
            Method::DELETE,
            &format!("/v2/del/manifests/{sd}"),
            &[],
            Body::empty()
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        reg.get(&format!("/v2/del/manifests/{}", refs[1]))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        reg.get(&format!("/v2/del/referrers/{sd}")).await.json()["manifests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The tag that pointed at the subject went with it.
    assert_eq!(
        reg.get("/v2/del/manifests/v1").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn cascade_delete_removes_referrers_with_subject() {
    let reg = Reg::with_config(Config {
        delete_referrers_with_subject: true,
        ..Config::default()
    });
    let (sd, refs) = subject_with_referrers(&reg, "cas").await;
    assert_eq!(
        reg.req(
            Method::DELETE,
            &format!("/v2/cas/manifests/{sd}"),
            &[],
            Body::empty()
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    for d in &refs {
        assert_eq!(
            reg.get(&format!("/v2/cas/manifests/{d}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        reg.get(&format!("/v2/cas/referrers/{sd}")).await.json()["manifests"],
        json!([])
    );
}

#[tokio::test]
async fn delete_tag_manifest_and_blob() {
    let reg = Reg::new();
    reg.push_blob("m", b"{}").await;
    let layer = reg.push_blob("m", b"abc").await;
    let body = image_manifest(&[(&layer, 3)], None, None);
    let d = Digest::sha256_of(&body);
    reg.put_manifest("m", "one", OCI_MANIFEST, &body).await;
    reg.put_manifest("m", "two", OCI_MANIFEST, &body).await;

    // Deleting a tag leaves the manifest and the other tag.
    assert_eq!(
        reg.req(Method::DELETE, "/v2/m/manifests/one", &[], Body::empty())
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        reg.get("/v2/m/manifests/one").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(reg.get("/v2/m/manifests/two").await.status, StatusCode::OK);

    assert_eq!(
        reg.req(
            Method::DELETE,
            &format!("/v2/m/manifests/{d}"),
            &[],
            Body::empty()
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    let gone = reg.get(&format!("/v2/m/manifests/{d}")).await;
    assert_eq!(
        (gone.status, gone.code().as_str()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN")
    );
    assert_eq!(reg.get("/v2/m/tags/list").await.json()["tags"], json!([]));
    let again = reg
        .req(
            Method::DELETE,
            &format!("/v2/m/manifests/{d}"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    assert_eq!(
        reg.req(
            Method::DELETE,
            &format!("/v2/m/blobs/{layer}"),
            &[],
            Body::empty()
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    let b = reg.get(&format!("/v2/m/blobs/{layer}")).await;
    assert_eq!(
        (b.status, b.code().as_str()),
        (StatusCode::NOT_FOUND, "BLOB_UNKNOWN")
    );
}

#[tokio::test]
async fn deletes_can_be_disabled() {
    let reg = Reg::with_config(Config {
        disable_delete: true,
        ..Config::default()
    });
    let d = reg.push_blob("x", b"x").await;
    let r = reg
        .req(
            Method::DELETE,
            &format!("/v2/x/blobs/{d}"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED")
    );
}

#[tokio::test]
async fn prototype2_artifact_manifests_and_links_endpoint() {
    let reg = Reg::new();
    reg.push_blob("lnk", b"{}").await;
    let subject = image_manifest(&[], None, None);
    let sd = Digest::sha256_of(&subject);
    reg.put_manifest("lnk", "v1", OCI_MANIFEST, &subject).await;
    let sig = reg.push_blob("lnk", b"jws").await;
    for mt in [
        "application/vnd.oci.artifact.manifest.v1+json",
        "application/vnd.cncf.oras.artifact.manifest.v1+json",
    ] {
        let body = serde_json::to_vec(&json!({
            "mediaType": mt,
            "artifactType": "application/vnd.cncf.notary.signature",
            "blobs": [{"mediaType": "application/jose+json", "digest": sig.to_string(), "size": 3}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": sd.to_string(), "size": subject.len()},
            "annotations": {"io.cncf.notary.x509chain.thumbprint#S256": "[\"ab\"]"}
        }))
        .unwrap();
        let r = reg
            .put_manifest("lnk", &Digest::sha256_of(&body).to_string(), mt, &body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{mt}: {:?}", r.body);
        assert_eq!(r.header("oci-subject"), Some(sd.to_string().as_str()));
    }
    // A blob the artifact names must exist.
    let body = serde_json::to_vec(&json!({
        "mediaType": "application/vnd.cncf.oras.artifact.manifest.v1+json", "artifactType": "x",
        "blobs": [{"mediaType": "a", "digest": Digest::sha256_of(b"absent").to_string(), "size": 6}]
    }))
    .unwrap();
    assert_eq!(
        reg.put_manifest(
            "lnk",
            "bad",
            "application/vnd.cncf.oras.artifact.manifest.v1+json",
            &body
        )
        .await
        .code(),
        "MANIFEST_BLOB_UNKNOWN"
    );

    let links = reg
        .get(&format!("/oras/artifacts/v1/lnk/manifests/{sd}/referrers"))
        .await;
    assert_eq!(links.status, StatusCode::OK);
    let refs = links.json()["references"].as_array().unwrap().clone();
    assert_eq!(refs.len(), 2);
    assert!(refs
        .iter()
        .all(|d| d["artifactType"] == "application/vnd.cncf.notary.signature"));
    let filtered = reg
        .get(&format!(
            "/oras/artifacts/v1/lnk/manifests/{sd}/referrers?artifactType=other"
        ))
        .await;
    assert_eq!(filtered.json()["references"], json!([]));
    // The v1.1 API lists the same two.
    assert_eq!(
        reg.get(&format!("/v2/lnk/referrers/{sd}")).await.json()["manifests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn nested_names_of_any_depth() {
    let reg = Reg::new();
    let name = "a/b/c/d/e/f/g/h/i/j/k";
    let d = reg.push_blob(name, b"deep").await;
    assert_eq!(
        reg.get(&format!("/v2/{name}/blobs/{d}")).await.status,
        StatusCode::OK
    );
}
