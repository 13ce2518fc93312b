//! Conformance-style workflows, content discovery: tags and catalog paging,
//! referrers with and without `artifactType`, of a missing subject, and
//! paged with `Link` only on full pages.
mod common;

use axum::http::StatusCode;
use common::*;
use nv2_registry::Config;
use oci_model::Digest;
use serde_json::json;

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
