//! Referrers, boxed in one place as oras-go does: a remembered capability per registry; the
//! referrers API (`GET /v2/<name>/referrers/<digest>`) with its `Link` pages followed (bounded)
//! and `artifactType` filtered here when the registry did not say `OCI-Filters-Applied`; and,
//! where the API is missing, the referrers tag schema of distribution-spec v1.1 (an image index
//! tagged `sha256-<hex>` listing the referrers, read, and kept up to date on every push) together
//! with the prototype-2 links endpoint (`/oras/artifacts/v1/<name>/manifests/<digest>/referrers`,
//! which lists ORAS artifact manifests), each remembered per registry once found missing.

use std::collections::BTreeMap;

use bytes::Bytes;
use oci_model::{media_type, Descriptor, Digest, Manifest};
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::blob::read_limited;
use super::error::{Error, Result};
use super::manifest::PushedManifest;
use super::{next_link, status_error, Repository};

/// Pages of referrers followed at most.
pub const MAX_REFERRER_PAGES: usize = 100;

/// What the client knows of a registry's referrers API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Capability {
    #[default]
    Unknown,
    Supported,
    Unsupported,
}

/// Where referrers were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The referrers API.
    Api,
    /// The tag schema, and the prototype-2 links endpoint where the registry has one.
    Fallback,
}

/// The referrers of one subject, and how they were found.
#[derive(Debug, Clone)]
pub struct Referrers {
    pub descriptors: Vec<Descriptor>,
    pub source: Source,
}

/// The referrers tag of a digest: `sha256-<hex>`.
pub fn tag_schema_tag(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm().as_str(), digest.hex())
}

impl Repository {
    fn capability(&self) -> Capability {
        self.client.with_state(&self.registry, |s| s.referrers)
    }

    fn set_capability(&self, capability: Capability) {
        self.client
            .with_state(&self.registry, |s| s.referrers = capability);
    }

    fn links_capability(&self) -> Capability {
        self.client.with_state(&self.registry, |s| s.links)
    }

    fn set_links_capability(&self, capability: Capability) {
        self.client
            .with_state(&self.registry, |s| s.links = capability);
    }

