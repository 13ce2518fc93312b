//! Generated cases for the envelope, protected-header, signature and payload rules (integrity,
//! and the expiry stage). Each test fails if the rule it names is removed.

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use verifier_core::sign::{b64url, HashAlgorithm, KeyType};
use verifier_core::{Error, PemList, SignatureAlgorithm, SignatureVerification, Stage};

fn setup() -> (Pki, Envelope) {
    let pki = pki(KeyType::EcP256);
    let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]);
    (pki, env)
}

/// Another valid envelope from the same PKI, to bend differently.
fn fresh(pki: &Pki) -> Envelope {
    Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root])
}

fn verify(pki: &Pki, envelope: Vec<u8>) -> verifier_core::Report {
    Request::new(envelope, &pki.root).verify()
}

/// An envelope object with the given raw parts and signature (no signing).
fn raw(protected: &[u8], payload: &[u8], header: Value, signature: &[u8]) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"payload": b64url(payload), "protected": b64url(protected),
                              "header": header, "signature": b64url(signature)}),
    )
    .unwrap()
}

#[test]
fn baseline_is_valid() {
    let (pki, env) = setup();
    let report = verify(&pki, env.build());
    assert_valid(&report);
    let sig = &report.signatures[0];
    assert_eq!(
        sig.signer.as_deref(),
        Some("CN=builder,O=Acme,L=Seattle,ST=WA,C=US")
    );
    assert_eq!(sig.checks.integrity, "ok");
    assert_eq!(sig.checks.authenticity, "ok");
    assert_eq!(sig.checks.expiry, "ok");
    assert_eq!(sig.checks.authentic_timestamp, "ok");
    assert_eq!(sig.checks.revocation, "skipped");
}

#[test]
fn alg_none_is_refused() {
    let (pki, env) = setup();
    let env = env.with_header(|h| {
        h.insert("alg".into(), json!("none"));
    });
    let report = verify(
        &pki,
        raw(&env.protected, &env.payload, env.unprotected.clone(), b""),
    );
    assert_fails(
        &report,
        Stage::Integrity,
        |e| matches!(e, Error::UnsupportedAlgorithm { alg } if alg == "none"),
    );
}

#[test]
fn hmac_keyed_with_the_public_key_is_refused() {
    let pki = pki(KeyType::Rsa2048);
    let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]).with_header(|h| {
        h.insert("alg".into(), json!("HS256"));
    });
    let input = signing_input(&env.protected, &env.payload);
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(&pki.leaf.key.public_key_der().unwrap()).unwrap();
    mac.update(input.as_bytes());
    let report = verify(
        &pki,
        raw(
            &env.protected,
            &env.payload,
            env.unprotected.clone(),
            &mac.finalize().into_bytes(),
        ),
    );
    assert_fails(
        &report,
        Stage::Integrity,
        |e| matches!(e, Error::UnsupportedAlgorithm { alg } if alg == "HS256"),
    );
}

#[test]
fn rs256_is_refused() {
    let pki = pki(KeyType::Rsa2048);
    let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]).with_header(|h| {
        h.insert("alg".into(), json!("RS256"));
    });
    let input = signing_input(&env.protected, &env.payload);
    let sig = pki
        .leaf
        .key
        .sign_pkcs1v15(HashAlgorithm::Sha256, input.as_bytes())
        .unwrap();
    let report = verify(
        &pki,
        raw(&env.protected, &env.payload, env.unprotected.clone(), &sig),
    );
    assert_fails(
        &report,
        Stage::Integrity,
        |e| matches!(e, Error::UnsupportedAlgorithm { alg } if alg == "RS256"),
    );
}

