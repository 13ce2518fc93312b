//! Interop: envelopes we sign (PS256/384/512, ES256/384/512) verify under `josekit`, an
//! independent JOSE implementation built on OpenSSL, which also reads our certificates. The
//! verifier is built from the public key OpenSSL extracts from the x5c leaf, and for PS* josekit
//! pins the PSS parameters (MGF1 with the same hash, salt = hash length) on the key.

use std::time::{Duration, SystemTime};

use josekit::jws::{JwsContext, JwsVerifier};
use serde_json::{json, Value};
use verifier_core::sign::{
    sign_envelope, CertificateSpec, KeyType, SignOptions, SigningKey, CRIT_EXPIRY,
    CRIT_SIGNING_SCHEME,
};
use verifier_core::SignatureAlgorithm;

const RSA_2048: &str = include_str!("../../verifier-core/src/sign/testdata/rsa-2048.key");
const RSA_3072: &str = include_str!("../../verifier-core/src/sign/testdata/rsa-3072.key");
const RSA_4096: &str = include_str!("../../verifier-core/src/sign/testdata/rsa-4096.key");

fn key_for(alg: &str) -> SigningKey {
    match alg {
        "PS256" => SigningKey::from_pkcs8_pem(RSA_2048).unwrap(),
        "PS384" => SigningKey::from_pkcs8_pem(RSA_3072).unwrap(),
        "PS512" => SigningKey::from_pkcs8_pem(RSA_4096).unwrap(),
        "ES256" => SigningKey::generate(KeyType::EcP256).unwrap(),
        "ES384" => SigningKey::generate(KeyType::EcP384).unwrap(),
        "ES512" => SigningKey::generate(KeyType::EcP521).unwrap(),
        _ => unreachable!(),
    }
}

fn josekit_verifier(alg: &str, spki_der: &[u8]) -> Box<dyn JwsVerifier> {
    use josekit::jws::{ES256, ES384, ES512, PS256, PS384, PS512};
    match alg {
        "PS256" => Box::new(PS256.verifier_from_der(spki_der).unwrap()),
        "PS384" => Box::new(PS384.verifier_from_der(spki_der).unwrap()),
        "PS512" => Box::new(PS512.verifier_from_der(spki_der).unwrap()),
        "ES256" => Box::new(ES256.verifier_from_der(spki_der).unwrap()),
        "ES384" => Box::new(ES384.verifier_from_der(spki_der).unwrap()),
        "ES512" => Box::new(ES512.verifier_from_der(spki_der).unwrap()),
        _ => unreachable!(),
    }
}

fn descriptor() -> Value {
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9",
        "size": 517
    })
}

fn context() -> JwsContext {
    let mut ctx = JwsContext::new();
    ctx.add_acceptable_critical(CRIT_SIGNING_SCHEME);
    ctx.add_acceptable_critical(CRIT_EXPIRY);
    ctx
}

#[test]
fn josekit_verifies_every_algorithm() {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for alg in ["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"] {
        let key = key_for(alg);
        assert_eq!(
            key.algorithm().unwrap(),
            SignatureAlgorithm::from_name(alg).unwrap()
        );
        let cert = CertificateSpec::new(
            "C=US, ST=WA, L=Seattle, O=Notary, CN=interop",
            now - 86_400,
            now + 86_400,
        )
        .key(key.clone())
        .build()
        .unwrap();
        let mut options = SignOptions::new(SystemTime::now());
        options.expiry = Some(Duration::from_secs(3600));
        let envelope = sign_envelope(
            &key,
            std::slice::from_ref(&cert.der),
            &descriptor(),
            &options,
        )
        .unwrap();

        // OpenSSL reads our certificate and gives the public key josekit verifies with.
        let x509 = openssl::x509::X509::from_der(&cert.der).unwrap();
        let spki = x509.public_key().unwrap().public_key_to_der().unwrap();
        let verifier = josekit_verifier(alg, &spki);

        let (payload, header) = context()
            .deserialize_json(&envelope, verifier.as_ref())
            .unwrap_or_else(|e| panic!("{alg}: josekit rejected our envelope: {e}"));
        let payload: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(payload, json!({ "targetArtifact": descriptor() }), "{alg}");
        assert_eq!(header.algorithm(), Some(alg));
        assert_eq!(
            header.content_type(),
            Some("application/vnd.cncf.notary.payload.v1+json")
        );
        assert_eq!(
            header.x509_certificate_chain(),
            Some(vec![cert.der.clone()]),
            "{alg}: x5c"
        );

        // And josekit notices tampering: flip one payload character.
        let mut env: Value = serde_json::from_slice(&envelope).unwrap();
        let mut p = env["payload"].as_str().unwrap().to_string();
        let last = p.pop().unwrap();
        p.push(if last == 'A' { 'B' } else { 'A' });
        env["payload"] = Value::String(p);
        let tampered = serde_json::to_vec(&env).unwrap();
        assert!(
            context()
                .deserialize_json(&tampered, verifier.as_ref())
                .is_err(),
            "{alg}: tampered payload accepted"
        );
    }
}

#[test]
fn josekit_rejects_a_der_ecdsa_signature() {
    // Our negative-test tooling makes what JWS forbids; josekit (like our verifier) refuses it.
    let key = SigningKey::generate(KeyType::EcP256).unwrap();
    let protected = br#"{"alg":"ES256"}"#;
    let payload = br#"{"targetArtifact":{}}"#;
    let mut env = verifier_core::sign::assemble(
        protected,
        payload,
        json!({}),
        &key,
        SignatureAlgorithm::Es256,
    )
    .unwrap();
    let input = format!(
        "{}.{}",
        env["protected"].as_str().unwrap(),
        env["payload"].as_str().unwrap()
    );
    let spki = key.public_key_der().unwrap();
    let verifier = josekit_verifier("ES256", &spki);
    assert!(context()
        .deserialize_json(serde_json::to_vec(&env).unwrap(), verifier.as_ref())
        .is_ok());
    let der = key
        .sign_raw_der(SignatureAlgorithm::Es256, input.as_bytes())
        .unwrap();
    env["signature"] = Value::String(verifier_core::sign::b64url(&der));
    assert!(context()
        .deserialize_json(serde_json::to_vec(&env).unwrap(), verifier.as_ref())
        .is_err());
}
