//! The template's Rego under regorus through [`Admission`] with a fake provider: the cases of
//! `rego/gatekeeper/verify_test.rego` (which mocks `external_data` with `with`, something
//! regorus cannot do for a host extension) plus the object and AdmissionReview plumbing.

use std::sync::Mutex;

use super::*;

/// Verifies keys that start with `signed/`; records every call.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Vec<String>>>,
    answer: Option<Json>,
}

impl ExternalData for Fake {
    fn call(&self, provider: &str, keys: &[String]) -> Json {
        assert_eq!(provider, "nv2-verifier");
        self.calls.lock().unwrap().push(keys.to_vec());
        if let Some(answer) = &self.answer {
            return answer.clone();
        }
        let (signed, unsigned): (Vec<_>, Vec<_>) =
            keys.iter().partition(|k| k.starts_with("signed/"));
        let mut responses: Vec<Json> = signed
            .iter()
            .map(|k| json!([k, {"verified": true, "errors": []}]))
            .collect();
        responses.extend(
            unsigned
                .iter()
                .map(|k| json!([k, {"verified": false, "errors": ["no signature verified"]}])),
        );
        json!({"responses": responses, "errors": [], "status_code": 200, "system_error": ""})
    }
}

fn admit(fake: Fake, document: &Json, parameters: &Json) -> (Decision, Vec<Vec<String>>) {
    let fake = Arc::new(fake);
    let admission = Admission::new(fake.clone()).expect("the template loads");
    let decision = admission.review(document, parameters).expect("evaluates");
    let calls = fake.calls.lock().unwrap().clone();
    (decision, calls)
}

fn pod(spec: Json) -> Json {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"}, "spec": spec})
}

fn containers(images: &[&str]) -> Json {
    json!({"containers": images.iter().map(|i| json!({"name": "c", "image": i})).collect::<Vec<_>>()})
}

#[test]
fn a_signed_image_is_allowed_after_one_call() {
    let (d, calls) = admit(
        Fake::default(),
        &pod(containers(&["signed/a:1"])),
        &json!({}),
    );
    assert!(d.allowed(), "{d:?}");
    assert_eq!(calls, vec![vec!["signed/a:1".to_string()]]);
}

#[test]
fn one_unsigned_container_is_named_and_all_images_go_in_one_call() {
    let spec = json!({
        "containers": [{"name": "a", "image": "signed/a:1"}, {"name": "b", "image": "unsigned/b:1"}],
        "initContainers": [{"name": "i", "image": "signed/init:1"}],
        "ephemeralContainers": [{"name": "e", "image": "unsigned/debug:1"}],
    });
    let (d, calls) = admit(Fake::default(), &pod(spec), &json!({}));
    assert_eq!(
        d.violations,
        vec![
            "image unsigned/b:1: not verified: no signature verified",
            "image unsigned/debug:1: not verified: no signature verified",
        ]
    );
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].len(), 4);
}

#[test]
fn workloads_and_cronjobs_are_covered() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": containers(&["unsigned/app:1"])}}});
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": containers(&["unsigned/job:1"])}}}}});
    for (doc, image) in [(deployment, "unsigned/app:1"), (cronjob, "unsigned/job:1")] {
        let (d, _) = admit(Fake::default(), &doc, &json!({}));
        assert_eq!(d.violations.len(), 1, "{d:?}");
        assert!(d.violations[0].contains(image), "{d:?}");
    }
}

#[test]
fn failures_of_the_provider_fail_closed() {
    let answers = [
        (
            system_error(0, "connection refused"),
            "provider failed: connection refused",
        ),
        (
            json!({"responses": [], "errors": [["signed/a:1", "manifest unknown"]], "status_code": 200, "system_error": ""}),
            "not verified: manifest unknown",
        ),
        (
            json!({"responses": [], "errors": [], "status_code": 200, "system_error": ""}),
            "sent no report",
        ),
        (json!("not an answer"), "answer is malformed"),
        (
            json!({"responses": "no list", "status_code": 200, "system_error": ""}),
            "sent no report",
        ),
    ];
    for (answer, reason) in answers {
        let fake = Fake {
            answer: Some(answer.clone()),
            ..Fake::default()
        };
        let (d, _) = admit(fake, &pod(containers(&["signed/a:1"])), &json!({}));
        assert_eq!(d.violations.len(), 1, "{answer}: {d:?}");
        assert!(
            d.violations[0].contains("signed/a:1") && d.violations[0].contains(reason),
            "{answer}: {d:?}"
        );
    }
}

#[test]
fn exempt_namespaces_and_images_are_allowed() {
    let doc = pod(containers(&["unsigned/a:1", "registry.k8s.io/pause:3.9"]));
    let (d, calls) = admit(
        Fake::default(),
        &doc,
        &json!({"exemptNamespaces": ["apps"]}),
    );
    assert!(d.allowed() && calls.is_empty(), "{d:?} {calls:?}");
    let params = json!({"exemptImages": ["registry.k8s.io/*", "unsigned/*"]});
    let (d, calls) = admit(Fake::default(), &doc, &params);
    assert!(d.allowed() && calls.is_empty(), "{d:?} {calls:?}");
}

#[test]
fn an_admission_review_is_evaluated_as_its_request() {
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "kube-system",
        "operation": "CREATE", "object": pod(containers(&["unsigned/a:1"]))}});
    let (d, _) = admit(
        Fake::default(),
        &review,
        &json!({"exemptNamespaces": ["kube-system"]}),
    );
    assert!(d.allowed(), "{d:?}");
    let (d, _) = admit(Fake::default(), &review, &json!({}));
    assert!(!d.allowed(), "{d:?}");
}

#[test]
fn yaml_files_hold_several_documents_and_constraints_give_parameters() {
    let docs =
        documents("kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: b}\n---\n")
            .unwrap();
    assert_eq!(docs.len(), 2);
    let constraint =
        json!({"kind": "Nv2VerifiedImages", "spec": {"parameters": {"exemptNamespaces": ["x"]}}});
    assert_eq!(
        parameters_of(&constraint),
        json!({"exemptNamespaces": ["x"]})
    );
}

#[test]
fn a_provider_response_converts_as_gatekeeper_converts_it() {
    let wire: ProviderResponse = serde_json::from_value(json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1",
        "kind": "ProviderResponse", "response": {"idempotent": true, "systemError": "", "items": [
            {"key": "a", "value": {"verified": true}, "error": ""}, {"key": "b", "error": "boom"}]}}))
    .unwrap();
    assert_eq!(
        wire.into_rego(200),
        json!({"responses": [["a", {"verified": true}]], "errors": [["b", "boom"]], "status_code": 200, "system_error": ""})
    );
}
