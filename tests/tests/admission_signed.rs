//! `nv2-gatekeeper admit` with the provider in process, end to end: our registry on loopback,
//! images signed by `nv2_client::signature::sign` (and envelopes spoiled by hand), trust
//! configuration in notation's layout, the template's Rego under regorus. Through the library
//! (`Admission` over `InProcessProvider`, both engines) and through the binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use gatekeeper::admission::{Admission, InProcessProvider};
use gatekeeper::provider::{Engine, ProviderOptions, TrustSources};
use nv2_client::remote::{Client, ClientOptions, DockerConfig};
use nv2_client::signature::{sign, SignatureOptions};
use nv2_e2e::oci::Pusher;
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::signer::Signer;
use nv2_e2e::{require, workspace_root};
use oci_model::{Descriptor, Reference};
use serde_json::{json, Value};

/// Images in `app`: `signed` (by A), `unsigned`, `untrusted` (by C), `tampered` (A's envelope
/// with its signature altered), `misattached` (A's valid envelope for `signed`, attached to
/// another image), `team` (by B). The default policy trusts A; `team-b`'s trusts B.
struct World {
    _registry: LocalRegistry,
    host: String,
    dir: tempfile::TempDir,
}

fn policy(store: &str) -> String {
    json!({"version": "1.0", "trustPolicies": [{
        "name": "admission-test", "registryScopes": ["*"],
        "signatureVerification": {"level": "strict"},
        "trustStores": [store], "trustedIdentities": ["*"],
    }]})
    .to_string()
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

impl World {
    fn new() -> World {
        let registry = LocalRegistry::start();
        let host = registry.host();
        let pusher = Pusher::new(&host);
        let (a, b, c) = (Signer::new("A"), Signer::new("B"), Signer::new("C"));
        // Dropped before any admission: the in-process provider blocks on its own runtime.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = Client::new(ClientOptions {
            docker_config: DockerConfig::at("/nonexistent/config.json"),
            ..ClientOptions::default()
        })
        .unwrap();
        let mut subjects = std::collections::BTreeMap::new();
        for (tag, signer) in [
            ("signed", Some(&a)),
            ("unsigned", None),
            ("untrusted", Some(&c)),
            ("team", Some(&b)),
            ("tampered", None),
            ("misattached", None),
        ] {
            let subject = pusher.image("app", tag);
            if let Some(s) = signer {
                let reference = Reference::parse(&format!("{host}/app:{tag}")).unwrap();
                let descriptor: Descriptor = serde_json::from_value(subject.clone()).unwrap();
                rt.block_on(sign(
                    &client.repository(&reference),
                    &descriptor,
                    &s.key,
                    &s.chain,
                    &SignatureOptions::default(),
                ))
                .unwrap();
            }
            subjects.insert(tag, subject);
        }
        // A's envelope over `tampered`, one character of its signature changed.
        let mut envelope: Value = serde_json::from_slice(&a.sign(&subjects["tampered"])).unwrap();
        let signature = envelope["signature"].as_str().unwrap().to_string();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        envelope["signature"] = json!(format!("{flipped}{}", &signature[1..]));
        let tampered = serde_json::to_vec(&envelope).unwrap();
        pusher.signature("app", &subjects["tampered"], &tampered, false);
        // A's genuine envelope, but over `signed`'s digest, linked to `misattached`.
        let elsewhere = a.sign(&subjects["signed"]);
        pusher.signature("app", &subjects["misattached"], &elsewhere, false);

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("trustpolicy.json"), policy("ca:a"));
        write(&root.join("ns/team-b.json"), policy("ca:b"));
        write(&root.join("truststore/x509/ca/a/a.crt"), &a.cert_pem);
        write(&root.join("truststore/x509/ca/b/b.crt"), &b.cert_pem);
        write(&root.join("docker/config.json"), "{}");
        World {
            _registry: registry,
            host,
            dir,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn image(&self, tag: &str) -> String {
        format!("{}/app:{tag}", self.host)
    }

    fn options(&self, engine: Engine) -> ProviderOptions {
        let mut options = ProviderOptions::new(TrustSources {
            trust_policy: self.root().join("trustpolicy.json"),
            trust_store: self.root().join("truststore"),
            namespace_policies: Some(self.root().join("ns")),
            bundle: bundle(),
            engine,
        });
        options.docker_config = Some(self.root().join("docker"));
        options.registry_timeout = Duration::from_millis(800);
        options
    }

    fn admission(&self, engine: Engine) -> Admission {
        let provider = InProcessProvider::new(self.options(engine)).expect("provider");
        Admission::new(Arc::new(provider)).expect("admission")
    }
}

