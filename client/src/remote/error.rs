//! The one error type of registry operations: what failed, against which reference, the
//! registry's own answer (status, OCI error code and message) and what to do about it.

use std::fmt;

/// An OCI error body entry (`{"errors": [{"code", "message"}]}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryMessage {
    pub code: String,
    pub message: String,
}

/// Everything a registry operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry answered with an error status.
    #[error("{what}: {registry} answered HTTP {status}{}{}", format_messages(.messages), hint(*.status, .registry))]
    Status {
        what: String,
        registry: String,
        status: u16,
        messages: Vec<RegistryMessage>,
    },
    /// No connection (refused, DNS, TLS, timeout) after the retries.
    #[error("{what}: cannot reach {registry}: {cause} (is the registry running? use --plain-http for a registry without TLS)")]
    Unreachable {
        what: String,
        registry: String,
        cause: String,
    },
    /// The connection broke off before the registry answered (reset, closed mid-request), on
    /// every try.
    #[error("{what}: the connection to {registry} broke off before it answered: {cause} (after {retries} retries; nothing was tagged: push again when the registry, or a proxy before it, is healthy)")]
    Interrupted {
        what: String,
        registry: String,
        cause: String,
        retries: u32,
    },
    /// Content whose bytes do not hash to the digest that named it.
    #[error("{what}: the content does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    /// Content of another size than its descriptor says.
    #[error("{what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    /// A reply the protocol does not allow (missing header, unreadable JSON, …).
    #[error("{what}: {registry}: {problem}")]
    Protocol {
        what: String,
        registry: String,
        problem: String,
    },
    /// Credentials could not be read or stored (docker config, credential helper).
    #[error("credentials: {0}")]
    Credentials(String),
    /// Input from the user that cannot be used (a reference, a file, a flag).
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Content received or read (`size` bytes hashing to `actual`) against the descriptor that named
/// it: the size first (the cheaper and clearer message), then the digest.
pub fn check_content(
    what: &str,
    descriptor: &oci_model::Descriptor,
    size: u64,
    actual: &oci_model::Digest,
) -> Result<()> {
    if size != descriptor.size {
        return Err(Error::SizeMismatch {
            what: what.into(),
            expected: descriptor.size,
            actual: size,
        });
    }
    if *actual != descriptor.digest {
        return Err(Error::DigestMismatch {
            what: what.into(),
            expected: descriptor.digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

impl Error {
    /// The HTTP status, when the registry answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the registry said the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub(crate) fn io(path: impl fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

fn format_messages(messages: &[RegistryMessage]) -> String {
    messages
        .iter()
        .map(|m| {
            if m.message.is_empty() {
                format!(": {}", m.code)
            } else {
                format!(": {} ({})", m.message, m.code)
            }
        })
        .collect()
}

/// What to do about a status.
fn hint(status: u16, registry: &str) -> String {
    match status {
        401 => format!("; log in with `nv2 login {registry}` or pass -u/-p"),
        403 => "; these credentials may not do this".into(),
        404 => "; check the repository and the tag or digest".into(),
        413 => "; the registry refuses content this large: make it smaller (fewer or shorter annotations, fewer layers) or raise the registry's limit".into(),
        429 => "; the registry is still throttling after the client's retries: try again later".into(),
        500..=599 => "; the registry still failed after the client's retries: try again later".into(),
        _ => String::new(),
    }
}

/// Reads the OCI error body, tolerating anything else.
pub(crate) fn registry_messages(body: &[u8]) -> Vec<RegistryMessage> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    v["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| RegistryMessage {
                    code: e["code"].as_str().unwrap_or_default().to_string(),
                    message: e["message"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_error_names_the_registry_answer_and_what_to_do() {
        let e = Error::Status {
            what: "pull localhost:5000/app:v1".into(),
            registry: "localhost:5000".into(),
            status: 401,
            messages: registry_messages(
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            ),
        };
        assert_eq!(
            e.to_string(),
            "pull localhost:5000/app:v1: localhost:5000 answered HTTP 401: authentication required (UNAUTHORIZED); log in with `nv2 login localhost:5000` or pass -u/-p"
        );
        let e = Error::Status {
            what: "push manifest".into(),
            registry: "r.example".into(),
            status: 401,
            messages: Vec::new(),
        };
        assert!(e
            .to_string()
            .ends_with("log in with `nv2 login r.example` or pass -u/-p"));
        assert!(registry_messages(b"<html>").is_empty());
    }
}
