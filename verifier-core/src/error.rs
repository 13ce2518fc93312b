//! Every way a verification can fail, as data. Callers branch on variants; `Display` is for
//! people. Each error belongs to one [`Stage`] of the Notary Project verification workflow
//! (trust-store-trust-policy.md, "Signature Verification"), or to the request itself.

use alloc::string::String;
use core::fmt;

use crate::time::Timestamp;

/// The validation stages of the Notary Project workflow, plus the request that feeds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The Contract 1 request or its trust policy is malformed.
    Request,
    Integrity,
    Authenticity,
    Expiry,
    AuthenticTimestamp,
    Revocation,
}

impl Stage {
    /// The stage's name as used in reports and trust policies.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Request => "request",
            Stage::Integrity => "integrity",
            Stage::Authenticity => "authenticity",
            Stage::Expiry => "expiry",
            Stage::AuthenticTimestamp => "authenticTimestamp",
            Stage::Revocation => "revocation",
        }
    }
}

/// Which certificate of the `x5c` chain an error is about (0 is the signing certificate).
pub type CertIndex = usize;

/// A verification failure.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // --- the request (Contract 1) ---
    /// The request is not the JSON document Contract 1 describes.
    RequestMalformed { reason: String },
    /// `time` is not an RFC 3339 date-time.
    RequestTime { value: String },
    /// `reference` names no repository.
    RequestReference { reference: String },
    /// A trust store entry holds something other than PEM certificates.
    TrustStoreInvalid { store: String },
    /// The trust policy document breaks a rule of the specification.
    PolicyInvalid { reason: String },
    /// No trust policy's `registryScopes` covers the artifact, and there is no `*` policy.
    NoApplicablePolicy { repository: String },
    /// The request lists no signature and the policy level is not `skip`.
    NoSignatures,

    // --- integrity: the envelope, its signature, and the signed payload ---
    /// The signature's media type is not a JWS envelope.
    UnsupportedEnvelopeType { media_type: String },
    /// The `envelope` field is not standard base64.
    EnvelopeEncoding,
    /// The envelope is not a JSON object of the flattened JWS JSON serialization.
    EnvelopeMalformed { reason: String },
    /// A member other than `payload`, `protected`, `header`, `signature`.
    EnvelopeUnexpectedMember { name: String },
    /// One of the four required members is missing.
    EnvelopeMissingMember { name: &'static str },
    /// A member is not unpadded base64url.
    Base64Url { member: &'static str },
    /// The protected header is not a JSON object without duplicate names.
    ProtectedHeaderMalformed { reason: String },
    /// A header name appears twice in the protected header.
    DuplicateHeader { name: String },
    /// A required protected header is missing.
    MissingHeader { name: &'static str },
    /// A header has the wrong JSON type or an invalid value.
    InvalidHeader { name: &'static str, reason: String },
    /// `alg` is not one of PS256/384/512, ES256/384/512.
    UnsupportedAlgorithm { alg: String },
    /// `alg` differs from the algorithm the signing key dictates.
    AlgorithmKeyMismatch { alg: String, expected: &'static str },
    /// `crit` names a header this verifier does not understand.
    UnknownCriticalHeader { name: String },
    /// `crit` names a header that is absent.
    CriticalHeaderAbsent { name: String },
    /// A header that must be critical is not listed in `crit`.
    HeaderNotCritical { name: &'static str },
    /// `cty` is not the Notary payload type.
    UnsupportedContentType { cty: String },
    /// `io.cncf.notary.signingScheme` is neither `notary.x509` nor `notary.x509.signingAuthority`.
    UnsupportedSigningScheme { scheme: String },
    /// A protected header that decides trust also appears in the unprotected header, or a
    /// protected-only header (`crit`) appears there.
    UnprotectedHeaderConflict { name: String },
    /// `io.cncf.notary.expiry` is not after the signing time.
    ExpiryBeforeSigningTime,
    /// The unprotected header has no certificate chain.
    MissingCertificateChain,
    /// A certificate of `x5c` is not base64 DER X.509.
    CertificateMalformed { index: CertIndex, reason: String },
    /// The signing key's type or size is outside the allowed algorithms.
    UnsupportedKey { index: CertIndex, reason: String },
    /// The signature bytes do not have the algorithm's encoding (e.g. DER instead of raw R||S).
    SignatureEncoding { alg: &'static str },
    /// The signature does not verify with the signing certificate's key.
    SignatureInvalid,
    /// The payload is not `{"targetArtifact": descriptor}`.
    PayloadMalformed { reason: String },
    /// The signed descriptor differs from the artifact being verified.
    SubjectMismatch {
        field: &'static str,
        signed: String,
        expected: String,
    },

    // --- authenticity: the chain and the trust policy ---
    /// More certificates than the chain limit.
    ChainTooLong { len: usize, max: usize },
    /// A key of the chain is of a forbidden type or size.
    UnsupportedKeyInChain { index: CertIndex, reason: String },
    /// Certificate `index` was not issued by certificate `index + 1`.
    ChainOrder { index: CertIndex },
    /// A certificate's signature does not verify with its issuer's key.
    ChainSignature { index: CertIndex },
    /// The chain does not end in a self-signed root.
    ChainRootMissing,
    /// A certificate is signed with an algorithm the rules forbid (SHA-1 among them).
    CertificateSignatureAlgorithm { index: CertIndex, oid: String },
    /// A certificate violates a Notary Project certificate requirement.
    CertificateRequirement {
        index: CertIndex,
        rule: &'static str,
    },
    /// A CA's path length constraint is exceeded.
    PathLenExceeded { index: CertIndex, path_len: u8 },
    /// The policy names a trust store that the request does not provide.
    TrustStoreMissing { store: String },
    /// No certificate of the chain is in the policy's trust stores.
    UntrustedChain,
    /// The signing certificate's subject matches none of `trustedIdentities`.
    UntrustedIdentity { subject: String },

    // --- expiry ---
    /// The verification time is at or after `io.cncf.notary.expiry`.
    Expired { expiry: Timestamp, time: Timestamp },

    // --- authentic timestamp ---
    /// A certificate of the chain is not valid at the time that counts.
    CertificateNotValid {
        index: CertIndex,
        at: Timestamp,
        not_before: Timestamp,
        not_after: Timestamp,
    },
}

impl Error {
    /// The stage whose failure this is.
    pub fn stage(&self) -> Stage {
        use Error::*;
        match self {
            RequestMalformed { .. }
            | RequestTime { .. }
            | RequestReference { .. }
            | TrustStoreInvalid { .. }
            | PolicyInvalid { .. }
            | NoApplicablePolicy { .. }
            | NoSignatures => Stage::Request,
            UnsupportedEnvelopeType { .. }
            | EnvelopeEncoding
            | EnvelopeMalformed { .. }
            | EnvelopeUnexpectedMember { .. }
            | EnvelopeMissingMember { .. }
            | Base64Url { .. }
            | ProtectedHeaderMalformed { .. }
            | DuplicateHeader { .. }
            | MissingHeader { .. }
            | InvalidHeader { .. }
            | UnsupportedAlgorithm { .. }
            | AlgorithmKeyMismatch { .. }
            | UnknownCriticalHeader { .. }
            | CriticalHeaderAbsent { .. }
            | HeaderNotCritical { .. }
            | UnsupportedContentType { .. }
            | UnsupportedSigningScheme { .. }
            | UnprotectedHeaderConflict { .. }
            | ExpiryBeforeSigningTime
            | MissingCertificateChain
            | CertificateMalformed { .. }
            | UnsupportedKey { .. }
            | SignatureEncoding { .. }
            | SignatureInvalid
            | PayloadMalformed { .. }
            | SubjectMismatch { .. } => Stage::Integrity,
            ChainTooLong { .. }
            | UnsupportedKeyInChain { .. }
            | ChainOrder { .. }
            | ChainSignature { .. }
            | ChainRootMissing
            | CertificateSignatureAlgorithm { .. }
            | CertificateRequirement { .. }
            | PathLenExceeded { .. }
            | TrustStoreMissing { .. }
            | UntrustedChain
            | UntrustedIdentity { .. } => Stage::Authenticity,
            Expired { .. } => Stage::Expiry,
            CertificateNotValid { .. } => Stage::AuthenticTimestamp,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        write!(f, "{}: ", self.stage().name())?;
        match self {
            RequestMalformed { reason } => write!(f, "malformed request: {reason}"),
            RequestTime { value } => write!(f, "time {value:?} is not an RFC 3339 date-time"),
            RequestReference { reference } => {
                write!(f, "reference {reference:?} names no repository")
            }
            TrustStoreInvalid { store } => {
                write!(f, "trust store {store:?} does not hold PEM certificates")
            }
            PolicyInvalid { reason } => write!(f, "invalid trust policy: {reason}"),
            NoApplicablePolicy { repository } => {
                write!(f, "no trust policy applies to {repository:?} and there is no \"*\" policy")
            }
            NoSignatures => f.write_str("the artifact has no signature"),
            UnsupportedEnvelopeType { media_type } => {
                write!(f, "envelope type {media_type:?} is not supported (application/jose+json)")
            }
            EnvelopeEncoding => f.write_str("the envelope is not standard base64"),
            EnvelopeMalformed { reason } => write!(f, "malformed JWS envelope: {reason}"),
            EnvelopeUnexpectedMember { name } => {
                write!(f, "unexpected envelope member {name:?} (only the flattened JWS JSON serialization is allowed)")
            }
            EnvelopeMissingMember { name } => write!(f, "envelope member {name:?} is missing"),
            Base64Url { member } => {
                write!(f, "envelope member {member:?} is not unpadded base64url")
            }
            ProtectedHeaderMalformed { reason } => {
                write!(f, "malformed protected header: {reason}")
            }
            DuplicateHeader { name } => write!(f, "header {name:?} appears more than once"),
            MissingHeader { name } => write!(f, "required protected header {name:?} is missing"),
            InvalidHeader { name, reason } => write!(f, "header {name:?}: {reason}"),
            UnsupportedAlgorithm { alg } => write!(
                f,
                "algorithm {alg:?} is not allowed (PS256, PS384, PS512, ES256, ES384, ES512)"
            ),
            AlgorithmKeyMismatch { alg, expected } => write!(
                f,
                "algorithm {alg} does not match the signing key, which requires {expected}"
            ),
            UnknownCriticalHeader { name } => {
                write!(f, "critical header {name:?} is not supported")
            }
            CriticalHeaderAbsent { name } => {
                write!(f, "crit lists {name:?}, which is not in the protected header")
            }
            HeaderNotCritical { name } => write!(f, "header {name:?} must be listed in crit"),
            UnsupportedContentType { cty } => write!(
                f,
                "content type {cty:?} is not application/vnd.cncf.notary.payload.v1+json"
            ),
            UnsupportedSigningScheme { scheme } => write!(f, "signing scheme {scheme:?} is not supported"),
            UnprotectedHeaderConflict { name } => {
                write!(f, "header {name:?} must not appear in the unprotected header")
            }
            ExpiryBeforeSigningTime => f.write_str("expiry is not after the signing time"),
            MissingCertificateChain => f.write_str("the unprotected header has no x5c certificate chain"),
            CertificateMalformed { index, reason } => {
                write!(f, "x5c[{index}] is not a valid X.509 certificate: {reason}")
            }
            UnsupportedKey { index, reason } => write!(f, "x5c[{index}] key: {reason}"),
            SignatureEncoding { alg } => {
                write!(f, "signature is not a raw {alg} signature of the right length")
            }
            SignatureInvalid => f.write_str("signature does not verify with the signing certificate's key"),
            PayloadMalformed { reason } => write!(f, "malformed payload: {reason}"),
            SubjectMismatch { field, signed, expected } => write!(
                f,
                "the signature is for another artifact: signed {field} {signed}, expected {expected}"
            ),
            ChainTooLong { len, max } => {
                write!(f, "certificate chain has {len} certificates (at most {max})")
            }
            UnsupportedKeyInChain { index, reason } => write!(f, "x5c[{index}] key: {reason}"),
            ChainOrder { index } => write!(
                f,
                "x5c[{index}] is not issued by x5c[{}]: the chain must be leaf first, then each issuer",
                index + 1
            ),
            ChainSignature { index } => {
                write!(f, "x5c[{index}]'s signature does not verify with its issuer's key")
            }
            ChainRootMissing => f.write_str("the certificate chain does not end in a self-signed root"),
            CertificateSignatureAlgorithm { index, oid } => {
                write!(f, "x5c[{index}] is signed with a forbidden or unsupported algorithm ({oid})")
            }
            CertificateRequirement { index, rule } => write!(f, "x5c[{index}]: {rule}"),
            PathLenExceeded { index, path_len } => {
                write!(f, "x5c[{index}]'s path length constraint {path_len} is exceeded")
            }
            TrustStoreMissing { store } => {
                write!(f, "the trust policy names trust store {store:?}, which the request does not provide")
            }
            UntrustedChain => f.write_str("no certificate of the chain is in the policy's trust stores"),
            UntrustedIdentity { subject } => {
                write!(f, "signing certificate subject {subject:?} matches no trusted identity")
            }
            Expired { expiry, time } => write!(f, "signature expired at {expiry} (time is {time})"),
            CertificateNotValid { index, at, not_before, not_after } => write!(
                f,
                "x5c[{index}] is not valid at {at} (valid {not_before} to {not_after}; no trusted timestamp)"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
