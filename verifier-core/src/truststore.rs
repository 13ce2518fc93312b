//! Trust stores as the request carries them (PEM texts under `type:name` keys), reduced to the
//! DER certificates that can anchor a chain. Trust is decided by DER equality, never by name
//! (trust-store-trust-policy.md, "Validate Authenticity").

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use der::Decode;

use crate::error::Error;
use crate::jws::SigningScheme;
use crate::policy::Policy;
use crate::request::PemList;
use crate::x509::CertificateView;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// The certificates of the stores one policy names, grouped by store type.
#[derive(Debug, Default)]
pub struct TrustAnchors {
    /// `(store key, DER certificates)` for each store the policy names.
    stores: Vec<(String, String, Vec<Vec<u8>>)>,
    /// Stores the policy names but the request lacks.
    missing: Vec<String>,
}

impl TrustAnchors {
    /// Loads the stores `policy` names from the request's trust stores. Malformed PEM is a
    /// request error; a missing store fails authenticity later, for the signatures that need it.
    pub fn load(policy: &Policy, provided: &BTreeMap<String, PemList>) -> Result<Self, Error> {
        let mut anchors = TrustAnchors::default();
        for store in &policy.trust_stores {
            let key = store.key();
            match provided.get(&key) {
                None => anchors.missing.push(key),
                Some(pems) => {
                    let mut ders = Vec::new();
                    for text in pems.texts() {
                        ders.extend(
                            parse_pem_certificates(text)
                                .ok_or_else(|| Error::TrustStoreInvalid { store: key.clone() })?,
                        );
                    }
                    anchors.stores.push((key, store.kind.clone(), ders));
                }
            }
        }
        Ok(anchors)
    }

    /// Whether `der` is, byte for byte, a certificate of a store of the scheme's type.
    pub fn is_anchor(&self, scheme: SigningScheme, der: &[u8]) -> bool {
        let kind = scheme.trust_store_type();
        self.stores
            .iter()
            .filter(|(_, k, _)| k == kind)
            .flat_map(|(_, _, ders)| ders.iter())
            .any(|a| a.as_slice() == der)
    }

    /// Some certificate of `chain` is, byte for byte, a certificate of a store of the type the
    /// signing scheme requires (`ca` for notary.x509, `signingAuthority` for the signing
    /// authority scheme).
    pub fn check_trusted(
        &self,
        scheme: SigningScheme,
        chain: &[CertificateView<'_>],
    ) -> Result<(), Error> {
        let kind = scheme.trust_store_type();
        if let Some(store) = self
            .missing
            .iter()
            .find(|k| k.split(':').next() == Some(kind))
        {
            return Err(Error::TrustStoreMissing {
                store: store.clone(),
            });
        }
        if chain.iter().any(|cert| self.is_anchor(scheme, cert.der)) {
            Ok(())
        } else {
            Err(Error::UntrustedChain)
        }
    }
}

/// Every `CERTIFICATE` block of a PEM text as DER, each checked to parse as X.509. `None` when a
/// block is malformed or there is none.
pub fn parse_pem_certificates(text: &str) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after.find(END)?;
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = Base64::decode_vec(&body).ok()?;
        x509_cert::Certificate::from_der(&der).ok()?;
        out.push(der);
        rest = &after[end + END.len()..];
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}
