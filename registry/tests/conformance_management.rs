//! Conformance-style workflows, content management: deleting manifests,
//! tags and blobs, and what happens to referrers when their subject or they
//! themselves are deleted.
mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use nv2_registry::Config;
use oci_model::Digest;
use serde_json::json;

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

/// A delete names a valid tag or digest: a malformed tag is 400
/// `TAG_INVALID`, a malformed digest 400 `DIGEST_INVALID`, and nothing is
/// deleted.
#[tokio::test]
async fn delete_of_a_malformed_reference_is_400() {
    let reg = Reg::new();
    reg.push_blob("m", b"{}").await;
    let body = image_manifest(&[], None, None);
    reg.put_manifest("m", "v1", OCI_MANIFEST, &body).await;
    for (reference, code) in [
        (".INVALID_MANIFEST_NAME", "TAG_INVALID"),
        ("-lead", "TAG_INVALID"),
        ("sha256:zz", "DIGEST_INVALID"),
    ] {
        let r = reg
            .req(
                Method::DELETE,
                &format!("/v2/m/manifests/{reference}"),
                &[],
                Body::empty(),
            )
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::BAD_REQUEST, code),
            "DELETE {reference}"
        );
    }
    assert_eq!(reg.get("/v2/m/manifests/v1").await.status, StatusCode::OK);
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
