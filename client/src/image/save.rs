//! Writing a [`BuiltImage`] as a docker-archive, the tar `docker load` reads, in the shape
//! docker 25+ saves (an OCI layout plus docker's `manifest.json`), so that both `docker load`
//! and the OCI readers (skopeo's `docker-archive:` and `oci-archive:`) take the same file:
//!
//! ```text
//! blobs/sha256/<hex>   config, gzipped layer, manifest
//! index.json           the manifest, once per repo tag (ref.name = the tag, as docker writes)
//! manifest.json        [{"Config": "blobs/sha256/<config>", "RepoTags": [...], "Layers": [...]}]
//! oci-layout
//! ```
//!
//! docker loads gzipped layers from an archive (it sniffs the compression) and checks them
//! against the config's `diff_ids`. The tar is written as the layer is: sorted, one time stamp.

use std::io::Write;
use std::path::Path;

use oci_model::{media_type, Descriptor, Digest};
use serde_json::json;

use super::build::{BuiltImage, Entry, Rootfs};
use super::error::{ImageError, Result};
use crate::layout::{LAYOUT_VERSION, REF_NAME};

/// The annotation containerd (and docker 25+) reads as the image's full name.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

impl BuiltImage {
    /// Writes the archive at `path` (atomically: a temporary file beside it, then a rename).
    /// `repo_tags` are `name:tag` as `docker load` prints them (`nv2-registry:0.1.0`); `mtime`
    /// is every entry's time stamp.
    pub fn write_docker_archive(
        &self,
        path: &Path,
        repo_tags: &[String],
        mtime: u64,
    ) -> Result<()> {
        let tar = self.docker_archive(repo_tags)?.tar(mtime)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| ImageError::io(dir, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ImageError::io(dir, e))?;
        tmp.write_all(&tar).map_err(|e| ImageError::io(path, e))?;
        // A temporary file is 0600; an archive is for others to load.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(|e| ImageError::io(path, e))?;
        }
        tmp.persist(path)
            .map_err(|e| ImageError::io(path, e.error))?;
        Ok(())
    }

    /// The archive's files, as a [`Rootfs`] so that it is written like a layer.
    pub fn docker_archive(&self, repo_tags: &[String]) -> Result<Rootfs> {
        let mut files = Rootfs::new();
        for (descriptor, bytes) in self.blobs() {
            files.insert(&blob_path(&descriptor.digest), Entry::file(bytes, 0o644))?;
        }
        let manifests: Vec<Descriptor> = repo_tags
            .iter()
            .map(|name| {
                let mut d = self.manifest_descriptor.clone();
                let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
                let annotations = d.annotations.get_or_insert_with(Default::default);
                annotations.insert(CONTAINERD_NAME.into(), qualified(name));
                annotations.insert(REF_NAME.into(), tag.into());
                d
            })
            .collect();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": manifests,
        });
        let manifest_json = json!([{
            "Config": blob_path(&self.config_descriptor.digest),
            "RepoTags": repo_tags,
            "Layers": [blob_path(&self.layer_descriptor.digest)],
        }]);
        let layout = json!({ "imageLayoutVersion": LAYOUT_VERSION });
        for (name, value) in [
            ("index.json", index),
            ("manifest.json", manifest_json),
            ("oci-layout", layout),
        ] {
            let bytes = serde_json::to_vec(&value).expect("JSON serialises");
            files.insert(name, Entry::file(bytes, 0o644))?;
        }
        Ok(files)
    }
}

fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().as_str(), digest.hex())
}

/// `nv2-registry:1` → `docker.io/library/nv2-registry:1`, the spelling containerd stores; names
/// with a registry host are kept.
fn qualified(name: &str) -> String {
    let first = name.split('/').next().unwrap_or_default();
    let has_host =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    match (has_host, name.contains('/')) {
        (true, _) => name.to_string(),
        (false, true) => format!("docker.io/{name}"),
        (false, false) => format!("docker.io/library/{name}"),
    }
}
