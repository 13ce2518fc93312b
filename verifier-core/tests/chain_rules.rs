//! Generated cases for the certificate chain rules (authenticity) and certificate validity
//! (authenticTimestamp), and the key rules of integrity.

mod common;

use common::*;
use verifier_core::sign::{
    BasicConstraintsSpec, CertificateSpec, ExtendedKeyUsageSpec, HashAlgorithm, KeyType,
    KeyUsageBit, KeyUsageSpec, TestCertificate, EKU_ANY, EKU_CLIENT_AUTH, EKU_EMAIL_PROTECTION,
    EKU_SERVER_AUTH, EKU_TIME_STAMPING,
};
use verifier_core::{Error, SignatureVerification, Stage};

/// Verifies an envelope signed by `chain[0]`'s key with `chain` in x5c, trusting `anchor`.
fn verify_chain(chain: &[&TestCertificate], anchor: &TestCertificate) -> verifier_core::Report {
    let env = Envelope::new(&chain[0].key, chain);
    Request::new(env.build(), anchor).verify()
}

fn three_level() -> (TestCertificate, TestCertificate, TestCertificate) {
    let root = root_spec()
        .basic_constraints(ca_constraints(None))
        .build()
        .unwrap();
    let inter = CertificateSpec::ca(INTER_SUBJECT, NOW - 100 * DAY, NOW + 1000 * DAY)
        .key(key(KeyType::EcP256))
        .issued_by(root.issuer())
        .build()
        .unwrap();
    let leaf = leaf_spec(KeyType::EcP256)
        .issued_by(inter.issuer())
        .build()
        .unwrap();
    (root, inter, leaf)
}

fn requirement(index: usize) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::CertificateRequirement { index: i, .. } if *i == index)
}

#[test]
fn three_level_chain_is_valid_and_order_matters() {
    let (root, inter, leaf) = three_level();
    assert_valid(&verify_chain(&[&leaf, &inter, &root], &root));
    // Trusting the intermediate also anchors the chain (some certificate of the chain).
    assert_valid(&verify_chain(&[&leaf, &inter, &root], &inter));
    // Wrong order: the root before the intermediate.
    let report = verify_chain(&[&leaf, &root, &inter], &root);
    assert_fails(&report, Stage::Authenticity, |e| {
        matches!(e, Error::ChainOrder { index: 0 })
    });
}

#[test]
fn chain_must_end_in_a_self_signed_root() {
    let (root, inter, leaf) = three_level();
    // Root missing.
    assert_fails(
        &verify_chain(&[&leaf, &inter], &root),
        Stage::Authenticity,
        |e| matches!(e, Error::ChainRootMissing),
    );
    // Leaf only, issued by someone else.
    assert_fails(&verify_chain(&[&leaf], &root), Stage::Authenticity, |e| {
        matches!(e, Error::ChainRootMissing)
    });
    // An unrelated certificate after the root.
    let stranger = CertificateSpec::ca("C=US, ST=CA, O=Other, CN=Other Root", NOW - DAY, NOW + DAY)
        .build()
        .unwrap();
    assert_fails(
        &verify_chain(&[&leaf, &inter, &root, &stranger], &root),
        Stage::Authenticity,
        |e| matches!(e, Error::ChainOrder { index: 2 }),
    );
}

#[test]
fn root_with_the_trusted_name_but_another_key_is_untrusted() {
    let pki = pki(KeyType::EcP256);
    let impostor = CertificateSpec::ca(ROOT_SUBJECT, NOW - 365 * DAY, NOW + 3650 * DAY)
        .key_type(KeyType::EcP256)
        .build()
        .unwrap();
    let leaf = leaf_spec(KeyType::EcP256)
        .issued_by(impostor.issuer())
        .build()
        .unwrap();
    let report = verify_chain(&[&leaf, &impostor], &pki.root);
    assert_fails(&report, Stage::Authenticity, |e| {
        matches!(e, Error::UntrustedChain)
    });
    // The genuine leaf presented with the impostor root fails the chain signature.
    let report = verify_chain(&[&pki.leaf, &impostor], &pki.root);
    assert_fails(&report, Stage::Authenticity, |e| {
        matches!(e, Error::ChainSignature { index: 0 })
    });
}

