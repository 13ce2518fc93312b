//! The signed payload (signature-specification.md, "Payload"): `{"targetArtifact": descriptor}`,
//! whose `mediaType`, `digest` and `size` must equal the artifact being verified. Key order,
//! annotations and other descriptor fields do not matter.

use alloc::string::{String, ToString};

use serde_json::Value;

use crate::error::Error;
use crate::request::Descriptor;

/// Checks that the payload's target artifact is `subject`.
pub fn check_target_artifact(payload: &[u8], subject: &Descriptor) -> Result<(), Error> {
    let malformed = |reason: &str| Error::PayloadMalformed {
        reason: reason.into(),
    };
    let value: Value = serde_json::from_slice(payload).map_err(|e| Error::PayloadMalformed {
        reason: alloc::format!("{e}"),
    })?;
    let target = value
        .as_object()
        .ok_or_else(|| malformed("not a JSON object"))?
        .get("targetArtifact")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("no targetArtifact object"))?;
    let media_type = target
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("targetArtifact has no mediaType string"))?;
    let digest = target
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("targetArtifact has no digest string"))?;
    let size = target
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("targetArtifact has no non-negative integer size"))?;
    let mismatch = |field, signed: String, expected: String| {
        Err(Error::SubjectMismatch {
            field,
            signed,
            expected,
        })
    };
    if digest != subject.digest {
        return mismatch("digest", digest.into(), subject.digest.clone());
    }
    if size != subject.size {
        return mismatch("size", size.to_string(), subject.size.to_string());
    }
    if media_type != subject.media_type {
        return mismatch("mediaType", media_type.into(), subject.media_type.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: "sha256:aa".into(),
            size: 7,
        }
    }

    #[test]
    fn key_order_and_annotations_do_not_matter() {
        let p = br#"{"targetArtifact":{"size":7,"annotations":{"a":"b"},"digest":"sha256:aa","mediaType":"application/vnd.oci.image.manifest.v1+json"}}"#;
        assert_eq!(check_target_artifact(p, &subject()), Ok(()));
    }

    #[test]
    fn each_field_must_match() {
        let p = br#"{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":7}}"#;
        assert!(matches!(
            check_target_artifact(p, &subject()),
            Err(Error::SubjectMismatch {
                field: "digest",
                ..
            })
        ));
        let p = br#"{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":8}}"#;
        assert!(matches!(
            check_target_artifact(p, &subject()),
            Err(Error::SubjectMismatch { field: "size", .. })
        ));
        let p = br#"{"targetArtifact":{"mediaType":"x","digest":"sha256:aa","size":7}}"#;
        assert!(matches!(
            check_target_artifact(p, &subject()),
            Err(Error::SubjectMismatch {
                field: "mediaType",
                ..
            })
        ));
        for bad in [
            &br#"[]"#[..],
            br#"{}"#,
            br#"{"targetArtifact":{"digest":"sha256:aa","size":"7"}}"#,
            b"not json",
        ] {
            assert!(matches!(
                check_target_artifact(bad, &subject()),
                Err(Error::PayloadMalformed { .. })
            ));
        }
    }
}
