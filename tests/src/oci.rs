//! Test content (small images, signature artifacts linked to their subject) pushed through the
//! project's one registry client, `nv2_client::remote`, behind a blocking facade: the tests
//! exercise the same upload, manifest and tag-schema code the `nv2` verbs run.

use bytes::Bytes;
use nv2_client::remote::{Client, ClientOptions, DockerConfig, Repository};
use oci_model::{media_type, Descriptor, Digest, Reference};
use serde_json::{json, Value};

pub const OCI_MANIFEST: &str = media_type::OCI_MANIFEST;
pub const OCI_INDEX: &str = media_type::OCI_INDEX;
pub const SIGNATURE_TYPE: &str = media_type::NOTARY_SIGNATURE;
pub const EMPTY_CONFIG: &str = media_type::OCI_EMPTY;

pub fn digest_of(bytes: &[u8]) -> String {
    Digest::sha256_of(bytes).to_string()
}

/// Pushes to one registry, anonymously.
pub struct Pusher {
    host: String,
    client: Client,
    runtime: tokio::runtime::Runtime,
    _config: tempfile::TempDir,
}

impl Pusher {
    /// `base` is `http://host:port` or `host:port` (loopback registries speak HTTP).
    pub fn new(base: &str) -> Self {
        let host = base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        // An empty docker configuration: the developer's own logins must not leak into tests.
        let config = tempfile::tempdir().expect("temp dir");
        let client = Client::new(ClientOptions {
            docker_config: DockerConfig::at(config.path().join("config.json")),
            ..ClientOptions::default()
        })
        .expect("client");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Pusher {
            host,
            client,
            runtime,
            _config: config,
        }
    }

    fn repository(&self, repo: &str) -> Repository {
        let reference: Reference = format!("{}/{repo}", self.host)
            .parse()
            .unwrap_or_else(|e| panic!("{}/{repo}: {e}", self.host));
        self.client.repository(&reference)
    }

    /// Uploads a blob (skipped when the registry has it); returns its digest.
    pub fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = Digest::sha256_of(bytes);
        let descriptor = Descriptor::new(
            "application/octet-stream",
            digest.clone(),
            bytes.len() as u64,
        );
        self.runtime
            .block_on(
                self.repository(repo)
                    .push_blob_bytes(&descriptor, Bytes::copy_from_slice(bytes)),
            )
            .unwrap_or_else(|e| panic!("push blob {digest} to {repo}: {e}"));
        digest.to_string()
    }

    /// Puts a manifest under `reference` (tag or digest); returns its digest.
    pub fn manifest(&self, repo: &str, reference: &str, body: &[u8], media_type: &str) -> String {
        let pushed = self
            .runtime
            .block_on(self.repository(repo).push_manifest(
                media_type,
                Bytes::copy_from_slice(body),
                reference,
            ))
            .unwrap_or_else(|e| panic!("push manifest {repo}:{reference}: {e}"));
        pushed.descriptor.digest.to_string()
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
    /// `link`, the client also keeps the subject's `sha256-<hex>` tag-schema index up to date
    /// where the registry does not index subjects itself (as `nv2 attach` does); without it,
    /// such a registry shows no link.
    pub fn signature(&self, repo: &str, subject: &Value, envelope: &[u8], link: bool) -> String {
        self.blob(repo, b"{}");
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIGNATURE_TYPE,
            "config": {"mediaType": EMPTY_CONFIG, "digest": digest_of(b"{}"), "size": 2},
            "layers": [{"mediaType": "application/jose+json", "digest": self.blob(repo, envelope), "size": envelope.len()}],
            "subject": subject,
        });
        let body = Bytes::from(serde_json::to_vec(&manifest).unwrap());
        let repository = self.repository(repo);
        let digest = Digest::sha256_of(&body).to_string();
        let pushed = self
            .runtime
            .block_on(repository.push_manifest(OCI_MANIFEST, body, &digest))
            .unwrap_or_else(|e| panic!("push signature to {repo}: {e}"));
        if link {
            let subject: Digest = subject["digest"]
                .as_str()
                .and_then(|d| d.parse().ok())
                .expect("subject digest");
            self.runtime
                .block_on(repository.index_referrer(&subject, &pushed, Some(SIGNATURE_TYPE), None))
                .unwrap_or_else(|e| panic!("link signature to {subject}: {e}"));
        }
        digest
    }
}