#[test]
fn leaf_rules() {
    let root = root_spec().build().unwrap();
    let leaf = |spec: CertificateSpec| spec.issued_by(root.issuer()).build().unwrap();
    let ku = |critical, bits: Vec<KeyUsageBit>| Some(KeyUsageSpec { critical, bits });

    let ca_leaf = leaf(
        leaf_spec(KeyType::EcP256).basic_constraints(Some(BasicConstraintsSpec {
            critical: true,
            ca: true,
            path_len: None,
        })),
    );
    assert_fails(
        &verify_chain(&[&ca_leaf, &root], &root),
        Stage::Authenticity,
        requirement(0),
    );

    // A CA certificate (cA=true, keyCertSign) used as the signer.
    let ca_signer = leaf(
        CertificateSpec::ca("C=US, ST=WA, O=Acme, CN=Sub CA", NOW - DAY, NOW + DAY)
            .key(key(KeyType::EcP256)),
    );
    assert_fails(
        &verify_chain(&[&ca_signer, &root], &root),
        Stage::Authenticity,
        requirement(0),
    );

    let no_ku = leaf(leaf_spec(KeyType::EcP256).key_usage(None));
    assert_fails(
        &verify_chain(&[&no_ku, &root], &root),
        Stage::Authenticity,
        requirement(0),
    );
    let not_critical =
        leaf(leaf_spec(KeyType::EcP256).key_usage(ku(false, vec![KeyUsageBit::DigitalSignature])));
    assert_fails(
        &verify_chain(&[&not_critical, &root], &root),
        Stage::Authenticity,
        requirement(0),
    );
    let no_digital_signature =
        leaf(leaf_spec(KeyType::EcP256).key_usage(ku(true, vec![KeyUsageBit::NonRepudiation])));
    assert_fails(
        &verify_chain(&[&no_digital_signature, &root], &root),
        Stage::Authenticity,
        requirement(0),
    );
    for extra in [
        KeyUsageBit::KeyEncipherment,
        KeyUsageBit::DataEncipherment,
        KeyUsageBit::KeyAgreement,
        KeyUsageBit::KeyCertSign,
        KeyUsageBit::CrlSign,
    ] {
        let bad = leaf(
            leaf_spec(KeyType::EcP256)
                .key_usage(ku(true, vec![KeyUsageBit::DigitalSignature, extra])),
        );
        assert_fails(
            &verify_chain(&[&bad, &root], &root),
            Stage::Authenticity,
            requirement(0),
        );
    }
    // basicConstraints cA=false is fine.
    let bc_false = leaf(
        leaf_spec(KeyType::EcP256).basic_constraints(Some(BasicConstraintsSpec {
            critical: true,
            ca: false,
            path_len: None,
        })),
    );
    assert_valid(&verify_chain(&[&bc_false, &root], &root));
}

#[test]
fn extended_key_usage_is_code_signing_only_or_absent() {
    let root = root_spec().build().unwrap();
    for oid in [
        EKU_SERVER_AUTH,
        EKU_ANY,
        EKU_CLIENT_AUTH,
        EKU_EMAIL_PROTECTION,
        EKU_TIME_STAMPING,
    ] {
        let leaf = leaf_spec(KeyType::EcP256)
            .extended_key_usage(Some(ExtendedKeyUsageSpec {
                critical: false,
                oids: vec![oid],
            }))
            .issued_by(root.issuer())
            .build()
            .unwrap();
        assert_fails(
            &verify_chain(&[&leaf, &root], &root),
            Stage::Authenticity,
            requirement(0),
        );
    }
    let none = leaf_spec(KeyType::EcP256)
        .extended_key_usage(None)
        .issued_by(root.issuer())
        .build()
        .unwrap();
    assert_valid(&verify_chain(&[&none, &root], &root));
}

