//! The prototype-2 artifact manifests (image-spec 1.1-rc and ORAS), indexed
//! by `subject` and listed by the links endpoint, and names of any depth.
mod common;

use axum::http::StatusCode;
use common::*;
use oci_model::Digest;
use serde_json::json;

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
