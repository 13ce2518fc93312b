//! The notary Rego policy against real registries on loopback, evaluated by regorus with
//! `data.notary.verify` answered by `policy.wasm` under the wasmtime host (what OPA would run).

use std::sync::Arc;

use gatekeeper::rego::{RegoPolicy, Verifier};
use gatekeeper::PolicyModule;
use nv2_e2e::distribution::Distribution;
use nv2_e2e::oci::Pusher;
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::signer::Signer;
use nv2_e2e::{require, workspace_root};
use serde_json::{json, Value};

/// The wasm verifier when `make bundle` has run, else the native one (or a failure when peers are
/// required).
fn verifier() -> Verifier {
    let path = workspace_root().join("dist/bundle/policy.wasm");
    match require(
        path.exists().then_some(()),
        "dist/bundle/policy.wasm is missing: run `make bundle`",
    ) {
        Some(()) => Verifier::Wasm(Arc::new(
            PolicyModule::load(&path).expect("load policy.wasm"),
        )),
        None => Verifier::Native,
    }
}

struct Setup {
    policy: RegoPolicy,
}

impl Setup {
    fn new(signer: &Signer, registries: Value) -> Self {
        let mut policy = RegoPolicy::load(&workspace_root().join("rego/notary"), verifier())
            .expect("load policy");
        policy
            .set_data(&signer.policy_data(registries))
            .expect("data");
        Setup { policy }
    }

    fn allow(&self, image: &str) -> bool {
        self.policy
            .eval("data.notary.allow", &json!({"image": image}))
            .expect("eval")
            == Some(json!(true))
    }

    fn deny(&self, image: &str) -> Vec<String> {
        let v = self
            .policy
            .eval("data.notary.deny", &json!({"image": image}))
            .expect("eval")
            .unwrap_or(json!([]));
        serde_json::from_value(v).expect("deny is a set of strings")
    }

    fn report(&self, image: &str) -> Value {
        let results = self
            .policy
            .eval("data.notary.results", &json!({"image": image}))
            .expect("eval")
            .expect("results");
        results[image].clone()
    }
}

fn http(reg: &str) -> Value {
    json!({reg: {"scheme": "http"}})
}

#[test]
fn signed_image_is_allowed_and_the_others_are_denied() {
    let reg = LocalRegistry::start();
    let push = Pusher::new(&reg.url());
    let signer = Signer::new("e2e");
    let setup = Setup::new(&signer, http(&reg.host()));

    let signed = push.image("apps/signed", "v1");
    push.signature("apps/signed", &signed, &signer.sign(&signed), false);
    let image = format!("{}/apps/signed:v1", reg.host());
    assert!(setup.allow(&image), "{:?}", setup.deny(&image));
    assert!(setup.deny(&image).is_empty());
    let report = setup.report(&image);
    assert_eq!(report["verified"], true);
    assert_eq!(
        report["signatures"][0]["signer"],
        "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"
    );
    // By digest too.
    let by_digest = format!(
        "{}/apps/signed@{}",
        reg.host(),
        signed["digest"].as_str().unwrap()
    );
    assert!(setup.allow(&by_digest));

    // Unsigned.
    push.image("apps/unsigned", "v1");
    let unsigned = format!("{}/apps/unsigned:v1", reg.host());
    assert!(!setup.allow(&unsigned));
    assert!(setup
        .deny(&unsigned)
        .iter()
        .any(|m| m.contains(&unsigned) && m.contains("no signature found")));

    // Signed by a certificate the trust store does not hold.
    let stranger = Signer::new("stranger");
    let other = push.image("apps/other-signer", "v1");
    push.signature("apps/other-signer", &other, &stranger.sign(&other), false);
    let img = format!("{}/apps/other-signer:v1", reg.host());
    assert!(!setup.allow(&img));
    assert!(
        setup.deny(&img).iter().any(|m| m.contains("authenticity")),
        "{:?}",
        setup.deny(&img)
    );

    // A signature over another digest, attached to this image.
    let victim = push.image("apps/victim", "v1");
    let elsewhere = push.image("apps/victim", "v2");
    push.signature("apps/victim", &victim, &signer.sign(&elsewhere), false);
    let img = format!("{}/apps/victim:v1", reg.host());
    assert!(!setup.allow(&img));
    assert!(
        setup
            .deny(&img)
            .iter()
            .any(|m| m.contains("another artifact")),
        "{:?}",
        setup.deny(&img)
    );

    // A tampered envelope (stored under its own, correct digest).
    let tampered = push.image("apps/tampered", "v1");
    let mut envelope: Value = serde_json::from_slice(&signer.sign(&tampered)).unwrap();
    let sig = envelope["signature"].as_str().unwrap().to_string();
    let flipped = if sig.starts_with('A') {
        sig.replacen('A', "B", 1)
    } else {
        format!("A{}", &sig[1..])
    };
    envelope["signature"] = json!(flipped);
    push.signature(
        "apps/tampered",
        &tampered,
        &serde_json::to_vec(&envelope).unwrap(),
        false,
    );
    let img = format!("{}/apps/tampered:v1", reg.host());
    assert!(!setup.allow(&img));
    assert!(
        setup.deny(&img).iter().any(|m| m.contains("integrity")),
        "{:?}",
        setup.deny(&img)
    );
}

