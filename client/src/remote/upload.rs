//! Pushing a file whose digest is not known yet. Hashing a large file before sending it costs one
//! whole read before the first byte leaves; here the two run side by side: the chunked upload
//! starts at once while a blocking task hashes the file, and as soon as the digest is known a
//! `HEAD` asks whether the registry already has the blob (then the upload session is cancelled
//! and the blob reported `Exists`). What a blob the registry has costs is bounded by the hashing
//! time; the bytes sent in vain are what went through meanwhile. Files up to one chunk are hashed
//! first, as before: their single `PUT` names the digest.

use std::path::{Path, PathBuf};

use futures_util::FutureExt;
use oci_model::{Descriptor, Digest};
use reqwest::Method;
use tokio::task::JoinHandle;

use super::blob::{digest_file, BlobPush, Transfer, CHUNK};
use super::error::{Error, Result};
use super::Repository;

type Hashing = JoinHandle<Result<(Digest, u64)>>;

impl Repository {
    /// Pushes the file at `path` as a blob of `media_type`; its descriptor (digest and size, read
    /// once while hashing) and how it got there.
    pub async fn push_file(
        &self,
        path: &Path,
        media_type: &str,
        name: &str,
        progress: &dyn Transfer,
    ) -> Result<(Descriptor, BlobPush)> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::io(path.display(), e))?
            .len();
        let hashing = hash_in_background(path);
        if size <= CHUNK {
            let descriptor = hashed(hashing.await, media_type, size, path)?;
            let pushed = self
                .push_blob_file(&descriptor, path, name, None, progress)
                .await?;
            return Ok((descriptor, pushed));
        }
        self.push_file_hashing(path, media_type, name, size, hashing, progress)
            .await
    }

    async fn push_file_hashing(
        &self,
        path: &Path,
        media_type: &str,
        name: &str,
        size: u64,
        hashing: Hashing,
        progress: &dyn Transfer,
    ) -> Result<(Descriptor, BlobPush)> {
        let what = format!("upload {name} to {}/{}", self.registry, self.name);
        let mut location = self
            .start_upload(&what, None)
            .await?
            .expect("no mount asked");
        let mut hashing = Some(hashing);
        let mut known: Option<Descriptor> = None;
        let mut offset = 0u64;
        loop {
            let len = (size - offset).min(CHUNK);
            let last = offset + len >= size;
            if let Some(task) = hashing.as_mut() {
                // The closing PUT names the digest: wait for it there, look in passing before.
                let joined = if last {
                    Some(task.await)
                } else {
                    task.now_or_never()
                };
                if let Some(joined) = joined {
                    hashing = None;
                    let descriptor = hashed(joined, media_type, size, path)?;
                    if self.blob_exists(&descriptor.digest).await? {
                        self.cancel_upload(&location).await;
                        progress.end(&descriptor, name, "Exists");
                        return Ok((descriptor, BlobPush::Exists));
                    }
                    progress.begin(&descriptor, name, "Uploading");
                    progress.advance(&descriptor, offset);
                    known = Some(descriptor);
                }
            }
            if last {
                let descriptor = known.expect("hashed above");
                let content = super::blob::Content::File { path, offset, len };
                self.finish_upload(&what, &location, &descriptor.digest, content)
                    .await?;
                progress.advance(&descriptor, len);
                progress.end(&descriptor, name, "Uploaded");
                return Ok((descriptor, BlobPush::Uploaded));
            }
            location = self
                .patch_chunk(&what, &location, path, offset, len)
                .await?;
            if let Some(descriptor) = &known {
                progress.advance(descriptor, len);
            }
            offset += len;
        }
    }

    /// `DELETE` of an upload session nobody will finish; the registry expires it anyway, so a
    /// failure here changes nothing.
    async fn cancel_upload(&self, location: &str) {
        let what = format!("cancel an upload to {}/{}", self.registry, self.name);
        let _ = self
            .send(true, &what, || Ok(self.request(Method::DELETE, location)))
            .await;
    }
}

fn hash_in_background(path: &Path) -> Hashing {
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || digest_file(&path))
}

/// The hashing task's answer as the blob's descriptor; the file must not have changed size since
/// the upload started.
fn hashed(
    joined: std::result::Result<Result<(Digest, u64)>, tokio::task::JoinError>,
    media_type: &str,
    size: u64,
    path: &Path,
) -> Result<Descriptor> {
    let (digest, hashed_size) = joined.map_err(|e| Error::Invalid(format!("hashing: {e}")))??;
    if hashed_size != size {
        return Err(Error::Invalid(format!(
            "{}: it changed while it was pushed ({size} bytes, then {hashed_size})",
            path.display()
        )));
    }
    Ok(Descriptor::new(media_type, digest, size))
}
