//! The filesystem backend: the embedded default. See `layout.rs` for the
//! tree; blocking file work runs on tokio's blocking pool.

use std::fs;
use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use oci_model::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::blocking;
use super::durable::Disk;
use super::layout::Layout;
use super::referrers::ReferrersIndex;
use super::uploads::UploadArea;
use super::{
    ByteStream, ManifestPut, Referrers, Storage, StorageError, StorageResult, StoredManifest,
    UploadStatus,
};

/// Read buffer for blob downloads.
const READ_CHUNK: usize = 1 << 20;

/// Options of the filesystem backend.
#[derive(Clone, Copy, Debug)]
pub struct FsOptions {
    /// Largest blob accepted (0: no limit).
    pub max_blob_bytes: u64,
    /// fsync files and directories before acknowledging (the default). Off
    /// trades power-loss durability for speed; see `durable.rs`.
    pub fsync: bool,
}

impl Default for FsOptions {
    fn default() -> FsOptions {
        FsOptions {
            max_blob_bytes: 0,
            fsync: true,
        }
    }
}

/// Storage in a directory tree.
pub struct FsStorage {
    layout: Layout,
    disk: Disk,
    uploads: UploadArea,
    referrers: ReferrersIndex,
}

impl FsStorage {
    /// Opens (creating if needed) a storage root. Leftover temp files from a
    /// crash are removed; upload sessions on disk are taken back.
    pub fn open(root: impl Into<PathBuf>, max_blob_bytes: u64) -> io::Result<FsStorage> {
        FsStorage::open_with(
            root,
            FsOptions {
                max_blob_bytes,
                ..FsOptions::default()
            },
        )
    }

