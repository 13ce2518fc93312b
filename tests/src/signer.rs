//! A signer with a fresh self-signed code-signing certificate (like `notation cert
//! generate-test`), and the trust configuration that names it.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use verifier_core::sign::{
    generate_test_certificate, sign_envelope, KeyType, SignOptions, SigningKey,
};
use verifier_core::{SignatureVerification, TrustPolicyDocument, TrustPolicyStatement};

pub struct Signer {
    pub key: SigningKey,
    pub cert_pem: String,
    pub chain: Vec<Vec<u8>>,
}

impl Signer {
    pub fn new(name: &str) -> Self {
        let now = SystemTime::now() - Duration::from_secs(60);
        let (key_pem, cert_pem) =
            generate_test_certificate(name, KeyType::EcP256, now).expect("test certificate");
        let key = SigningKey::from_pkcs8_pem(&key_pem).expect("key");
        let chain = verifier_core::parse_pem_certificates(&cert_pem).expect("certificate");
        Signer {
            key,
            cert_pem,
            chain,
        }
    }

    /// A JWS envelope over `subject`.
    pub fn sign(&self, subject: &Value) -> Vec<u8> {
        sign_envelope(
            &self.key,
            &self.chain,
            subject,
            &SignOptions::new(SystemTime::now()),
        )
        .expect("sign")
    }

    /// `data` for the notary policy trusting this signer's certificate, for `registries`.
    pub fn policy_data(&self, registries: Value) -> Value {
        let policy = TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
            "e2e",
            vec!["*".into()],
            SignatureVerification::new("strict"),
        )
        .with_trust_stores(vec!["ca:e2e".into()])
        .with_trusted_identities(vec!["*".into()])]);
        json!({"notary": {"config": {
            "registries": registries,
            "trustPolicy": policy,
            "trustStores": {"ca:e2e": [self.cert_pem]},
        }}})
    }
}
