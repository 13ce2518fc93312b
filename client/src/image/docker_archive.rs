//! `docker save` archives, read through `manifest.json` whatever the layout around it:
//!
//! ```text
//! legacy (docker < 25)   manifest.json  <id>.json (config)  <id>/layer.tar
//! docker 25+             manifest.json  blobs/sha256/<hex> (config and layers)  index.json …
//! skopeo docker-archive  manifest.json  <hex>.json  <hex>.tar  (links from legacy names)
//! ```
//!
//! `manifest.json` is `[{"Config": PATH, "RepoTags": [...], "Layers": [PATH, ...]}]`; each path
//! is read by offset (links followed), the layers streamed into scratch files and hashed once.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use oci_model::{media_type, Descriptor, Digest};
use serde::{Deserialize, Serialize};

use super::error::{ImageError, Result};
use super::tar_index::TarIndex;
use super::{Blob, Image, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP};

/// The largest `manifest.json` or config read into memory.
const SMALL_LIMIT: u64 = 8 * 1024 * 1024;

/// One image of `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// A descriptor in the field order docker's distribution library writes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DockerDescriptor<'a> {
    media_type: &'a str,
    size: u64,
    digest: &'a Digest,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DockerManifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: DockerDescriptor<'a>,
    layers: Vec<DockerDescriptor<'a>>,
}

/// Reads the one image of the archive at `path` (indexed as `index`).
pub(super) fn read(path: &Path, index: &TarIndex) -> Result<Image> {
    let bad = |problem: String| ImageError::BadArchive {
        path: path.into(),
        entry: "manifest.json".into(),
        problem,
    };
    let text = index.read_small("manifest.json", SMALL_LIMIT)?;
    let mut entries: Vec<Entry> = serde_json::from_slice(&text).map_err(|e| {
        bad(format!(
            "not docker's manifest.json ([{{\"Config\", \"RepoTags\", \"Layers\"}}]): {e}"
        ))
    })?;
    let entry = match entries.len() {
        0 => return Err(bad("lists no image".into())),
        1 => entries.remove(0),
        n => {
            let names: Vec<String> = entries
                .iter()
                .map(|e| e.repo_tags.clone().unwrap_or_default().join(","))
                .collect();
            return Err(ImageError::Unsupported {
                source_name: path.display().to_string(),
                problem: format!(
                    "the archive holds {n} images ({}): save one image per archive",
                    names.join("; ")
                ),
            });
        }
    };
    let scratch = tempfile::Builder::new()
        .prefix("docker-generate-")
        .tempdir()
        .map_err(|e| ImageError::io(std::env::temp_dir(), e))?;

    let config_bytes = index.read_small(&entry.config, SMALL_LIMIT)?;
    serde_json::from_slice::<serde_json::Value>(&config_bytes)
        .ok()
        .filter(|v| v.is_object())
        .ok_or_else(|| ImageError::BadArchive {
            path: path.into(),
            entry: entry.config.clone(),
            problem: "the image config is not a JSON object".into(),
        })?;
    let config = Descriptor::new(
        DOCKER_CONFIG,
        Digest::sha256_of(&config_bytes),
        config_bytes.len() as u64,
    );
    let config_path = scratch.path().join("config.json");
    std::fs::write(&config_path, &config_bytes).map_err(|e| ImageError::io(&config_path, e))?;
    let mut blobs = vec![Blob {
        descriptor: config,
        path: config_path,
        name: "config".into(),
    }];

    let mut layers = Vec::new();
    for (i, name) in entry.layers.iter().enumerate() {
        let out_path = scratch.path().join(format!("layer-{i}"));
        let mut out = std::fs::File::create(&out_path).map_err(|e| ImageError::io(&out_path, e))?;
        let copied = index.copy_to(name, &mut out, &out_path)?;
        out.flush().map_err(|e| ImageError::io(&out_path, e))?;
        let media = if copied.gzip {
            DOCKER_LAYER_GZIP
        } else {
            DOCKER_LAYER
        };
        let descriptor = Descriptor::new(media, copied.digest, copied.size);
        layers.push(descriptor.clone());
        // A layer listed twice is one blob.
        if !blobs
            .iter()
            .any(|b| b.descriptor.digest == descriptor.digest)
        {
            blobs.push(Blob {
                descriptor,
                path: out_path,
                name: name.clone(),
            });
        }
    }

    let manifest = DockerManifest {
        schema_version: 2,
        media_type: media_type::DOCKER_MANIFEST,
        config: docker_descriptor(&blobs[0].descriptor),
        layers: layers.iter().map(docker_descriptor).collect(),
    };
    let bytes = Bytes::from(docker_json(&manifest));
    let descriptor = Descriptor::new(
        media_type::DOCKER_MANIFEST,
        Digest::sha256_of(&bytes),
        bytes.len() as u64,
    );
    Ok(Image {
        source: format!("docker-archive {}", path.display()),
        manifest: bytes,
        descriptor,
        blobs,
        _scratch: Some(scratch),
    })
}

fn docker_descriptor(d: &Descriptor) -> DockerDescriptor<'_> {
    DockerDescriptor {
        media_type: &d.media_type,
        size: d.size,
        digest: &d.digest,
    }
}

/// JSON as Go's `json.MarshalIndent(v, "", "   ")` writes it (docker's schema2 manifests).
fn docker_json(value: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut ser).expect("a manifest serialises");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_written_as_docker_writes_them() {
        let d = Descriptor::new(DOCKER_CONFIG, Digest::sha256_of(b"{}"), 2);
        let m = DockerManifest {
            schema_version: 2,
            media_type: media_type::DOCKER_MANIFEST,
            config: docker_descriptor(&d),
            layers: vec![],
        };
        let text = String::from_utf8(docker_json(&m)).unwrap();
        let expected = format!(
            "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{}\",\n   \"config\": {{\n      \"mediaType\": \"{DOCKER_CONFIG}\",\n      \"size\": 2,\n      \"digest\": \"{}\"\n   }},\n   \"layers\": []\n}}",
            media_type::DOCKER_MANIFEST,
            d.digest
        );
        assert_eq!(text, expected);
    }
}
