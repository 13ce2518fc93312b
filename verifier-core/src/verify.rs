//! The verification pipeline: request → policy → for each signature, integrity → authenticity
//! → expiry → authentic timestamp → (revocation: skipped) → report.
//!
//! Each stage either passes, fails with an [`Error`], or is skipped by the policy. An enforced
//! failure stops that signature (trust-store-trust-policy.md: subsequent validations are not
//! processed); a logged failure becomes a warning and the next stage runs.

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};

use crate::error::{Error, Stage};
use crate::jws::{self, Envelope, SigningScheme};
use crate::payload;
use crate::policy::{self, Action, Level, Policy};
use crate::report::{Checks, Report, SignatureReport, OK, SKIPPED};
use crate::request::{Descriptor, Request, SignatureEntry, JWS_MEDIA_TYPE};
use crate::time::Timestamp;
use crate::truststore::TrustAnchors;
use crate::x509::chain::{self, MAX_CHAIN_LEN};
use crate::x509::CertificateView;

/// Verifies a Contract 1 request given as JSON bytes. Never panics on any input: a malformed
/// request is a report with `verified: false` and an error.
pub fn verify_json(request: &[u8]) -> Report {
    match serde_json::from_slice::<Request>(request) {
        Ok(request) => verify(&request),
        Err(e) => Report::rejected(Error::RequestMalformed {
            reason: alloc::format!("{e}"),
        }),
    }
}

/// Verifies a parsed request.
pub fn verify(request: &Request) -> Report {
    let prepared = match prepare(request) {
        Ok(p) => p,
        Err(e) => return Report::rejected(e),
    };
    let Prepared {
        time,
        policy,
        anchors,
    } = prepared;
    let mut report = Report {
        verified: false,
        policy: Some(policy.name.clone()),
        level: Some(policy.level.name().into()),
        signatures: Vec::with_capacity(request.signatures.len()),
        errors: Vec::new(),
        warnings: Vec::new(),
        error: None,
    };
    if policy.level == Level::Skip {
        // "If signatureVerification level is set to skip in the trust policy, return success."
        report.verified = true;
        report.warnings.push(alloc::format!(
            "policy {:?} skips signature verification",
            policy.name
        ));
        return report;
    }
    if policy.actions.revocation != Action::Skip {
        report
            .warnings
            .push("revocation: not checked (the verification core has no network access)".into());
    }
    for signature in &request.signatures {
        let ctx = Context {
            subject: &request.subject,
            time,
            policy: &policy,
            anchors: &anchors,
        };
        let sig_report = verify_signature(signature, &ctx);
        for w in &sig_report.warnings {
            report.warnings.push(alloc::format!(
                "{}: {w}",
                sig_report.digest.as_deref().unwrap_or("signature")
            ));
        }
        report.verified |= sig_report.verified;
        report.signatures.push(sig_report);
    }
    if request.signatures.is_empty() {
        report
            .errors
            .push(alloc::format!("{}", Error::NoSignatures));
        report.error = Some(Error::NoSignatures);
    } else if !report.verified {
        for s in &report.signatures {
            if let Some(e) = &s.error {
                report.errors.push(alloc::format!(
                    "{}: {e}",
                    s.digest.as_deref().unwrap_or("signature")
                ));
            }
        }
    }
    report
}

struct Prepared {
    time: Timestamp,
    policy: Policy,
    anchors: TrustAnchors,
}

/// Request-level checks: time, trust policy document, policy selection, trust stores.
fn prepare(request: &Request) -> Result<Prepared, Error> {
    let time = Timestamp::parse_rfc3339(&request.time).ok_or_else(|| Error::RequestTime {
        value: request.time.clone(),
    })?;
    let policies = request.trust_policy.validate()?;
    let repository =
        policy::repository_of(&request.reference).ok_or_else(|| Error::RequestReference {
            reference: request.reference.clone(),
        })?;
    let policy = policy::select(&policies, repository)?.clone();
    let anchors = TrustAnchors::load(&policy, &request.trust_stores)?;
    Ok(Prepared {
        time,
        policy,
        anchors,
    })
}

