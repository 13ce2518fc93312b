//! The referrers rules of Contract 4: what descriptor a referrer is listed
//! with, filtering by `artifactType`, and paging from an ordered index.

use std::ops::Bound;

use oci_model::{Descriptor, Digest, Manifest};

use crate::storage::Referrers;

/// The descriptor a referrer is listed with: its own media type, digest and
/// size; `artifactType` from the manifest, else its config's media type; and
/// the manifest's annotations.
pub fn descriptor_of(m: &Manifest, digest: &Digest, size: u64) -> Descriptor {
    let mut d = Descriptor::new(m.media_type(), digest.clone(), size);
    d.artifact_type = m.effective_artifact_type().map(str::to_string);
    d.annotations = m.annotations.clone().filter(|a| !a.is_empty());
    d
}

/// One page of referrers.
pub struct Page<'a> {
    pub items: Vec<&'a Descriptor>,
    /// Where the next page starts (after this digest), if the page is full
    /// and more entries may follow.
    pub next_after: Option<Digest>,
}

/// Takes up to `max_items` descriptors after `after`, matching `artifact_type`
/// if given, and stops early before the JSON would pass `max_bytes`.
pub fn page<'a>(
    all: &'a Referrers,
    artifact_type: Option<&str>,
    after: Option<&Digest>,
    max_items: usize,
    max_bytes: usize,
) -> Page<'a> {
    let lower = match after {
        Some(d) => Bound::Excluded(d.clone()),
        None => Bound::Unbounded,
    };
    // Room for the index wrapper around the descriptors.
    let mut bytes = 128usize;
    let mut items = Vec::new();
    let mut iter = all
        .range((lower, Bound::Unbounded))
        .map(|(_, d)| d)
        .filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)))
        .peekable();
    while let Some(d) = iter.peek() {
        let size = serde_json::to_vec(d)
            .map(|v| v.len() + 1)
            .unwrap_or(usize::MAX);
        if items.len() >= max_items || (bytes + size > max_bytes && !items.is_empty()) {
            break;
        }
        bytes += size;
        items.push(iter.next().unwrap());
    }
    let more = iter.peek().is_some();
    let next_after = if more {
        items.last().map(|d| d.digest.clone())
    } else {
        None
    };
    Page { items, next_after }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn index(n: usize) -> Referrers {
        let mut m = BTreeMap::new();
        for i in 0..n {
            let dg = Digest::sha256_of(i.to_string().as_bytes());
            let mut d =
                Descriptor::new("application/vnd.oci.image.manifest.v1+json", dg.clone(), 10);
            d.artifact_type = Some(if i % 2 == 0 { "even" } else { "odd" }.to_string());
            m.insert(dg, d);
        }
        Arc::new(m)
    }

    #[test]
    fn pages_cover_everything_once() {
        let all = index(25);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = page(&all, None, after.as_ref(), 10, 1 << 22);
            seen.extend(p.items.iter().map(|d| d.digest.clone()));
            match p.next_after {
                Some(d) => after = Some(d),
                None => break,
            }
        }
        assert_eq!(seen, all.keys().cloned().collect::<Vec<_>>());
    }

    #[test]
    fn filter_and_byte_cap() {
        let all = index(25);
        let p = page(&all, Some("even"), None, 100, 1 << 22);
        assert_eq!(p.items.len(), 13);
        assert!(p.next_after.is_none());
        let small = page(&all, None, None, 100, 600);
        assert!(small.items.len() < 25 && !small.items.is_empty());
        assert!(small.next_after.is_some());
    }
}