#[test]
fn alg_must_be_the_one_the_key_dictates() {
    // PS384 on RSA-2048 (a genuine PS384 signature, still refused).
    let pki_rsa = pki(KeyType::Rsa2048);
    let mut env =
        Envelope::new(&pki_rsa.leaf.key, &[&pki_rsa.leaf, &pki_rsa.root]).with_header(|h| {
            h.insert("alg".into(), json!("PS384"));
        });
    env.alg = SignatureAlgorithm::Ps384;
    let report = verify(&pki_rsa, env.build());
    assert_fails(&report, Stage::Integrity, |e| {
        matches!(
            e,
            Error::AlgorithmKeyMismatch {
                expected: "PS256",
                ..
            }
        )
    });

    // ES384 on P-256.
    let (pki, env) = setup();
    let mut env = env.with_header(|h| {
        h.insert("alg".into(), json!("ES384"));
    });
    env.alg = SignatureAlgorithm::Es384;
    let report = verify(&pki, env.build());
    assert_fails(&report, Stage::Integrity, |e| {
        matches!(
            e,
            Error::AlgorithmKeyMismatch {
                expected: "ES256",
                ..
            }
        )
    });
}

#[test]
fn der_ecdsa_signature_is_refused() {
    let (pki, env) = setup();
    let input = signing_input(&env.protected, &env.payload);
    let der = pki
        .leaf
        .key
        .sign_raw_der(SignatureAlgorithm::Es256, input.as_bytes())
        .unwrap();
    let report = verify(
        &pki,
        raw(&env.protected, &env.payload, env.unprotected.clone(), &der),
    );
    assert_fails(&report, Stage::Integrity, |e| {
        matches!(e, Error::SignatureEncoding { .. })
    });
}

#[test]
fn crit_rules() {
    let (pki, env) = setup();
    let unknown = fresh(&pki).with_header(|h| {
        h.insert(
            "crit".into(),
            json!([
                "io.cncf.notary.signingScheme",
                "io.cncf.notary.verificationPlugin"
            ]),
        );
        h.insert(
            "io.cncf.notary.verificationPlugin".into(),
            json!("acme-plugin"),
        );
    });
    assert_fails(
        &verify(&pki, unknown.build()),
        Stage::Integrity,
        |e| matches!(e, Error::UnknownCriticalHeader { name } if name == "io.cncf.notary.verificationPlugin"),
    );

    let absent = env.with_header(|h| {
        h.insert(
            "crit".into(),
            json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]),
        );
    });
    assert_fails(&verify(&pki, absent.build()), Stage::Integrity, |e| {
        matches!(e, Error::CriticalHeaderAbsent { .. })
    });

    let missing = fresh(&pki).with_header(|h| {
        h.remove("crit");
    });
    assert_fails(&verify(&pki, missing.build()), Stage::Integrity, |e| {
        matches!(e, Error::MissingHeader { name: "crit" })
    });

    let without_scheme = fresh(&pki).with_header(|h| {
        h.insert("crit".into(), json!([]));
    });
    assert_fails(
        &verify(&pki, without_scheme.build()),
        Stage::Integrity,
        |e| matches!(e, Error::InvalidHeader { name: "crit", .. }),
    );
}

#[test]
fn expiry_must_be_critical_and_after_signing_time() {
    let (pki, env) = setup();
    let not_critical = env.with_header(|h| {
        h.insert(
            "io.cncf.notary.expiry".into(),
            json!("2027-06-01T00:00:00Z"),
        );
    });
    assert_fails(&verify(&pki, not_critical.build()), Stage::Integrity, |e| {
        matches!(
            e,
            Error::HeaderNotCritical {
                name: "io.cncf.notary.expiry"
            }
        )
    });

    let before = fresh(&pki).with_header(|h| {
        h.insert(
            "crit".into(),
            json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]),
        );
        h.insert(
            "io.cncf.notary.expiry".into(),
            json!("2027-01-15T06:00:00Z"),
        );
    });
    assert_fails(&verify(&pki, before.build()), Stage::Integrity, |e| {
        matches!(e, Error::ExpiryBeforeSigningTime)
    });
}

#[test]
fn expired_signature_fails_expiry_and_is_only_logged_when_permissive() {
    let (pki, env) = setup();
    let env = env.with_header(|h| {
        h.insert(
            "crit".into(),
            json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]),
        );
        h.insert(
            "io.cncf.notary.expiry".into(),
            json!("2027-01-15T08:00:00Z"),
        );
    });
    // time == expiry is already expired.
    assert_fails(&verify(&pki, env.build()), Stage::Expiry, |e| {
        matches!(e, Error::Expired { .. })
    });
    let mut req = Request::new(env.build(), &pki.root);
    req.time = "2027-01-15T07:59:59Z".into();
    assert_valid(&req.verify());

    let mut req = Request::new(env.build(), &pki.root);
    req.level = SignatureVerification::new("permissive");
    let report = req.verify();
    assert_valid(&report);
    assert!(report.signatures[0]
        .checks
        .expiry
        .starts_with("expiry: signature expired"));
    assert!(
        report.warnings.iter().any(|w| w.contains("expired")),
        "{:?}",
        report.warnings
    );

    let mut req = Request::new(env.build(), &pki.root);
    req.level = SignatureVerification::new("strict").with_override("expiry", "log");
    assert_valid(&req.verify());
}

