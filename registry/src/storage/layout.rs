//! The on-disk layout of the filesystem backend. Every path is built here,
//! from validated names and digests only, so nothing can escape the root.
//!
//! ```text
//! <root>/
//! ├── blobs/sha256/<ab>/<abcdef…>                  blob bytes, named by digest, shared by every repository
//! ├── tmp/<random>                                 files being written; fsynced, then renamed into place
//! ├── uploads/<id>/data                            an upload session's bytes so far
//! │              └ repo                            the repository that opened it
//! └── repositories/<name segment>/…/<last segment>/
//!     ├── _layers/sha256/<hex>                     empty file: this repository holds that blob
//!     ├── _manifests/revisions/sha256/<hex>        "<media type>\n" then the manifest's exact bytes
//!     ├── _manifests/tags/<tag>                    "<digest>" the tag points at
//!     └── _referrers/sha256/<subject hex>/sha256-<hex>   descriptor JSON of one referrer of that subject
//! ```
//!
//! Repository names pass the spec grammar (lowercase alphanumerics and single
//! separators) before they get here, so a segment can never be `..`, empty, or
//! start with `_`; the `_`-prefixed directories can therefore never collide
//! with a nested repository. Digests are lowercase hex of a fixed length.

use std::path::{Path, PathBuf};

use oci_model::Digest;

/// Builds every path of a storage root.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn blob(&self, d: &Digest) -> PathBuf {
        let hex = d.hex();
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// `id` must already be checked with [`valid_upload_id`].
    pub fn upload(&self, id: &str) -> PathBuf {
        self.uploads_dir().join(id)
    }

    pub fn repositories_dir(&self) -> PathBuf {
        self.root.join("repositories")
    }

    pub fn repo(&self, repo: &str) -> PathBuf {
        let mut p = self.repositories_dir();
        // One directory per name segment: names may have any number of them.
        p.extend(repo.split('/'));
        p
    }

    pub fn blob_link(&self, repo: &str, d: &Digest) -> PathBuf {
        self.repo(repo)
            .join("_layers")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    pub fn manifest(&self, repo: &str, d: &Digest) -> PathBuf {
        self.repo(repo)
            .join("_manifests")
            .join("revisions")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    pub fn tags_dir(&self, repo: &str) -> PathBuf {
        self.repo(repo).join("_manifests").join("tags")
    }

    /// `tag` must already pass the tag grammar.
    pub fn tag(&self, repo: &str, tag: &str) -> PathBuf {
        self.tags_dir(repo).join(tag)
    }

    pub fn referrers_dir(&self, repo: &str, subject: &Digest) -> PathBuf {
        self.repo(repo)
            .join("_referrers")
            .join(subject.algorithm().as_str())
            .join(subject.hex())
    }

    pub fn referrer(&self, repo: &str, subject: &Digest, referrer: &Digest) -> PathBuf {
        self.referrers_dir(repo, subject)
            .join(referrer_file_name(referrer))
    }
}

/// `sha256-<hex>`: a file name that sorts like the digest.
pub fn referrer_file_name(d: &Digest) -> String {
    format!("{}-{}", d.algorithm().as_str(), d.hex())
}

/// The digest back from [`referrer_file_name`].
pub fn parse_referrer_file_name(name: &str) -> Option<Digest> {
    let (alg, hex) = name.split_once('-')?;
    format!("{alg}:{hex}").parse().ok()
}

/// Upload ids are 32 lowercase hex characters; anything else is unknown.
pub fn valid_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_root() {
        let l = Layout::new("/r");
        let d = Digest::sha256_of(b"x");
        assert!(l.blob(&d).starts_with("/r/blobs/sha256/"));
        assert_eq!(l.repo("a/b/c"), PathBuf::from("/r/repositories/a/b/c"));
        assert_eq!(parse_referrer_file_name(&referrer_file_name(&d)), Some(d));
        assert!(!valid_upload_id("../../etc/passwd"));
    }
}