    /// The referrers of `subject`, of `artifact_type` when given.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        if self.capability() != Capability::Unsupported {
            if let Some(found) = self.referrers_api(subject, artifact_type).await? {
                self.set_capability(Capability::Supported);
                return Ok(Referrers {
                    descriptors: found,
                    source: Source::Api,
                });
            }
            self.set_capability(Capability::Unsupported);
        }
        let mut descriptors = self.tag_schema_index(subject).await?;
        if self.links_capability() != Capability::Unsupported {
            match self.links(subject).await? {
                Some(linked) => {
                    self.set_links_capability(Capability::Supported);
                    for d in linked {
                        if !descriptors.iter().any(|known| known.digest == d.digest) {
                            descriptors.push(d);
                        }
                    }
                }
                None => self.set_links_capability(Capability::Unsupported),
            }
        }
        descriptors.retain(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)));
        Ok(Referrers {
            descriptors,
            source: Source::Fallback,
        })
    }

    /// The prototype-2 links endpoint's `references`; `None` when the registry has no such
    /// endpoint (404, or an answer that is not the endpoint's JSON).
    async fn links(&self, subject: &Digest) -> Result<Option<Vec<Descriptor>>> {
        let what = format!(
            "list the links to {}/{}@{subject}",
            self.registry, self.name
        );
        let url = format!(
            "{}/oras/artifacts/v1/{}/manifests/{subject}/referrers",
            self.client.base_url(&self.registry),
            self.name
        );
        let response = self
            .send(false, &what, || Ok(self.request(Method::GET, &url)))
            .await?;
        match response.status() {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::BAD_REQUEST => {
                return Ok(None)
            }
            _ => return Err(status_error(&what, &self.registry, response).await),
        }
        let body = read_limited(
            &what,
            &self.registry,
            response,
            super::manifest::MANIFEST_LIMIT,
        )
        .await?;
        #[derive(serde::Deserialize)]
        struct Links {
            references: Vec<Descriptor>,
        }
        Ok(serde_json::from_slice::<Links>(&body)
            .ok()
            .map(|l| l.references))
    }

    /// The API's answer, `None` when the registry has no referrers API (404).
    async fn referrers_api(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>> {
        let what = format!(
            "list referrers of {}/{}@{subject}",
            self.registry, self.name
        );
        let mut url = self.url(&format!("referrers/{subject}"));
        if let Some(t) = artifact_type {
            url = format!("{url}?artifactType={}", urlencode(t));
        }
        let mut found = Vec::new();
        for page in 0..MAX_REFERRER_PAGES {
            let response = self
                .send(false, &what, || {
                    Ok(self
                        .request(Method::GET, &url)
                        .header(ACCEPT, media_type::OCI_INDEX))
                })
                .await?;
            match response.status() {
                StatusCode::NOT_FOUND if page == 0 => return Ok(None),
                s if s.is_success() => {}
                _ => return Err(status_error(&what, &self.registry, response).await),
            }
            let filtered = response
                .headers()
                .get("oci-filters-applied")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            let next =
                next_link(response.headers()).map(|l| self.client.absolute(&self.registry, &l));
            let body = read_limited(
                &what,
                &self.registry,
                response,
                super::manifest::MANIFEST_LIMIT,
            )
            .await?;
            let index = Manifest::parse(&body, Some(media_type::OCI_INDEX)).map_err(|e| {
                Error::Protocol {
                    what: what.clone(),
                    registry: self.registry.clone(),
                    problem: format!("the referrers index: {e}"),
                }
            })?;
            found.extend(index.manifests.unwrap_or_default().into_iter().filter(|d| {
                filtered || artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t))
            }));
            match next {
                Some(n) => url = n,
                None => return Ok(Some(found)),
            }
        }
        Err(Error::Protocol {
            what,
            registry: self.registry.clone(),
            problem: format!("more than {MAX_REFERRER_PAGES} pages of referrers"),
        })
    }

    /// The descriptors of the `sha256-<hex>` index (none when it does not exist).
    async fn tag_schema_index(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        match self.fetch_manifest(&tag_schema_tag(subject)).await {
            Ok(m) => {
                let index =
                    Manifest::parse(&m.bytes, Some(&m.descriptor.media_type)).map_err(|e| {
                        Error::Protocol {
                            what: format!("read the referrers tag {}", tag_schema_tag(subject)),
                            registry: self.registry.clone(),
                            problem: e.to_string(),
                        }
                    })?;
                Ok(index.manifests.unwrap_or_default())
            }
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// After a manifest with a `subject` was pushed: when the registry did not index it itself
    /// (no `OCI-Subject`), adds it to the tag-schema index (de-duplicated by digest).
    pub async fn index_referrer(
        &self,
        subject: &Digest,
        pushed: &PushedManifest,
        artifact_type: Option<&str>,
        annotations: Option<&BTreeMap<String, String>>,
    ) -> Result<bool> {
        if pushed.subject_indexed.as_ref() == Some(subject) {
            self.set_capability(Capability::Supported);
            return Ok(false);
        }
        if self.capability() == Capability::Unknown
            && self.referrers_api(subject, None).await?.is_some()
        {
            // The API exists (the registry just did not send the header): nothing to maintain.
            self.set_capability(Capability::Supported);
            return Ok(false);
        }
        self.set_capability(Capability::Unsupported);
        let mut descriptors = self.tag_schema_index(subject).await?;
        if descriptors
            .iter()
            .any(|d| d.digest == pushed.descriptor.digest)
        {
            return Ok(false);
        }
        let mut entry = pushed.descriptor.clone();
        entry.artifact_type = artifact_type.map(str::to_string);
        entry.annotations = annotations.filter(|a| !a.is_empty()).cloned();
        descriptors.push(entry);
        let index = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": descriptors,
        });
        let bytes = Bytes::from(serde_json::to_vec(&index).expect("an index serialises"));
        self.push_manifest(media_type::OCI_INDEX, bytes, &tag_schema_tag(subject))
            .await?;
        Ok(true)
    }
}

/// Percent-encodes a query value (media types hold `/`, `+`, `.`).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_schema_tags_and_query_values() {
        let d: Digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
            .parse()
            .unwrap();
        assert_eq!(
            tag_schema_tag(&d),
            "sha256-1111111111111111111111111111111111111111111111111111111111111111"
        );
        assert_eq!(
            urlencode("application/vnd.cncf.notary.signature"),
            "application%2Fvnd.cncf.notary.signature"
        );
        assert_eq!(urlencode("a+b c"), "a%2Bb%20c");
    }
}