#[test]
fn content_type_and_signing_scheme_are_fixed() {
    let (pki, env) = setup();
    let cty = env.with_header(|h| {
        h.insert("cty".into(), json!("application/json"));
    });
    assert_fails(&verify(&pki, cty.build()), Stage::Integrity, |e| {
        matches!(e, Error::UnsupportedContentType { .. })
    });
    let scheme = fresh(&pki).with_header(|h| {
        h.insert(
            "io.cncf.notary.signingScheme".into(),
            json!("notary.x509.foo"),
        );
    });
    assert_fails(&verify(&pki, scheme.build()), Stage::Integrity, |e| {
        matches!(e, Error::UnsupportedSigningScheme { .. })
    });
}

#[test]
fn signing_time_is_required_and_may_carry_an_offset_and_fractions() {
    let (pki, env) = setup();
    let missing = env.with_header(|h| {
        h.remove("io.cncf.notary.signingTime");
    });
    assert_fails(&verify(&pki, missing.build()), Stage::Integrity, |e| {
        matches!(
            e,
            Error::MissingHeader {
                name: "io.cncf.notary.signingTime"
            }
        )
    });
    let offset = fresh(&pki).with_header(|h| {
        h.insert(
            "io.cncf.notary.signingTime".into(),
            json!("2027-01-15T15:00:00.123456+08:00"),
        );
    });
    let report = verify(&pki, offset.build());
    assert_valid(&report);
    assert_eq!(
        report.signatures[0].signing_time.as_deref(),
        Some("2027-01-15T15:00:00.123456+08:00")
    );
    let garbage = fresh(&pki).with_header(|h| {
        h.insert("io.cncf.notary.signingTime".into(), json!("yesterday"));
    });
    assert_fails(&verify(&pki, garbage.build()), Stage::Integrity, |e| {
        matches!(e, Error::InvalidHeader { .. })
    });
}

#[test]
fn duplicate_protected_header_names_are_refused() {
    let (pki, mut env) = setup();
    let text = String::from_utf8(env.protected.clone()).unwrap();
    env.protected = text.replacen("{", r#"{"alg":"none","#, 1).into_bytes();
    assert_fails(
        &verify(&pki, env.build()),
        Stage::Integrity,
        |e| matches!(e, Error::DuplicateHeader { name } if name == "alg"),
    );
}

#[test]
fn unprotected_header_cannot_override_protected_values() {
    let (pki, env) = setup();
    for (name, value) in [
        ("alg", json!("ES384")),
        ("crit", json!(["io.cncf.notary.signingScheme"])),
    ] {
        let mut e = fresh(&pki);
        e.unprotected[name] = value;
        assert_fails(
            &verify(&pki, e.build()),
            Stage::Integrity,
            |err| matches!(err, Error::UnprotectedHeaderConflict { name: n } if n == name),
        );
    }
    // An expiry in the unprotected header only is never read: the signature stays valid.
    let mut e = env;
    e.unprotected["io.cncf.notary.expiry"] = json!("2000-01-01T00:00:00Z");
    let report = verify(&pki, e.build());
    assert_valid(&report);
    assert_eq!(report.signatures[0].checks.expiry, "ok");
    // …and with a protected expiry, it conflicts.
    let mut e = fresh(&pki).with_header(|h| {
        h.insert(
            "crit".into(),
            json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]),
        );
        h.insert(
            "io.cncf.notary.expiry".into(),
            json!("2030-01-01T00:00:00Z"),
        );
    });
    e.unprotected["io.cncf.notary.expiry"] = json!("2099-01-01T00:00:00Z");
    assert_fails(&verify(&pki, e.build()), Stage::Integrity, |err| {
        matches!(err, Error::UnprotectedHeaderConflict { .. })
    });
}

