//! Unit tests of the signing module: key round trips, each algorithm checked by the matching
//! RustCrypto verifier, the envelope's shape against notation's, and certificate contents.
//!
//! RSA key generation takes seconds to minutes in debug builds, so the RSA-3072/4096 keys come
//! from `testdata/` (made by this module; `regenerate_fixture_keys` rewrites them).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use der::{Decode, Encode};
use serde_json::{json, Value};
use signature::Verifier;
use spki::DecodePublicKey;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::Certificate;

use super::std;
use super::*;
use crate::alg::SignatureAlgorithm::{self, *};

const RSA_2048: &str = include_str!("testdata/rsa-2048.key");
const RSA_3072: &str = include_str!("testdata/rsa-3072.key");
const RSA_4096: &str = include_str!("testdata/rsa-4096.key");

fn rsa_key(bits: usize) -> SigningKey {
    let pem = match bits {
        2048 => RSA_2048,
        3072 => RSA_3072,
        4096 => RSA_4096,
        _ => unreachable!(),
    };
    SigningKey::from_pkcs8_pem(pem).unwrap()
}

/// Checks `sig` over `msg` with the RustCrypto verifier for `alg` and the key's public half.
fn verify_raw(key: &SigningKey, alg: SignatureAlgorithm, msg: &[u8], sig: &[u8]) -> bool {
    let spki = key.public_key_der().unwrap();
    match alg {
        Ps256 | Ps384 | Ps512 => {
            let public = rsa::PublicKey::from_public_key_der(&spki).unwrap();
            let Ok(sig) = rsa::pss::Signature::try_from(sig) else {
                return false;
            };
            match alg {
                Ps256 => rsa::pss::VerifyingKey::<sha2::Sha256>::new(public).verify(msg, &sig),
                Ps384 => rsa::pss::VerifyingKey::<sha2::Sha384>::new(public).verify(msg, &sig),
                _ => rsa::pss::VerifyingKey::<sha2::Sha512>::new(public).verify(msg, &sig),
            }
            .is_ok()
        }
        Es256 => {
            let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok())
        }
        Es384 => {
            let vk = p384::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
            p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok())
        }
        Es512 => {
            let pk = p521::PublicKey::from_public_key_der(&spki).unwrap();
            let vk = p521::ecdsa::VerifyingKey::from_affine(*pk.as_affine()).unwrap();
            p521::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok())
        }
    }
}

fn key_for(alg: SignatureAlgorithm) -> SigningKey {
    match alg {
        Ps256 => rsa_key(2048),
        Ps384 => rsa_key(3072),
        Ps512 => rsa_key(4096),
        Es256 => SigningKey::generate(KeyType::EcP256).unwrap(),
        Es384 => SigningKey::generate(KeyType::EcP384).unwrap(),
        Es512 => SigningKey::generate(KeyType::EcP521).unwrap(),
    }
}

const ALL: [SignatureAlgorithm; 6] = [Ps256, Ps384, Ps512, Es256, Es384, Es512];

fn descriptor() -> Value {
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9",
        "size": 517
    })
}

fn b64url_decode(s: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(s).unwrap()
}

#[test]
fn keys_round_trip_through_pkcs8_pem() {
    let mut keys = alloc::vec![rsa_key(2048)];
    for t in [KeyType::EcP256, KeyType::EcP384, KeyType::EcP521] {
        keys.push(SigningKey::generate(t).unwrap());
    }
    for key in keys {
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        let again = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(
            again.public_key_der().unwrap(),
            key.public_key_der().unwrap()
        );
        assert_eq!(again.to_pkcs8_pem().unwrap(), pem);
        assert_eq!(again.kind(), key.kind());
    }
}

#[test]
fn pem_that_is_not_a_pkcs8_key_is_refused() {
    let (_key, cert) =
        generate_test_certificate("x", KeyType::EcP256, std::time::SystemTime::now()).unwrap();
    assert!(matches!(
        SigningKey::from_pkcs8_pem(&cert),
        Err(SignError::UnexpectedPemLabel { .. })
    ));
    assert!(SigningKey::from_pkcs8_pem("not pem").is_err());
}

#[test]
fn the_key_dictates_the_algorithm() {
    for alg in ALL {
        assert_eq!(key_for(alg).algorithm().unwrap(), alg);
    }
    // RSA-1024 has no Notary algorithm; take it from a generated key (fast enough).
    let small = SigningKey::generate(KeyType::Rsa1024).unwrap();
    assert!(matches!(
        small.algorithm(),
        Err(SignError::UnsupportedRsaSize { bits: 1024 })
    ));
}