fn bundle() -> PathBuf {
    workspace_root().join("dist/bundle.tar.gz")
}

/// Native always; wasm when the bundle is built (`make bundle`).
fn engines() -> Vec<Engine> {
    if bundle().is_file() {
        vec![Engine::Native, Engine::Wasm]
    } else {
        println!("NOTE: dist/bundle.tar.gz is missing (run `make bundle`): native engine only");
        vec![Engine::Native]
    }
}

fn pod<S: AsRef<str>>(namespace: &str, images: &[S]) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
        "spec": {"containers": images.iter().enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image.as_ref()})).collect::<Vec<_>>()}})
}

/// The one violation of a denied decision, checked to name `image` and say it is not verified.
fn the_denial(violations: &[String], image: &str) -> String {
    let [one] = violations else {
        panic!("one violation expected for {image}: {violations:?}")
    };
    assert!(
        one.starts_with(&format!("image {image}: not verified: ")),
        "{one}"
    );
    one.clone()
}

#[test]
fn signed_images_are_admitted_and_every_other_kind_refused() {
    let w = World::new();
    let params = json!({"namespacedKeys": true});
    for engine in engines() {
        let admission = w.admission(engine);
        let decide = |images: &[&str]| {
            admission
                .review(&pod("apps", images), &params)
                .expect("evaluates")
                .violations
        };
        let signed = w.image("signed");
        assert_eq!(decide(&[&signed]), Vec::<String>::new(), "{engine:?}");

        let unsigned = w.image("unsigned");
        let why = the_denial(&decide(&[&unsigned]), &unsigned);
        assert!(
            why.ends_with("the artifact has no signature"),
            "{engine:?}: {why}"
        );

        // Each refused for what is wrong with its signature (named by its digest).
        for (tag, reason) in [
            (
                "untrusted",
                "authenticity: no certificate of the chain is in the policy's trust stores",
            ),
            ("tampered", "integrity: signature does not verify"),
            (
                "misattached",
                "integrity: the signature is for another artifact",
            ),
        ] {
            let image = w.image(tag);
            let why = the_denial(&decide(&[&image]), &image);
            assert!(
                why.contains(": sha256:") && why.contains(reason),
                "{engine:?} {tag}: {why}"
            );
        }

        // One signed and one unsigned container: the unsigned one, and only it, is named.
        let both = decide(&[&signed, &unsigned]);
        the_denial(&both, &unsigned);

        // A registry that is not there: denied, naming the image (fail closed).
        let gone = "127.0.0.1:1/app:gone".to_string();
        let why = the_denial(&decide(&[&gone]), &gone);
        assert!(why.contains("127.0.0.1:1"), "{why}");
    }
}

