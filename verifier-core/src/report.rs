//! The Contract 1 verification report: the value of `data.notary.verify`.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;

use crate::error::{Error, Stage};

/// The outcome for one artifact.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// At least one signature passed every check its policy enforces (or the level is `skip`).
    pub verified: bool,
    /// The name of the trust policy that applied.
    pub policy: Option<String>,
    /// Its verification level.
    pub level: Option<String>,
    pub signatures: Vec<SignatureReport>,
    /// Failures of the request itself, and a summary when no signature verified.
    pub errors: Vec<String>,
    /// Failures of checks the policy only logs, and notes on checks not performed.
    pub warnings: Vec<String>,
    /// The first request-level error, for callers that branch on it.
    #[serde(skip)]
    pub error: Option<Error>,
}

impl Report {
    /// A report for a request that could not be evaluated.
    pub fn rejected(error: Error) -> Self {
        Report {
            verified: false,
            policy: None,
            level: None,
            signatures: Vec::new(),
            errors: alloc::vec![alloc::format!("{error}")],
            warnings: Vec::new(),
            error: Some(error),
        }
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            String::from(r#"{"verified":false,"errors":["report: serialisation failed"]}"#)
        })
    }
}

/// The outcome for one signature.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureReport {
    pub digest: Option<String>,
    pub verified: bool,
    /// The signing certificate's subject, `CN=…,O=…,ST=…,C=…`.
    pub signer: Option<String>,
    /// The signing time as signed (or the authentic signing time of a signing authority).
    pub signing_time: Option<String>,
    pub signing_scheme: Option<String>,
    pub checks: Checks,
    /// The enforced failure that failed this signature.
    pub error: Option<String>,
    /// Failures of logged checks.
    pub warnings: Vec<String>,
    /// The enforced failure as data.
    #[serde(skip)]
    pub failure: Option<Error>,
}

/// Each check's result: `ok`, `skipped`, or the error naming the stage and reason.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Checks {
    pub integrity: String,
    pub authenticity: String,
    pub expiry: String,
    pub authentic_timestamp: String,
    /// Always `skipped`: the core has no network to reach OCSP or CRLs.
    pub revocation: String,
}

pub(crate) const OK: &str = "ok";
pub(crate) const SKIPPED: &str = "skipped";

impl Checks {
    pub(crate) fn all_skipped() -> Self {
        Checks {
            integrity: SKIPPED.into(),
            authenticity: SKIPPED.into(),
            expiry: SKIPPED.into(),
            authentic_timestamp: SKIPPED.into(),
            revocation: SKIPPED.into(),
        }
    }

    pub(crate) fn slot(&mut self, stage: Stage) -> &mut String {
        match stage {
            Stage::Integrity | Stage::Request => &mut self.integrity,
            Stage::Authenticity => &mut self.authenticity,
            Stage::Expiry => &mut self.expiry,
            Stage::AuthenticTimestamp => &mut self.authentic_timestamp,
            Stage::Revocation => &mut self.revocation,
        }
    }
}
