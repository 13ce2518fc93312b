//! Streaming a request body into a file while hashing it, with early
//! writeback; and hashing a file from scratch (after a restart).

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Read, Write};
use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};

use super::durable::Disk;
use super::{ByteStream, StorageError, StorageResult};

/// Hashes the whole of `path` (used after a restart).
pub fn hash_file(path: &Path) -> io::Result<(Sha256, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            return Ok((h, n));
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
}

/// Bytes handed to the writer thread at once: large enough to amortize the
/// hand-off and the write syscall, small enough that a few in flight stay
/// far under the memory budget.
const BATCH: usize = 1 << 20;
/// Most chunks in one batch (below the kernel's IOV_MAX of 1024).
const MAX_IOVECS: usize = 512;
/// Batches queued between the network task and the writer thread.
const QUEUE: usize = 4;
/// Writeback of an upload is started every this many bytes, so that the
/// disk works while the body is still arriving and the fsync at commit
/// has little left to do.
const WRITE_BEHIND: u64 = 8 << 20;

/// Asks the kernel to start writing `[from, to)` of `file` to disk, without
/// waiting (Linux `sync_file_range`); a no-op elsewhere. Durability still
/// comes from the fsync at commit: this only moves the work earlier.
fn start_writeback(file: &File, from: u64, to: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor and a plain integer range; the
        // call neither reads nor writes our memory.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                from as libc::off64_t,
                (to - from) as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, from, to);
}

/// Appends `body` to the file at `path` while hashing it. The request task
/// hashes each chunk as it arrives and gathers the chunks (by reference, no
/// copy) into batches of about 1 MiB; a blocking thread writes each batch
/// with one vectored write, fed through a bounded queue. Receiving, hashing
/// and writing thus overlap on two cores, and memory stays at a few MiB
/// whatever the blob size. Returns the updated hasher and the number of
/// bytes appended. `limit` caps the total size (`start` + appended); 0 means
/// none. On failure the file is cut back to `start`, so the session is as
/// the request found it.
pub async fn append_stream(
    path: &Path,
    hasher: Sha256,
    start: u64,
    mut body: ByteStream,
    limit: u64,
    disk: Disk,
) -> StorageResult<(Sha256, u64)> {
    let file = OpenOptions::new().append(true).open(path)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(QUEUE);
    let writer = tokio::task::spawn_blocking(move || -> io::Result<(u64, File)> {
        let mut file = file;
        let mut n = 0u64;
        let mut flushed = start;
        while let Some(batch) = rx.blocking_recv() {
            n += write_batch(&mut file, &batch)?;
            if disk.fsync && start + n - flushed >= WRITE_BEHIND {
                start_writeback(&file, flushed, start + n);
                flushed = start + n;
            }
        }
        Ok((n, file))
    });

    let mut hasher = hasher;
    let mut received = 0u64;
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batch_len = 0usize;
    let mut failure: Option<StorageError> = None;
    while let Some(next) = body.next().await {
        let chunk: Bytes = match next {
            Ok(c) => c,
            Err(e) => {
                failure = Some(StorageError::Body(e));
                break;
            }
        };
        received += chunk.len() as u64;
        if limit > 0 && start + received > limit {
            failure = Some(StorageError::TooLarge { limit });
            break;
        }
        hasher.update(&chunk);
        batch_len += chunk.len();
        batch.push(chunk);
        if batch_len >= BATCH || batch.len() >= MAX_IOVECS {
            batch_len = 0;
            if tx.send(std::mem::take(&mut batch)).await.is_err() {
                break; // the writer failed; its error is reported below
            }
        }
    }
    if failure.is_none() && !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    drop(tx);
    let (n, file) = match writer
        .await
        .map_err(|e| io::Error::other(e.to_string()))
        .and_then(|r| r)
    {
        Ok(done) => done,
        Err(e) => {
            // The write failed (disk full, …): cut back what did get written.
            let _ = OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(start));
            return Err(e.into());
        }
    };
    if let Some(f) = failure {
        file.set_len(start)?;
        return Err(f);
    }
    if n != received {
        // The writer stopped early without an I/O error: treat as failure.
        file.set_len(start)?;
        return Err(StorageError::Io(io::Error::other(
            "upload writer stopped early",
        )));
    }
    Ok((hasher, n))
}

/// Writes every chunk of `batch` with as few `writev` calls as it takes.
fn write_batch(file: &mut File, batch: &[Bytes]) -> io::Result<u64> {
    let total: usize = batch.iter().map(Bytes::len).sum();
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => IoSlice::advance_slices(&mut rest, k),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total as u64)
}