#[test]
fn envelope_shape_rules() {
    let (pki, env) = setup();
    // Padded base64url.
    let mut obj = env.object();
    let padded = format!("{}==", obj["payload"].as_str().unwrap());
    obj["payload"] = json!(padded);
    assert_fails(
        &verify(&pki, serde_json::to_vec(&obj).unwrap()),
        Stage::Integrity,
        |e| matches!(e, Error::Base64Url { member: "payload" }),
    );
    // Extra top-level member.
    let mut obj = env.object();
    obj["unprotected"] = json!({});
    assert_fails(
        &verify(&pki, serde_json::to_vec(&obj).unwrap()),
        Stage::Integrity,
        |e| matches!(e, Error::EnvelopeUnexpectedMember { name } if name == "unprotected"),
    );
    // General JWS JSON serialization.
    let obj = env.object();
    let general = json!({"payload": obj["payload"], "signatures": [{"protected": obj["protected"], "header": obj["header"], "signature": obj["signature"]}]});
    assert_fails(
        &verify(&pki, serde_json::to_vec(&general).unwrap()),
        Stage::Integrity,
        |e| matches!(e, Error::EnvelopeUnexpectedMember { name } if name == "signatures"),
    );
    // Missing member.
    let mut obj = env.object();
    obj.as_object_mut().unwrap().remove("header");
    assert_fails(
        &verify(&pki, serde_json::to_vec(&obj).unwrap()),
        Stage::Integrity,
        |e| matches!(e, Error::EnvelopeMissingMember { name: "header" }),
    );
    // Trailing garbage.
    let mut bytes = env.build();
    bytes.extend_from_slice(b"garbage");
    assert_fails(&verify(&pki, bytes), Stage::Integrity, |e| {
        matches!(e, Error::EnvelopeMalformed { .. })
    });
    // Missing x5c.
    let mut e = fresh(&pki);
    e.unprotected.as_object_mut().unwrap().remove("x5c");
    assert_fails(&verify(&pki, e.build()), Stage::Integrity, |e| {
        matches!(e, Error::MissingCertificateChain)
    });
}

#[test]
fn corrupted_signature_and_foreign_key_fail() {
    let (pki, env) = setup();
    let mut obj = env.object();
    let mut sig =
        base64ct::Base64UrlUnpadded::decode_vec(obj["signature"].as_str().unwrap()).unwrap();
    sig[10] ^= 0x01;
    obj["signature"] = json!(b64url(&sig));
    assert_fails(
        &verify(&pki, serde_json::to_vec(&obj).unwrap()),
        Stage::Integrity,
        |e| matches!(e, Error::SignatureInvalid),
    );

    // Signed by a key other than x5c[0]'s.
    let mut other = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]);
    other.key = verifier_core::sign::SigningKey::generate(KeyType::EcP256).unwrap();
    assert_fails(&verify(&pki, other.build()), Stage::Integrity, |e| {
        matches!(e, Error::SignatureInvalid)
    });
}

#[test]
fn pss_salt_must_equal_the_hash_length() {
    let pki = pki(KeyType::Rsa2048);
    let env = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]);
    assert_valid(&verify(&pki, env.build()));
    // Re-sign with a 20-byte salt (valid PSS, wrong for JWS PS256).
    let input = signing_input(&env.protected, &env.payload);
    let der = pki.leaf.key.to_pkcs8_pem().unwrap();
    let rsa_key = <rsa::PrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&der).unwrap();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(input.as_bytes());
    let sig = rsa_key
        .sign_with_rng(
            &mut rand_core::UnwrapErr(getrandom::SysRng),
            rsa::Pss::<sha2::Sha256>::new_with_salt(20),
            &digest,
        )
        .unwrap();
    let report = verify(
        &pki,
        raw(&env.protected, &env.payload, env.unprotected.clone(), &sig),
    );
    assert_fails(&report, Stage::Integrity, |e| {
        matches!(e, Error::SignatureInvalid)
    });
}

