//! One admission decision (`data.notary.policy.allow` for one image) under the two Rego engines
//! side by side: regorus (what `nv2-gatekeeper` runs) and OPA's own engine (what `opa eval` and
//! `opa run` run), against `nv2-registry` on loopback, with `data.notary.verify` answered by
//! `dist/bundle/policy.wasm` under wasmtime (or natively, the second pair of rows).
//!
//! ```text
//! cargo bench -p nv2-e2e --bench policy_engines            # needs `make bundle` and `make setup`
//! ```
//!
//! Cases: a signed image (the whole path: HEAD, referrers, signature manifest, envelope, verify),
//! an unsigned one (HEAD and referrers only), and a malformed reference (no request: the engine's
//! own cost). Prints the median, min and max wall time of each, the OPA/regorus ratio, and the
//! registry requests per decision, a count that repeats exactly (wall times on a shared VM do
//! not).
//!
//! Measured (session 7, 2-core VM, 41 runs, median ms):
//!
//! | case                  | regorus | OPA   | OPA/regorus | requests |
//! |-----------------------|--------:|------:|------------:|---------:|
//! | signed, policy.wasm   | 8.25    | 8.50  | 1.03        | 4        |
//! | unsigned, policy.wasm | 2.45    | 1.83  | 0.75        | 2        |
//! | bad reference         | 1.37    | 0.15  | 0.11        | 0        |
//! | signed, native verify | 5.52    | 4.78  | 0.87        | 4        |
//!
//! The first run of this bench showed OPA at 52.65 ms for a signed image (min 6.60): the
//! registry did not set TCP_NODELAY, so a response's last segment waited for the Go client's
//! delayed ACK, about 40 ms on most requests. Both `nv2-registry serve` and the tests' registry
//! now set it; one OPA `http.send` GET of a blob from the release binary went from 45.4 ms to
//! 1.2 ms (median of 20). regorus's fixed cost per query (1.3 ms even with no request) is
//! per-query setup in `RegoPolicy::eval`, which starts from a clone of the loaded engine (not
//! profiled further).

use std::time::Duration;

use gatekeeper::rego::Verifier;
use nv2_e2e::bench::Stats;
use nv2_e2e::oci::Pusher;
use nv2_e2e::policy::{verifier, Engine, NotaryPolicy};
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::signer::Signer;
use serde_json::json;

const RUNS: usize = 41;

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` asks for the list; there is nothing to test here.
        return;
    }
    if let Err(why) = nv2_e2e::opa::available() {
        eprintln!("policy_engines: {why}");
        std::process::exit(2);
    }
    let reg = LocalRegistry::start();
    let push = Pusher::new(&reg.url());
    let signer = Signer::new("bench");
    let signed = push.image("apps/signed", "v1");
    push.signature("apps/signed", &signed, &signer.sign(&signed), false);
    push.image("apps/unsigned", "v1");
    let data = signer.policy_data(json!({reg.host(): {"scheme": "http"}}));
    let cases = [
        ("signed", format!("{}/apps/signed:v1", reg.host()), true),
        (
            "unsigned",
            format!("{}/apps/unsigned:v1", reg.host()),
            false,
        ),
        ("bad reference", "not a reference".to_string(), false),
    ];

    let verifiers = [("policy.wasm", verifier()), ("native", Verifier::Native)];
    println!("{RUNS} runs each (ms: median, min-max); requests = registry requests per decision\n");
    println!(
        "| case | verifier | regorus | OPA | OPA/regorus | requests |\n|---|---|---:|---:|---:|---:|"
    );
    for (verifier_name, verifier) in &verifiers {
        if matches!(verifier, Verifier::Native) && *verifier_name == "policy.wasm" {
            // `make bundle` has not run: the first pair would measure the native verifier twice.
            continue;
        }
        let engines =
            [Engine::Regorus, Engine::Opa].map(|e| NotaryPolicy::load(e, verifier.clone(), &data));
        for (case, image, expect_allow) in &cases {
            let input = json!({"image": image});
            let mut stats = Vec::new();
            let mut requests = Vec::new();
            for policy in &engines {
                let before = reg.requests();
                let allow = policy.eval("data.notary.policy.allow", &input);
                requests.push(reg.requests() - before);
                assert_eq!(
                    allow,
                    Some(json!(*expect_allow)),
                    "{:?} {case}",
                    policy.engine()
                );
                stats.push(Stats::measure(RUNS, || {
                    policy.eval("data.notary.policy.allow", &input);
                }));
            }
            assert_eq!(
                requests[0], requests[1],
                "the engines made different requests"
            );
            println!(
                "| {case} | {verifier_name} | {} ({}-{}) | {} ({}-{}) | {:.2} | {} |",
                ms(stats[0].median),
                ms(stats[0].min),
                ms(stats[0].max),
                ms(stats[1].median),
                ms(stats[1].min),
                ms(stats[1].max),
                stats[1].median.as_secs_f64() / stats[0].median.as_secs_f64(),
                requests[0]
            );
        }
    }
}