struct Context<'a> {
    subject: &'a Descriptor,
    time: Timestamp,
    policy: &'a Policy,
    anchors: &'a TrustAnchors,
}

/// Runs the stages for one signature.
fn verify_signature(input: &SignatureEntry, ctx: &Context<'_>) -> SignatureReport {
    let mut report = SignatureReport {
        digest: input.digest.clone(),
        verified: false,
        signer: None,
        signing_time: None,
        signing_scheme: None,
        checks: Checks::all_skipped(),
        error: None,
        warnings: Vec::new(),
        failure: None,
    };
    let actions = ctx.policy.actions;

    // Integrity is always enforced (the document validation guarantees it).
    let envelope = match decode_envelope(input) {
        Ok(envelope) => envelope,
        Err(e) => {
            record(&mut report, Action::Enforce, e);
            return report;
        }
    };
    let envelope = &envelope;
    let leaf = match check_integrity(envelope, ctx.subject) {
        Ok(leaf) => leaf,
        Err(e) => {
            record(&mut report, Action::Enforce, e);
            return report;
        }
    };
    report.checks.integrity = OK.into();
    let header = &envelope.header;
    report.signing_scheme = Some(
        match header.signing_scheme {
            SigningScheme::X509 => "notary.x509",
            SigningScheme::X509SigningAuthority => "notary.x509.signingAuthority",
        }
        .into(),
    );
    report.signing_time = header
        .authentic_signing_time
        .as_ref()
        .or(header.signing_time.as_ref())
        .map(|t| t.text.clone());

    // Certificates beyond the chain limit are never parsed: the length rule fails them first.
    // The leaf was parsed by integrity; parsing it again would rebuild its key (for RSA, the
    // Montgomery parameters: about a tenth of a whole verify).
    let mut certs: Vec<CertificateView<'_>> = alloc::vec![leaf];
    for (index, der) in envelope.x5c.iter().enumerate().take(MAX_CHAIN_LEN).skip(1) {
        match CertificateView::parse(der) {
            Ok(c) => certs.push(c),
            Err(reason) => {
                record(
                    &mut report,
                    Action::Enforce,
                    Error::CertificateMalformed { index, reason },
                );
                return report;
            }
        }
    }
    report.signer = Some(certs[0].subject_string());

    let stages: [(Stage, Action); 3] = [
        (Stage::Authenticity, actions.authenticity),
        (Stage::Expiry, actions.expiry),
        (Stage::AuthenticTimestamp, actions.authentic_timestamp),
    ];
    for (stage, action) in stages {
        if action == Action::Skip {
            continue;
        }
        let outcome = match stage {
            Stage::Authenticity => check_authenticity(envelope, &certs, ctx),
            Stage::Expiry => check_expiry(envelope, ctx.time),
            _ => check_authentic_timestamp(envelope, &certs, ctx.time, &mut report.warnings),
        };
        match outcome {
            Ok(()) => *report.checks.slot(stage) = OK.into(),
            Err(e) => {
                if record(&mut report, action, e) {
                    return report;
                }
            }
        }
    }
    report.checks.revocation = SKIPPED.into();
    report.verified = true;
    report
}

/// Records a failure in its check slot; returns whether it was enforced (the signature fails).
fn record(report: &mut SignatureReport, action: Action, error: Error) -> bool {
    let text = alloc::format!("{error}");
    *report.checks.slot(error.stage()) = text.clone();
    if action == Action::Enforce {
        report.error = Some(text);
        report.failure = Some(error);
        true
    } else {
        report.warnings.push(text);
        false
    }
}

