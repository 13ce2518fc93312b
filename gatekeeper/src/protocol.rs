//! The wire types of Gatekeeper's external-data provider API (Contract 3 of `DESIGN.md`),
//! with exactly the field names Gatekeeper sends and reads:
//!
//! ```text
//! POST /validate, /mutate
//! {"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest",
//!  "request":{"keys":["registry/repo:tag", …]}}
//! → {"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse",
//!    "response":{"idempotent":true,
//!                "items":[{"key":"…","value":<report or pinned reference>,"error":""}],
//!                "systemError":""}}
//! ```
//!
//! `error` and `systemError` are always written (empty when there is none), as Gatekeeper's own
//! providers do; on reading, a missing one counts as empty.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `apiVersion` of both documents.
pub const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";
/// The `kind` of a request.
pub const REQUEST_KIND: &str = "ProviderRequest";
/// The `kind` of a response.
pub const RESPONSE_KIND: &str = "ProviderResponse";

/// What Gatekeeper posts: the keys (image references) to answer for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderRequest {
    pub api_version: String,
    pub kind: String,
    pub request: RequestBody,
}

/// The `request` member of a [`ProviderRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestBody {
    #[serde(default)]
    pub keys: Vec<String>,
}

impl ProviderRequest {
    /// A request for `keys`, with this API's version and kind.
    pub fn new(keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ProviderRequest {
            api_version: API_VERSION.into(),
            kind: REQUEST_KIND.into(),
            request: RequestBody {
                keys: keys.into_iter().map(Into::into).collect(),
            },
        }
    }
}

/// What the provider answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderResponse {
    pub api_version: String,
    pub kind: String,
    pub response: ResponseBody,
}

/// The `response` member of a [`ProviderResponse`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseBody {
    /// Whether asking again gives the same answer; Gatekeeper caches idempotent answers.
    #[serde(default)]
    pub idempotent: bool,
    /// One item per key, in the order of the request's keys.
    #[serde(default)]
    pub items: Vec<Item>,
    /// Why the whole request failed; empty when it did not.
    #[serde(default)]
    pub system_error: String,
}

/// The answer for one key: a value, or an error that concerns that key only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub key: String,
    /// The Contract 1 report (`/validate`) or the digest-pinned reference (`/mutate`); `null`
    /// when `error` is set.
    #[serde(default)]
    pub value: Value,
    /// Empty when the key was answered.
    #[serde(default)]
    pub error: String,
}

impl Item {
    /// An answered key.
    pub fn value(key: impl Into<String>, value: Value) -> Self {
        Item {
            key: key.into(),
            value,
            error: String::new(),
        }
    }

    /// A key that could not be answered, and why.
    pub fn error(key: impl Into<String>, error: impl Into<String>) -> Self {
        Item {
            key: key.into(),
            value: Value::Null,
            error: error.into(),
        }
    }
}

impl ProviderResponse {
    /// A response carrying `items` (idempotent: the same keys get the same answers while the
    /// registry's content and the trust configuration stay the same).
    pub fn items(items: Vec<Item>) -> Self {
        ProviderResponse {
            api_version: API_VERSION.into(),
            kind: RESPONSE_KIND.into(),
            response: ResponseBody {
                idempotent: true,
                items,
                system_error: String::new(),
            },
        }
    }

    /// A response saying the whole request failed.
    pub fn system_error(error: impl Into<String>) -> Self {
        ProviderResponse {
            api_version: API_VERSION.into(),
            kind: RESPONSE_KIND.into(),
            response: ResponseBody {
                idempotent: true,
                items: Vec::new(),
                system_error: error.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_reads_and_writes_contract_3() {
        let text = json!({"apiVersion": API_VERSION, "kind": "ProviderRequest",
            "request": {"keys": ["r.io/a:1", "[ns]r.io/b@sha256:00"]}});
        let request: ProviderRequest = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(
            request,
            ProviderRequest::new(["r.io/a:1", "[ns]r.io/b@sha256:00"])
        );
        assert_eq!(serde_json::to_value(&request).unwrap(), text);
    }

    #[test]
    fn a_response_has_the_exact_field_names() {
        let response = ProviderResponse::items(vec![
            Item::value("a", json!({"verified": true})),
            Item::error("b", "no"),
        ]);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderResponse",
                "response": {"idempotent": true, "items": [
                    {"key": "a", "value": {"verified": true}, "error": ""},
                    {"key": "b", "value": null, "error": "no"}],
                "systemError": ""}})
        );
        assert_eq!(
            serde_json::to_value(ProviderResponse::system_error("down")).unwrap()["response"],
            json!({"idempotent": true, "items": [], "systemError": "down"})
        );
    }
}