#[test]
fn each_algorithm_verifies_with_rustcrypto() {
    let msg = b"eyJhbGciOiJQUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319";
    for alg in ALL {
        let key = key_for(alg);
        let sig = key.sign_raw(alg, msg).unwrap();
        if let Some(len) = alg.ecdsa_signature_len() {
            assert_eq!(sig.len(), len, "{alg:?} raw R||S size");
        } else {
            assert_eq!(sig.len(), key.rsa_bits().unwrap() / 8);
        }
        assert!(verify_raw(&key, alg, msg, &sig), "{alg:?}");
        assert!(
            !verify_raw(&key, alg, b"other", &sig),
            "{alg:?} on other bytes"
        );
    }
}

#[test]
fn pss_salt_is_the_hash_length() {
    let key = rsa_key(2048);
    let msg = b"m";
    let sig = key.sign_raw(Ps256, msg).unwrap();
    let public = rsa::PublicKey::from_public_key_der(&key.public_key_der().unwrap()).unwrap();
    let sig = rsa::pss::Signature::try_from(sig.as_slice()).unwrap();
    for (salt, ok) in [(32, true), (20, false), (64, false)] {
        let vk = rsa::pss::VerifyingKey::<sha2::Sha256>::new_with_salt_len(public.clone(), salt);
        assert_eq!(vk.verify(msg, &sig).is_ok(), ok, "salt {salt}");
    }
}

#[test]
fn der_ecdsa_signatures_are_available_for_negative_tests() {
    let key = SigningKey::generate(KeyType::EcP256).unwrap();
    let der = key.sign_raw_der(Es256, b"m").unwrap();
    assert_eq!(der[0], 0x30, "a DER SEQUENCE");
    let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
    let vk =
        p256::ecdsa::VerifyingKey::from_public_key_der(&key.public_key_der().unwrap()).unwrap();
    assert!(vk.verify(b"m", &sig).is_ok());
    assert!(rsa_key(2048).sign_raw_der(Es256, b"m").is_err());
    assert!(rsa_key(2048).sign_raw(Es256, b"m").is_err());
    assert!(key.sign_raw(Ps256, b"m").is_err());
}

fn test_chain(key_type: KeyType) -> (SigningKey, Vec<u8>) {
    let cert = CertificateSpec::new("C=US, ST=WA, L=Seattle, O=Notary, CN=t", 0, 4_000_000_000)
        .key_type(key_type)
        .build()
        .unwrap();
    (cert.key, cert.der)
}

fn signing_time() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + core::time::Duration::from_secs(1_700_000_000)
}

