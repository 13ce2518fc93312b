//! Repository-name and tag grammar from the distribution spec.
//!
//! name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
//! tag:  `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
//!
//! A name that passes cannot contain `..`, an empty or absolute segment, or
//! any byte that means something to a file system, which is what lets the
//! storage layer map names onto directories.

use std::fmt;

/// Why a repository name or tag was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NameError {}

/// Longest repository name accepted (the spec suggests 255 with the host).
pub(crate) const MAX_NAME: usize = 255;

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// One path component: alnum runs joined by `.`, `_`, `__` or `-+`.
pub(crate) fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: exactly ".", "_", "__", or one or more "-".
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Checks a repository name against the spec's grammar.
pub fn validate_repository_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(NameError(format!(
            "repository name must be 1 to {MAX_NAME} characters"
        )));
    }
    if name.split('/').all(valid_component) {
        Ok(())
    } else {
        Err(NameError(format!("invalid repository name {name:?}")))
    }
}

/// Checks a tag against the spec's grammar.
pub fn validate_tag(tag: &str) -> Result<(), NameError> {
    let b = tag.as_bytes();
    let first_ok = b
        .first()
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_');
    let rest_ok = b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if first_ok && rest_ok && b.len() <= 128 {
        Ok(())
    } else {
        Err(NameError(format!("invalid tag {tag:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "library/alpine",
            "a/b/c/d/e/f/g/h/i",
            "my-app__x.y/z--9",
            "a_b",
        ] {
            assert!(validate_repository_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a//b", "/a", "a/", "..", "a/../b", "a/.b", "a..b", "a%2fb", "a___b", "-a",
            "a b",
        ] {
            assert!(validate_repository_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert!(validate_tag("v1.0_rc-1").is_ok());
        assert!(validate_tag("_x").is_ok());
        assert!(validate_tag(".x").is_err());
        assert!(validate_tag("").is_err());
        assert!(validate_tag(&"a".repeat(129)).is_err());
        assert!(validate_tag("a/b").is_err());
    }
}
