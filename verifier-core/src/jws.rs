//! The Notary Project JWS envelope (signature-envelope-jws.md): the flattened JWS JSON
//! serialization, its protected header, and its unprotected header.
//!
//! Parse first, check second: [`parse_envelope`] splits and decodes the envelope and applies the
//! header rules; nothing here touches keys or certificates. The bytes a signature covers are kept
//! exactly as received (`signing_input`), never re-encoded.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::Value;

use crate::alg::SignatureAlgorithm;
use crate::error::Error;
use crate::json::{ObjectError, StrictObject};
use crate::time::Timestamp;

/// The payload content type of a Notary Project signature.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

pub(crate) const HDR_SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub(crate) const HDR_SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub(crate) const HDR_AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub(crate) const HDR_EXPIRY: &str = "io.cncf.notary.expiry";
const HDR_SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
const HDR_TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

/// Critical headers this verifier understands (signature-envelope-jws.md, "Protected header").
/// Anything else in `crit`, plugin headers included, fails: we cannot honour what we don't know.
const UNDERSTOOD_CRITICAL: [&str; 3] = [HDR_SIGNING_SCHEME, HDR_AUTHENTIC_SIGNING_TIME, HDR_EXPIRY];

/// The signing schemes of signing-scheme.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningScheme {
    /// `notary.x509`: the signing time is the signer's claim; a TSA would make it authentic.
    X509,
    /// `notary.x509.signingAuthority`: the signing authority vouches for `authenticSigningTime`.
    X509SigningAuthority,
}

impl SigningScheme {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "notary.x509" => Some(Self::X509),
            "notary.x509.signingAuthority" => Some(Self::X509SigningAuthority),
            _ => None,
        }
    }

    /// The trust store type whose certificates may anchor this scheme (trust-store-trust-policy.md).
    pub fn trust_store_type(self) -> &'static str {
        match self {
            Self::X509 => "ca",
            Self::X509SigningAuthority => "signingAuthority",
        }
    }
}

/// A time header: its instant, and the string exactly as signed (for reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTime {
    pub at: Timestamp,
    pub text: String,
}

/// The protected header after every rule has passed.
#[derive(Clone, Debug)]
pub struct ProtectedHeader {
    pub alg: SignatureAlgorithm,
    pub signing_scheme: SigningScheme,
    pub signing_time: Option<SignedTime>,
    pub authentic_signing_time: Option<SignedTime>,
    pub expiry: Option<SignedTime>,
}

/// A parsed envelope. `signing_input` is `ASCII(protected "." payload)` exactly as received.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub signing_input: Vec<u8>,
    pub header: ProtectedHeader,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
    /// DER certificates, leaf first.
    pub x5c: Vec<Vec<u8>>,
    pub signing_agent: Option<String>,
    /// A timestamp countersignature is present (not verified: no TSA support yet).
    pub has_timestamp_signature: bool,
}

/// Parses a JWS envelope and applies every header rule.
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, Error> {
    let object = StrictObject::parse(bytes).map_err(|e| Error::EnvelopeMalformed {
        reason: match e {
            ObjectError::Duplicate(name) => alloc::format!("member {name:?} appears twice"),
            ObjectError::Syntax(reason) => reason,
        },
    })?;
    check_envelope_members(&object)?;

    let protected_b64 = string_member(&object, "protected")?;
    let payload_b64 = string_member(&object, "payload")?;
    let signature_b64 = string_member(&object, "signature")?;
    let protected = decode_base64url(protected_b64, "protected")?;
    let payload = decode_base64url(payload_b64, "payload")?;
    let signature = decode_base64url(signature_b64, "signature")?;

    let (header, protected_names) = parse_protected_header(&protected)?;
    let unprotected = match object.get("header") {
        Some(Value::Object(map)) => map,
        _ => {
            return Err(Error::EnvelopeMalformed {
                reason: "\"header\" is not a JSON object".into(),
            })
        }
    };
    check_unprotected_header(unprotected, &protected_names)?;
    let x5c = certificate_chain(unprotected)?;

    let mut signing_input = Vec::with_capacity(protected_b64.len() + 1 + payload_b64.len());
    signing_input.extend_from_slice(protected_b64.as_bytes());
    signing_input.push(b'.');
    signing_input.extend_from_slice(payload_b64.as_bytes());

    Ok(Envelope {
        signing_input,
        header,
        payload,
        signature,
        x5c,
        signing_agent: unprotected
            .get(HDR_SIGNING_AGENT)
            .and_then(Value::as_str)
            .map(String::from),
        has_timestamp_signature: unprotected.contains_key(HDR_TIMESTAMP_SIGNATURE),
    })
}

