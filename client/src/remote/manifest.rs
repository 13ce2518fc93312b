//! Manifests by their exact bytes: fetched with an `Accept` of every manifest type, hashed as
//! received (never re-serialised), pushed by digest and only then tagged.

use bytes::Bytes;
use oci_model::{media_type, Descriptor, Digest};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use super::blob::read_limited;
use super::error::{Error, Result};
use super::{status_error, Repository};

/// Every manifest type the project stores.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.artifact.manifest.v1+json, application/vnd.cncf.oras.artifact.manifest.v1+json";

/// The largest manifest read (distribution's own limit is 4 MiB).
pub const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;

/// A manifest as the registry sent it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// Its descriptor: media type from `Content-Type`, digest of the bytes, size.
    pub descriptor: Descriptor,
    pub bytes: Bytes,
}

/// What a manifest push reports.
#[derive(Debug, Clone)]
pub struct PushedManifest {
    pub descriptor: Descriptor,
    /// The `OCI-Subject` header: the registry indexed the manifest's subject itself.
    pub subject_indexed: Option<Digest>,
}

impl Repository {
    /// `GET` a manifest by tag or digest. Checked against the digest when fetched by one, and
    /// against the registry's `Docker-Content-Digest` otherwise.
    pub async fn fetch_manifest(&self, reference: &str) -> Result<FetchedManifest> {
        let what = format!("fetch manifest {}/{}:{reference}", self.registry, self.name);
        let url = self.url(&format!("manifests/{reference}"));
        let response = self
            .send(false, &what, || {
                Ok(self
                    .request(Method::GET, &url)
                    .header(ACCEPT, MANIFEST_ACCEPT))
            })
            .await?;
        if !response.status().is_success() {
            return Err(status_error(&what, &self.registry, response).await);
        }
        let content_type = header(&response, CONTENT_TYPE.as_str());
        let claimed = header(&response, "docker-content-digest");
        let bytes = read_limited(&what, &self.registry, response, MANIFEST_LIMIT).await?;
        let expected: Option<Digest> = match reference.parse::<Digest>() {
            Ok(d) => Some(d),
            Err(_) => claimed.as_deref().and_then(|c| c.parse().ok()),
        };
        let digest = match &expected {
            Some(e) => {
                let actual = e.recompute(&bytes);
                if &actual != e {
                    return Err(Error::DigestMismatch {
                        what,
                        expected: e.to_string(),
                        actual: actual.to_string(),
                    });
                }
                actual
            }
            None => Digest::sha256_of(&bytes),
        };
        let media_type = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_string())
            .filter(|c| !c.is_empty() && c != "application/json")
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["mediaType"].as_str().map(str::to_string))
            })
            .unwrap_or_else(|| media_type::OCI_MANIFEST.to_string());
        Ok(FetchedManifest {
            descriptor: Descriptor::new(media_type, digest, bytes.len() as u64),
            bytes,
        })
    }

    /// `HEAD` a manifest: its descriptor without the body (falls back to `GET` for registries
    /// that answer `HEAD` without a digest).
    pub async fn resolve(&self, reference: &str) -> Result<Descriptor> {
        let what = format!("resolve {}/{}:{reference}", self.registry, self.name);
        let url = self.url(&format!("manifests/{reference}"));
        let response = self
            .send(false, &what, || {
                Ok(self
                    .request(Method::HEAD, &url)
                    .header(ACCEPT, MANIFEST_ACCEPT))
            })
            .await?;
        if !response.status().is_success() {
            return Err(status_error(&what, &self.registry, response).await);
        }
        let digest =
            header(&response, "docker-content-digest").and_then(|d| d.parse::<Digest>().ok());
        let size = header(&response, CONTENT_LENGTH.as_str()).and_then(|s| s.parse::<u64>().ok());
        let media = header(&response, CONTENT_TYPE.as_str())
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_string());
        match (digest, size, media) {
            (Some(digest), Some(size), Some(media)) if !media.is_empty() => {
                if let Ok(asked) = reference.parse::<Digest>() {
                    if asked != digest {
                        return Err(Error::DigestMismatch {
                            what,
                            expected: asked.to_string(),
                            actual: digest.to_string(),
                        });
                    }
                }
                Ok(Descriptor::new(media, digest, size))
            }
            _ => Ok(self.fetch_manifest(reference).await?.descriptor),
        }
    }

    /// `PUT` a manifest's exact bytes under `reference` (its digest, or a tag).
    pub async fn push_manifest(
        &self,
        media_type: &str,
        bytes: Bytes,
        reference: &str,
    ) -> Result<PushedManifest> {
        let digest = Digest::sha256_of(&bytes);
        // `@` for a digest, `:` for a tag, as references are written.
        let at = if reference.parse::<Digest>().is_ok() {
            '@'
        } else {
            ':'
        };
        let what = format!(
            "push manifest {digest} ({} bytes) to {}/{}{at}{reference}",
            bytes.len(),
            self.registry,
            self.name
        );
        let url = self.url(&format!("manifests/{reference}"));
        let response = self
            .send(true, &what, || {
                Ok(self
                    .request(Method::PUT, &url)
                    .header(CONTENT_TYPE, media_type)
                    .body(bytes.clone()))
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(status_error(&what, &self.registry, response).await);
        }
        let subject_indexed = header(&response, "oci-subject").and_then(|d| d.parse().ok());
        Ok(PushedManifest {
            descriptor: Descriptor::new(media_type, digest, bytes.len() as u64),
            subject_indexed,
        })
    }

    /// Points `tag` at the manifest `digest` (its bytes fetched and pushed again, unchanged).
    pub async fn tag(&self, digest: &Digest, tag: &str) -> Result<Descriptor> {
        let manifest = self.fetch_manifest(&digest.to_string()).await?;
        Ok(self
            .push_manifest(&manifest.descriptor.media_type, manifest.bytes, tag)
            .await?
            .descriptor)
    }

    /// Deletes a manifest by digest.
    pub async fn delete_manifest(&self, digest: &Digest) -> Result<()> {
        self.delete("manifest", &format!("manifests/{digest}"), digest)
            .await
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
