//! The Gatekeeper side without a cluster: the template's Rego under OPA's engine (it compiles as
//! Gatekeeper compiles it; its `_test` rules pass), the deploy files (they parse, carry the kinds
//! and fields Gatekeeper needs, and the template holds `rego/gatekeeper/verify.rego` verbatim),
//! and `nv2-gatekeeper admit` against a stand-in provider speaking Contract 3 over HTTPS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use gatekeeper::admission::{self, Admission, HttpsProvider};
use gatekeeper::rego::{rego_files, test_rules, RegoTestOutcome, Verifier};
use nv2_e2e::policy::{opa_available, opa_engine, read_modules};
use nv2_e2e::{require, workspace_root};
use serde_json::{json, Value};
use verifier_core::sign::{CertificateSpec, ExtendedKeyUsageSpec, EKU_SERVER_AUTH};

fn deploy(name: &str) -> PathBuf {
    workspace_root().join("gatekeeper/deploy").join(name)
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    admission::documents(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---- the template's Rego under OPA ----

#[test]
fn the_template_rego_compiles_and_its_tests_pass_under_opa() {
    if !opa_available() {
        return;
    }
    let dir = workspace_root().join("rego/gatekeeper");
    let files = rego_files(&dir, true).expect("rego files");
    let opa = opa_engine(&read_modules(&files), Verifier::Native).expect("compiles under OPA");
    let rules = test_rules(&files).expect("test rules");
    assert!(rules.len() >= 15, "only {} tests", rules.len());
    let outcomes: Vec<RegoTestOutcome> = rules
        .into_iter()
        .map(|rule| {
            let failure = match opa.eval(&rule, None) {
                Ok(Some(Value::Bool(true))) => None,
                Ok(other) => Some(format!("{other:?}")),
                Err(e) => Some(e.to_string()),
            };
            RegoTestOutcome { rule, failure }
        })
        .collect();
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.failure.as_ref().map(|f| format!("{}: {f}", o.rule)))
        .collect();
    println!(
        "OPA: {} template tests, {} failed",
        outcomes.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "under OPA:\n{}", failed.join("\n"));
}

#[test]
fn an_unmocked_external_data_call_is_an_error_under_opa() {
    if !opa_available() {
        return;
    }
    // Plain OPA has no provider: the declared builtin fails, and with strict builtin errors the
    // query fails; a webhook error is a denial under failurePolicy Fail, never an admission.
    let files = rego_files(&workspace_root().join("rego/gatekeeper"), false).expect("files");
    let opa = opa_engine(&read_modules(&files), Verifier::Native).expect("engine");
    let input = json!({"review": {"kind": {"kind": "Pod"}, "namespace": "apps",
        "object": {"spec": {"containers": [{"name": "a", "image": "signed/a:1"}]}}}});
    let err = opa
        .eval("data.nv2verifiedimages.violation", Some(&input))
        .expect_err("no provider");
    assert!(err.to_string().contains("external_data"), "{err}");
    // With no image there is no call, and nothing to deny.
    let empty =
        json!({"review": {"kind": {"kind": "Pod"}, "object": {"spec": {"containers": []}}}});
    let violations = opa
        .eval("data.nv2verifiedimages.violation", Some(&empty))
        .expect("eval");
    assert_eq!(violations, Some(json!([])));
}

// ---- the deploy files ----

#[test]
fn the_template_carries_verify_rego_verbatim() {
    let docs = yaml_documents(&deploy("template.yaml"));
    let [template] = docs.as_slice() else {
        panic!("template.yaml: one document expected")
    };
    assert_eq!(template["apiVersion"], "templates.gatekeeper.sh/v1");
    assert_eq!(template["kind"], "ConstraintTemplate");
    assert_eq!(template["metadata"]["name"], "nv2verifiedimages");
    assert_eq!(
        template["spec"]["crd"]["spec"]["names"]["kind"],
        "Nv2VerifiedImages"
    );
    let target = &template["spec"]["targets"][0];
    assert_eq!(target["target"], "admission.k8s.gatekeeper.sh");
    let rego =
        std::fs::read_to_string(workspace_root().join("rego/gatekeeper/verify.rego")).unwrap();
    assert!(
        target["rego"].as_str() == Some(rego.as_str()),
        "template.yaml's Rego differs from rego/gatekeeper/verify.rego: copy the file into it"
    );
    assert_eq!(admission::TEMPLATE_REGO, rego);
    assert!(rego.contains(r#"external_data({"provider": provider, "keys": keys})"#));
    let props = &template["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]["properties"];
    assert_eq!(props["exemptImages"]["type"], "array");
    assert_eq!(props["exemptNamespaces"]["type"], "array");
}

#[test]
fn the_constraint_matches_pods_and_every_workload_kind() {
    let docs = yaml_documents(&deploy("constraint.yaml"));
    let [constraint] = docs.as_slice() else {
        panic!("constraint.yaml: one document expected")
    };
    assert_eq!(
        constraint["apiVersion"],
        "constraints.gatekeeper.sh/v1beta1"
    );
    assert_eq!(constraint["kind"], "Nv2VerifiedImages");
    let kinds: Vec<&str> = constraint["spec"]["match"]["kinds"]
        .as_array()
        .expect("match.kinds")
        .iter()
        .flat_map(|k| {
            k["kinds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
        })
        .collect();
    for kind in [
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicaSet",
        "ReplicationController",
    ] {
        assert!(kinds.contains(&kind), "{kind} is not matched: {kinds:?}");
    }
    let params = admission::parameters_of(constraint);
    assert!(params["exemptNamespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("nv2-system")));
    assert!(params["exemptImages"].is_array());
}

#[test]
fn the_providers_and_mutations_name_each_other() {
    let providers = yaml_documents(&deploy("provider.yaml"));
    let url = |name: &str| {
        providers
            .iter()
            .find(|p| p["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no provider {name}"))["spec"]["url"]
            .clone()
    };
    for p in &providers {
        assert_eq!(p["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
        assert_eq!(p["kind"], "Provider");
        assert!(p["spec"]["caBundle"].is_string());
    }
    assert_eq!(
        url("nv2-verifier"),
        "https://nv2-gatekeeper.nv2-system:8443/validate"
    );
    assert_eq!(
        url("nv2-mutator"),
        "https://nv2-gatekeeper.nv2-system:8443/mutate"
    );
    let assigns = yaml_documents(&deploy("assign.yaml"));
    let locations: Vec<&str> = assigns
        .iter()
        .map(|a| {
            assert_eq!(a["apiVersion"], "mutations.gatekeeper.sh/v1");
            assert_eq!(a["kind"], "Assign");
            let ext = &a["spec"]["parameters"]["assign"]["externalData"];
            assert_eq!(ext["provider"], "nv2-mutator");
            assert_eq!(ext["dataSource"], "ValueAtLocation");
            assert_eq!(ext["failurePolicy"], "Fail");
            a["spec"]["location"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        locations,
        [
            "spec.containers[name:*].image",
            "spec.initContainers[name:*].image",
            "spec.ephemeralContainers[name:*].image"
        ]
    );
}

#[test]
fn the_provider_deployment_is_complete() {
    let docs = yaml_documents(&deploy("nv2-gatekeeper.yaml"));
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "Deployment",
        "Service",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing: {kinds:?}");
    }
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap();
    assert_eq!(find("Secret")["type"], "kubernetes.io/tls");
    assert_eq!(find("Service")["metadata"]["name"], "nv2-gatekeeper");
    assert_eq!(find("Service")["metadata"]["namespace"], "nv2-system");
    assert_eq!(find("Service")["spec"]["ports"][0]["port"], 8443);
    let policy: Value = serde_json::from_str(
        find("ConfigMap")["data"]["trustpolicy.json"]
            .as_str()
            .unwrap(),
    )
    .expect("the trust policy is JSON");
    assert_eq!(policy["version"], "1.0");
    let pod = &find("Deployment")["spec"]["template"]["spec"];
    let args = &pod["containers"][0]["args"];
    assert_eq!(args[0], "serve");
    // The per-namespace trust policies are a ConfigMap mounted where the flag points.
    let ns_flag = "--namespace-policies=/etc/nv2/namespace-policies";
    assert!(
        args.as_array().unwrap().iter().any(|a| a == ns_flag),
        "{args}"
    );
    assert!(docs
        .iter()
        .any(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "nv2-namespace-policies"));
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    let mount = mounts
        .iter()
        .find(|m| m["mountPath"] == "/etc/nv2/namespace-policies")
        .expect("the namespace policies are mounted");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mount has a volume");
    assert_eq!(volume["configMap"]["name"], "nv2-namespace-policies");
    // The arguments are ones `nv2-gatekeeper` takes: run with them (its files are absent here),
    // it fails on a file, not on its command line.
    let Some(binary) = admit_binary() else {
        println!("SKIPPED: nv2-gatekeeper is not built (cargo build -p gatekeeper)");
        return;
    };
    let args: Vec<&str> = args
        .as_array()
        .expect("args is a list")
        .iter()
        .map(|a| a.as_str().expect("each arg is a string"))
        .collect();
    let mut child = std::process::Command::new(binary)
        .args(&args)
        .env("NV2_CONFIG_DIR", "/nonexistent/nv2-config")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "serve started with the deployment's arguments and absent files"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for usage in ["Usage:", "invalid value", "unexpected argument"] {
        assert!(!stderr.contains(usage), "{args:?}: {stderr}");
    }
}

// ---- admission against a stand-in provider over HTTPS ----

/// A CA and a serving certificate for localhost / 127.0.0.1: (ca pem, cert pem, key pem).
fn certificates() -> (String, String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ca = CertificateSpec::ca("CN=nv2 test CA", now - 60, now + 3600)
        .build()
        .expect("CA");
    // subjectAltName: dNSName "localhost", iPAddress 127.0.0.1 (DER by hand: two GeneralNames).
    let san = [
        0x30, 0x11, 0x82, 0x09, b'l', b'o', b'c', b'a', b'l', b'h', b'o', b's', b't', 0x87, 0x04,
        127, 0, 0, 1,
    ];
    let leaf = CertificateSpec::new("CN=localhost", now - 60, now + 3600)
        .issued_by(ca.issuer())
        .extended_key_usage(Some(ExtendedKeyUsageSpec {
            critical: false,
            oids: vec![EKU_SERVER_AUTH],
        }))
        .extension("2.5.29.17".parse().unwrap(), false, &san)
        .expect("SAN")
        .build()
        .expect("leaf");
    (
        ca.pem().unwrap(),
        leaf.pem().unwrap(),
        leaf.key.to_pkcs8_pem().unwrap(),
    )
}

/// Contract 3's answer: keys containing `unsigned` fail verification, `missing` is a per-key
/// error, the rest verify.
async fn validate(Json(request): Json<Value>) -> Json<Value> {
    let items: Vec<Value> = request["request"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let key = k.as_str().unwrap();
            if key.contains("missing") {
                json!({"key": key, "value": null, "error": "manifest unknown"})
            } else {
                let verified = !key.contains("unsigned");
                let errors = if verified { vec![] } else { vec!["no signature verified"] };
                json!({"key": key, "value": {"verified": verified, "errors": errors, "signatures": []}, "error": ""})
            }
        })
        .collect();
    Json(
        json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderResponse",
        "response": {"idempotent": true, "items": items, "systemError": ""}}),
    )
}

async fn failing(Json(_): Json<Value>) -> Json<Value> {
    Json(
        json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderResponse",
        "response": {"idempotent": true, "items": [], "systemError": "registry unreachable"}}),
    )
}

struct StandIn {
    addr: SocketAddr,
    ca: PathBuf,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

fn stand_in_provider() -> StandIn {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (ca, cert, key) = certificates();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.crt");
    std::fs::write(&ca_path, ca).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move {
        let tls =
            axum_server::tls_rustls::RustlsConfig::from_pem(cert.into_bytes(), key.into_bytes())
                .await
                .expect("TLS config");
        let app = Router::new()
            .route("/validate", post(validate))
            .route("/failing", post(failing));
        axum_server::from_tcp_rustls(listener, tls)
            .serve(app.into_make_service())
            .await
            .expect("serve");
    });
    StandIn {
        addr,
        ca: ca_path,
        dir,
        _runtime: runtime,
    }
}

impl StandIn {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    fn admission(&self, path: &str) -> Admission {
        let ca = std::fs::read(&self.ca).unwrap();
        let provider =
            HttpsProvider::new(&self.url(path), &ca, Duration::from_secs(3)).expect("provider");
        Admission::new(Arc::new(provider)).expect("admission")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn pod(namespace: &str, containers: &[&str]) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
        "spec": {"containers": containers.iter().enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image})).collect::<Vec<_>>()}})
}

#[test]
fn admission_over_https_allows_signed_and_denies_the_rest() {
    let provider = stand_in_provider();
    let admission = provider.admission("/validate");
    let params =
        json!({"exemptNamespaces": ["kube-system"], "exemptImages": ["registry.k8s.io/*"]});
    let decide = |doc: &Value| admission.review(doc, &params).expect("evaluates");

    assert!(decide(&pod("apps", &["reg.test/signed:1"])).allowed());
    let d = decide(&pod("apps", &["reg.test/signed:1", "reg.test/unsigned:1"]));
    assert_eq!(
        d.violations,
        ["image reg.test/unsigned:1: not verified: no signature verified"]
    );
    let d = decide(&pod("apps", &["reg.test/missing:1"]));
    assert_eq!(
        d.violations,
        ["image reg.test/missing:1: not verified: manifest unknown"]
    );
    // initContainers, ephemeralContainers, a Deployment's template, a CronJob's job template.
    let spec = json!({"containers": [{"name": "a", "image": "reg.test/signed:1"}],
        "initContainers": [{"name": "i", "image": "reg.test/unsigned-init:1"}],
        "ephemeralContainers": [{"name": "e", "image": "reg.test/unsigned-debug:1"}]});
    let d = decide(
        &json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "apps"}, "spec": spec}),
    );
    assert_eq!(d.violations.len(), 2, "{d:?}");
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "apps"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "reg.test/unsigned:2"}]}}}});
    assert_eq!(
        decide(&deployment).violations,
        ["image reg.test/unsigned:2: not verified: no signature verified"]
    );
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "apps"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "reg.test/unsigned:3"}]}}}}}});
    assert_eq!(
        decide(&cronjob).violations,
        ["image reg.test/unsigned:3: not verified: no signature verified"]
    );
    // Exempt namespace and exempt image.
    assert!(decide(&pod("kube-system", &["reg.test/unsigned:1"])).allowed());
    assert!(decide(&pod("apps", &["registry.k8s.io/pause:3.9"])).allowed());

    // A system error, and a provider that is not there: denied (fail closed).
    let d = provider
        .admission("/failing")
        .review(&pod("apps", &["reg.test/signed:1"]), &params)
        .unwrap();
    assert_eq!(
        d.violations,
        ["image reg.test/signed:1: the nv2-verifier provider failed: registry unreachable"]
    );
    let ca = std::fs::read(&provider.ca).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gone = HttpsProvider::new(
        &format!("https://localhost:{}/validate", closed.port()),
        &ca,
        Duration::from_secs(3),
    )
    .unwrap();
    let d = Admission::new(Arc::new(gone))
        .unwrap()
        .review(&pod("apps", &["reg.test/signed:1"]), &params)
        .unwrap();
    assert_eq!(d.violations.len(), 1, "{d:?}");
    assert!(
        d.violations[0].contains("provider failed")
            && d.violations[0].contains("reg.test/signed:1"),
        "{d:?}"
    );
}

