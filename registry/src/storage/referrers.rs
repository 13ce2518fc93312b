//! The referrers index of the filesystem backend: one small file per
//! (subject, referrer) pair holding the referrer's descriptor, under
//! `_referrers/<subject>/`, plus a write-through in-memory cache of the
//! subjects listed recently.
//!
//! Listing costs O(referrers of that subject): one directory read the first
//! time, a map walk after that. The cache assumes this process is the only
//! writer of the root (as the upload table does).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use oci_model::{Descriptor, Digest};

use super::durable::Disk;
use super::layout::{parse_referrer_file_name, Layout};

/// Upper bound on descriptors kept in memory across all cached subjects.
const CACHE_MAX_ENTRIES: usize = 1_000_000;

type Key = (String, Digest);
type Entries = BTreeMap<Digest, Descriptor>;

#[derive(Default)]
struct Cache {
    subjects: HashMap<Key, Arc<Entries>>,
    entries: usize,
}

/// The index; cheap to share.
pub struct ReferrersIndex {
    layout: Layout,
    disk: Disk,
    cache: tokio::sync::Mutex<Cache>,
}

impl ReferrersIndex {
    pub fn new(layout: Layout, disk: Disk) -> ReferrersIndex {
        ReferrersIndex {
            layout,
            disk,
            cache: tokio::sync::Mutex::new(Cache::default()),
        }
    }

    /// The index file recording `referrer` under `subject`: path and bytes.
    pub fn entry(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Descriptor,
    ) -> io::Result<(PathBuf, Vec<u8>)> {
        let json = serde_json::to_vec(referrer).map_err(io::Error::other)?;
        Ok((self.layout.referrer(repo, subject, &referrer.digest), json))
    }

    /// Records `referrer` under `subject`: runs `write` (which must durably
    /// write [`ReferrersIndex::entry`]), then updates the cache, both under
    /// the index lock so that a concurrent first listing cannot miss it.
    pub async fn add_with(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Descriptor,
        write: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        let mut cache = self.cache.lock().await;
        blocking(write).await?;
        let key = (repo.to_string(), subject.clone());
        if let Some(entries) = cache.subjects.get_mut(&key) {
            if Arc::make_mut(entries)
                .insert(referrer.digest.clone(), referrer.clone())
                .is_none()
            {
                cache.entries += 1;
            }
        }
        Ok(())
    }

    pub async fn remove(&self, repo: &str, subject: &Digest, referrer: &Digest) -> io::Result<()> {
        let mut cache = self.cache.lock().await;
        let path = self.layout.referrer(repo, subject, referrer);
        let disk = self.disk;
        blocking(move || disk.remove(&path)).await?;
        let key = (repo.to_string(), subject.clone());
        if let Some(entries) = cache.subjects.get_mut(&key) {
            if Arc::make_mut(entries).remove(referrer).is_some() {
                cache.entries -= 1;
            }
        }
        Ok(())
    }

    /// The referrers of `subject`, ordered by digest.
    pub async fn list(&self, repo: &str, subject: &Digest) -> io::Result<Arc<Entries>> {
        let key = (repo.to_string(), subject.clone());
        let mut cache = self.cache.lock().await;
        if let Some(e) = cache.subjects.get(&key) {
            return Ok(e.clone());
        }
        // Loaded under the lock so that an add cannot slip between the
        // directory read and the cache insert.
        let dir = self.layout.referrers_dir(repo, subject);
        let entries = Arc::new(blocking(move || load(&dir)).await?);
        if cache.entries + entries.len() > CACHE_MAX_ENTRIES {
            // Crude but bounded: start over rather than track recency.
            cache.subjects.clear();
            cache.entries = 0;
        }
        cache.entries += entries.len();
        cache.subjects.insert(key, entries.clone());
        Ok(entries)
    }
}

fn load(dir: &std::path::Path) -> io::Result<Entries> {
    let mut out = Entries::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in rd {
        let entry = entry?;
        let name = entry.file_name();
        let Some(digest) = name.to_str().and_then(parse_referrer_file_name) else {
            continue;
        };
        let bytes = fs::read(entry.path())?;
        match serde_json::from_slice::<Descriptor>(&bytes) {
            Ok(d) => {
                out.insert(digest, d);
            }
            // Entries are written atomically, so a bad one was put there by
            // hand; skip it rather than fail every listing of this subject.
            Err(e) => {
                tracing::warn!(path = %entry.path().display(), %e, "unreadable referrer entry")
            }
        }
    }
    Ok(out)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
}
