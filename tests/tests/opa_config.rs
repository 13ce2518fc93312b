//! `nv2 policy opa-config`: the configuration the OPA bundle reads, made from the files that
//! `nv2 verify` reads, gives the OPA policy the same verdicts as `nv2 verify`, in regorus and in
//! OPA's own engine: a signed image is allowed, an unsigned one denied with the reason.

use nv2_e2e::nv2::Nv2;
use nv2_e2e::oci::Pusher;
use nv2_e2e::policy::{opa_available, verifier, Engine, NotaryPolicy};
use nv2_e2e::registry::LocalRegistry;
use serde_json::{json, Value};

#[test]
fn the_exported_configuration_verifies_what_nv2_signed() {
    let Some(nv2) = Nv2::new() else { return };
    let registry = LocalRegistry::start();
    let host = registry.host();
    let pusher = Pusher::new(&host);
    pusher.image("app", "signed");
    pusher.image("other", "unsigned");
    nv2.ok(&["cert", "generate-test", "demo", "--default"]);
    nv2.ok(&[
        "policy", "init", "--name", "demo", "--store", "ca:demo", "--scope", "*",
    ]);
    let signed = format!("{host}/app:signed");
    let unsigned = format!("{host}/other:unsigned");
    nv2.ok(&["sign", &signed]);
    nv2.ok(&["verify", &signed]);

    let data: Value =
        serde_json::from_str(&nv2.ok(&["policy", "opa-config", "--plain-http", &host])).unwrap();
    let config = &data["notary"]["config"];
    assert_eq!(config["registries"][&host]["scheme"], "http");
    let pems = config["trustStores"]["ca:demo"]
        .as_array()
        .expect("ca:demo");
    assert!(pems[0].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    let written: Value = serde_json::from_str(&nv2.ok(&["policy", "show"])).unwrap();
    assert_eq!(config["trustPolicy"], written);
    let bare: Value =
        serde_json::from_str(&nv2.ok(&["policy", "opa-config", "--plain-http", &host, "--bare"]))
            .unwrap();
    assert_eq!(&bare, config);

    let mut engines = vec![Engine::Regorus];
    if opa_available() {
        engines.push(Engine::Opa);
    }
    for engine in engines {
        let policy = NotaryPolicy::load(engine, verifier(), &data);
        let allow = |image: &str| policy.eval("data.notary.policy.allow", &json!({"image": image}));
        assert_eq!(allow(&signed), Some(json!(true)), "{engine:?}");
        assert_eq!(allow(&unsigned), Some(json!(false)), "{engine:?}");
        let deny = policy
            .eval("data.notary.policy.deny", &json!({"image": unsigned}))
            .unwrap();
        let reasons = deny.as_array().unwrap();
        assert_eq!(reasons.len(), 1, "{engine:?}: {deny}");
        assert!(
            reasons[0].as_str().unwrap().starts_with(&unsigned),
            "{deny}"
        );
    }
}

#[test]
fn a_store_the_policy_names_but_that_is_missing_is_an_error_naming_the_fix() {
    let Some(nv2) = Nv2::new() else { return };
    nv2.ok(&[
        "policy",
        "init",
        "--name",
        "p",
        "--store",
        "ca:absent",
        "--scope",
        "*",
    ]);
    let err = nv2.fails(&["policy", "opa-config"], 2);
    assert!(
        err.contains("nv2 cert add --type ca --store absent"),
        "{err}"
    );
    let none = Nv2::new().unwrap();
    let err = none.fails(&["policy", "opa-config"], 2);
    assert!(err.contains("nv2 policy init"), "{err}");
}
