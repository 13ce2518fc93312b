//! Upload sessions of the filesystem backend: the in-memory table of open
//! sessions (with each one's running SHA-256, so closing a session does not
//! re-read it) and the session operations (`stream.rs` moves the bytes).
//!
//! A session's bytes live in `uploads/<id>/data`. After a restart the table
//! is rebuilt from that directory with no hasher; the hash is then recomputed
//! from the file once, on the next append or on commit.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oci_model::{Algorithm, Digest};
use sha2::{Digest as _, Sha256};

use super::blocking;
use super::durable::Disk;
use super::layout::{valid_upload_id, Layout};
use super::stream::{append_stream, hash_file};
use super::{ByteStream, StorageError, StorageResult, UploadStatus};

/// One open session.
pub struct Session {
    pub repo: String,
    /// Hash of `data` so far; `None` until recomputed after a restart.
    pub hasher: Option<Sha256>,
    pub size: u64,
    pub touched: Instant,
}

/// A session behind its own lock, so concurrent PATCHes to one session are
/// serialized while different sessions proceed in parallel.
pub type SessionRef = Arc<tokio::sync::Mutex<Session>>;

/// The table of open sessions.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, SessionRef>>,
}

impl Sessions {
    pub fn insert(&self, id: String, s: Session) {
        self.map
            .lock()
            .unwrap()
            .insert(id, Arc::new(tokio::sync::Mutex::new(s)));
    }

    pub fn get(&self, id: &str) -> Option<SessionRef> {
        self.map.lock().unwrap().get(id).cloned()
    }