#[test]
fn envelope_has_notations_shape() {
    let (key, cert) = test_chain(KeyType::EcP256);
    let mut opts = SignOptions::new(signing_time());
    opts.signing_agent = Some("Notation/1.0.0".into());
    let bytes = sign_envelope(&key, core::slice::from_ref(&cert), &descriptor(), &opts).unwrap();
    let text = core::str::from_utf8(&bytes).unwrap();
    assert!(
        text.starts_with(r#"{"payload":""#),
        "notation's member order: {text}"
    );

    let env: Value = serde_json::from_slice(&bytes).unwrap();
    let members: Vec<&String> = env.as_object().unwrap().keys().collect();
    assert_eq!(members.len(), 4);
    for m in ["payload", "protected", "header", "signature"] {
        assert!(env.get(m).is_some(), "{m}");
    }

    let protected = b64url_decode(env["protected"].as_str().unwrap());
    assert_eq!(
        core::str::from_utf8(&protected).unwrap(),
        r#"{"alg":"ES256","crit":["io.cncf.notary.signingScheme"],"cty":"application/vnd.cncf.notary.payload.v1+json","io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingTime":"2023-11-14T22:13:20Z"}"#
    );

    let payload: Value =
        serde_json::from_slice(&b64url_decode(env["payload"].as_str().unwrap())).unwrap();
    assert_eq!(payload, json!({ "targetArtifact": descriptor() }));

    let header = env["header"].as_object().unwrap();
    assert_eq!(header.len(), 2);
    let x5c = header["x5c"].as_array().unwrap();
    assert_eq!(Base64::decode_vec(x5c[0].as_str().unwrap()).unwrap(), cert);
    assert_eq!(header["io.cncf.notary.signingAgent"], "Notation/1.0.0");

    let input = alloc::format!(
        "{}.{}",
        env["protected"].as_str().unwrap(),
        env["payload"].as_str().unwrap()
    );
    let sig = b64url_decode(env["signature"].as_str().unwrap());
    assert!(verify_raw(&key, Es256, input.as_bytes(), &sig));
    // base64url without padding everywhere
    for m in ["payload", "protected", "signature"] {
        let s = env[m].as_str().unwrap();
        assert!(
            !s.contains('=') && !s.contains('+') && !s.contains('/'),
            "{m}: {s}"
        );
    }
}

#[test]
fn expiry_is_signed_and_critical() {
    let (key, cert) = test_chain(KeyType::EcP384);
    let mut opts = SignOptions::new(signing_time());
    opts.expiry = Some(core::time::Duration::from_secs(24 * 3600));
    opts.signing_agent = None;
    let env: Value =
        serde_json::from_slice(&sign_envelope(&key, &[cert], &descriptor(), &opts).unwrap())
            .unwrap();
    let protected: Value =
        serde_json::from_slice(&b64url_decode(env["protected"].as_str().unwrap())).unwrap();
    assert_eq!(protected["alg"], "ES384");
    assert_eq!(
        protected["crit"],
        json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"])
    );
    assert_eq!(protected["io.cncf.notary.expiry"], "2023-11-15T22:13:20Z");
    assert!(env["header"].get("io.cncf.notary.signingAgent").is_none());
}

#[test]
fn every_algorithm_signs_a_verifiable_envelope() {
    for alg in ALL {
        let key = key_for(alg);
        let cert = CertificateSpec::new("CN=a", 0, 4_000_000_000)
            .key(key.clone())
            .build()
            .unwrap();
        let env: Value = serde_json::from_slice(
            &sign_envelope(
                &key,
                &[cert.der],
                &descriptor(),
                &SignOptions::new(signing_time()),
            )
            .unwrap(),
        )
        .unwrap();
        let input = alloc::format!(
            "{}.{}",
            env["protected"].as_str().unwrap(),
            env["payload"].as_str().unwrap()
        );
        let sig = b64url_decode(env["signature"].as_str().unwrap());
        assert!(verify_raw(&key, alg, input.as_bytes(), &sig), "{alg:?}");
    }
}

#[test]
fn sign_envelope_refuses_bad_inputs() {
    let (key, cert) = test_chain(KeyType::EcP256);
    let (other, _) = test_chain(KeyType::EcP256);
    let opts = SignOptions::new(signing_time());
    assert!(matches!(
        sign_envelope(&other, core::slice::from_ref(&cert), &descriptor(), &opts),
        Err(SignError::KeyCertificateMismatch)
    ));
    assert!(matches!(
        sign_envelope(&key, &[], &descriptor(), &opts),
        Err(SignError::EmptyChain)
    ));
    for bad in [
        json!("x"),
        json!({"mediaType": "a", "digest": "sha256:00"}),
        json!({"mediaType": "a", "digest": "sha256:00", "size": -1}),
    ] {
        assert!(matches!(
            sign_envelope(&key, core::slice::from_ref(&cert), &bad, &opts),
            Err(SignError::InvalidDescriptor { .. })
        ));
    }
}

#[test]
fn assemble_signs_whatever_header_it_is_given() {
    let key = SigningKey::generate(KeyType::EcP256).unwrap();
    // Duplicate keys and alg none: bytes go in untouched.
    let protected = br#"{"alg":"none","alg":"ES256","crit":["x.unknown"]}"#;
    let payload = br#"{"targetArtifact":{}}"#;
    let env = assemble(protected, payload, json!({"x5c": []}), &key, Es256).unwrap();
    assert_eq!(b64url_decode(env["protected"].as_str().unwrap()), protected);
    assert_eq!(b64url_decode(env["payload"].as_str().unwrap()), payload);
    assert_eq!(env["header"], json!({"x5c": []}));
    let input = alloc::format!("{}.{}", b64url(protected), b64url(payload));
    let sig = b64url_decode(env["signature"].as_str().unwrap());
    assert!(verify_raw(&key, Es256, input.as_bytes(), &sig));
}

fn parse(der: &[u8]) -> Certificate {
    Certificate::from_der(der).unwrap()
}

fn extension<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a x509_cert::ext::Extension> {
    let oid = spki::ObjectIdentifier::new_unwrap(oid);
    cert.tbs_certificate()
        .extensions()
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)
}