    /// [`FsStorage::open`] with every option.
    pub fn open_with(root: impl Into<PathBuf>, opts: FsOptions) -> io::Result<FsStorage> {
        let layout = Layout::new(root);
        let disk = Disk { fsync: opts.fsync };
        disk.ensure_dir(layout.root())?;
        disk.ensure_dir(&layout.repositories_dir())?;
        disk.ensure_dir(&layout.uploads_dir())?;
        let tmp = layout.tmp_dir();
        // Anything in tmp/ was never published: a crash interrupted it.
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        disk.ensure_dir(&tmp)?;
        let uploads = UploadArea::open(layout.clone(), disk, opts.max_blob_bytes)?;
        let referrers = ReferrersIndex::new(layout.clone(), disk);
        Ok(FsStorage {
            layout,
            disk,
            uploads,
            referrers,
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

/// Makes the fsynced file `src` the blob `digest` and links it into `repo`.
pub(super) fn publish_blob(
    layout: &Layout,
    disk: Disk,
    src: &Path,
    repo: &str,
    digest: &Digest,
) -> io::Result<()> {
    let dest = layout.blob(digest);
    if dest.exists() {
        // Same digest, same bytes: the existing copy serves.
        fs::remove_file(src)?;
    } else {
        disk.publish(src, &dest)?;
    }
    link_blob(layout, disk, repo, digest)
}

/// Records durably that `repo` holds `digest`.
fn link_blob(layout: &Layout, disk: Disk, repo: &str, digest: &Digest) -> io::Result<()> {
    let link = layout.blob_link(repo, digest);
    if link.exists() {
        return Ok(());
    }
    disk.write_atomic(&layout.tmp_dir(), &link, &[])
}

fn read_opt(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn list_dir_names(dir: &Path) -> io::Result<Option<Vec<String>>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for e in rd {
        names.push(e?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(Some(names))
}

/// Walks `repositories/` for directories that hold `_manifests` or `_layers`.
fn walk_repos(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let Some(names) = list_dir_names(dir)? else {
        return Ok(());
    };
    for name in names {
        if name.starts_with('_') {
            continue;
        }
        let path = dir.join(&name);
        if !path.is_dir() {
            continue;
        }
        let full = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if path.join("_manifests").is_dir() || path.join("_layers").is_dir() {
            out.push(full.clone());
        }
        walk_repos(&path, &full, out)?;
    }
    Ok(())
}

#[async_trait]
impl Storage for FsStorage {
    async fn blob_size(&self, repo: &str, digest: &Digest) -> StorageResult<Option<u64>> {
        let link = self.layout.blob_link(repo, digest);
        let blob = self.layout.blob(digest);
        Ok(blocking(move || {
            if !link.exists() {
                return Ok(None);
            }
            match fs::metadata(&blob) {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?)
    }

    async fn blob_read(
        &self,
        repo: &str,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> StorageResult<ByteStream> {
        if !self.layout.blob_link(repo, digest).exists() {
            return Err(StorageError::BlobUnknown);
        }
        let mut file = match tokio::fs::File::open(self.layout.blob(digest)).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StorageError::BlobUnknown),
            Err(e) => return Err(e.into()),
        };
        let stream = match range {
            Some(r) => {
                file.seek(SeekFrom::Start(r.start)).await?;
                ReaderStream::with_capacity(file.take(r.end - r.start), READ_CHUNK).boxed()
            }
            None => ReaderStream::with_capacity(file, READ_CHUNK).boxed(),
        };
        Ok(stream)
    }

    async fn blob_mount(&self, repo: &str, from: &str, digest: &Digest) -> StorageResult<bool> {
        if self.blob_size(from, digest).await?.is_none() {
            return Ok(false);
        }
        let (layout, repo, digest) = (self.layout.clone(), repo.to_string(), digest.clone());
        let disk = self.disk;
        blocking(move || link_blob(&layout, disk, &repo, &digest)).await?;
        Ok(true)
    }

    async fn blob_delete(&self, repo: &str, digest: &Digest) -> StorageResult<bool> {
        // Only the repository's link goes: other repositories may hold the
        // same bytes. Unreferenced blob files are left for a later GC.
        let (link, disk) = (self.layout.blob_link(repo, digest), self.disk);
        Ok(blocking(move || disk.remove(&link)).await?)
    }

    async fn upload_create(&self, repo: &str) -> StorageResult<String> {
        self.uploads.create(repo).await
    }

    async fn upload_status(&self, repo: &str, id: &str) -> StorageResult<UploadStatus> {
        self.uploads.status(repo, id).await
    }

    async fn upload_append(
        &self,
        repo: &str,
        id: &str,
        body: ByteStream,
    ) -> StorageResult<UploadStatus> {
        self.uploads.append(repo, id, body).await
    }

    async fn upload_commit(&self, repo: &str, id: &str, digest: &Digest) -> StorageResult<u64> {
        self.uploads.commit(repo, id, digest).await
    }

    async fn upload_cancel(&self, repo: &str, id: &str) -> StorageResult<()> {
        self.uploads.cancel(repo, id).await
    }

    fn upload_count(&self) -> usize {
        self.uploads.count()
    }

    async fn upload_expire(&self, ttl: Duration) -> StorageResult<usize> {
        self.uploads.expire(ttl).await
    }

    async fn manifest_read(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> StorageResult<Option<StoredManifest>> {
        let path = self.layout.manifest(repo, digest);
        let Some(raw) = blocking(move || read_opt(&path)).await? else {
            return Ok(None);
        };
        let Some(nl) = raw.iter().position(|&b| b == b'\n') else {
            return Err(io::Error::other(format!("corrupt manifest record for {digest}")).into());
        };
        let media_type = String::from_utf8_lossy(&raw[..nl]).into_owned();
        let bytes = bytes::Bytes::from(raw).slice(nl + 1..);
        Ok(Some(StoredManifest { media_type, bytes }))
    }

    async fn manifest_put(&self, repo: &str, put: ManifestPut<'_>) -> StorageResult<()> {
        let m = put.manifest;
        let mut record = Vec::with_capacity(m.media_type.len() + 1 + m.bytes.len());
        record.extend_from_slice(m.media_type.as_bytes());
        record.push(b'\n');
        record.extend_from_slice(&m.bytes);
        // Visible in this order: manifest, index entry, tag. A crash in
        // between leaves a manifest that a retried PUT completes, never an
        // entry or a tag pointing at nothing.
        let mut files = vec![(self.layout.manifest(repo, put.digest), record)];
        if let Some((subject, desc)) = put.referrer {
            files.push(self.referrers.entry(repo, subject, desc)?);
        }
        if let Some(tag) = put.tag {
            files.push((
                self.layout.tag(repo, tag),
                put.digest.to_string().into_bytes(),
            ));
        }
        let (tmp, disk) = (self.layout.tmp_dir(), self.disk);
        let write = move || disk.write_atomic_batch(&tmp, &files);
        match put.referrer {
            Some((subject, desc)) => self.referrers.add_with(repo, subject, desc, write).await?,
            None => blocking(write).await?,
        }
        Ok(())
    }

    async fn manifest_delete(&self, repo: &str, digest: &Digest) -> StorageResult<bool> {
        let (path, disk) = (self.layout.manifest(repo, digest), self.disk);
        Ok(blocking(move || disk.remove(&path)).await?)
    }

    async fn tag_read(&self, repo: &str, tag: &str) -> StorageResult<Option<Digest>> {
        let path = self.layout.tag(repo, tag);
        let Some(raw) = blocking(move || read_opt(&path)).await? else {
            return Ok(None);
        };
        let s = String::from_utf8_lossy(&raw);
        let d = s
            .trim()
            .parse()
            .map_err(|e| io::Error::other(format!("corrupt tag {tag}: {e}")))?;
        Ok(Some(d))
    }

    async fn tag_delete(&self, repo: &str, tag: &str) -> StorageResult<bool> {
        let (path, disk) = (self.layout.tag(repo, tag), self.disk);
        Ok(blocking(move || disk.remove(&path)).await?)
    }

    async fn tags(&self, repo: &str) -> StorageResult<Option<Vec<String>>> {
        let (repo_dir, tags_dir) = (self.layout.repo(repo), self.layout.tags_dir(repo));
        Ok(blocking(move || {
            if !repo_dir.join("_manifests").is_dir() && !repo_dir.join("_layers").is_dir() {
                return Ok(None);
            }
            Ok(Some(list_dir_names(&tags_dir)?.unwrap_or_default()))
        })
        .await?)
    }

    async fn repositories(&self) -> StorageResult<Vec<String>> {
        let dir = self.layout.repositories_dir();
        Ok(blocking(move || {
            let mut out = Vec::new();
            walk_repos(&dir, "", &mut out)?;
            out.sort();
            Ok(out)
        })
        .await?)
    }

    async fn referrer_remove(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Digest,
    ) -> StorageResult<()> {
        Ok(self.referrers.remove(repo, subject, referrer).await?)
    }

    async fn referrers(&self, repo: &str, subject: &Digest) -> StorageResult<Referrers> {
        Ok(self.referrers.list(repo, subject).await?)
    }
}
