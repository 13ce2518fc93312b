//! Admission without a cluster: the ConstraintTemplate's Rego (`rego/gatekeeper/verify.rego`)
//! under regorus, with `input` built as Gatekeeper builds it and `external_data` answered by a
//! provider behind [`ExternalData`].
//!
//! ```text
//! Admission::new(Arc::new(HttpsProvider::new(url, ca_pem)?))?    a provider over HTTPS
//! Admission::new(Arc::new(InProcessProvider::new(options)?))?   or the provider in process
//!   .review(&object_or_admission_review, &parameters)   one object: input.review + input.parameters
//!   → Decision { allowed, violations }                  fail closed: any error is a denial
//! ```

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use regorus::{Engine, Value};
use serde::Deserialize;
use serde_json::{json, Value as Json};

/// The template's Rego, the same bytes `gatekeeper/deploy/template.yaml` carries.
pub const TEMPLATE_REGO: &str = include_str!("../../rego/gatekeeper/verify.rego");

/// The template's package: its violations are `data.<package>.violation`.
const VIOLATIONS: &str = "data.nv2verifiedimages.violation";

/// What Gatekeeper's `external_data` builtin does: one call to a named provider for a set of
/// keys, answered in the Rego-side shape
/// `{"responses": [[key, value], …], "errors": [[key, message], …], "status_code": n, "system_error": "…"}`.
/// A failure of the whole call is a `system_error`, never a panic or an `Err`: the template
/// turns it into violations (fail closed).
pub trait ExternalData: Send + Sync {
    fn call(&self, provider: &str, keys: &[String]) -> Json;
}

/// The Rego-side answer for a call that failed as a whole.
pub fn system_error(status_code: u16, message: impl Into<String>) -> Json {
    json!({"responses": [], "errors": [], "status_code": status_code, "system_error": message.into()})
}

/// A provider reached over HTTPS with the Contract 3 wire format (what Gatekeeper does).
pub struct HttpsProvider {
    url: String,
    client: reqwest::blocking::Client,
}

impl HttpsProvider {
    /// `url` is the provider's endpoint (`https://…/validate`); `ca_pem` the CA bundle that
    /// signed its serving certificate (the Provider resource's `caBundle`), the only root trusted.
    pub fn new(url: &str, ca_pem: &[u8], timeout: Duration) -> Result<Self> {
        if !url.starts_with("https://") {
            // Gatekeeper refuses plain HTTP providers; so do we.
            bail!("the provider URL must be https: {url}");
        }
        let mut builder = reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none());
        for cert in reqwest::Certificate::from_pem_bundle(ca_pem).context("the provider CA")? {
            builder = builder.add_root_certificate(cert);
        }
        Ok(HttpsProvider {
            url: url.to_string(),
            client: builder.build()?,
        })
    }

    fn post(&self, keys: &[String]) -> Result<Json> {
        let request = json!({
            "apiVersion": "externaldata.gatekeeper.sh/v1beta1",
            "kind": "ProviderRequest",
            "request": {"keys": keys},
        });
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.to_string())
            .send()?;
        let status = response.status().as_u16();
        if status != 200 {
            return Ok(system_error(
                status,
                format!("the provider answered HTTP {status}"),
            ));
        }
        let body: ProviderResponse =
            serde_json::from_slice(&response.bytes()?).context("an unreadable ProviderResponse")?;
        Ok(body.into_rego(status))
    }
}

impl ExternalData for HttpsProvider {
    fn call(&self, _provider: &str, keys: &[String]) -> Json {
        self.post(keys)
            .unwrap_or_else(|e| system_error(0, format!("calling {}: {e:#}", self.url)))
    }
}

/// The part of Contract 3's ProviderResponse that Rego sees.
#[derive(Deserialize)]
struct ProviderResponse {
    response: ProviderResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderResult {
    #[serde(default)]
    items: Vec<ProviderItem>,
    #[serde(default)]
    system_error: String,
}

#[derive(Deserialize)]
struct ProviderItem {
    key: String,
    #[serde(default)]
    value: Json,
    #[serde(default)]
    error: String,
}

impl ProviderResponse {
    /// As Gatekeeper converts it: an item with an error goes to `errors`, the rest to
    /// `responses`.
    fn into_rego(self, status: u16) -> Json {
        let (failed, answered): (Vec<_>, Vec<_>) = self
            .response
            .items
            .into_iter()
            .partition(|i| !i.error.is_empty());
        json!({
            "responses": answered.into_iter().map(|i| json!([i.key, i.value])).collect::<Vec<_>>(),
            "errors": failed.into_iter().map(|i| json!([i.key, i.error])).collect::<Vec<_>>(),
            "status_code": status,
            "system_error": self.response.system_error,
        })
    }
}

/// The outcome for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `kind/name` (namespace) of the object, for messages.
    pub object: String,
    /// The template's violation messages, sorted; empty means allowed.
    pub violations: Vec<String>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The template's Rego loaded with `external_data` wired to a provider.
pub struct Admission {
    engine: Engine,
}

impl Admission {
    /// Loads [`TEMPLATE_REGO`].
    pub fn new(provider: Arc<dyn ExternalData>) -> Result<Self> {
        Self::with_rego(TEMPLATE_REGO, provider)
    }

