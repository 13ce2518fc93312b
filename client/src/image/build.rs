//! Building an image from nothing, without a container engine: a root filesystem of files and
//! folders ([`Rootfs`]) and a runtime configuration ([`ImageSpec`]) become one gzipped layer, an
//! image config and an OCI image manifest ([`BuiltImage`]), written into an OCI layout
//! ([`BuiltImage::write_layout`]) or a docker-archive ([`BuiltImage::write_docker_archive`]).
//!
//! ```text
//! Rootfs { path → dir | file, mode, uid:gid }   sorted by path, parents added
//!   build(&rootfs, &spec)
//!     layer     tar (fixed mtime, numeric owners, no user names) → gzip (mtime 0, no name)
//!     config    {architecture, os, created, config: spec.config + Labels, rootfs.diff_ids, history}
//!     manifest  {config, layers, annotations}
//! ```
//!
//! Reproducible by construction: the same rootfs and spec give the same bytes, so the same
//! digests. Nothing reads the clock or the machine: every time stamp is `spec.created`, entries
//! are written in path order, owners are numbers, and JSON comes from `serde_json` with a fixed
//! field order. Everything is held in memory: the images this is for are a binary or two.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::{Compression, GzBuilder};
use oci_model::{media_type, Descriptor, Digest};
use serde_json::{json, Value};

use super::error::{ImageError, Result};
use crate::layout::Layout;

/// What a rootfs entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(Vec<u8>),
}

/// One file or folder of a [`Rootfs`], with its permission bits and numeric owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

impl Entry {
    /// A folder owned by root.
    pub fn dir(mode: u32) -> Entry {
        Entry {
            kind: EntryKind::Dir,
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// A regular file owned by root.
    pub fn file(bytes: impl Into<Vec<u8>>, mode: u32) -> Entry {
        Entry {
            kind: EntryKind::File(bytes.into()),
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// The same entry owned by `uid:gid`.
    pub fn owned_by(self, uid: u64, gid: u64) -> Entry {
        Entry { uid, gid, ..self }
    }
}

/// A root filesystem: relative paths (no leading `/`) to entries, kept sorted so that the tar is
/// written in one order whatever order the entries were added in.
#[derive(Debug, Clone, Default)]
pub struct Rootfs {
    entries: BTreeMap<String, Entry>,
}

impl Rootfs {
    pub fn new() -> Rootfs {
        Rootfs::default()
    }

    /// Adds (or replaces) the entry at `path` (`/etc/passwd` and `etc/passwd` are the same);
    /// missing parent folders are added as root's `0755` folders, because tar readers create
    /// them with their own defaults otherwise.
    pub fn insert(&mut self, path: &str, entry: Entry) -> Result<&mut Rootfs> {
        let path = normalise(path)?;
        let mut parent = path.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            self.entries
                .entry(up.to_string())
                .or_insert_with(|| Entry::dir(0o755));
            parent = up;
        }
        self.entries.insert(path, entry);
        Ok(self)
    }

    /// The paths, in the order the tar lists them.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The entry at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(normalise(path).ok()?.as_str())
    }

    /// The uncompressed tar: every entry in path order, every time stamp `mtime`, owners as
    /// numbers with empty user and group names (so the build machine's `/etc/passwd` does not
    /// leak in), folders as `path/`.
    pub fn tar(&self, mtime: u64) -> Result<Vec<u8>> {
        let io = |e| ImageError::io("<layer tar in memory>", e);
        let mut builder = tar::Builder::new(Vec::new());
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(entry.mode);
            header.set_uid(entry.uid);
            header.set_gid(entry.gid);
            header.set_mtime(mtime);
            match &entry.kind {
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder
                        .append_data(&mut header, format!("{path}/"), std::io::empty())
                        .map_err(io)?;
                }
                EntryKind::File(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(bytes.len() as u64);
                    builder
                        .append_data(&mut header, path, bytes.as_slice())
                        .map_err(io)?;
                }
            }
        }
        builder.into_inner().map_err(io)
    }
}

/// `/a/b` and `a/b` → `a/b`; refuses empty paths, `.`/`..` segments and doubled slashes, which
/// would make two spellings of one entry.
fn normalise(path: &str) -> Result<String> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let bad = trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(ImageError::RootfsPath {
            path: path.to_string(),
        });
    }
    Ok(trimmed.to_string())
}