#[test]
fn ca_rules() {
    let root = root_spec().build().unwrap();
    let inter = |spec: CertificateSpec| {
        spec.key(key(KeyType::EcP256))
            .issued_by(root.issuer())
            .build()
            .unwrap()
    };
    let base = || CertificateSpec::ca(INTER_SUBJECT, NOW - 100 * DAY, NOW + 1000 * DAY);
    let cases = [
        base().basic_constraints(None),
        base().basic_constraints(Some(BasicConstraintsSpec {
            critical: false,
            ca: true,
            path_len: None,
        })),
        base().basic_constraints(Some(BasicConstraintsSpec {
            critical: true,
            ca: false,
            path_len: None,
        })),
        base().key_usage(None),
        base().key_usage(Some(KeyUsageSpec {
            critical: false,
            bits: vec![KeyUsageBit::KeyCertSign],
        })),
        base().key_usage(Some(KeyUsageSpec {
            critical: true,
            bits: vec![KeyUsageBit::DigitalSignature],
        })),
    ];
    for spec in cases {
        let inter = inter(spec);
        let leaf = leaf_spec(KeyType::EcP256)
            .issued_by(inter.issuer())
            .build()
            .unwrap();
        assert_fails(
            &verify_chain(&[&leaf, &inter, &root], &root),
            Stage::Authenticity,
            requirement(1),
        );
    }
}

#[test]
fn path_length_is_honoured() {
    let root = root_spec()
        .basic_constraints(ca_constraints(Some(0)))
        .build()
        .unwrap();
    let inter = CertificateSpec::ca(INTER_SUBJECT, NOW - DAY, NOW + DAY)
        .key(key(KeyType::EcP256))
        .issued_by(root.issuer())
        .build()
        .unwrap();
    let leaf = leaf_spec(KeyType::EcP256)
        .issued_by(inter.issuer())
        .build()
        .unwrap();
    assert_fails(
        &verify_chain(&[&leaf, &inter, &root], &root),
        Stage::Authenticity,
        |e| {
            matches!(
                e,
                Error::PathLenExceeded {
                    index: 2,
                    path_len: 0
                }
            )
        },
    );
    // pathLen 0 on the leaf's direct issuer is fine.
    let root1 = root_spec()
        .basic_constraints(ca_constraints(Some(1)))
        .build()
        .unwrap();
    let inter = CertificateSpec::ca(INTER_SUBJECT, NOW - DAY, NOW + DAY)
        .basic_constraints(ca_constraints(Some(0)))
        .key(key(KeyType::EcP256))
        .issued_by(root1.issuer())
        .build()
        .unwrap();
    let leaf = leaf_spec(KeyType::EcP256)
        .issued_by(inter.issuer())
        .build()
        .unwrap();
    assert_valid(&verify_chain(&[&leaf, &inter, &root1], &root1));
}

#[test]
fn fourteen_certificates_are_too_many() {
    let root = root_spec().build().unwrap();
    let mut chain = vec![root];
    for i in 0..12 {
        let issuer = chain.last().unwrap().issuer();
        let ca = CertificateSpec::ca(
            &format!("C=US, ST=WA, O=Acme, CN=CA {i}"),
            NOW - DAY,
            NOW + DAY,
        )
        .key(key(KeyType::EcP256))
        .issued_by(issuer)
        .build()
        .unwrap();
        chain.push(ca);
    }
    let leaf = leaf_spec(KeyType::EcP256)
        .issued_by(chain.last().unwrap().issuer())
        .build()
        .unwrap();
    chain.push(leaf);
    chain.reverse();
    assert_eq!(chain.len(), 14);
    let refs: Vec<&TestCertificate> = chain.iter().collect();
    assert_fails(
        &verify_chain(&refs, chain.last().unwrap()),
        Stage::Authenticity,
        |e| matches!(e, Error::ChainTooLong { len: 14, max: 10 }),
    );
}

#[test]
fn sha1_certificate_signatures_are_forbidden() {
    let root = CertificateSpec::ca(ROOT_SUBJECT, NOW - DAY, NOW + DAY)
        .key(key(KeyType::Rsa2048))
        .build()
        .unwrap();
    let leaf = leaf_spec(KeyType::EcP256)
        .signature_hash(HashAlgorithm::Sha1)
        .issued_by(root.issuer())
        .build()
        .unwrap();
    assert_fails(
        &verify_chain(&[&leaf, &root], &root),
        Stage::Authenticity,
        |e| matches!(e, Error::CertificateSignatureAlgorithm { index: 0, .. }),
    );
}

