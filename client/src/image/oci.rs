//! OCI image layouts (through [`crate::layout::Layout`]) and OCI archives (a layout in a tar,
//! unpacked into a scratch folder first). The manifest is pushed as its exact bytes, so the
//! digest is the layout's; each blob it names is hashed once, in place, and refused when its
//! digest or size is not the manifest's.

use std::path::Path;

use oci_model::{media_type, Manifest};

use super::error::{ImageError, Result};
use super::{Blob, Image};
use crate::layout::Layout;
use crate::remote::digest_file;

/// The image `reference` (a tag or digest of `index.json`; none: its only manifest) of the
/// layout at `dir`; `scratch` is kept alive with the image when the layout is a scratch copy.
pub(super) fn read_layout(
    dir: &Path,
    reference: Option<&str>,
    scratch: Option<tempfile::TempDir>,
) -> Result<Image> {
    let layout = Layout::open(dir)?;
    let mut descriptor = layout.resolve(reference)?;
    let source = format!("oci-layout {}", dir.display());
    if media_type::is_index(&descriptor.media_type) {
        return Err(ImageError::Unsupported {
            source_name: source,
            problem: format!(
                "{} is an image index (several platforms): give the tag or digest of one image manifest (oci:DIR@DIGEST)",
                descriptor.digest
            ),
        });
    }
    let bytes = layout.read_manifest(&descriptor)?;
    let manifest = Manifest::parse(&bytes, Some(&descriptor.media_type)).map_err(|e| {
        ImageError::Unsupported {
            source_name: source.clone(),
            problem: format!("manifest {}: {e}", descriptor.digest),
        }
    })?;
    descriptor.media_type = manifest.media_type().to_string();
    descriptor.platform = None;
    let mut blobs: Vec<Blob> = Vec::new();
    for (i, d) in manifest.referenced_blobs().enumerate() {
        if blobs.iter().any(|b| b.descriptor.digest == d.digest) {
            continue;
        }
        let what = format!("{source}: blob {}", d.digest);
        let path = layout.blob_path(&d.digest);
        if !path.is_file() {
            return Err(ImageError::MissingBlob { what, path });
        }
        let (digest, size) = digest_file(&path)?;
        if size != d.size {
            return Err(ImageError::SizeMismatch {
                what,
                expected: d.size,
                actual: size,
            });
        }
        if digest != d.digest {
            return Err(ImageError::DigestMismatch {
                what,
                expected: d.digest.clone(),
                actual: digest,
            });
        }
        let name = if i == 0 && manifest.config.as_ref() == Some(d) {
            "config".to_string()
        } else {
            d.media_type.clone()
        };
        blobs.push(Blob {
            descriptor: d.clone(),
            path,
            name,
        });
    }
    Ok(Image {
        source,
        manifest: bytes,
        descriptor,
        blobs,
        _scratch: scratch,
    })
}

/// An OCI archive: unpacked (links kept, nothing outside the folder) and read as a layout.
pub(super) fn read_archive(path: &Path) -> Result<Image> {
    let scratch = tempfile::Builder::new()
        .prefix("docker-generate-oci-")
        .tempdir()
        .map_err(|e| ImageError::io(std::env::temp_dir(), e))?;
    let file = std::fs::File::open(path).map_err(|e| ImageError::io(path, e))?;
    let mut archive = tar::Archive::new(file);
    archive.set_preserve_permissions(false);
    archive
        .unpack(scratch.path())
        .map_err(|e| ImageError::NotATar {
            path: path.into(),
            reason: format!("unpacking the OCI archive: {e}"),
        })?;
    let root = scratch.path().to_path_buf();
    let mut image = read_layout(&root, None, Some(scratch))?;
    image.source = format!("oci-archive {}", path.display());
    Ok(image)
}