#[test]
fn a_namespace_trust_policy_decides_in_its_namespace() {
    let w = World::new();
    let admission = w.admission(Engine::Native);
    let namespaced = json!({"namespacedKeys": true});
    let violations = |namespace: &str, tag: &str, params: &Value| {
        admission
            .review(&pod(namespace, &[w.image(tag)]), params)
            .expect("evaluates")
            .violations
    };
    // `team` is signed by B: admitted where team-b's policy (trusting B) applies, nowhere else.
    assert!(violations("team-b", "team", &namespaced).is_empty());
    the_denial(&violations("apps", "team", &namespaced), &w.image("team"));
    // And A's signature does not count in team-b.
    the_denial(
        &violations("team-b", "signed", &namespaced),
        &w.image("signed"),
    );
    assert!(violations("apps", "signed", &namespaced).is_empty());
    // Without namespaced keys the provider cannot tell the namespace: the default policy holds.
    the_denial(&violations("team-b", "team", &json!({})), &w.image("team"));
}

// ---- the binary ----

fn admit_binary() -> Option<PathBuf> {
    nv2_e2e::target_binary("nv2-gatekeeper")
}

#[test]
fn the_admit_verb_runs_the_provider_in_process() {
    let Some(binary) = require(
        admit_binary(),
        "nv2-gatekeeper is not built (cargo build -p gatekeeper)",
    ) else {
        return;
    };
    let w = World::new();
    let root = w.root();
    let engine = if bundle().is_file() { "wasm" } else { "native" };
    let run_with = |file: &Path, trust_policy: &Path, extra: &[&str]| {
        let out = Command::new(&binary)
            .arg("admit")
            .arg(file)
            // namespacedKeys: true, and nv2-system among the exempt namespaces.
            .args([
                "--parameters",
                workspace_root()
                    .join("gatekeeper/deploy/constraint.yaml")
                    .to_str()
                    .unwrap(),
            ])
            .arg("--trust-policy")
            .arg(trust_policy)
            .arg("--trust-store")
            .arg(root.join("truststore"))
            .arg("--namespace-policies")
            .arg(root.join("ns"))
            .arg("--docker-config")
            .arg(root.join("docker"))
            .arg("--bundle")
            .arg(bundle())
            .args(["--engine", engine, "--registry-timeout", "800"])
            .args(extra)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let default_policy = root.join("trustpolicy.json");
    let run = |file: &Path, extra: &[&str]| run_with(file, &default_policy, extra);
    let doc = |name: &str, namespace: &str, tags: &[&str]| {
        let images: Vec<String> = tags.iter().map(|t| w.image(t)).collect();
        serde_json::to_string(&pod(namespace, &images))
            .unwrap()
            .replace("\"p\"", &format!("{name:?}"))
    };
    let allowed = root.join("allowed.yaml");
    write(
        &allowed,
        format!(
            "{}\n---\n{}\n---\n{}\n",
            doc("a", "apps", &["signed"]),
            doc("b", "team-b", &["team"]),
            doc("c", "nv2-system", &["unsigned"])
        ),
    );
    let (code, out, err) = run(&allowed, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.matches(": allowed").count(), 3, "{out}");

    let denied = root.join("denied.yaml");
    write(
        &denied,
        format!(
            "{}\n---\n{}\n",
            doc("a", "apps", &["signed", "unsigned"]),
            doc("b", "apps", &["team"])
        ),
    );
    let (code, out, err) = run(&denied, &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    let unsigned = format!("image {}: not verified", w.image("unsigned"));
    let team = format!("image {}: not verified", w.image("team"));
    assert!(
        out.contains("Pod/a (namespace apps): denied") && out.contains(&unsigned),
        "{out}"
    );
    assert!(
        out.contains("Pod/b (namespace apps): denied") && out.contains(&team),
        "{out}"
    );
    assert!(
        !out.contains(&format!("image {}:", w.image("signed"))),
        "{out}"
    );

    // A trust policy that does not load is an error (2), not a verdict.
    let (code, out, err) = run_with(&allowed, Path::new("/nonexistent/trustpolicy.json"), &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("not ready"), "{err}");
    // The in-process flags and --provider exclude each other.
    let ca = root.join("truststore/x509/ca/a/a.crt");
    let (code, _, err) = run(
        &allowed,
        &[
            "--provider",
            "https://localhost:1/validate",
            "--provider-ca",
            ca.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}
