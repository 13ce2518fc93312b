//! Images read from local sources, ready to push: a `docker save` tar (every layout docker and
//! skopeo write), an OCI image layout folder, an OCI archive (a tar of a layout), or, when a
//! Docker engine answers, a local image name read through `docker save`.
//!
//! ```text
//! Source::parse(arg)        oci:DIR[:TAG] | DIR with oci-layout | FILE (tar, sniffed) | NAME
//!   read(&source, engine)   → Image { manifest bytes + descriptor, blobs (file, descriptor) }
//!     docker_archive        manifest.json → config + layer tars → a Docker v2 schema 2 manifest
//!     oci                   index.json → the manifest as it is (its digest kept)
//!     engine                `docker save` into a scratch file, then docker_archive
//! ```
//!
//! Every blob is hashed exactly once, while it is read (a tar entry is streamed into a scratch
//! file on the way; a layout's blob is hashed in place), and the [`Image`] lists exactly those
//! blobs, so the push uploads what was hashed and nothing else. No layer is held in memory.
//!
//! Why Docker v2 schema 2 for a docker-archive: it is what `docker push` makes of the same
//! content (config `application/vnd.docker.container.image.v1+json`, layers as they are in the
//! tar), serialised as docker's distribution library does (three-space indent, `size` before
//! `digest`), so the digest printed is the one `docker push` would produce for uncompressed
//! layers. An OCI layout or archive already holds a manifest: it is pushed byte for byte.
//!
//! The other way, [`build`] makes an image from a root filesystem and a config (no engine), and
//! [`save`] writes it as a docker-archive: `cargo run -p xtask -- image` builds nv2-registry's.

pub mod build;
mod docker_archive;
pub mod engine;
mod error;
mod oci;
pub mod save;
mod tar_index;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use oci_model::Descriptor;

pub use build::{build, BuiltImage, Entry, EntryKind, ImageSpec, Rootfs};
pub use engine::Engine;
pub use error::{ImageError, Result};

/// Docker's image config media type (Docker v2 schema 2).
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// An uncompressed layer tar, Docker v2 schema 2.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// A gzip-compressed layer tar, Docker v2 schema 2.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A tar file: a `docker save` archive or an OCI archive, told apart by content.
    Archive(PathBuf),
    /// An OCI image layout folder and the tag or digest in its `index.json` (none: its only
    /// manifest).
    Layout {
        dir: PathBuf,
        reference: Option<String>,
    },
    /// A name for the local Docker engine (`docker save NAME`).
    Engine(String),
}

impl Source {
    /// `oci:DIR[:TAG|@DIGEST]`, a folder holding `oci-layout`, an existing file, else an image
    /// name for the engine.
    pub fn parse(arg: &str) -> Result<Source> {
        if let Some(rest) = arg.strip_prefix("oci:") {
            let (dir, reference) = split_layout_reference(rest);
            return Ok(Source::Layout {
                dir: PathBuf::from(dir),
                reference,
            });
        }
        let path = Path::new(arg);
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                if path.join("oci-layout").is_file() {
                    Ok(Source::Layout {
                        dir: path.to_path_buf(),
                        reference: None,
                    })
                } else {
                    Err(ImageError::NotALayout {
                        path: path.to_path_buf(),
                    })
                }
            }
            Ok(_) => Ok(Source::Archive(path.to_path_buf())),
            Err(_) => Ok(Source::Engine(arg.to_string())),
        }
    }
}

/// `DIR:TAG` / `DIR@DIGEST` / `DIR` (a colon followed by a `/` stays part of the folder).
fn split_layout_reference(rest: &str) -> (&str, Option<String>) {
    if let Some((dir, digest)) = rest.rsplit_once('@') {
        return (dir, Some(digest.to_string()));
    }
    match rest.rsplit_once(':') {
        Some((dir, tag)) if !tag.contains('/') && !dir.is_empty() => (dir, Some(tag.to_string())),
        _ => (rest, None),
    }
}

/// One blob of an image: its descriptor and the file that holds exactly its bytes.
#[derive(Debug, Clone)]
pub struct Blob {
    pub descriptor: Descriptor,
    pub path: PathBuf,
    /// What progress lines call it (`config`, the layer's name in the source).
    pub name: String,
}

/// An image ready to push: its manifest (exact bytes) and the blobs it names.
#[derive(Debug)]
pub struct Image {
    /// How the source was read (`docker-archive FILE`, `oci-layout DIR`, …).
    pub source: String,
    pub manifest: Bytes,
    /// The manifest's media type, digest and size.
    pub descriptor: Descriptor,
    /// The config first, then the layers, each once.
    pub blobs: Vec<Blob>,
    /// Holds the scratch files the blobs live in (removed when the image goes).
    _scratch: Option<tempfile::TempDir>,
}

/// Reads the image `source` names; `engine` is where a local image name is looked up.
pub fn read(source: &Source, engine: &Engine) -> Result<Image> {
    match source {
        Source::Archive(path) => read_archive(path),
        Source::Layout { dir, reference } => oci::read_layout(dir, reference.as_deref(), None),
        Source::Engine(name) => engine.save(name, read_archive),
    }
}

/// A tar file: `manifest.json` makes it a docker-archive (docker 25+ archives also carry an OCI
/// layout, but `manifest.json` is what every docker and skopeo version writes), else
/// `oci-layout` an OCI archive.
fn read_archive(path: &Path) -> Result<Image> {
    let index = tar_index::TarIndex::read(path)?;
    if index.contains("manifest.json") {
        docker_archive::read(path, &index)
    } else if index.contains("oci-layout") {
        oci::read_archive(path)
    } else {
        Err(ImageError::UnknownArchive {
            path: path.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod build_tests;
#[cfg(test)]
mod tests;