/// The first part of integrity (trust-store-trust-policy.md, "Validate Integrity"): a JWS
/// envelope that parses and obeys the header rules.
fn decode_envelope(input: &SignatureEntry) -> Result<Envelope, Error> {
    if let Some(mt) = &input.media_type {
        if mt != JWS_MEDIA_TYPE {
            return Err(Error::UnsupportedEnvelopeType {
                media_type: mt.clone(),
            });
        }
    }
    let bytes = Base64::decode_vec(&input.envelope).map_err(|_| Error::EnvelopeEncoding)?;
    jws::parse_envelope(&bytes)
}

/// The rest of integrity: the signing certificate's key dictates `alg`, the signature verifies
/// over the exact signed bytes, and the payload names this subject. Returns the parsed signing
/// certificate for the later stages.
fn check_integrity<'e>(
    envelope: &'e Envelope,
    subject: &Descriptor,
) -> Result<CertificateView<'e>, Error> {
    let leaf = CertificateView::parse(&envelope.x5c[0])
        .map_err(|reason| Error::CertificateMalformed { index: 0, reason })?;
    let key = leaf
        .public_key
        .as_ref()
        .map_err(|reason| Error::UnsupportedKey {
            index: 0,
            reason: reason.clone(),
        })?;
    let required = key
        .required_algorithm()
        .map_err(|reason| Error::UnsupportedKey { index: 0, reason })?;
    if envelope.header.alg != required {
        return Err(Error::AlgorithmKeyMismatch {
            alg: envelope.header.alg.name().into(),
            expected: required.name(),
        });
    }
    key.verify_jws(required, &envelope.signing_input, &envelope.signature)
        .map_err(|e| match e {
            crate::x509::key::JwsSignatureError::Encoding => Error::SignatureEncoding {
                alg: required.name(),
            },
            crate::x509::key::JwsSignatureError::Invalid => Error::SignatureInvalid,
        })?;
    payload::check_target_artifact(&envelope.payload, subject)?;
    Ok(leaf)
}

/// Authenticity: the chain obeys the certificate requirements, leads to a trusted certificate
/// of the policy's stores, and the signing certificate's subject is a trusted identity.
fn check_authenticity(
    envelope: &Envelope,
    certs: &[CertificateView<'_>],
    ctx: &Context<'_>,
) -> Result<(), Error> {
    let root = &certs[certs.len() - 1];
    let root_is_anchor = ctx
        .anchors
        .is_anchor(envelope.header.signing_scheme, root.der);
    chain::check_chain(certs, envelope.x5c.len(), root_is_anchor)?;
    ctx.anchors
        .check_trusted(envelope.header.signing_scheme, certs)?;
    let subject = certs[0].subject_attributes();
    if !ctx.policy.identities.matches(&subject) {
        return Err(Error::UntrustedIdentity {
            subject: certs[0].subject_string(),
        });
    }
    Ok(())
}

/// Expiry: fails when the verification time is at or after `io.cncf.notary.expiry`.
fn check_expiry(envelope: &Envelope, time: Timestamp) -> Result<(), Error> {
    match &envelope.header.expiry {
        Some(expiry) if time >= expiry.at => Err(Error::Expired {
            expiry: expiry.at,
            time,
        }),
        _ => Ok(()),
    }
}

/// Authentic timestamp: under notary.x509 without a verified timestamp, every certificate must
/// be valid at the verification time; under the signing authority scheme, at the authentic
/// signing time.
fn check_authentic_timestamp(
    envelope: &Envelope,
    certs: &[CertificateView<'_>],
    time: Timestamp,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let at = match (
        &envelope.header.signing_scheme,
        &envelope.header.authentic_signing_time,
    ) {
        (SigningScheme::X509SigningAuthority, Some(t)) => t.at,
        _ => {
            if envelope.has_timestamp_signature {
                warnings.push(
                    "authenticTimestamp: the envelope's timestamp countersignature was not verified (no TSA support); \
                     the verification time was used"
                        .into(),
                );
            }
            time
        }
    };
    chain::check_validity_at(certs, at)
}
