//! A full verify (parse, chain, signatures, policy, report) of three typical signatures:
//! a self-signed RSA-2048 PS256 signer (what `notation cert generate-test` makes), a 2-certificate
//! RSA-3072 PS384 chain, and a 2-certificate P-256 ES256 chain. `scripts/bench-verify.sh` runs it
//! beside `openssl speed` and reports the ratio to the raw signature verifications it contains.

use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use verifier_core::sign::{
    pem_encode, sign_envelope, CertificateSpec, KeyType, SignOptions, TestCertificate,
};
use verifier_core::{
    Descriptor, Request, SignatureEntry, SignatureVerification, TrustPolicyDocument,
    TrustPolicyStatement, TrustStores, JWS_MEDIA_TYPE,
};

const NOW: u64 = 1_800_000_000;

fn request(chain: &[&TestCertificate], anchor: &TestCertificate) -> Vec<u8> {
    let subject = Descriptor::new(
        "application/vnd.oci.image.manifest.v1+json",
        "sha256:b8479de3f8f2b2a7ec9bd3e4b8fa7e1ce0d0c7c0dd4fa1ab2ba4b1e0a1cbd1d7",
        517,
    );
    let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
    let options = SignOptions::new(UNIX_EPOCH + Duration::from_secs(NOW - 60));
    let envelope = sign_envelope(&chain[0].key, &ders, &json!(subject), &options).unwrap();
    let policy = TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
        "bench",
        vec!["*".into()],
        SignatureVerification::new("strict"),
    )
    .with_trust_stores(vec!["ca:bench".into()])
    .with_trusted_identities(vec!["x509.subject: C=US, ST=WA, O=Bench".into()])]);
    let mut signature = SignatureEntry::from_envelope(JWS_MEDIA_TYPE, &envelope);
    signature.digest = Some("sha256:00".into());
    let request = Request::new(
        "registry.example/net-monitor:v1",
        subject,
        policy,
        TrustStores::new(),
        "2027-01-15T08:00:00Z",
    )
    .signature(signature)
    .trust_store_pem("ca:bench", pem_encode("CERTIFICATE", &anchor.der).unwrap());
    serde_json::to_vec(&request).unwrap()
}

fn chain(leaf: KeyType, root: KeyType) -> (TestCertificate, TestCertificate) {
    let root = CertificateSpec::ca(
        "C=US, ST=WA, O=Bench, CN=Root",
        NOW - 86_400,
        NOW + 86_400 * 365,
    )
    .key_type(root)
    .build()
    .unwrap();
    let leaf = CertificateSpec::new(
        "C=US, ST=WA, O=Bench, CN=Signer",
        NOW - 86_400,
        NOW + 86_400 * 365,
    )
    .key_type(leaf)
    .issued_by(root.issuer())
    .build()
    .unwrap();
    (leaf, root)
}

fn bench(c: &mut Criterion) {
    let self_signed = CertificateSpec::new(
        "C=US, ST=WA, O=Bench, CN=Signer",
        NOW - 86_400,
        NOW + 86_400 * 365,
    )
    .key_type(KeyType::Rsa2048)
    .signature_hash(verifier_core::sign::HashAlgorithm::Sha256)
    .build()
    .unwrap();
    let (rsa_leaf, rsa_root) = chain(KeyType::Rsa3072, KeyType::Rsa3072);
    let (ec_leaf, ec_root) = chain(KeyType::EcP256, KeyType::EcP256);
    let cases = [
        (
            "ps256_self_signed_rsa2048",
            request(&[&self_signed], &self_signed),
        ),
        (
            "ps384_chain_rsa3072",
            request(&[&rsa_leaf, &rsa_root], &rsa_root),
        ),
        ("es256_chain_p256", request(&[&ec_leaf, &ec_root], &ec_root)),
    ];
    let mut group = c.benchmark_group("verify");
    for (name, req) in &cases {
        assert!(
            verifier_core::verify_json(req).verified,
            "{name} does not verify"
        );
        group.bench_function(*name, |b| {
            b.iter(|| verifier_core::verify_json(std::hint::black_box(req)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