/// Checks `child`'s signature with `issuer`'s public key (PKCS#1 v1.5 SHA-256, or ECDSA with
/// the curve's hash: the defaults of `CertificateSpec`).
fn issuer_signed(child: &Certificate, issuer_key: &SigningKey) -> bool {
    let tbs = child.tbs_certificate().to_der().unwrap();
    let sig = child.signature().raw_bytes();
    let spki = issuer_key.public_key_der().unwrap();
    if issuer_key.is_rsa() {
        let public = rsa::PublicKey::from_public_key_der(&spki).unwrap();
        let Ok(sig) = rsa::pkcs1v15::Signature::try_from(sig) else {
            return false;
        };
        rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public)
            .verify(&tbs, &sig)
            .is_ok()
    } else {
        match issuer_key.kind() {
            "EC P-256" => {
                let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
                let sig = p256::ecdsa::DerSignature::try_from(sig).unwrap();
                vk.verify(&tbs, &sig).is_ok()
            }
            "EC P-384" => {
                let vk = p384::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
                let sig = p384::ecdsa::DerSignature::try_from(sig).unwrap();
                vk.verify(&tbs, &sig).is_ok()
            }
            other => panic!("no verifier for {other}"),
        }
    }
}

#[test]
fn test_certificate_is_like_notations() {
    let now = std::time::UNIX_EPOCH + core::time::Duration::from_secs(1_764_300_000);
    for key_type in [KeyType::Rsa2048, KeyType::EcP256, KeyType::EcP384] {
        let (key_pem, cert_pem) = generate_test_certificate("demo", key_type, now).unwrap();
        let key = SigningKey::from_pkcs8_pem(&key_pem).unwrap();
        let der = pem_decode_certificates(&cert_pem).unwrap().remove(0);
        let cert = parse(&der);
        let tbs = &cert.tbs_certificate();
        assert_eq!(
            tbs.subject().to_string(),
            "CN=demo,O=Notary,L=Seattle,ST=WA,C=US"
        );
        assert_eq!(tbs.issuer(), tbs.subject());
        assert_eq!(tbs.version(), x509_cert::certificate::Version::V3);
        assert_eq!(
            tbs.validity().not_before.to_unix_duration().as_secs(),
            1_764_300_000
        );
        assert_eq!(
            tbs.validity().not_after.to_unix_duration().as_secs(),
            1_764_300_000 + 365 * 86400
        );
        assert_eq!(tbs.serial_number().as_bytes().len(), 16);
        assert!(tbs.serial_number().as_bytes()[0] & 0x80 == 0);

        let ku = extension(&cert, "2.5.29.15").expect("keyUsage");
        assert!(ku.critical);
        let ku = KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap();
        assert_eq!(
            ku.0,
            der::flagset::FlagSet::from(KeyUsages::DigitalSignature)
        );
        let eku = extension(&cert, "2.5.29.37").expect("EKU");
        assert!(!eku.critical);
        let eku = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes()).unwrap();
        assert_eq!(eku.0, [EKU_CODE_SIGNING]);
        assert!(
            extension(&cert, "2.5.29.19").is_none(),
            "notation writes no basicConstraints"
        );
        assert_eq!(tbs.extensions().as_ref().unwrap().len(), 2);

        assert!(issuer_signed(&cert, &key), "{key_type:?} self-signature");
        // And the key signs envelopes for its certificate.
        sign_envelope(&key, &[der], &descriptor(), &SignOptions::new(now)).unwrap();
    }
}

