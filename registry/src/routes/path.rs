//! The one parser for paths under `/v2/`, read from the right so that a
//! repository name may have any number of segments. Percent-escapes are not
//! decoded: an encoded slash stays `%2F` and fails the name grammar.

use oci_model::validate_repository_name;

use crate::error::{ApiError, Code};

/// What a `/v2/<…>` path addresses.
#[derive(Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Blob { name: &'a str, digest: &'a str },
    UploadStart { name: &'a str },
    Upload { name: &'a str, id: &'a str },
    Manifest { name: &'a str, reference: &'a str },
    Tags { name: &'a str },
    Referrers { name: &'a str, digest: &'a str },
}

impl<'a> Target<'a> {
    pub fn name(&self) -> &'a str {
        match *self {
            Target::Blob { name, .. }
            | Target::UploadStart { name }
            | Target::Upload { name, .. }
            | Target::Manifest { name, .. }
            | Target::Tags { name }
            | Target::Referrers { name, .. } => name,
        }
    }
}

/// Parses the part after `/v2/`. `None` means no API route has that shape;
/// a known shape with a bad name is `NAME_INVALID`.
pub fn parse(rest: &str) -> Result<Option<Target<'_>>, ApiError> {
    let Some(target) = shape(rest) else {
        return Ok(None);
    };
    validate_repository_name(target.name())
        .map_err(|e| ApiError::new(Code::NameInvalid, e.to_string()))?;
    Ok(Some(target))
}

/// Splits off the last `k` segments; returns (prefix, segments).
fn tail(rest: &str, k: usize) -> Option<(&str, Vec<&str>)> {
    let mut parts: Vec<&str> = rest.rsplitn(k + 1, '/').collect();
    if parts.len() != k + 1 {
        return None;
    }
    let prefix = parts.pop().unwrap();
    parts.reverse();
    Some((prefix, parts))
}

fn shape(rest: &str) -> Option<Target<'_>> {
    if let Some((name, t)) = tail(rest, 2) {
        match (t[0], t[1]) {
            ("tags", "list") => return Some(Target::Tags { name }),
            ("manifests", r) => return Some(Target::Manifest { name, reference: r }),
            ("referrers", d) => return Some(Target::Referrers { name, digest: d }),
            ("blobs", "uploads") => return Some(Target::UploadStart { name }),
            _ => {}
        }
    }
    if let Some((name, t)) = tail(rest, 3) {
        if t[0] == "blobs" && t[1] == "uploads" {
            return Some(if t[2].is_empty() {
                Target::UploadStart { name }
            } else {
                Target::Upload { name, id: t[2] }
            });
        }
    }
    if let Some((name, t)) = tail(rest, 2) {
        if t[0] == "blobs" {
            return Some(Target::Blob { name, digest: t[1] });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<Target<'_>> {
        parse(s).unwrap()
    }

    #[test]
    fn shapes() {
        assert_eq!(p("a/b/c/tags/list"), Some(Target::Tags { name: "a/b/c" }));
        assert_eq!(
            p("x/manifests/manifests/latest"),
            Some(Target::Manifest {
                name: "x/manifests",
                reference: "latest"
            })
        );
        assert_eq!(
            p("a/blobs/uploads/"),
            Some(Target::UploadStart { name: "a" })
        );
        assert_eq!(
            p("a/blobs/uploads"),
            Some(Target::UploadStart { name: "a" })
        );
        assert_eq!(
            p("a/blobs/uploads/abc"),
            Some(Target::Upload {
                name: "a",
                id: "abc"
            })
        );
        assert_eq!(
            p("blobs/blobs/sha256:x"),
            Some(Target::Blob {
                name: "blobs",
                digest: "sha256:x"
            })
        );
        assert_eq!(
            p("r/referrers/sha256:x"),
            Some(Target::Referrers {
                name: "r",
                digest: "sha256:x"
            })
        );
        assert_eq!(p("nothing"), None);
    }

    #[test]
    fn bad_names() {
        for bad in [
            "../x/manifests/a",
            "a%2Fb/manifests/a",
            "/a/manifests/a",
            "A/tags/list",
            "a//b/tags/list",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, Code::NameInvalid, "{bad}");
        }
    }
}
