//! OPA's roots rule for bundles: a root owns every data path under it, so two roots overlap when
//! one is the other or lies under it (OPA refuses to activate overlapping bundles, and erases what
//! a bundle does not carry under its roots).

/// Whether the slash-separated data `path` is `root` or lies under it.
pub fn under(path: &str, root: &str) -> bool {
    path == root || path.starts_with(&format!("{root}/"))
}

/// Whether two roots overlap.
pub fn roots_overlap(a: &str, b: &str) -> bool {
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