/// signature-envelope-jws.md: the envelope is the flattened JWS JSON serialization with exactly
/// `payload`, `protected`, `header` and `signature`. The general serialization (`signatures`) and
/// anything else are refused, so no member can carry unsigned meaning.
fn check_envelope_members(object: &StrictObject) -> Result<(), Error> {
    for name in object.names() {
        if !matches!(name, "payload" | "protected" | "header" | "signature") {
            return Err(Error::EnvelopeUnexpectedMember { name: name.into() });
        }
    }
    for name in ["payload", "protected", "header", "signature"] {
        if object.get(name).is_none() {
            return Err(Error::EnvelopeMissingMember { name });
        }
    }
    Ok(())
}

fn string_member<'a>(object: &'a StrictObject, name: &'static str) -> Result<&'a str, Error> {
    object
        .get(name)
        .and_then(Value::as_str)
        .ok_or(Error::EnvelopeMalformed {
            reason: alloc::format!("{name:?} is not a string"),
        })
}

/// RFC 7515 §2: base64url without padding; padding, whitespace and non-canonical trailing bits are
/// refused (notation-go fails the padded payload vector the same way).
pub fn decode_base64url(text: &str, member: &'static str) -> Result<Vec<u8>, Error> {
    Base64UrlUnpadded::decode_vec(text).map_err(|_| Error::Base64Url { member })
}

/// Parses the protected header, refusing duplicate names, and applies each header rule.
/// Returns the header and the list of names it contains.
pub fn parse_protected_header(bytes: &[u8]) -> Result<(ProtectedHeader, Vec<String>), Error> {
    let object = StrictObject::parse(bytes).map_err(|e| match e {
        ObjectError::Duplicate(name) => Error::DuplicateHeader { name },
        ObjectError::Syntax(reason) => Error::ProtectedHeaderMalformed { reason },
    })?;
    let alg = check_algorithm(&object)?;
    let crit = check_crit(&object)?;
    check_content_type(&object)?;
    let signing_scheme = check_signing_scheme(&object)?;
    let signing_time = time_header(&object, HDR_SIGNING_TIME)?;
    let authentic_signing_time = time_header(&object, HDR_AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_header(&object, HDR_EXPIRY)?;
    check_signing_times(
        signing_scheme,
        &signing_time,
        &authentic_signing_time,
        &crit,
    )?;
    check_expiry_header(&expiry, &signing_time, &authentic_signing_time, &crit)?;
    let header = ProtectedHeader {
        alg,
        signing_scheme,
        signing_time,
        authentic_signing_time,
        expiry,
    };
    Ok((header, object.names().map(String::from).collect()))
}

/// signature-specification.md, "Algorithm Selection": `alg` is one of the six allowed names.
/// `none`, HMAC and RSASSA-PKCS1-v1_5 are refused here; whether it fits the key is checked with
/// the key (`x509::key`).
pub fn check_algorithm(header: &StrictObject) -> Result<SignatureAlgorithm, Error> {
    let alg = match header.get("alg") {
        None => return Err(Error::MissingHeader { name: "alg" }),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(Error::InvalidHeader {
                name: "alg",
                reason: "not a string".into(),
            })
        }
    };
    SignatureAlgorithm::from_name(alg)
        .ok_or_else(|| Error::UnsupportedAlgorithm { alg: alg.clone() })
}

/// signature-envelope-jws.md and RFC 7515 §4.1.11: `crit` is a non-empty array of unique names,
/// includes `io.cncf.notary.signingScheme`, lists only headers that are present, and only headers
/// this verifier understands.
pub fn check_crit(header: &StrictObject) -> Result<Vec<String>, Error> {
    let items = match header.get("crit") {
        None => return Err(Error::MissingHeader { name: "crit" }),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => {
            return Err(Error::InvalidHeader {
                name: "crit",
                reason: "not a non-empty array".into(),
            })
        }
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = item.as_str().ok_or(Error::InvalidHeader {
            name: "crit",
            reason: "contains a non-string".into(),
        })?;
        if names.iter().any(|n| n == name) {
            return Err(Error::InvalidHeader {
                name: "crit",
                reason: alloc::format!("lists {name:?} twice"),
            });
        }
        if !UNDERSTOOD_CRITICAL.contains(&name) {
            return Err(Error::UnknownCriticalHeader { name: name.into() });
        }
        if header.get(name).is_none() {
            return Err(Error::CriticalHeaderAbsent { name: name.into() });
        }
        names.push(name.into());
    }
    if !names.iter().any(|n| n == HDR_SIGNING_SCHEME) {
        return Err(Error::HeaderNotCritical {
            name: HDR_SIGNING_SCHEME,
        });
    }
    Ok(names)
}

/// signature-envelope-jws.md: `cty` is the Notary payload media type.
pub fn check_content_type(header: &StrictObject) -> Result<(), Error> {
    match header.get("cty") {
        None => Err(Error::MissingHeader { name: "cty" }),
        Some(Value::String(s)) if s == PAYLOAD_CONTENT_TYPE => Ok(()),
        Some(Value::String(s)) => Err(Error::UnsupportedContentType { cty: s.clone() }),
        Some(_) => Err(Error::InvalidHeader {
            name: "cty",
            reason: "not a string".into(),
        }),
    }
}

