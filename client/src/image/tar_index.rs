//! A tar archive read by offset: one pass over the headers (data skipped by seeking) records
//! where each file's bytes start and which entries are links; entries are then read from their
//! offsets, small ones into memory, layers streamed into scratch files while they are hashed.
//!
//! Links are followed as the archive writer meant them: a symbolic link relative to its own
//! folder (skopeo writes `<id>/layer.tar -> ../<digest>.tar`), a hard link relative to the root.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use oci_model::Digest;
use sha2::Digest as _;

use super::error::{ImageError, Result};

/// How many links one lookup follows before it calls it a loop.
const MAX_HOPS: usize = 16;

#[derive(Debug, Clone)]
enum Entry {
    File { offset: u64, size: u64 },
    Symlink(String),
    HardLink(String),
}

/// The entries of one tar file, by normalised path.
#[derive(Debug)]
pub struct TarIndex {
    path: PathBuf,
    entries: HashMap<String, Entry>,
}

/// What streaming an entry produced.
#[derive(Debug)]
pub struct Copied {
    pub digest: Digest,
    pub size: u64,
    /// Whether the bytes start with the gzip magic.
    pub gzip: bool,
}

/// `./a//b/` → `a/b`; `..` pops a component (never above the root).
fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

impl TarIndex {
    /// Reads every header of the tar at `path`.
    pub fn read(path: &Path) -> Result<TarIndex> {
        let mut file = File::open(path).map_err(|e| ImageError::io(path, e))?;
        let mut magic = [0u8; 2];
        let n = file.read(&mut magic).map_err(|e| ImageError::io(path, e))?;
        if n == 2 && magic == [0x1f, 0x8b] {
            return Err(ImageError::Compressed { path: path.into() });
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| ImageError::io(path, e))?;
        let not_a_tar = |reason: String| ImageError::NotATar {
            path: path.into(),
            reason,
        };
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let iter = archive
            .entries_with_seek()
            .map_err(|e| not_a_tar(e.to_string()))?;
        for entry in iter {
            let entry = entry.map_err(|e| not_a_tar(e.to_string()))?;
            let name = entry.path().map_err(|e| not_a_tar(e.to_string()))?;
            let Some(name) = normalise(&name.to_string_lossy()) else {
                continue;
            };
            let link = || {
                entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            let kind = entry.header().entry_type();
            let e = if kind.is_file() {
                Entry::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                }
            } else if kind.is_symlink() {
                Entry::Symlink(link())
            } else if kind.is_hard_link() {
                Entry::HardLink(link())
            } else {
                continue;
            };
            entries.insert(name, e);
        }
        if entries.is_empty() {
            return Err(not_a_tar("no entries".into()));
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Whether `name` is in the archive (as a file or a link).
    pub fn contains(&self, name: &str) -> bool {
        normalise(name).is_some_and(|n| self.entries.contains_key(&n))
    }

    /// The offset and size of the file `name` names, links followed.
    fn locate(&self, name: &str) -> Result<(u64, u64)> {
        let bad_link = |problem: &str| ImageError::BadLink {
            path: self.path.clone(),
            entry: name.into(),
            problem: problem.into(),
        };
        let mut current = normalise(name).ok_or_else(|| bad_link("it leaves the archive"))?;
        for _ in 0..MAX_HOPS {
            match self.entries.get(&current) {
                None if current == normalise(name).unwrap_or_default() => {
                    return Err(ImageError::MissingEntry {
                        path: self.path.clone(),
                        entry: name.into(),
                    })
                }
                None => return Err(bad_link(&format!("its target {current} is missing"))),
                Some(Entry::File { offset, size }) => return Ok((*offset, *size)),
                Some(Entry::Symlink(target)) => {
                    let joined = if target.starts_with('/') {
                        target.clone()
                    } else {
                        let dir = current.rsplit_once('/').map_or("", |(d, _)| d);
                        format!("{dir}/{target}")
                    };
                    current =
                        normalise(&joined).ok_or_else(|| bad_link("it leaves the archive"))?;
                }
                Some(Entry::HardLink(target)) => {
                    current = normalise(target).ok_or_else(|| bad_link("it leaves the archive"))?;
                }
            }
        }
        Err(bad_link("too many links: a loop"))
    }

    fn open_at(&self, offset: u64, size: u64) -> Result<std::io::Take<File>> {
        let mut file = File::open(&self.path).map_err(|e| ImageError::io(&self.path, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| ImageError::io(&self.path, e))?;
        Ok(file.take(size))
    }

    /// A small entry's bytes (`manifest.json`, a config), at most `limit`.
    pub fn read_small(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let (offset, size) = self.locate(name)?;
        if size > limit {
            return Err(ImageError::BadArchive {
                path: self.path.clone(),
                entry: name.into(),
                problem: format!("{size} bytes is more than the {limit} allowed"),
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        self.open_at(offset, size)?
            .read_to_end(&mut bytes)
            .map_err(|e| ImageError::io(&self.path, e))?;
        Ok(bytes)
    }

    /// Streams the entry `name` into `out`, hashing it on the way (the one read of its bytes).
    pub fn copy_to(&self, name: &str, out: &mut impl Write, out_path: &Path) -> Result<Copied> {
        let (offset, size) = self.locate(name)?;
        let mut input = self.open_at(offset, size)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        let mut gzip = false;
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| ImageError::io(&self.path, e))?;
            if n == 0 {
                break;
            }
            if total == 0 {
                gzip = n >= 2 && buf[..2] == [0x1f, 0x8b];
            }
            total += n as u64;
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| ImageError::io(out_path, e))?;
        }
        if total != size {
            return Err(ImageError::SizeMismatch {
                what: format!("{}: {name}", self.path.display()),
                expected: size,
                actual: total,
            });
        }
        Ok(Copied {
            digest: Digest::from_sha256(hasher.finalize().into()),
            size,
            gzip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_and_never_climb_out() {
        assert_eq!(normalise("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(normalise("a/../b.tar").as_deref(), Some("b.tar"));
        assert_eq!(normalise("../x"), None);
    }
}
