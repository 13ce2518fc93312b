//! The one parser for paths under `/v2/`, read from the right so that a
//! repository name may have any number of segments. Percent-escapes are not
//! decoded: an encoded slash stays `%2F` and fails the name grammar.
//!
//! [`parse`] finds the shape and checks the name; once the method has picked
//! the handler, [`digest`] and [`reference_for_read`] / [`reference_for_write`]
//! turn the path's digest or reference into the typed value the handler
//! takes, with the error a client of that method expects.

use oci_model::{validate_repository_name, Digest, ManifestRef, ReferenceError};

use crate::error::{ApiError, ApiResult, Code};

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

/// A digest from a path or a query, 400 `DIGEST_INVALID` if malformed.
pub fn digest(s: &str) -> ApiResult<Digest> {
    s.parse()
        .map_err(|e| ApiError::new(Code::DigestInvalid, format!("{s:?}: {e}")))
}

/// The reference of a write (`PUT`, `DELETE`): one with a `:` must be a
/// digest (400 `DIGEST_INVALID`), any other a tag (400 `TAG_INVALID`).
pub fn reference_for_write(s: &str) -> ApiResult<ManifestRef> {
    ManifestRef::parse(s).map_err(|e| match e {
        ReferenceError::InvalidDigest { source, .. } => {
            ApiError::new(Code::DigestInvalid, format!("{s:?}: {source}"))
        }
        _ => ApiError::new(Code::TagInvalid, format!("invalid tag {s:?}")),
    })
}

/// The reference of a read (`GET`, `HEAD`). One that is neither a valid
/// digest nor a valid tag names no manifest that could exist, so it is
/// 404 `MANIFEST_UNKNOWN` like any other missing manifest: the spec's
/// "Pulling manifests" answers a manifest not found with 404, and its
/// endpoint table (end-3) gives `GET`/`HEAD` no other failure status.
pub fn reference_for_read(name: &str, s: &str) -> ApiResult<ManifestRef> {
    reference_for_write(s).map_err(|e| {
        ApiError::new(
            Code::ManifestUnknown,
            format!("manifest unknown to {name}: {}", e.message),
        )
    })
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
    fn typed_values() {
        let d = Digest::sha256_of(b"x");
        assert_eq!(digest(&d.to_string()).unwrap(), d);
        let e = digest("sha256:zz").unwrap_err();
        assert_eq!(e.code, Code::DigestInvalid);
        assert!(e.message.starts_with("\"sha256:zz\": "), "{}", e.message);

        assert_eq!(
            reference_for_write("v1").unwrap(),
            ManifestRef::Tag("v1".into())
        );
        assert_eq!(
            reference_for_write(&d.to_string()).unwrap(),
            ManifestRef::Digest(d.clone())
        );
        for (s, code, message) in [
            (
                "md5:00",
                Code::DigestInvalid,
                "\"md5:00\": unsupported digest algorithm \"md5\"",
            ),
            (".x", Code::TagInvalid, "invalid tag \".x\""),
        ] {
            let e = reference_for_write(s).unwrap_err();
            assert_eq!((e.code, e.message.as_str()), (code, message), "{s}");
            let e = reference_for_read("app", s).unwrap_err();
            assert_eq!(e.code, Code::ManifestUnknown, "{s}");
            assert_eq!(e.message, format!("manifest unknown to app: {message}"));
        }
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
