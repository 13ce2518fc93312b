//! A permissive view of every manifest kind the project handles: OCI image
//! manifest and index, Docker schema2 manifest and manifest list, and the two
//! prototype-era artifact manifests. The view is for reading fields only; the
//! original bytes stay the source of truth for digests.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::media_type as mt;
use crate::Descriptor;

/// Why a manifest body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestError {
    /// Not JSON, or fields of the wrong JSON type.
    Malformed(String),
    /// No media type could be determined, or it is not one we accept.
    UnsupportedMediaType(String),
    /// The body's `mediaType` and the request's `Content-Type` disagree.
    MediaTypeMismatch { body: String, header: String },
    /// A field the media type requires is missing.
    MissingField(&'static str),
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Malformed(e) => write!(f, "malformed manifest: {e}"),
            ManifestError::UnsupportedMediaType(m) => {
                write!(f, "unsupported manifest media type {m:?}")
            }
            ManifestError::MediaTypeMismatch { body, header } => {
                write!(
                    f,
                    "manifest mediaType {body:?} does not match Content-Type {header:?}"
                )
            }
            ManifestError::MissingField(field) => {
                write!(f, "manifest lacks required field {field:?}")
            }
        }
    }
}

impl std::error::Error for ManifestError {}

/// The fields of a manifest that the registry and clients read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub schema_version: Option<u32>,
    /// The resolved media type (body field, else `Content-Type`, else shape).
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
    /// The artifact manifests' list of blobs.
    #[serde(default)]
    pub blobs: Option<Vec<Descriptor>>,
    /// An index's children.
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// Parses and checks `bytes`; `content_type` is the request's header, if any.
    /// On success `media_type` is always set to an accepted manifest type.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
        let mut m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        // A Content-Type with parameters ("; charset=utf-8") names the same type.
        let header = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
            .filter(|c| {
                !c.is_empty() && c != "application/json" && c != "application/octet-stream"
            });
        let resolved = match (&m.media_type, &header) {
            (Some(body), Some(h)) if body != h => {
                return Err(ManifestError::MediaTypeMismatch {
                    body: body.clone(),
                    header: h.clone(),
                })
            }
            (Some(body), _) => body.clone(),
            (None, Some(h)) => h.clone(),
            (None, None) => m
                .guess_type()
                .ok_or_else(|| ManifestError::UnsupportedMediaType(String::new()))?,
        };
        if !mt::MANIFEST_TYPES.contains(&resolved.as_str()) {
            return Err(ManifestError::UnsupportedMediaType(resolved));
        }
        m.media_type = Some(resolved);
        m.check_shape()?;
        Ok(m)
    }

    /// The accepted media type (set by [`Manifest::parse`]).
    pub fn media_type(&self) -> &str {
        self.media_type.as_deref().unwrap_or("")
    }

    fn guess_type(&self) -> Option<String> {
        if self.manifests.is_some() {
            Some(mt::OCI_INDEX.to_string())
        } else if self.config.is_some() {
            Some(mt::OCI_MANIFEST.to_string())
        } else {
            None
        }
    }

    fn check_shape(&self) -> Result<(), ManifestError> {
        match self.media_type() {
            mt::OCI_MANIFEST | mt::DOCKER_MANIFEST => {
                if self.schema_version != Some(2) {
                    return Err(ManifestError::MissingField("schemaVersion"));
                }
                self.config
                    .as_ref()
                    .ok_or(ManifestError::MissingField("config"))?;
                self.layers
                    .as_ref()
                    .ok_or(ManifestError::MissingField("layers"))?;
            }
            mt::OCI_INDEX | mt::DOCKER_MANIFEST_LIST => {
                if self.schema_version != Some(2) {
                    return Err(ManifestError::MissingField("schemaVersion"));
                }
                self.manifests
                    .as_ref()
                    .ok_or(ManifestError::MissingField("manifests"))?;
            }
            // The artifact manifests carry no schemaVersion and may have no blobs.
            _ => {}
        }
        Ok(())
    }

    /// The blobs this manifest needs (config, layers, artifact blobs),
    /// excluding non-distributable ones that live at external `urls`.
    pub fn referenced_blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config
            .iter()
            .chain(self.layers.iter().flatten())
            .chain(self.blobs.iter().flatten())
            .filter(|d| d.urls.as_ref().is_none_or(|u| u.is_empty()))
    }

    /// The manifests an index needs.
    pub fn referenced_manifests(&self) -> impl Iterator<Item = &Descriptor> {
        self.manifests.iter().flatten()
    }

    /// What the referrers API reports as this manifest's artifact type:
    /// its `artifactType`, else its config's media type.
    pub fn effective_artifact_type(&self) -> Option<&str> {
        self.artifact_type
            .as_deref()
            .or(self.config.as_ref().map(|c| c.media_type.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
      "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
      "layers":[]}"#;

    #[test]
    fn parses_image_and_artifact_type_falls_back_to_config() {
        let m = Manifest::parse(IMAGE.as_bytes(), None).unwrap();
        assert_eq!(m.media_type(), mt::OCI_MANIFEST);
        assert_eq!(m.effective_artifact_type(), Some(mt::OCI_EMPTY));
        assert_eq!(m.referenced_blobs().count(), 1);
    }

    #[test]
    fn refuses_mismatch_and_unknown() {
        let e = Manifest::parse(IMAGE.as_bytes(), Some(mt::OCI_INDEX)).unwrap_err();
        assert!(matches!(e, ManifestError::MediaTypeMismatch { .. }));
        let e = Manifest::parse(br#"{"mediaType":"text/plain"}"#, None).unwrap_err();
        assert!(matches!(e, ManifestError::UnsupportedMediaType(_)));
        assert!(matches!(
            Manifest::parse(b"{", None),
            Err(ManifestError::Malformed(_))
        ));
        let e = Manifest::parse(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
            None,
        );
        assert_eq!(e.unwrap_err(), ManifestError::MissingField("config"));
    }

    #[test]
    fn artifact_manifest_from_header() {
        let body = br#"{"artifactType":"application/vnd.cncf.notary.signature","blobs":[]}"#;
        let m = Manifest::parse(body, Some(mt::ORAS_ARTIFACT_MANIFEST)).unwrap();
        assert_eq!(m.media_type(), mt::ORAS_ARTIFACT_MANIFEST);
        assert_eq!(m.effective_artifact_type(), Some(mt::NOTARY_SIGNATURE));
    }
}