/// The parts of an image that are not files.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// GOARCH spelling: `amd64`, `arm64`.
    pub architecture: String,
    pub os: String,
    /// Unix seconds: the config's `created`, its history entry and every layer entry's mtime.
    pub created: u64,
    /// The config's `config` object (`Entrypoint`, `Env`, `ExposedPorts`, `Volumes`, `User`, …).
    pub config: Value,
    /// The manifest's annotations, also the config's `Labels` (docker shows only labels).
    pub annotations: BTreeMap<String, String>,
    /// The history entry's `created_by`: what made the layer.
    pub created_by: String,
}

/// An image held in memory: each blob's bytes and descriptor.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub manifest: Vec<u8>,
    /// Media type, digest and size of the manifest, with the platform (as an index lists it).
    pub manifest_descriptor: Descriptor,
    pub config: Vec<u8>,
    pub config_descriptor: Descriptor,
    pub layer: Vec<u8>,
    pub layer_descriptor: Descriptor,
    /// The digest of the uncompressed layer tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
}

/// The gzip stream of `bytes` with a fixed header: mtime 0 and no file name, which is what
/// would otherwise differ between two builds of the same tar.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let io = |e| ImageError::io("<gzip in memory>", e);
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::default());
    encoder.write_all(bytes).map_err(io)?;
    encoder.finish().map_err(io)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of unix seconds: the spelling of the config's `created` (and of the
/// `org.opencontainers.image.created` annotation callers write beside it).
pub fn rfc3339(unix_seconds: u64) -> Option<String> {
    verifier_core::sign::format_rfc3339(unix_seconds).ok()
}

/// Builds the layer, config and manifest of a one-layer image.
pub fn build(rootfs: &Rootfs, spec: &ImageSpec) -> Result<BuiltImage> {
    let tar = rootfs.tar(spec.created)?;
    let diff_id = Digest::sha256_of(&tar);
    let layer = gzip(&tar)?;
    let layer_descriptor = Descriptor::new(
        media_type::OCI_LAYER_GZIP,
        Digest::sha256_of(&layer),
        layer.len() as u64,
    );

    let created = rfc3339(spec.created).ok_or_else(|| ImageError::Unsupported {
        source_name: "image spec".into(),
        problem: format!("created {} is not a time RFC 3339 can write", spec.created),
    })?;
    let mut runtime = match &spec.config {
        Value::Object(map) => map.clone(),
        Value::Null => Default::default(),
        other => {
            return Err(ImageError::Unsupported {
                source_name: "image spec".into(),
                problem: format!("config must be a JSON object, not {other}"),
            })
        }
    };
    if !spec.annotations.is_empty() {
        runtime.insert("Labels".into(), json!(spec.annotations));
    }
    let config = serde_json::to_vec(&json!({
        "architecture": spec.architecture,
        "os": spec.os,
        "created": created,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": spec.created_by}],
    }))
    .expect("a config serialises");
    let config_descriptor = Descriptor::new(
        media_type::OCI_IMAGE_CONFIG,
        Digest::sha256_of(&config),
        config.len() as u64,
    );

    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": config_descriptor,
        "layers": [layer_descriptor],
    });
    if !spec.annotations.is_empty() {
        manifest["annotations"] = json!(spec.annotations);
    }
    let manifest = serde_json::to_vec(&manifest).expect("a manifest serialises");
    let mut manifest_descriptor = Descriptor::new(
        media_type::OCI_MANIFEST,
        Digest::sha256_of(&manifest),
        manifest.len() as u64,
    );
    manifest_descriptor.platform = Some(json!({"architecture": spec.architecture, "os": spec.os}));

    Ok(BuiltImage {
        manifest,
        manifest_descriptor,
        config,
        config_descriptor,
        layer,
        layer_descriptor,
        diff_id,
    })
}

impl BuiltImage {
    /// The three blobs, config and layer before the manifest that names them (a reader that
    /// finds the manifest finds its blobs).
    pub fn blobs(&self) -> [(&Descriptor, &[u8]); 3] {
        [
            (&self.config_descriptor, &self.config),
            (&self.layer_descriptor, &self.layer),
            (&self.manifest_descriptor, &self.manifest),
        ]
    }

    /// Writes the blobs into `layout` and points each of `tags` at the manifest.
    pub fn write_layout(&self, layout: &Layout, tags: &[&str]) -> Result<()> {
        for (descriptor, bytes) in self.blobs() {
            layout.write_blob_bytes(descriptor, bytes)?;
        }
        for tag in tags {
            layout.tag(&self.manifest_descriptor, tag)?;
        }
        if tags.is_empty() {
            layout.add_untagged(&self.manifest_descriptor)?;
        }
        Ok(())
    }
}
