//! The notary Rego policy against real registries on loopback, evaluated by regorus and by OPA's
//! own engine side by side (real `http.send` in both), with `data.notary.verify` answered by
//! `policy.wasm` under the wasmtime host. Every query must give the same answer in both engines.

use nv2_e2e::distribution::Distribution;
use nv2_e2e::oci::Pusher;
use nv2_e2e::policy::{opa_available, verifier, Engine, NotaryPolicy};
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::signer::Signer;
use nv2_e2e::{require, workspace_root};
use serde_json::{json, Value};

/// The policy in regorus and (when installed) OPA, with the same data.
struct Setup {
    engines: Vec<NotaryPolicy>,
}

impl Setup {
    fn new(signer: &Signer, registries: Value) -> Self {
        Self::with_data(&signer.policy_data(registries))
    }

    fn with_data(data: &Value) -> Self {
        let mut engines = vec![NotaryPolicy::load(Engine::Regorus, verifier(), data)];
        if opa_available() {
            engines.push(NotaryPolicy::load(Engine::Opa, verifier(), data));
        }
        Setup { engines }
    }

    /// The query's value in every engine; they must agree, but for the wording of a network
    /// error, which comes from each engine's HTTP stack (Go's net/http, reqwest).
    fn agreed(&self, query: &str, image: &str) -> Option<Value> {
        let input = json!({"image": image});
        let mut answers = self.engines.iter().map(|e| {
            (
                e.engine(),
                e.eval(query, &input).map(without_network_detail),
            )
        });
        let (first_engine, first) = answers.next().expect("one engine at least");
        for (engine, answer) in answers {
            assert_eq!(
                answer, first,
                "{engine:?} and {first_engine:?} disagree on {query} for {image}"
            );
        }
        first
    }

    /// The registry requests one `allow` decision makes, per engine.
    fn requests_per_decision(&self, reg: &LocalRegistry, image: &str) -> Vec<(Engine, usize)> {
        let input = json!({"image": image});
        self.engines
            .iter()
            .map(|e| {
                let before = reg.requests();
                e.eval("data.notary.policy.allow", &input);
                (e.engine(), reg.requests() - before)
            })
            .collect()
    }

    fn allow(&self, image: &str) -> bool {
        self.agreed("data.notary.policy.allow", image) == Some(json!(true))
    }

    fn deny(&self, image: &str) -> Vec<String> {
        let v = self
            .agreed("data.notary.policy.deny", image)
            .unwrap_or(json!([]));
        serde_json::from_value(v).expect("deny is a set of strings")
    }

    fn report(&self, image: &str) -> Value {
        let results = self
            .agreed("data.notary.policy.results", image)
            .expect("results");
        results[image].clone()
    }
}

/// Every string `…registry unreachable: <detail>` with the detail cut off.
fn without_network_detail(v: Value) -> Value {
    const MARK: &str = "registry unreachable: ";
    match v {
        Value::String(s) => match s.find(MARK) {
            Some(i) => Value::String(format!("{}<network error>", &s[..i + MARK.len()])),
            None => Value::String(s),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(without_network_detail).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, without_network_detail(v)))
                .collect(),
        ),
        other => other,
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
    // One decision, in either engine: HEAD the manifest, list the referrers, fetch the signature
    // manifest and its envelope blob.
    for (engine, requests) in setup.requests_per_decision(&reg, &image) {
        assert_eq!(requests, 4, "{engine:?}");
    }

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
    let capped = Setup::with_data(&data);
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
    // Each engine names the cause.
    let input = json!({"image": image});
    for engine in &setup.engines {
        let deny = engine.eval("data.notary.policy.deny", &input).unwrap();
        assert!(
            deny.to_string()
                .to_lowercase()
                .contains("connection refused"),
            "{:?}: {deny}",
            engine.engine()
        );
    }
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

