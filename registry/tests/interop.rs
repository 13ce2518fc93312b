//! Interop with real clients against the `nv2-registry` binary: an OCI image
//! built with umoci copied in and out with skopeo (digests unchanged); the
//! `oras` Python SDK pushing an artifact with a subject that our referrers
//! API then lists; the `oci-client` crate pushing and listing referrers.
//!
//! Missing tools print SKIP, or fail when `NV2_REQUIRE_PEERS=1`
//! (`scripts/registry-peers.sh` installs them).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use oci_model::Digest;
use serde_json::Value;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The digest of the manifest tagged `tag` in an OCI image layout.
fn layout_digest(layout: &Path, tag: &str) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no {tag} in {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get(url: String) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn umoci_image_through_skopeo_keeps_digests() {
    if !have_tool("skopeo", &["--version"]) || !have_tool("umoci", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("root"), &[]);
    let layout = dir.path().join("src-layout");
    let file = dir.path().join("hello.txt");
    std::fs::write(&file, "hello from umoci\n").unwrap();
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci")
        .args(["new", "--image"])
        .arg(format!("{}:v1", layout.display())));
    run(Command::new("umoci")
        .args(["insert", "--image"])
        .arg(format!("{}:v1", layout.display()))
        .arg(&file)
        .arg("/hello.txt"));
    let source = layout_digest(&layout, "v1");

    let dest = format!("docker://{}/interop/umoci:v1", server.host());
    run(Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(&dest));
    let r = get(format!("{}/v2/interop/umoci/manifests/v1", server.base)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-content-digest"].to_str().unwrap(),
        source,
        "digest changed on the way in"
    );

    let tags = run(Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{}/interop/umoci", server.host())));
    assert!(tags.contains("\"v1\""), "{tags}");

    let out = dir.path().join("out-layout");
    run(Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--src-tls-verify=false"])
        .arg(&dest)
        .arg(format!("oci:{}:v1", out.display())));
    assert_eq!(
        layout_digest(&out, "v1"),
        source,
        "digest changed on the way out"
    );
}

const ORAS_SCRIPT: &str = r#"
import sys, oras.client, oras.oci
host, subject_digest, subject_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = oras.client.OrasClient(hostname=host, insecure=True)
subject = oras.oci.Subject(mediaType="application/vnd.oci.image.manifest.v1+json", digest=subject_digest, size=subject_size)
r = c.push(target=f"{host}/interop/oras:sbom", files=["sbom.json"], subject=subject,
           manifest_config="config.json:application/vnd.example.sbom.config.v1+json",
           manifest_annotations={"org.example.kind": "sbom"})
print(r.status_code)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oras_python_pushes_artifact_with_subject() {
    let probe = ["-c", "import oras.client"];
    if !have_tool("python3", &probe) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("root"), &[]);
    let c = client();
    // The subject: a minimal image pushed with plain HTTP.
    let empty = Digest::sha256_of(b"{}");
    let r = c
        .post(format!(
            "{}/v2/interop/oras/blobs/uploads/?digest={empty}",
            server.base
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let subject = image_manifest(&[], None, None);
    let sd = Digest::sha256_of(&subject);
    let r = c
        .put(format!("{}/v2/interop/oras/manifests/v1", server.base))
        .header("content-type", OCI_MANIFEST)
        .body(subject.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("sbom.json"), r#"{"spdxVersion":"SPDX-2.3"}"#).unwrap();
    std::fs::write(work.join("config.json"), "{}").unwrap();
    let out = run(Command::new("python3").current_dir(&work).args([
        "-c",
        ORAS_SCRIPT,
        server.host(),
        &sd.to_string(),
        &subject.len().to_string(),
    ]));
    assert!(out.trim().ends_with("201"), "oras push: {out}");

    let idx: Value = serde_json::from_slice(
        &get(format!("{}/v2/interop/oras/referrers/{sd}", server.base))
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let ms = idx["manifests"].as_array().unwrap();
    assert_eq!(ms.len(), 1, "{idx}");
    assert_eq!(
        ms[0]["artifactType"],
        "application/vnd.example.sbom.config.v1+json"
    );
    assert_eq!(ms[0]["annotations"]["org.example.kind"], "sbom");
    // The listed digest is the manifest the sbom tag points at.
    let r = get(format!("{}/v2/interop/oras/manifests/sbom", server.base)).await;
    assert_eq!(
        r.headers()["docker-content-digest"].to_str().unwrap(),
        ms[0]["digest"].as_str().unwrap()
    );
    let filtered: Value = serde_json::from_slice(
        &get(format!(
            "{}/v2/interop/oras/referrers/{sd}?artifactType=application/other",
            server.base
        ))
        .await
        .bytes()
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(filtered["manifests"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_client_crate_pushes_and_lists_referrers() {
    use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
    use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
    use oci_client::secrets::RegistryAuth;
    use oci_client::{Client, Reference};

    let _ = client(); // installs the rustls provider
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("root"), &[]);
    let oc = Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    });
    let auth = RegistryAuth::Anonymous;

    let image: Reference = format!("{}/interop/oci-client:v1", server.host())
        .parse()
        .unwrap();
    let layer = ImageLayer::new(
        b"layer from oci-client".to_vec(),
        "application/vnd.oci.image.layer.v1.tar".into(),
        None,
    );
    let config = Config::new(
        b"{\"architecture\":\"amd64\",\"os\":\"linux\"}".to_vec(),
        "application/vnd.oci.image.config.v1+json".into(),
        None,
    );
    let pushed = oc
        .push(&image, &[layer], config, &auth, None)
        .await
        .unwrap();
    let (manifest, digest) = oc.pull_manifest(&image, &auth).await.unwrap();
    assert!(pushed.manifest_url.contains("/manifests/"));
    assert!(matches!(manifest, OciManifest::Image(_)), "{manifest:?}");
    let raw = get(format!(
        "{}/v2/interop/oci-client/manifests/{digest}",
        server.base
    ))
    .await
    .bytes()
    .await
    .unwrap();
    assert_eq!(Digest::sha256_of(&raw).to_string(), digest);

    // A signature-like referrer: empty config, one blob, subject = the image.
    let sig_ref: Reference = format!(
        "{}/interop/oci-client@{}",
        server.host(),
        Digest::sha256_of(b"placeholder")
    )
    .parse()
    .unwrap();
    oc.push_blob(
        &sig_ref,
        b"{}".to_vec(),
        &Digest::sha256_of(b"{}").to_string(),
    )
    .await
    .unwrap();
    let sig = b"fake jws envelope".to_vec();
    let sig_digest = Digest::sha256_of(&sig).to_string();
    oc.push_blob(&sig_ref, sig.clone(), &sig_digest)
        .await
        .unwrap();
    let referrer = OciImageManifest {
        schema_version: 2,
        media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
        config: OciDescriptor {
            media_type: "application/vnd.oci.empty.v1+json".into(),
            digest: Digest::sha256_of(b"{}").to_string(),
            size: 2,
            ..Default::default()
        },
        layers: vec![OciDescriptor {
            media_type: "application/jose+json".into(),
            digest: sig_digest,
            size: sig.len() as i64,
            ..Default::default()
        }],
        subject: Some(OciDescriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: digest.clone(),
            size: raw.len() as i64,
            ..Default::default()
        }),
        artifact_type: Some("application/vnd.cncf.notary.signature".into()),
        annotations: None,
    };
    let sig_tag: Reference = format!("{}/interop/oci-client:sig", server.host())
        .parse()
        .unwrap();
    oc.push_manifest(&sig_tag, &OciManifest::Image(referrer))
        .await
        .unwrap();

    let by_digest: Reference = format!("{}/interop/oci-client@{digest}", server.host())
        .parse()
        .unwrap();
    let index = oc.pull_referrers(&by_digest, None).await.unwrap();
    assert_eq!(index.manifests.len(), 1);
    assert_eq!(
        index.manifests[0].artifact_type.as_deref(),
        Some("application/vnd.cncf.notary.signature")
    );
    let filtered = oc
        .pull_referrers(&by_digest, Some("application/vnd.cncf.notary.signature"))
        .await
        .unwrap();
    assert_eq!(filtered.manifests.len(), 1);
    let none = oc
        .pull_referrers(&by_digest, Some("application/x.other"))
        .await
        .unwrap();
    assert!(none.manifests.is_empty());
}
