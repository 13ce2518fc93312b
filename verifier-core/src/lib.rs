//! Notary Project signature verification, `#![no_std]` + `alloc`.
//!
//! One front door: a Contract 1 request (DESIGN.md) in, a report out.
//!
//! ```text
//! verify_json(request bytes)
//!   → trust policy document validated, policy selected by registry scope      (policy)
//!   → for each signature envelope:
//!       integrity:          JWS parse + header rules, alg from the leaf key,
//!                           signature over the exact bytes, payload = subject    (jws, x509::key, payload)
//!       authenticity:       chain rules, trust store by DER, trusted identities (x509::chain, truststore)
//!       expiry:             io.cncf.notary.expiry against the request's time
//!       authenticTimestamp: certificate validity at the time that counts
//!       revocation:         skipped (no network)
//!   → report: verified when one signature passes everything its level enforces  (report)
//! ```
//!
//! The core has no clock, no I/O and no randomness: time, trust policy and trust stores come
//! in the request. It builds for `wasm32-unknown-unknown` without `std`.
//!
//! | feature | what it adds |
//! |---|---|
//! | `std` (default) | `std::error::Error` for [`Error`] |
//! | `sign` | [`sign`]: envelope signing and test-certificate generation (needs an OS RNG) |

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod alg;
mod error;
mod json;
pub mod jws;
mod payload;
pub mod policy;
mod report;
mod request;
mod time;
mod truststore;
mod verify;
pub mod x509;

#[cfg(feature = "sign")]
pub mod sign;

pub use alg::SignatureAlgorithm;
pub use error::{CertIndex, Error, Stage};
pub use payload::check_target_artifact;
pub use policy::{SignatureVerification, TrustPolicyDocument, TrustPolicyStatement};
pub use report::{Checks, Report, SignatureReport};
pub use request::{Descriptor, PemList, Request, SignatureEntry, TrustStores, JWS_MEDIA_TYPE};
pub use time::Timestamp;
pub use truststore::parse_pem_certificates;
pub use verify::{verify, verify_json};