#[test]
fn payload_must_name_the_subject() {
    let (pki, env) = setup();
    let mut req = Request::new(env.build(), &pki.root);
    req.subject.digest =
        "sha256:0000000000000000000000000000000000000000000000000000000000000000".into();
    assert_fails(&req.verify(), Stage::Integrity, |e| {
        matches!(
            e,
            Error::SubjectMismatch {
                field: "digest",
                ..
            }
        )
    });
    let mut req = Request::new(env.build(), &pki.root);
    req.subject.size = 518;
    assert_fails(&req.verify(), Stage::Integrity, |e| {
        matches!(e, Error::SubjectMismatch { field: "size", .. })
    });

    // Key order and annotations in the payload do not matter.
    let mut reordered = fresh(&pki);
    let s = subject();
    reordered.payload = serde_json::to_vec(&json!({"targetArtifact": {
        "size": s.size, "annotations": {"org.opencontainers.image.title": "x"}, "digest": s.digest, "mediaType": s.media_type}}))
    .unwrap();
    assert_valid(&verify(&pki, reordered.build()));
}

#[test]
fn envelope_field_and_media_type_are_checked() {
    let (pki, env) = setup();
    let mut request = Request::new(env.build(), &pki.root).json();
    request["signatures"][0]["envelope"] = json!("not base64!");
    let report = verifier_core::verify_json(&serde_json::to_vec(&request).unwrap());
    assert_fails(&report, Stage::Integrity, |e| {
        matches!(e, Error::EnvelopeEncoding)
    });
    let mut request = Request::new(env.build(), &pki.root).json();
    request["signatures"][0]["mediaType"] = json!("application/cose");
    let report = verifier_core::verify_json(&serde_json::to_vec(&request).unwrap());
    assert_fails(&report, Stage::Integrity, |e| {
        matches!(e, Error::UnsupportedEnvelopeType { .. })
    });
    // Standard base64 of the envelope round-trips (sanity of the fixture itself).
    assert_eq!(
        Base64::decode_vec(&Base64::encode_string(&env.build())).unwrap(),
        env.build()
    );
}

#[test]
fn signing_authority_scheme_uses_the_authentic_signing_time() {
    let (pki, env) = setup();
    let sa = env.with_header(|h| {
        h.remove("io.cncf.notary.signingTime");
        h.insert(
            "io.cncf.notary.signingScheme".into(),
            json!("notary.x509.signingAuthority"),
        );
        h.insert(
            "crit".into(),
            json!([
                "io.cncf.notary.signingScheme",
                "io.cncf.notary.authenticSigningTime"
            ]),
        );
        h.insert(
            "io.cncf.notary.authenticSigningTime".into(),
            json!("2027-01-15T07:00:00Z"),
        );
    });
    let mut req = Request::new(sa.build(), &pki.root);
    let mut request = req.request();
    // The anchor must be in a signingAuthority store for this scheme.
    request.trust_policy.trust_policies[0].trust_stores =
        Some(vec!["signingAuthority:acme".into()]);
    let anchors: PemList = request.trust_stores.remove("ca:acme").unwrap();
    request
        .trust_stores
        .insert("signingAuthority:acme".into(), anchors);
    // Verified long after the leaf expired: the authentic signing time is what counts.
    request.time = "2040-01-01T00:00:00Z".into();
    assert_valid(&verifier_core::verify_json(
        &serde_json::to_vec(&request).unwrap(),
    ));
    // With only a ca store, the signing-authority signature is not trusted.
    req.time = "2027-01-15T08:00:00Z".into();
    assert_fails(&req.verify(), Stage::Authenticity, |e| {
        matches!(e, Error::TrustStoreMissing { .. } | Error::UntrustedChain)
    });

    let not_critical = fresh(&pki).with_header(|h| {
        h.remove("io.cncf.notary.signingTime");
        h.insert(
            "io.cncf.notary.signingScheme".into(),
            json!("notary.x509.signingAuthority"),
        );
        h.insert(
            "io.cncf.notary.authenticSigningTime".into(),
            json!("2027-01-15T07:00:00Z"),
        );
    });
    assert_fails(&verify(&pki, not_critical.build()), Stage::Integrity, |e| {
        matches!(e, Error::HeaderNotCritical { .. })
    });
}
