//! The one entrypoint, `notary/verify`: input document in, result set out. All verification is
//! `verifier_core::verify_json`'s; this only moves the request and the report between OPA's
//! value world and the core's JSON.

use alloc::string::String;
use alloc::vec::Vec;

use verifier_core::{verify_json, Error, Report};

use crate::dump::to_json;
use crate::parse::{parse, Syntax};
use crate::value::Value;

/// The entrypoint's name (OPA maps it to `data.notary.verify`) and its id.
pub const ENTRYPOINT: &str = "notary/verify";
pub const ENTRYPOINT_ID: i32 = 0;

/// `entrypoints()`: `{"notary/verify": 0}`.
pub fn entrypoints() -> Value {
    Value::Object(alloc::vec![(
        Value::string(ENTRYPOINT),
        Value::Number(alloc::format!("{ENTRYPOINT_ID}"))
    )])
}

/// `builtins()`: the module calls no builtin, so the host has none to provide.
pub fn builtins() -> Value {
    Value::Object(Vec::new())
}

/// The input document as the host supplied it.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// No input (OPA evaluates without `input`): the request is missing.
    Absent,
    /// Serialized input, from `opa_eval`: JSON, or Rego value text when OPA itself is the host.
    Text(&'a [u8]),
    /// A parsed value, from `opa_eval_ctx_set_input`.
    Value(&'a Value),
}

/// The Contract 1 report for the input, as JSON.
///
/// Text that is plain JSON goes to the core byte for byte, so the report is exactly what
/// `verify_json` gives natively; text that is not even Rego goes too, so that the report names
/// the parse error in the core's words. Only text that used Rego syntax (sets, Go escapes) is
/// rewritten as JSON first.
pub fn report_json(input: Input<'_>) -> String {
    let report = match input {
        Input::Absent => absent(),
        Input::Text(text) => {
            let text = trim_nul(text);
            if text.is_empty() {
                absent()
            } else {
                match parse(text, Syntax::Rego) {
                    Ok(parsed) if parsed.extended => verify_json(&to_json(&parsed.value)),
                    _ => verify_json(text),
                }
            }
        }
        Input::Value(value) => verify_json(&to_json(value)),
    };
    report.to_json()
}

/// The result set of the entrypoint: `{{"result": report}}` (a set of one binding).
pub fn evaluate(input: Input<'_>) -> Value {
    result_set(&report_json(input))
}

/// Wraps a report in the result set. The report is the core's serde output, so it parses; if it
/// ever did not, the result still says "not verified" rather than trapping.
pub fn result_set(report_json: &str) -> Value {
    let report = match parse(report_json.as_bytes(), Syntax::Json) {
        Ok(parsed) => parsed.value,
        Err(e) => Value::Object(alloc::vec![
            (Value::string("verified"), Value::Bool(false)),
            (
                Value::string("errors"),
                Value::Array(alloc::vec![Value::String(alloc::format!(
                    "policy-wasm: the report is not JSON ({} at byte {})",
                    e.reason,
                    e.offset
                ))]),
            ),
        ]),
    };
    Value::Set(alloc::vec![Value::Object(alloc::vec![(
        Value::string("result"),
        report
    )])])
}

fn absent() -> Report {
    Report::rejected(Error::RequestMalformed {
        reason: String::from(
            "no input document: notary/verify takes the verification request as input",
        ),
    })
}

fn trim_nul(mut text: &[u8]) -> &[u8] {
    while let [rest @ .., 0] = text {
        text = rest;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::to_rego;

    fn report_of(set: &Value) -> &Value {
        let Value::Set(items) = set else {
            panic!("result is not a set")
        };
        assert_eq!(items.len(), 1);
        items[0]
            .get(&Value::string("result"))
            .expect("binding named result")
    }

    #[test]
    fn entrypoint_and_builtin_maps() {
        assert_eq!(to_json(&entrypoints()), br#"{"notary/verify":0}"#);
        assert_eq!(to_json(&builtins()), b"{}");
    }

    #[test]
    fn plain_json_text_gives_the_native_report_verbatim() {
        for text in [
            &br#"{"reference": 1}"#[..],
            b"not json",
            b"[1,2",
            br#"{"a":"\ud800"}"#,
        ] {
            assert_eq!(report_json(Input::Text(text)), verify_json(text).to_json());
        }
        let mut with_nul = br#"{"reference": 1}"#.to_vec();
        with_nul.push(0);
        assert_eq!(
            report_json(Input::Text(&with_nul)),
            verify_json(br#"{"reference": 1}"#).to_json()
        );
    }

    #[test]
    fn rego_text_is_rewritten_as_json_for_the_core() {
        // Go-quoted escape and a set: the core sees the same request as JSON.
        let rego = br#"{"reference": "r\x41", "signatures": set()}"#;
        let json = br#"{"reference":"rA","signatures":[]}"#;
        assert_eq!(report_json(Input::Text(rego)), verify_json(json).to_json());
    }

    #[test]
    fn missing_input_is_a_rejected_request_not_an_undefined_result() {
        for input in [Input::Absent, Input::Text(b""), Input::Text(b"\0")] {
            let set = evaluate(input);
            let report = report_of(&set);
            assert!(matches!(
                report.get(&Value::string("verified")),
                Some(Value::Bool(false))
            ));
            let text = String::from_utf8(to_json(report)).unwrap();
            assert!(text.contains("no input document"), "{text}");
        }
    }

    #[test]
    fn result_set_wraps_the_report_in_both_formats() {
        let set = result_set(r#"{"verified":false,"errors":["x"]}"#);
        assert_eq!(
            to_json(&set),
            br#"[{"result":{"verified":false,"errors":["x"]}}]"#
        );
        assert_eq!(
            to_rego(&set),
            br#"{{"result":{"verified":false,"errors":["x"]}}}"#
        );
        let broken = result_set("{oops");
        assert!(matches!(
            report_of(&broken).get(&Value::string("verified")),
            Some(Value::Bool(false))
        ));
    }

    #[test]
    fn parsed_values_are_verified_through_their_json() {
        let value = parse(br#"{"reference": "x"}"#, Syntax::Json).unwrap().value;
        assert_eq!(
            report_json(Input::Value(&value)),
            verify_json(br#"{"reference":"x"}"#).to_json()
        );
    }
}