    /// Loads the given template Rego (a test may load a variant).
    pub fn with_rego(rego: &str, provider: Arc<dyn ExternalData>) -> Result<Self> {
        let mut engine = Engine::new();
        engine.add_policy("rego/gatekeeper/verify.rego".into(), rego.into())?;
        engine.add_extension(
            "external_data".into(),
            1,
            Box::new(move |args: Vec<Value>| {
                let request: Json = serde_json::from_str(&args[0].to_json_str()?)?;
                let name = request["provider"].as_str().unwrap_or_default().to_string();
                let keys: Vec<String> = request["keys"]
                    .as_array()
                    .ok_or_else(|| anyhow!("external_data: keys is not an array"))?
                    .iter()
                    .map(|k| {
                        k.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| k.to_string())
                    })
                    .collect();
                Value::from_json_str(&provider.call(&name, &keys).to_string())
            }),
        )?;
        Ok(Admission { engine })
    }

    /// Evaluates one document: an AdmissionReview (its `request`) or a Kubernetes object.
    /// An evaluation error is an `Err`; the caller denies (fail closed).
    pub fn review(&self, document: &Json, parameters: &Json) -> Result<Decision> {
        let review = review_of(document)?;
        let object = describe(&review);
        let mut engine = self.engine.clone();
        let input = json!({"review": review, "parameters": parameters});
        engine.set_input(Value::from_json_str(&input.to_string())?);
        let value = engine.eval_rule(VIOLATIONS.to_string())?;
        if value == Value::Undefined {
            // No violation rule fired.
            return Ok(Decision {
                object,
                violations: Vec::new(),
            });
        }
        let value: Json = serde_json::from_str(&value.to_json_str()?)?;
        let mut violations: Vec<String> = match value {
            // A partial set with no member.
            Json::Null => Vec::new(),
            Json::Array(items) => items
                .iter()
                .map(|v| {
                    v["msg"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
            other => bail!("{VIOLATIONS} is not a set: {other}"),
        };
        violations.sort();
        Ok(Decision { object, violations })
    }
}

/// `input.review` as Gatekeeper builds it from an AdmissionRequest: `kind` (group, version,
/// kind), `namespace`, `name`, `operation`, `object`, `userInfo`… An AdmissionReview passes its
/// request through; a bare object becomes a CREATE of it.
pub fn review_of(document: &Json) -> Result<Json> {
    if document["kind"] == "AdmissionReview" {
        let request = document
            .get("request")
            .filter(|r| r.is_object())
            .ok_or_else(|| anyhow!("an AdmissionReview without a request"))?;
        return Ok(request.clone());
    }
    let kind = document["kind"]
        .as_str()
        .ok_or_else(|| anyhow!("a document without a kind"))?;
    let api_version = document["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let metadata = &document["metadata"];
    Ok(json!({
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
        "name": metadata["name"].as_str().unwrap_or_default(),
        "namespace": metadata["namespace"].as_str().unwrap_or("default"),
        "operation": "CREATE",
        "userInfo": {"username": "nv2-gatekeeper-admit"},
        "object": document,
        "oldObject": null,
        "dryRun": true,
    }))
}

fn describe(review: &Json) -> String {
    format!(
        "{}/{} (namespace {})",
        review["kind"]["kind"].as_str().unwrap_or("?"),
        review["name"]
            .as_str()
            .or_else(|| review["object"]["metadata"]["name"].as_str())
            .unwrap_or("?"),
        review["namespace"].as_str().unwrap_or("?"),
    )
}

/// The documents of a YAML (or JSON) file; empty documents (`---` at the end) are skipped.
pub fn documents(text: &str) -> Result<Vec<Json>> {
    let mut out = Vec::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        let value = Json::deserialize(document)?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// The parameters of a Constraint (its `spec.parameters`), or a bare parameters document.
pub fn parameters_of(document: &Json) -> Json {
    if document["kind"].is_string() && document.get("spec").is_some() {
        return document["spec"]
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({}));
    }
    document.clone()
}

mod in_process;

pub use in_process::InProcessProvider;

#[cfg(test)]
mod tests;
