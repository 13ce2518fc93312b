//! `nv2_client::signature::sign` and `::verify` end to end against `nv2-registry` in this process
//! on loopback, with RSA-3072 and P-256 keys: median and p99 latency of one operation, the
//! registry requests it takes, and beside them the raw crypto alone (envelope signing, and the
//! signature core's `verify` of the same request without a registry).
//!
//! ```text
//! cargo bench -p nv2-e2e --bench sign_verify
//! ```
//!
//! `NV2_BENCH_RUNS` (200) sets the runs per row; `NV2_BENCH_NO_FSYNC=1` runs a registry that
//! does not fsync, to see what the disk's flushes cost. `sign` signs a fresh image each run
//! (pushed beforehand, untimed): a new envelope and a new signature manifest each time; `verify` verifies another image that has
//! exactly one signature, with one client kept across runs (its connection pool and the
//! registry probe are paid once, as in a long-lived caller such as the docker plug-in or the
//! Gatekeeper provider). Goals (issue 10): verify under 5 ms, sign under 10 ms, median.

use std::time::{Duration, Instant, SystemTime};

use nv2_client::remote::{Client, ClientOptions, DockerConfig, Repository};
use nv2_client::signature::{self, SignatureOptions};
use nv2_e2e::bench::Stats;
use nv2_e2e::oci::Pusher;
use nv2_e2e::registry::LocalRegistry;
use oci_model::{Descriptor, Digest, Reference};
use verifier_core::sign::{
    generate_test_certificate, sign_envelope, KeyType, SignOptions, SigningKey,
};
use verifier_core::{
    SignatureVerification, TrustPolicyDocument, TrustPolicyStatement, TrustStores,
};

/// The 99th percentile of samples (the largest when there are fewer than 100).
fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let i = (samples.len() * 99).div_ceil(100).saturating_sub(1);
    samples[i.min(samples.len() - 1)]
}

/// Times `runs` calls after one warm-up: (median, min, max) and p99.
fn time(runs: usize, mut f: impl FnMut()) -> (Stats, Duration) {
    f();
    let samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    (Stats::of(samples.clone()), p99(samples))
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn row(what: &str, (stats, p99): (Stats, Duration), requests: Option<f64>) {
    println!(
        "{what:<34} median {:>7} ms   p99 {:>7} ms   min {:>7} ms   {}",
        ms(stats.median),
        ms(p99),
        ms(stats.min),
        requests.map_or(String::new(), |r| format!("{r:.1} registry requests"))
    );
}

fn main() {
    let runs: usize = std::env::var("NV2_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    // NV2_BENCH_NO_FSYNC=1: a registry that does not fsync, to see the client's own cost.
    let no_fsync = std::env::var("NV2_BENCH_NO_FSYNC").is_ok_and(|v| v == "1");
    let reg = if no_fsync {
        LocalRegistry::without_fsync()
    } else {
        LocalRegistry::start()
    };
    let host = reg.host();
    let pusher = Pusher::new(&host);
    let config = tempfile::tempdir().expect("temp dir");
    let client = Client::new(ClientOptions {
        docker_config: DockerConfig::at(config.path().join("config.json")),
        ..ClientOptions::default()
    })
    .expect("client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{runs} runs per row, nv2-registry on {host}{}",
        if no_fsync {
            " (no fsync)"
        } else {
            " (fsync, the default)"
        }
    );

    for key_type in [KeyType::Rsa3072, KeyType::EcP256] {
        let name = key_type.name();
        let (key_pem, cert_pem) = generate_test_certificate(
            "bench",
            key_type,
            SystemTime::now() - Duration::from_secs(60),
        )
        .expect("certificate");
        let key = SigningKey::from_pkcs8_pem(&key_pem).expect("key");
        let chain = verifier_core::parse_pem_certificates(&cert_pem).expect("chain");
        let repo_of = |r: &str| -> Repository {
            let reference: Reference = format!("{host}/{r}").parse().expect("reference");
            client.repository(&reference)
        };
        let descriptor = |d: serde_json::Value| {
            Descriptor::new(
                d["mediaType"].as_str().unwrap(),
                d["digest"].as_str().unwrap().parse::<Digest>().unwrap(),
                d["size"].as_u64().unwrap(),
            )
        };

        // sign: `runs` + 1 images, each signed once (one image signed again and again would
        // measure its referrers list growing with every run).
        let sign_repo = repo_of(&format!("sign/{name}"));
        let mut subjects: Vec<Descriptor> = (0..=runs)
            .map(|i| descriptor(pusher.image(&format!("sign/{name}"), &format!("v{i}"))))
            .collect();
        let subject = subjects[0].clone();
        let before = reg.requests();
        let stats = time(runs, || {
            let subject = subjects.pop().expect("one image per run");
            rt.block_on(signature::sign(
                &sign_repo,
                &subject,
                &key,
                &chain,
                &SignatureOptions::default(),
            ))
            .expect("sign");
        });
        let per_op = (reg.requests() - before) as f64 / (runs + 1) as f64;
        row(
            &format!("sign   {name} (library, loopback)"),
            stats,
            Some(per_op),
        );
        let target = serde_json::json!({"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size});
        row(
            &format!("  envelope signing alone {name}"),
            time(runs, || {
                sign_envelope(&key, &chain, &target, &SignOptions::new(SystemTime::now()))
                    .expect("envelope");
            }),
            None,
        );

        // verify: another image with exactly one signature.
        let verify_name = format!("verify/{name}");
        let verify_repo = repo_of(&verify_name);
        let subject = descriptor(pusher.image(&verify_name, "v1"));
        rt.block_on(signature::sign(
            &verify_repo,
            &subject,
            &key,
            &chain,
            &SignatureOptions::default(),
        ))
        .expect("sign once");
        let reference: Reference = format!("{host}/{verify_name}@{}", subject.digest)
            .parse()
            .unwrap();
        let policy = TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
            "bench",
            vec!["*".into()],
            SignatureVerification::new("strict"),
        )
        .with_trust_stores(vec!["ca:bench".into()])
        .with_trusted_identities(vec!["*".into()])]);
        let stores = TrustStores::from([("ca:bench".to_string(), vec![cert_pem.clone()].into())]);
        let before = reg.requests();
        let mut last = None;
        let stats = time(runs, || {
            let v = rt
                .block_on(signature::verify(
                    &verify_repo,
                    &reference,
                    &policy,
                    &stores,
                    SystemTime::now(),
                ))
                .expect("verify");
            assert!(v.report.verified, "{:?}", v.report.errors);
            last = Some(v);
        });
        let per_op = (reg.requests() - before) as f64 / (runs + 1) as f64;
        row(
            &format!("verify {name} (library, loopback)"),
            stats,
            Some(per_op),
        );
        // The same request, without the registry: the signature core alone.
        let v = last.expect("verified");
        let mut request = verifier_core::Request::new(
            v.reference.as_str(),
            verifier_core::Descriptor::new(
                subject.media_type.as_str(),
                subject.digest.to_string(),
                subject.size,
            ),
            policy.clone(),
            stores.clone(),
            verifier_core::sign::format_rfc3339(
                verifier_core::sign::system_time_to_unix(SystemTime::now()).unwrap(),
            )
            .unwrap(),
        );
        for s in &v.signatures {
            request = request.signature_envelope(&s.bytes);
        }
        row(
            &format!("  signature core alone {name}"),
            time(runs, || {
                assert!(verifier_core::verify(&request).verified);
            }),
            None,
        );
    }
}