    pub fn remove(&self, id: &str) {
        self.map.lock().unwrap().remove(id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }

    pub fn snapshot(&self) -> Vec<(String, SessionRef)> {
        self.map
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The upload sessions of a filesystem root: `uploads/<id>/` on disk and the
/// table of open sessions in memory.
pub struct UploadArea {
    layout: Layout,
    disk: Disk,
    sessions: Sessions,
    max_blob_bytes: u64,
}

impl UploadArea {
    /// Takes back the sessions found on disk (their hash is recomputed on
    /// first use) and removes anything there that is not a whole session.
    pub fn open(layout: Layout, disk: Disk, max_blob_bytes: u64) -> io::Result<UploadArea> {
        let sessions = Sessions::default();
        for entry in fs::read_dir(layout.uploads_dir())? {
            let entry = entry?;
            let id = entry.file_name().to_string_lossy().into_owned();
            let repo = fs::read_to_string(entry.path().join("repo"));
            let size = fs::metadata(entry.path().join("data")).map(|m| m.len());
            match (valid_upload_id(&id), repo, size) {
                (true, Ok(repo), Ok(size)) => sessions.insert(
                    id,
                    Session {
                        repo,
                        hasher: None,
                        size,
                        touched: Instant::now(),
                    },
                ),
                _ => fs::remove_dir_all(entry.path())?,
            }
        }
        Ok(UploadArea {
            layout,
            disk,
            sessions,
            max_blob_bytes,
        })
    }

    fn session(&self, id: &str) -> StorageResult<SessionRef> {
        if !valid_upload_id(id) {
            return Err(StorageError::UploadUnknown);
        }
        self.sessions.get(id).ok_or(StorageError::UploadUnknown)
    }

    pub async fn create(&self, repo: &str) -> StorageResult<String> {
        let id = format!("{:032x}", rand::random::<u128>());
        let dir = self.layout.upload(&id);
        let (repo_owned, disk) = (repo.to_string(), self.disk);
        blocking(move || {
            disk.ensure_dir(&dir)?;
            File::create(dir.join("data"))?;
            fs::write(dir.join("repo"), repo_owned.as_bytes())?;
            Ok(())
        })
        .await?;
        self.sessions.insert(
            id.clone(),
            Session {
                repo: repo.to_string(),
                hasher: Some(Sha256::new()),
                size: 0,
                touched: Instant::now(),
            },
        );
        Ok(id)
    }

    pub async fn status(&self, repo: &str, id: &str) -> StorageResult<UploadStatus> {
        let s = self.session(id)?;
        let s = s.lock().await;
        if s.repo != repo {
            return Err(StorageError::UploadUnknown);
        }
        Ok(UploadStatus { size: s.size })
    }

    pub async fn append(
        &self,
        repo: &str,
        id: &str,
        body: ByteStream,
    ) -> StorageResult<UploadStatus> {
        let s = self.session(id)?;
        let mut s = s.lock().await;
        if s.repo != repo {
            return Err(StorageError::UploadUnknown);
        }
        let data = self.layout.upload(id).join("data");
        let hasher = match s.hasher.clone() {
            Some(h) => h,
            None => {
                let p = data.clone();
                let (h, n) = blocking(move || hash_file(&p)).await?;
                s.size = n;
                h
            }
        };
        let (hasher, n) =
            append_stream(&data, hasher, s.size, body, self.max_blob_bytes, self.disk).await?;
        s.hasher = Some(hasher);
        s.size += n;
        s.touched = Instant::now();
        Ok(UploadStatus { size: s.size })
    }

    pub async fn commit(&self, repo: &str, id: &str, digest: &Digest) -> StorageResult<u64> {
        let sref = self.session(id)?;
        let s = sref.lock().await;
        if s.repo != repo {
            return Err(StorageError::UploadUnknown);
        }
        let dir = self.layout.upload(id);
        let data = dir.join("data");
        let (hasher, size) = (s.hasher.clone(), s.size);
        let expected = digest.clone();
        let actual = blocking(move || {
            let actual = match (expected.algorithm(), hasher) {
                (Algorithm::Sha256, Some(h)) => Digest::from_sha256(h.finalize().into()),
                (Algorithm::Sha256, None) => {
                    Digest::from_sha256(hash_file(&data)?.0.finalize().into())
                }
                // sha512 uploads are rare: hash the file once more at close.
                (Algorithm::Sha512, _) => expected.recompute(&fs::read(&data)?),
            };
            Ok(actual)
        })
        .await?;
        if &actual != digest {
            // The session stays open (the spec lets the client retry the close).
            return Err(StorageError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        let (layout, disk) = (self.layout.clone(), self.disk);
        let (repo_owned, digest_owned) = (repo.to_string(), digest.clone());
        blocking(move || {
            let data = dir.join("data");
            // The data must be on disk before its name is.
            disk.sync_file(&File::open(&data)?)?;
            super::fs::publish_blob(&layout, disk, &data, &repo_owned, &digest_owned)?;
            fs::remove_dir_all(&dir)
        })
        .await?;
        drop(s);
        self.sessions.remove(id);
        Ok(size)
    }

    pub async fn cancel(&self, repo: &str, id: &str) -> StorageResult<()> {
        let sref = self.session(id)?;
        let s = sref.lock().await;
        if s.repo != repo {
            return Err(StorageError::UploadUnknown);
        }
        let dir = self.layout.upload(id);
        blocking(move || fs::remove_dir_all(dir)).await?;
        drop(s);
        self.sessions.remove(id);
        Ok(())
    }

    pub fn count(&self) -> usize {
        self.sessions.len()
    }

    pub async fn expire(&self, ttl: Duration) -> StorageResult<usize> {
        let mut n = 0;
        for (id, sref) in self.sessions.snapshot() {
            // A session busy with a request is not idle: skip it.
            let Ok(s) = sref.try_lock() else { continue };
            if s.touched.elapsed() < ttl {
                continue;
            }
            let dir = self.layout.upload(&id);
            blocking(move || match fs::remove_dir_all(dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            })
            .await?;
            drop(s);
            self.sessions.remove(&id);
            n += 1;
        }
        Ok(n)
    }
}
