//! The referrers index of the filesystem backend: one small file per
//! (subject, referrer) pair holding the referrer's descriptor, under
//! `_referrers/<subject>/`, plus a write-through in-memory cache of the
//! subjects listed recently.
//!
//! Listing costs O(referrers of that subject): one directory read the first
//! time, a map lookup after that. Writes never wait for each other here:
//! each add or remove writes its own file, then updates the cache under a
//! short lock. A subject being loaded from disk has a `Loading` slot that
//! collects the changes made meanwhile, which are replayed onto the loaded
//! map, so a listing never misses a write that completed before it began.
//! The cache assumes this process is the only writer of the root (as the
//! upload table does).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use oci_model::{Descriptor, Digest};

use super::blocking;
use super::durable::Disk;
use super::layout::{parse_referrer_file_name, Layout};

/// Upper bound on descriptors kept in memory across all cached subjects.
const CACHE_MAX_ENTRIES: usize = 1_000_000;

type Key = (String, Digest);
type Entries = BTreeMap<Digest, Descriptor>;

/// A change to one subject's referrers.
enum Change {
    Add(Descriptor),
    Remove(Digest),
}

impl Change {
    fn apply(self, entries: &mut Entries) -> isize {
        match self {
            Change::Add(d) => entries.insert(d.digest.clone(), d).is_none() as isize,
            Change::Remove(d) => -(entries.remove(&d).is_some() as isize),
        }
    }
}

enum Slot {
    Ready(Arc<Entries>),
    /// Being read from disk; changes made meanwhile wait here.
    Loading(Vec<Change>),
}

#[derive(Default)]
struct Cache {
    subjects: HashMap<Key, Slot>,
    entries: usize,
}

impl Cache {
    fn record(&mut self, key: &Key, change: Change) {
        match self.subjects.get_mut(key) {
            Some(Slot::Ready(entries)) => {
                let delta = change.apply(Arc::make_mut(entries));
                self.entries = self.entries.saturating_add_signed(delta);
            }
            Some(Slot::Loading(pending)) => pending.push(change),
            None => {}
        }
    }
}

/// The index; cheap to share.
pub struct ReferrersIndex {
    layout: Layout,
    disk: Disk,
    cache: Mutex<Cache>,
}

impl ReferrersIndex {
    pub fn new(layout: Layout, disk: Disk) -> ReferrersIndex {
        ReferrersIndex {
            layout,
            disk,
            cache: Mutex::new(Cache::default()),
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
    /// write [`ReferrersIndex::entry`]), then updates the cache.
    pub async fn add_with(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Descriptor,
        write: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        blocking(write).await?;
        let key = (repo.to_string(), subject.clone());
        self.cache
            .lock()
            .unwrap()
            .record(&key, Change::Add(referrer.clone()));
        Ok(())
    }

    pub async fn remove(&self, repo: &str, subject: &Digest, referrer: &Digest) -> io::Result<()> {
        let (path, disk) = (self.layout.referrer(repo, subject, referrer), self.disk);
        blocking(move || disk.remove(&path)).await?;
        let key = (repo.to_string(), subject.clone());
        self.cache
            .lock()
            .unwrap()
            .record(&key, Change::Remove(referrer.clone()));
        Ok(())
    }

    /// The referrers of `subject`, ordered by digest.
    pub async fn list(&self, repo: &str, subject: &Digest) -> io::Result<Arc<Entries>> {
        let key = (repo.to_string(), subject.clone());
        let owner = {
            let mut cache = self.cache.lock().unwrap();
            match cache.subjects.get(&key) {
                Some(Slot::Ready(e)) => return Ok(e.clone()),
                // Someone else is loading it: read it ourselves, uncached.
                Some(Slot::Loading(_)) => false,
                None => {
                    cache
                        .subjects
                        .insert(key.clone(), Slot::Loading(Vec::new()));
                    true
                }
            }
        };
        let dir = self.layout.referrers_dir(repo, subject);
        let loaded = blocking(move || load(&dir)).await;
        if !owner {
            return loaded.map(Arc::new);
        }
        let mut cache = self.cache.lock().unwrap();
        let pending = match cache.subjects.remove(&key) {
            Some(Slot::Loading(p)) => p,
            _ => Vec::new(),
        };
        let mut entries = loaded?;
        for change in pending {
            change.apply(&mut entries);
        }
        let entries = Arc::new(entries);
        if cache.entries + entries.len() > CACHE_MAX_ENTRIES {
            // Crude but bounded: start over rather than track recency.
            cache
                .subjects
                .retain(|_, slot| matches!(slot, Slot::Loading(_)));
            cache.entries = 0;
        }
        cache.entries += entries.len();
        cache.subjects.insert(key, Slot::Ready(entries.clone()));
        Ok(entries)
    }
}

fn load(dir: &Path) -> io::Result<Entries> {
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
        let bytes = match fs::read(entry.path()) {
            Ok(b) => b,
            // Removed between the directory read and now.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(i: u32) -> Descriptor {
        Descriptor::new(
            "application/vnd.oci.image.manifest.v1+json",
            Digest::sha256_of(&i.to_be_bytes()),
            1,
        )
    }

    #[tokio::test]
    async fn cache_follows_adds_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.tmp_dir()).unwrap();
        let idx = ReferrersIndex::new(layout.clone(), Disk { fsync: false });
        let subject = Digest::sha256_of(b"s");
        let add = |i: u32| {
            let (path, bytes) = idx.entry("r", &subject, &desc(i)).unwrap();
            let tmp = layout.tmp_dir();
            move || Disk { fsync: false }.write_atomic(&tmp, &path, &[&bytes])
        };
        idx.add_with("r", &subject, &desc(1), add(1)).await.unwrap();
        assert_eq!(idx.list("r", &subject).await.unwrap().len(), 1); // loaded from disk
        idx.add_with("r", &subject, &desc(2), add(2)).await.unwrap();
        assert_eq!(idx.list("r", &subject).await.unwrap().len(), 2); // from the cache
        idx.remove("r", &subject, &desc(1).digest).await.unwrap();
        let listed = idx.list("r", &subject).await.unwrap();
        assert_eq!(
            listed.keys().cloned().collect::<Vec<_>>(),
            vec![desc(2).digest]
        );
        // A fresh index (a restart) reads the same from disk.
        let again = ReferrersIndex::new(layout, Disk { fsync: false });
        assert_eq!(*again.list("r", &subject).await.unwrap(), *listed);
    }
}