#[test]
fn certificate_spec_knobs() {
    let root = CertificateSpec::ca("C=US, O=Acme, CN=root", 0, 2_600_000_000)
        .key_type(KeyType::EcP384)
        .basic_constraints(Some(BasicConstraintsSpec {
            critical: true,
            ca: true,
            path_len: Some(1),
        }))
        .build()
        .unwrap();
    let leaf = CertificateSpec::new("C=US, O=Acme, CN=leaf", 100, 200)
        .key(rsa_key(2048))
        .issued_by(root.issuer())
        .serial(&[0x01, 0x02])
        .basic_constraints(Some(BasicConstraintsSpec {
            critical: false,
            ca: false,
            path_len: None,
        }))
        .key_usage(Some(KeyUsageSpec {
            critical: false,
            bits: alloc::vec![KeyUsageBit::DigitalSignature, KeyUsageBit::KeyEncipherment],
        }))
        .extended_key_usage(Some(ExtendedKeyUsageSpec {
            critical: true,
            oids: alloc::vec![EKU_CODE_SIGNING, EKU_SERVER_AUTH, EKU_ANY],
        }))
        .extension(
            spki::ObjectIdentifier::new_unwrap("1.2.3.4"),
            true,
            &[0x05, 0x00],
        )
        .unwrap()
        .build()
        .unwrap();

    let r = parse(&root.der);
    assert_eq!(
        r.tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration()
            .as_secs(),
        2_600_000_000
    );
    assert!(matches!(
        r.tbs_certificate().validity().not_after,
        x509_cert::time::Time::GeneralTime(_)
    ));
    let bc = extension(&r, "2.5.29.19").unwrap();
    assert!(bc.critical);
    let bc = BasicConstraints::from_der(bc.extn_value.as_bytes()).unwrap();
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(1));
    assert!(extension(&r, "2.5.29.14").is_some(), "CA gets an SKI");
    assert!(
        extension(&r, "2.5.29.35").is_none(),
        "self-signed gets no AKI"
    );
    assert!(extension(&r, "2.5.29.37").is_none());

    let l = parse(&leaf.der);
    assert_eq!(l.tbs_certificate().issuer(), r.tbs_certificate().subject());
    assert_eq!(l.tbs_certificate().serial_number().as_bytes(), [0x01, 0x02]);
    // A P-384 issuer signs with SHA-384 by default.
    assert_eq!(
        l.tbs_certificate().signature().oid.to_string(),
        "1.2.840.10045.4.3.3"
    );
    assert!(issuer_signed(&l, &root.key));
    let ku = KeyUsage::from_der(extension(&l, "2.5.29.15").unwrap().extn_value.as_bytes()).unwrap();
    assert!(ku.digital_signature() && ku.key_encipherment() && !ku.key_cert_sign());
    let eku = extension(&l, "2.5.29.37").unwrap();
    assert!(eku.critical);
    assert_eq!(
        ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
            .unwrap()
            .0
            .len(),
        3
    );
    assert!(extension(&l, "1.2.3.4").unwrap().critical);
    assert!(
        extension(&l, "2.5.29.35").is_some(),
        "issued cert gets an AKI"
    );
    let bc = extension(&l, "2.5.29.19").unwrap();
    assert!(!bc.critical);
    assert!(
        !BasicConstraints::from_der(bc.extn_value.as_bytes())
            .unwrap()
            .ca
    );

    // SHA-1 signed by RSA, self-signed, no KU/EKU at all.
    let weak = CertificateSpec::new("CN=weak", 0, 1)
        .key(rsa_key(2048))
        .signature_hash(HashAlgorithm::Sha1)
        .key_usage(None)
        .extended_key_usage(None)
        .build()
        .unwrap();
    let w = parse(&weak.der);
    assert_eq!(
        w.signature_algorithm().oid.to_string(),
        "1.2.840.113549.1.1.5"
    );
    assert!(w.tbs_certificate().extensions().is_none());
}

#[test]
fn pem_bundles_decode_in_order() {
    let a = CertificateSpec::new("CN=a", 0, 1).build().unwrap();
    let b = CertificateSpec::new("CN=b", 0, 1).build().unwrap();
    let bundle = alloc::format!("{}\n{}", a.pem().unwrap(), b.pem().unwrap());
    assert_eq!(pem_decode_certificates(&bundle).unwrap(), [a.der, b.der]);
    assert!(matches!(
        pem_decode_certificates(""),
        Err(SignError::NoCertificates)
    ));
    let key = a.key.to_pkcs8_pem().unwrap();
    assert!(matches!(
        pem_decode_certificates(&key),
        Err(SignError::UnexpectedPemLabel { .. })
    ));
}

/// Rewrites `testdata/*.key` (run with `--release --ignored`: RSA generation is slow in debug).
#[test]
#[ignore]
fn regenerate_fixture_keys() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/sign/testdata");
    std::fs::create_dir_all(dir).unwrap();
    for (t, name) in [
        (KeyType::Rsa2048, "rsa-2048.key"),
        (KeyType::Rsa3072, "rsa-3072.key"),
        (KeyType::Rsa4096, "rsa-4096.key"),
    ] {
        let pem = SigningKey::generate(t).unwrap().to_pkcs8_pem().unwrap();
        std::fs::write(alloc::format!("{dir}/{name}"), pem).unwrap();
    }
}
