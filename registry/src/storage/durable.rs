//! Durable file operations: write to a temp file, fsync it, rename it into
//! place, fsync the directory. A crash at any point leaves either the old
//! file or the complete new one, never a partial one under the final name.
//!
//! [`Disk`] carries the one switch: `fsync` off (`--unsafe-no-fsync`) keeps
//! the temp-and-rename protocol, so a killed process still never exposes a
//! partial file, but a power loss may lose acknowledged writes, as in
//! registries that never fsync. It exists for benchmarks and throwaway use.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// How file writes reach the disk.
#[derive(Clone, Copy, Debug)]
pub struct Disk {
    pub fsync: bool,
}

impl Disk {
    /// Fsyncs a file's data and metadata.
    pub fn sync_file(self, f: &File) -> io::Result<()> {
        if self.fsync {
            f.sync_all()?;
        }
        Ok(())
    }

    /// Fsyncs a directory so that entries created or renamed in it survive a crash.
    pub fn sync_dir(self, dir: &Path) -> io::Result<()> {
        if self.fsync {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Creates `dir` and any missing parents, fsyncing each parent that
    /// gained an entry, so that the new directories themselves are durable.
    /// A relative `dir` is taken from the current folder (`--root data`).
    pub fn ensure_dir(self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing: Vec<PathBuf> = Vec::new();
        let mut cur = dir;
        while !cur.is_dir() {
            missing.push(cur.to_path_buf());
            match cur.parent() {
                // A relative path's last parent is "": the current folder, which exists.
                Some(p) if !p.as_os_str().is_empty() => cur = p,
                _ => break,
            }
        }
        for d in missing.iter().rev() {
            match fs::create_dir(d) {
                Ok(()) => {}
                // Another request created it at the same moment: fine.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            match d.parent() {
                Some(p) if p.as_os_str().is_empty() => self.sync_dir(Path::new("."))?,
                Some(p) => self.sync_dir(p)?,
                None => {}
            }
        }
        Ok(())
    }

    /// Atomically replaces `dest` with the concatenated `parts`, durably.
    pub fn write_atomic(self, tmp_dir: &Path, dest: &Path, parts: &[&[u8]]) -> io::Result<()> {
        self.write_atomic_batch(tmp_dir, &[(dest.to_path_buf(), parts.concat())])
    }

    /// Atomically and durably writes several files that belong to one
    /// operation, and makes them visible in the order given. Each file is
    /// still fsynced before its rename and each directory after, but the
    /// syncs are grouped (all files, then all renames, then all
    /// directories): a journaling filesystem commits the group in one or two
    /// journal commits instead of two per file.
    pub fn write_atomic_batch(
        self,
        tmp_dir: &Path,
        files: &[(PathBuf, Vec<u8>)],
    ) -> io::Result<()> {
        let mut tmps: Vec<PathBuf> = Vec::with_capacity(files.len());
        let result = (|| {
            let mut handles = Vec::with_capacity(files.len());
            for (_, bytes) in files {
                let tmp = temp_path(tmp_dir);
                let mut f = File::create(&tmp)?;
                tmps.push(tmp);
                f.write_all(bytes)?;
                handles.push(f);
            }
            for f in &handles {
                self.sync_file(f)?;
            }
            drop(handles);
            let mut dirs: Vec<&Path> = Vec::new();
            for ((dest, _), tmp) in files.iter().zip(&tmps) {
                let dir = dest.parent().expect("destination has a parent");
                self.ensure_dir(dir)?;
                fs::rename(tmp, dest)?;
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
            tmps.clear();
            for dir in dirs {
                self.sync_dir(dir)?;
            }
            Ok(())
        })();
        for tmp in &tmps {
            let _ = fs::remove_file(tmp);
        }
        result
    }

    /// Renames an already synced `tmp` to `dest` and fsyncs `dest`'s directory.
    pub fn publish(self, tmp: &Path, dest: &Path) -> io::Result<()> {
        let dir = dest.parent().expect("destination has a parent");
        self.ensure_dir(dir)?;
        fs::rename(tmp, dest)?;
        self.sync_dir(dir)
    }

    /// Removes `path` durably; `false` if it did not exist.
    pub fn remove(self, path: &Path) -> io::Result<bool> {
        match fs::remove_file(path) {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    self.sync_dir(dir)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A unique temp path in `tmp_dir` (same filesystem as the destination, so
/// the final rename is atomic).
pub fn temp_path(tmp_dir: &Path) -> PathBuf {
    tmp_dir.join(format!("{:032x}", rand::random::<u128>()))
}

#[cfg(test)]
mod ensure_dir_tests {
    use super::*;

    #[test]
    fn a_relative_root_is_created_in_the_current_folder() {
        // A name of one component: its parent is "" (the current folder, the crate's under
        // cargo test), removed again below.
        let top = PathBuf::from(format!("ensure-dir-test-{}", std::process::id()));
        let made = Disk { fsync: true }.ensure_dir(&top.join("sub"));
        let there = top.join("sub").is_dir();
        let _ = fs::remove_dir_all(&top);
        made.unwrap();
        assert!(there);
    }
}
