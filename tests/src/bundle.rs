//! Reading a built OPA bundle the way OPA does: the tarball's entries by name, and the roots rule
//! (a root owns every path under it; two roots overlap when one is the other or lies under it).

use std::collections::BTreeMap;
use std::io::Read;

/// Every regular file of a gzipped tarball, by its entry name (as written, leading `/` kept).
pub fn read_tarball(gz: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut files = BTreeMap::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("a tar entry");
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = String::from_utf8(entry.path_bytes().into_owned()).expect("a UTF-8 name");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("entry bytes");
        files.insert(name, bytes);
    }
    files
}

/// Whether two slash-separated data paths overlap (one is, or lies under, the other).
pub fn roots_overlap(a: &str, b: &str) -> bool {
    let under = |p: &str, root: &str| p == root || p.starts_with(&format!("{root}/"));
    under(a, b) || under(b, a)
}

#[cfg(test)]
mod tests {
    use super::roots_overlap;

    #[test]
    fn roots_overlap_by_path_segments() {
        assert!(roots_overlap("notary", "notary/config"));
        assert!(roots_overlap("notary/config", "notary"));
        assert!(roots_overlap("notary/policy", "notary/policy"));
        assert!(!roots_overlap("notary/policy", "notary/config"));
        assert!(!roots_overlap("notary/verify", "notary/verifyx"));
    }
}