/// signing-scheme.md: the scheme is `notary.x509` or `notary.x509.signingAuthority`.
pub fn check_signing_scheme(header: &StrictObject) -> Result<SigningScheme, Error> {
    match header.get(HDR_SIGNING_SCHEME) {
        None => Err(Error::MissingHeader {
            name: HDR_SIGNING_SCHEME,
        }),
        Some(Value::String(s)) => SigningScheme::parse(s)
            .ok_or_else(|| Error::UnsupportedSigningScheme { scheme: s.clone() }),
        Some(_) => Err(Error::InvalidHeader {
            name: HDR_SIGNING_SCHEME,
            reason: "not a string".into(),
        }),
    }
}

fn time_header(header: &StrictObject, name: &'static str) -> Result<Option<SignedTime>, Error> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => match Timestamp::parse_rfc3339(s) {
            Some(at) => Ok(Some(SignedTime {
                at,
                text: s.clone(),
            })),
            None => Err(Error::InvalidHeader {
                name,
                reason: alloc::format!("{s:?} is not an RFC 3339 time"),
            }),
        },
        Some(_) => Err(Error::InvalidHeader {
            name,
            reason: "not a string".into(),
        }),
    }
}

/// signing-scheme.md: `notary.x509` requires `signingTime` and has no `authenticSigningTime`;
/// `notary.x509.signingAuthority` requires `authenticSigningTime`, marked critical.
pub fn check_signing_times(
    scheme: SigningScheme,
    signing_time: &Option<SignedTime>,
    authentic_signing_time: &Option<SignedTime>,
    crit: &[String],
) -> Result<(), Error> {
    match scheme {
        SigningScheme::X509 => {
            if signing_time.is_none() {
                return Err(Error::MissingHeader {
                    name: HDR_SIGNING_TIME,
                });
            }
            if authentic_signing_time.is_some() {
                return Err(Error::InvalidHeader {
                    name: HDR_AUTHENTIC_SIGNING_TIME,
                    reason: "not allowed with signing scheme notary.x509".into(),
                });
            }
        }
        SigningScheme::X509SigningAuthority => {
            if authentic_signing_time.is_none() {
                return Err(Error::MissingHeader {
                    name: HDR_AUTHENTIC_SIGNING_TIME,
                });
            }
            if !crit.iter().any(|c| c == HDR_AUTHENTIC_SIGNING_TIME) {
                return Err(Error::HeaderNotCritical {
                    name: HDR_AUTHENTIC_SIGNING_TIME,
                });
            }
        }
    }
    Ok(())
}

/// signature-envelope-jws.md: `io.cncf.notary.expiry`, when present, is critical and later than
/// the signing time.
pub fn check_expiry_header(
    expiry: &Option<SignedTime>,
    signing_time: &Option<SignedTime>,
    authentic_signing_time: &Option<SignedTime>,
    crit: &[String],
) -> Result<(), Error> {
    let Some(expiry) = expiry else { return Ok(()) };
    if !crit.iter().any(|c| c == HDR_EXPIRY) {
        return Err(Error::HeaderNotCritical { name: HDR_EXPIRY });
    }
    let signed_at = authentic_signing_time.as_ref().or(signing_time.as_ref());
    if let Some(signed_at) = signed_at {
        if expiry.at <= signed_at.at {
            return Err(Error::ExpiryBeforeSigningTime);
        }
    }
    Ok(())
}

/// RFC 7515 §7.2.1: protected and unprotected header names are disjoint, and `crit` is only
/// ever protected. Beyond that, the unprotected header is read for `x5c` and two informational
/// members only; everything else in it is ignored, so nothing there can decide trust.
pub fn check_unprotected_header(
    unprotected: &serde_json::Map<String, Value>,
    protected_names: &[String],
) -> Result<(), Error> {
    for name in unprotected.keys() {
        if name == "crit" || protected_names.iter().any(|p| p == name) {
            return Err(Error::UnprotectedHeaderConflict {
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

/// signature-envelope-jws.md: `x5c` is a non-empty array of standard-base64 DER certificates,
/// signing certificate first.
pub fn certificate_chain(
    unprotected: &serde_json::Map<String, Value>,
) -> Result<Vec<Vec<u8>>, Error> {
    let items = match unprotected.get("x5c") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        None | Some(Value::Array(_)) => return Err(Error::MissingCertificateChain),
        Some(_) => {
            return Err(Error::InvalidHeader {
                name: "x5c",
                reason: "not an array".into(),
            })
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            item.as_str()
                .and_then(|s| Base64::decode_vec(s).ok())
                .ok_or(Error::CertificateMalformed {
                    index,
                    reason: "not standard base64".into(),
                })
        })
        .collect()
}