#[test]
fn referrers_pagination_is_followed_to_the_end() {
    let config = nv2_registry::Config {
        referrers_page_size: 2,
        ..Default::default()
    };
    let reg = LocalRegistry::with_config(config);
    let push = Pusher::new(&reg.url());
    let signer = Signer::new("e2e");
    let setup = Setup::new(&signer, http(&reg.host()));
    let subject = push.image("apps/many", "v1");
    // Distinct signers: one signer's envelopes within the same second are byte-identical
    // (deterministic ECDSA), hence one referrer.
    for i in 0..4 {
        let stranger = Signer::new(&format!("stranger-{i}"));
        push.signature("apps/many", &subject, &stranger.sign(&subject), false);
    }
    push.signature("apps/many", &subject, &signer.sign(&subject), false);
    let image = format!("{}/apps/many:v1", reg.host());
    assert!(setup.allow(&image), "{:?}", setup.deny(&image));
    // All five signatures, over three pages, reached the verifier.
    assert_eq!(
        setup.report(&image)["signatures"].as_array().unwrap().len(),
        5
    );

    // A page budget smaller than the listing is a deny, never a silent truncation.
    let mut data = signer.policy_data(http(&reg.host()));
    data["notary"]["config"]["maxReferrerPages"] = json!(2);
    let mut capped = Setup::new(&signer, http(&reg.host()));
    capped.policy.set_data(&data).expect("data");
    assert!(!capped.allow(&image));
    let deny = capped.deny(&image);
    assert!(
        deny.iter()
            .any(|m| m.contains("more than 2 pages of referrers")),
        "{deny:?}"
    );
}

#[test]
fn registry_down_is_denied() {
    let signer = Signer::new("e2e");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let setup = Setup::new(&signer, http(&host));
    let image = format!("{host}/apps/signed:v1");
    assert!(!setup.allow(&image));
    assert!(
        setup
            .deny(&image)
            .iter()
            .any(|m| m.contains("registry unreachable")),
        "{:?}",
        setup.deny(&image)
    );
}

#[test]
fn registry_without_referrers_api_uses_the_tag_schema() {
    let Some(dist) = require(
        Distribution::start(),
        "docker-registry (CNCF distribution) is not installed",
    ) else {
        return;
    };
    let push = Pusher::new(&format!("http://{}", dist.addr));
    let signer = Signer::new("e2e");
    let setup = Setup::new(&signer, http(&dist.addr));
    let subject = push.image("apps/signed", "v1");
    push.signature("apps/signed", &subject, &signer.sign(&subject), true);
    let image = format!("{}/apps/signed:v1", dist.addr);
    assert!(setup.allow(&image), "{:?}", setup.deny(&image));
    // Without the tag-schema index, distribution shows no signature.
    let unsigned = push.image("apps/unsigned", "v1");
    push.signature("apps/unsigned", &unsigned, &signer.sign(&unsigned), false);
    let image = format!("{}/apps/unsigned:v1", dist.addr);
    assert!(
        setup
            .deny(&image)
            .iter()
            .any(|m| m.contains("no signature found")),
        "{:?}",
        setup.deny(&image)
    );
}

#[test]
fn rego_unit_tests_pass_under_regorus() {
    let outcomes = gatekeeper::rego::run_rego_tests(&workspace_root().join("rego"), verifier())
        .expect("load rego tests");
    assert!(
        outcomes.len() >= 10,
        "only {} rego tests found",
        outcomes.len()
    );
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.failure.as_ref().map(|f| format!("{}: {f}", o.rule)))
        .collect();
    println!("{} rego tests, {} failed", outcomes.len(), failed.len());
    assert!(
        failed.is_empty(),
        "rego tests failed:\n{}",
        failed.join("\n")
    );
}