fn admit_binary() -> Option<PathBuf> {
    nv2_e2e::target_binary("nv2-gatekeeper")
}

#[test]
fn the_admit_verb_prints_decisions_and_exits_by_them() {
    let Some(binary) = require(
        admit_binary(),
        "nv2-gatekeeper is not built (cargo build -p gatekeeper)",
    ) else {
        return;
    };
    let provider = stand_in_provider();
    let run = |args: &[&str], path: &str| {
        let out = Command::new(&binary)
            .arg("admit")
            .args(args)
            .args(["--parameters", deploy("constraint.yaml").to_str().unwrap()])
            .args([
                "--provider",
                &provider.url(path),
                "--provider-ca",
                provider.ca.to_str().unwrap(),
            ])
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let signed = provider.write("signed.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: apps}\nspec:\n  containers: [{name: a, image: reg.test/signed:1}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: nv2-system}\nspec:\n  containers: [{name: b, image: reg.test/unsigned:1}]\n");
    let (code, out, err) = run(&[signed.to_str().unwrap()], "/validate");
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.matches(": allowed").count(), 2, "{out}");

    let review = provider.write("review.json", &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "apps", "name": "p",
            "operation": "CREATE", "object": pod("apps", &["reg.test/signed:1", "reg.test/unsigned:9"])}}).to_string());
    let (code, out, err) = run(
        &[signed.to_str().unwrap(), review.to_str().unwrap()],
        "/validate",
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("Pod/p (namespace apps): denied")
            && out.contains("image reg.test/unsigned:9: not verified"),
        "{out}"
    );

    let (code, out, err) = run(&[signed.to_str().unwrap()], "/failing");
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("registry unreachable"), "{out}");

    let broken = provider.write("broken.yaml", "kind: [unclosed\n");
    let (code, out, err) = run(&[broken.to_str().unwrap()], "/validate");
    assert_eq!(code, Some(2), "{out}{err}");
}