#[test]
fn weak_keys_are_refused() {
    // An RSA-1024 signing key: no algorithm is allowed for it (integrity).
    let root = root_spec().build().unwrap();
    let leaf = leaf_spec(KeyType::Rsa1024)
        .issued_by(root.issuer())
        .build()
        .unwrap();
    let env = Envelope {
        alg: verifier_core::SignatureAlgorithm::Ps256,
        ..Envelope::new(&key(KeyType::Rsa2048), &[&leaf, &root])
    };
    let env = Envelope {
        key: leaf.key.clone(),
        ..env
    };
    let report = Request::new(env.build(), &root).verify();
    assert_fails(&report, Stage::Integrity, |e| {
        matches!(e, Error::UnsupportedKey { index: 0, .. })
    });
    // An RSA-1024 CA in the chain (authenticity).
    let weak_root = CertificateSpec::ca(ROOT_SUBJECT, NOW - DAY, NOW + DAY)
        .key(key(KeyType::Rsa1024))
        .build()
        .unwrap();
    let leaf = leaf_spec(KeyType::EcP256)
        .issued_by(weak_root.issuer())
        .build()
        .unwrap();
    assert_fails(
        &verify_chain(&[&leaf, &weak_root], &weak_root),
        Stage::Authenticity,
        |e| matches!(e, Error::UnsupportedKeyInChain { index: 1, .. }),
    );
}

#[test]
fn certificate_validity_is_the_authentic_timestamp_check() {
    let root = root_spec().build().unwrap();
    let expired = leaf_spec(KeyType::EcP256)
        .validity(NOW - 10 * DAY, NOW - DAY)
        .issued_by(root.issuer())
        .build()
        .unwrap();
    assert_fails(
        &verify_chain(&[&expired, &root], &root),
        Stage::AuthenticTimestamp,
        |e| matches!(e, Error::CertificateNotValid { index: 0, .. }),
    );
    let future = leaf_spec(KeyType::EcP256)
        .validity(NOW + DAY, NOW + 10 * DAY)
        .issued_by(root.issuer())
        .build()
        .unwrap();
    assert_fails(
        &verify_chain(&[&future, &root], &root),
        Stage::AuthenticTimestamp,
        |e| matches!(e, Error::CertificateNotValid { index: 0, .. }),
    );
    // Permissive only logs it.
    let env = Envelope::new(&expired.key, &[&expired, &root]);
    let mut req = Request::new(env.build(), &root);
    req.level = SignatureVerification::new("permissive");
    let report = req.verify();
    assert_valid(&report);
    assert!(report.signatures[0]
        .checks
        .authentic_timestamp
        .starts_with("authenticTimestamp:"));
}

#[test]
fn self_signed_leaf_like_notation_generate_test() {
    let (key_pem, cert_pem) = verifier_core::sign::generate_test_certificate(
        "demo",
        KeyType::EcP256,
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(NOW - DAY),
    )
    .unwrap();
    let key = verifier_core::sign::SigningKey::from_pkcs8_pem(&key_pem).unwrap();
    let der = verifier_core::parse_pem_certificates(&cert_pem)
        .unwrap()
        .remove(0);
    let cert = TestCertificate {
        der,
        key: key.clone(),
        subject: String::new(),
    };
    let report = verify_chain(&[&cert], &cert);
    assert_valid(&report);
    assert_eq!(
        report.signatures[0].signer.as_deref(),
        Some("CN=demo,O=Notary,L=Seattle,ST=WA,C=US")
    );
}

#[test]
fn root_self_signature_is_checked_unless_the_root_is_the_anchor() {
    let (root, inter, leaf) = three_level();
    let mut broken = root.clone();
    let n = broken.der.len();
    broken.der[n - 1] ^= 0x01; // the last byte of the root's own ECDSA signature
                               // Anchored on the intermediate, the root must prove it is self-signed.
    assert_fails(
        &verify_chain(&[&leaf, &inter, &broken], &inter),
        Stage::Authenticity,
        |e| matches!(e, Error::ChainRootMissing),
    );
    // The root itself is the anchor: trusted as given, like every X.509 path validator does.
    assert_valid(&verify_chain(&[&leaf, &inter, &broken], &broken));
}