/// The three ways a user gives OPA the configuration (the header of policy.rego): `opa eval -d
/// config.json` (the document at the root of `data`), the Data API's `PUT /v1/data/notary/config`
/// (the bare configuration at that path), and a configuration bundle with the one root
/// `notary/config` (its `/notary/config/data.json` mounted at its directory's path). OPA's server
/// and bundle loader are not in the library; what each of them does is write that document at
/// that path, which is what happens here, with the bundle made by `xtask config-bundle`.
#[test]
fn configuration_reaches_opa_three_ways() {
    if !opa_available() {
        return;
    }
    let reg = LocalRegistry::start();
    let push = Pusher::new(&reg.url());
    let signer = Signer::new("e2e");
    let subject = push.image("apps/signed", "v1");
    push.signature("apps/signed", &subject, &signer.sign(&subject), false);
    let image = format!("{}/apps/signed:v1", reg.host());
    let input = json!({"image": image});
    let data = signer.policy_data(http(&reg.host()));
    let config = data["notary"]["config"].clone();
    let allow = |policy: &NotaryPolicy| policy.eval("data.notary.policy.allow", &input);

    // Nothing configured: denied, and the reason says what is missing.
    let bare = NotaryPolicy::load(Engine::Opa, verifier(), &json!({}));
    assert_eq!(allow(&bare), Some(json!(false)));
    let deny = bare.eval("data.notary.policy.deny", &input).unwrap();
    assert!(
        deny.to_string().contains("trustPolicy is not configured"),
        "{deny}"
    );

    // 1. opa eval -d config.json
    let with_d = NotaryPolicy::load(Engine::Opa, verifier(), &data);
    assert_eq!(allow(&with_d), Some(json!(true)));

    // 2. PUT /v1/data/notary/config
    let NotaryPolicy::Opa(opa) = &bare else {
        unreachable!()
    };
    opa.add_data("notary.config", &config).unwrap();
    assert_eq!(allow(&bare), Some(json!(true)));

    // 3. A configuration bundle beside the policy bundle.
    let Some(xtask) = require(
        xtask_binary(),
        "the xtask binary is missing: run `make bundle`",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("config.json");
    std::fs::write(&config_file, data.to_string()).unwrap();
    let tarball = dir.path().join("config-bundle.tar.gz");
    let out = std::process::Command::new(&xtask)
        .arg("config-bundle")
        .arg(&config_file)
        .arg(&tarball)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = gatekeeper::bundle::read_tarball(&std::fs::read(&tarball).unwrap()).unwrap();
    let manifest: Value = serde_json::from_slice(&files["/.manifest"]).unwrap();
    assert_eq!(manifest["roots"], json!(["notary/config"]));
    // OPA refuses two bundles whose roots nest; the policy bundle's must leave notary/config be.
    let policy_manifest: Value = serde_json::from_slice(
        &std::fs::read(workspace_root().join("dist/bundle/.manifest")).unwrap(),
    )
    .unwrap();
    for root in policy_manifest["roots"].as_array().unwrap() {
        let root = root.as_str().unwrap();
        assert!(
            !nv2_e2e::bundle::roots_overlap(root, "notary/config"),
            "the policy bundle's root {root} owns notary/config"
        );
    }
    let mounted: Value = serde_json::from_slice(&files["/notary/config/data.json"]).unwrap();
    assert_eq!(mounted, config);
    let from_bundle = NotaryPolicy::load(Engine::Opa, verifier(), &json!({}));
    let NotaryPolicy::Opa(opa) = &from_bundle else {
        unreachable!()
    };
    opa.add_data("notary.config", &mounted).unwrap();
    assert_eq!(allow(&from_bundle), Some(json!(true)));
}

/// `target/debug/xtask`, which `make bundle` builds.
fn xtask_binary() -> Option<std::path::PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| workspace_root().join(d))
        .unwrap_or_else(|| workspace_root().join("target"));
    Some(target.join("debug/xtask")).filter(|p| p.is_file())
}
