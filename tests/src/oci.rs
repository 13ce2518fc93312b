//! A small OCI pusher for tests: blobs (monolithic), manifests, images, and signature artifacts
//! linked to their subject — through `subject` and, for registries without the referrers API,
//! also through the referrers tag schema (`sha256-<hex>` index).

use reqwest::blocking::Client;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const SIGNATURE_TYPE: &str = "application/vnd.cncf.notary.signature";
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Pushes to one registry (`http://host:port`).
pub struct Pusher {
    base: String,
    client: Client,
}

impl Pusher {
    pub fn new(base: &str) -> Self {
        Pusher {
            base: base.trim_end_matches('/').to_string(),
            client: Client::new(),
        }
    }

    /// Uploads a blob in one POST (falling back to POST + PUT for registries without it).
    pub fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = digest_of(bytes);
        let start = self
            .client
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base))
            .send()
            .expect("start upload");
        assert_eq!(
            start.status().as_u16(),
            202,
            "start upload: {:?}",
            start.text()
        );
        let location = start.headers()["location"].to_str().unwrap().to_string();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.base)
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = self
            .client
            .put(format!("{location}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .expect("put blob");
        assert_eq!(put.status().as_u16(), 201, "put blob: {:?}", put.text());
        digest
    }

    /// Puts a manifest under `reference` (tag or digest); returns its digest.
    pub fn manifest(&self, repo: &str, reference: &str, body: &[u8], media_type: &str) -> String {
        let r = self
            .client
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base))
            .header("Content-Type", media_type)
            .body(body.to_vec())
            .send()
            .expect("put manifest");
        assert_eq!(r.status().as_u16(), 201, "put manifest: {:?}", r.text());
        digest_of(body)
    }

    /// Pushes a small image tagged `tag`; returns its descriptor.
    pub fn image(&self, repo: &str, tag: &str) -> Value {
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let layer = format!("layer of {repo}:{tag}").into_bytes();
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.blob(repo, config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": self.blob(repo, &layer), "size": layer.len()}],
        });
        let body = serde_json::to_vec(&manifest).unwrap();
        let digest = self.manifest(repo, tag, &body, OCI_MANIFEST);
        json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": body.len()})
    }

    /// Pushes a signature artifact (envelope layer, empty config, `subject`) by digest. With
    /// `tag_schema`, also adds it to the subject's `sha256-<hex>` referrers index.
    pub fn signature(
        &self,
        repo: &str,
        subject: &Value,
        envelope: &[u8],
        tag_schema: bool,
    ) -> String {
        self.blob(repo, b"{}");
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIGNATURE_TYPE,
            "config": {"mediaType": EMPTY_CONFIG, "digest": digest_of(b"{}"), "size": 2},
            "layers": [{"mediaType": "application/jose+json", "digest": self.blob(repo, envelope), "size": envelope.len()}],
            "subject": subject,
        });
        let body = serde_json::to_vec(&manifest).unwrap();
        let digest = self.manifest(repo, &digest_of(&body), &body, OCI_MANIFEST);
        if tag_schema {
            self.add_to_tag_schema(repo, subject, json!({
                "mediaType": OCI_MANIFEST, "digest": digest, "size": body.len(), "artifactType": SIGNATURE_TYPE,
            }));
        }
        digest
    }

    fn add_to_tag_schema(&self, repo: &str, subject: &Value, descriptor: Value) {
        let tag = subject["digest"].as_str().unwrap().replace(':', "-");
        let existing = self
            .client
            .get(format!("{}/v2/{repo}/manifests/{tag}", self.base))
            .header("Accept", OCI_INDEX)
            .send()
            .expect("get index");
        let mut index = if existing.status().is_success() {
            serde_json::from_slice::<Value>(&existing.bytes().expect("index body"))
                .expect("index JSON")
        } else {
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
        };
        index["manifests"].as_array_mut().unwrap().push(descriptor);
        self.manifest(repo, &tag, &serde_json::to_vec(&index).unwrap(), OCI_INDEX);
    }
}
