//! The certificate chain rules of signature-specification.md, "Certificate Requirements", each
//! one function. The chain is `x5c` as sent: signing certificate first, then each issuer, ending
//! in a self-signed root; complete, strictly ordered, nothing extra.

use der::asn1::ObjectIdentifier;

use super::CertificateView;
use crate::error::Error;
use crate::time::Timestamp;

/// The longest chain accepted: a work budget against hostile envelopes and the depth of any real
/// code-signing PKI.
pub const MAX_CHAIN_LEN: usize = 10;

const EKU_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Applies every structural rule to the chain. Trust (which root) is decided elsewhere;
/// `root_is_anchor` says whether the last certificate is byte for byte a trust anchor, whose
/// self-signature proves nothing more (RFC 5280 §6.1: trust anchors are trusted as given).
pub fn check_chain(
    chain: &[CertificateView<'_>],
    total_len: usize,
    root_is_anchor: bool,
) -> Result<(), Error> {
    check_chain_length(total_len)?;
    for (index, cert) in chain.iter().enumerate() {
        check_signature_algorithm(index, cert)?;
        check_key_strength(index, cert)?;
        check_no_unknown_critical_extensions(index, cert)?;
    }
    check_issuance(chain, root_is_anchor)?;
    check_leaf_certificate(&chain[0])?;
    for (index, cert) in chain.iter().enumerate().skip(1) {
        check_ca_certificate(index, cert)?;
    }
    Ok(())
}

/// At most [`MAX_CHAIN_LEN`] certificates.
pub fn check_chain_length(len: usize) -> Result<(), Error> {
    if len > MAX_CHAIN_LEN {
        return Err(Error::ChainTooLong {
            len,
            max: MAX_CHAIN_LEN,
        });
    }
    Ok(())
}

/// Certificates are signed with RSA PKCS#1 v1.5 or ECDSA over SHA-256/384/512; never SHA-1.
pub fn check_signature_algorithm(index: usize, cert: &CertificateView<'_>) -> Result<(), Error> {
    cert.signature_algorithm()
        .map(|_| ())
        .map_err(|oid| Error::CertificateSignatureAlgorithm { index, oid })
}

/// Every key of the chain is RSA of at least 2048 bits or EC on P-256, P-384 or P-521.
pub fn check_key_strength(index: usize, cert: &CertificateView<'_>) -> Result<(), Error> {
    let key = cert
        .public_key
        .as_ref()
        .map_err(|reason| Error::UnsupportedKeyInChain {
            index,
            reason: reason.clone(),
        })?;
    key.check_strength()
        .map_err(|reason| Error::UnsupportedKeyInChain { index, reason })
}

/// RFC 5280 §4.2: a critical extension the verifier does not process fails the certificate.
pub fn check_no_unknown_critical_extensions(
    index: usize,
    cert: &CertificateView<'_>,
) -> Result<(), Error> {
    if cert.unknown_critical.is_empty() {
        Ok(())
    } else {
        Err(Error::CertificateRequirement {
            index,
            rule: "has a critical extension the verifier does not process",
        })
    }
}

/// Each certificate is issued (name and signature) by the next one, and the last one is a
/// self-signed root. A leaf alone must therefore be self-signed. The root's own signature is
/// verified unless it is a trust anchor.
pub fn check_issuance(chain: &[CertificateView<'_>], root_is_anchor: bool) -> Result<(), Error> {
    for index in 0..chain.len() - 1 {
        let (cert, issuer) = (&chain[index], &chain[index + 1]);
        if cert.cert.tbs_certificate().issuer() != issuer.cert.tbs_certificate().subject() {
            return Err(Error::ChainOrder { index });
        }
        if !cert.is_signed_by(issuer) {
            return Err(Error::ChainSignature { index });
        }
    }
    let root = &chain[chain.len() - 1];
    if !root.names_itself_as_issuer() || (!root_is_anchor && !root.is_signed_by(root)) {
        return Err(Error::ChainRootMissing);
    }
    Ok(())
}

/// The signing certificate: keyUsage critical with digitalSignature and none of
/// keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign; basicConstraints, if
/// present, cA=false; extendedKeyUsage, if present, codeSigning only.
pub fn check_leaf_certificate(cert: &CertificateView<'_>) -> Result<(), Error> {
    let fail = |rule| Err(Error::CertificateRequirement { index: 0, rule });
    match &cert.key_usage {
        None => return fail("signing certificate has no keyUsage extension"),
        Some(ku) if !ku.critical => return fail("signing certificate's keyUsage is not critical"),
        Some(ku) if !ku.value.digital_signature() => {
            return fail("signing certificate's keyUsage lacks digitalSignature")
        }
        Some(ku)
            if ku.value.key_encipherment()
                || ku.value.data_encipherment()
                || ku.value.key_agreement()
                || ku.value.key_cert_sign()
                || ku.value.crl_sign() =>
        {
            return fail(
                "signing certificate's keyUsage allows keyEncipherment, dataEncipherment, keyAgreement, keyCertSign or cRLSign",
            )
        }
        Some(_) => {}
    }
    if let Some(bc) = &cert.basic_constraints {
        if bc.value.ca {
            return fail("signing certificate is a CA (basicConstraints cA=true)");
        }
    }
    if let Some(eku) = &cert.extended_key_usage {
        if eku.value.0.iter().any(|oid| *oid != EKU_CODE_SIGNING) || eku.value.0.is_empty() {
            return fail("signing certificate's extendedKeyUsage is not codeSigning only");
        }
    }
    Ok(())
}

/// An issuing certificate at `index` (1 = the leaf's issuer): basicConstraints critical with
/// cA=true, keyUsage critical with keyCertSign, and a pathLenConstraint, if any, not smaller
/// than the number of intermediate CAs below it.
pub fn check_ca_certificate(index: usize, cert: &CertificateView<'_>) -> Result<(), Error> {
    let fail = |rule| Err(Error::CertificateRequirement { index, rule });
    let bc = match &cert.basic_constraints {
        None => return fail("CA certificate has no basicConstraints extension"),
        Some(bc) if !bc.critical => {
            return fail("CA certificate's basicConstraints is not critical")
        }
        Some(bc) if !bc.value.ca => return fail("issuing certificate is not a CA (cA=false)"),
        Some(bc) => bc,
    };
    match &cert.key_usage {
        None => return fail("CA certificate has no keyUsage extension"),
        Some(ku) if !ku.critical => return fail("CA certificate's keyUsage is not critical"),
        Some(ku) if !ku.value.key_cert_sign() => {
            return fail("CA certificate's keyUsage lacks keyCertSign")
        }
        Some(_) => {}
    }
    if let Some(path_len) = bc.value.path_len_constraint {
        let intermediates_below = index - 1;
        if intermediates_below > usize::from(path_len) {
            return Err(Error::PathLenExceeded { index, path_len });
        }
    }
    Ok(())
}

/// trust-store-trust-policy.md, "Validate Trusted Timestamp": every certificate of the chain is
/// valid at `at` (the verification time, or the authentic signing time of a signing authority).
pub fn check_validity_at(chain: &[CertificateView<'_>], at: Timestamp) -> Result<(), Error> {
    for (index, cert) in chain.iter().enumerate() {
        if at < cert.not_before || at > cert.not_after {
            return Err(Error::CertificateNotValid {
                index,
                at,
                not_before: cert.not_before,
                not_after: cert.not_after,
            });
        }
    }
    Ok(())
}
