//! [`Value`] to text: JSON for `opa_json_dump` and format 0, Rego value text for
//! `opa_value_dump` and format 1 (what OPA itself asks `opa_eval` for and parses back as a Rego
//! term).
//!
//! JSON: sets become arrays, non-string object keys become the string of their JSON text.
//! Rego: sets are `{a,b}`, the empty set is `set()`, keys stay values. Strings use JSON escapes
//! in both (OPA reads Rego string literals with a JSON decoder) and never `\/`.

use alloc::vec::Vec;

use crate::value::Value;

/// The JSON text of a value.
pub fn to_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, value, Style::Json);
    out
}

/// The Rego value text of a value.
pub fn to_rego(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, value, Style::Rego);
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Json,
    Rego,
}

fn write(out: &mut Vec<u8>, value: &Value, style: Style) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(text) => out.extend_from_slice(text.as_bytes()),
        Value::String(s) => write_string(out, s.as_bytes()),
        Value::Array(items) => write_seq(out, items, b'[', b']', style),
        Value::Set(items) if style == Style::Json => write_seq(out, items, b'[', b']', style),
        Value::Set(items) if items.is_empty() => out.extend_from_slice(b"set()"),
        Value::Set(items) => write_seq(out, items, b'{', b'}', style),
        Value::Object(pairs) => {
            out.push(b'{');
            for (i, (key, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match (key, style) {
                    (Value::String(_), _) | (_, Style::Rego) => write(out, key, style),
                    (_, Style::Json) => write_string(out, &to_json(key)),
                }
                out.push(b':');
                write(out, val, style);
            }
            out.push(b'}');
        }
    }
}

fn write_seq(out: &mut Vec<u8>, items: &[Value], open: u8, close: u8, style: Style) {
    out.push(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item, style);
    }
    out.push(close);
}

/// A JSON string literal of valid UTF-8 `s`: quote, backslash and control characters escaped.
fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut run = 0;
    for (i, &c) in s.iter().enumerate() {
        let escape: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[run..i]);
        run = i + 1;
        if escape.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn s(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn strings_escape_only_what_json_requires() {
        let v = Value::string("q\"b\\n\n\u{1}\u{1f}/é\u{7f}");
        assert_eq!(s(to_json(&v)), "\"q\\\"b\\\\n\\n\\u0001\\u001f/é\u{7f}\"");
        assert_eq!(s(to_rego(&v)), s(to_json(&v)));
    }

    #[test]
    fn result_set_shapes() {
        let report = Value::Object(alloc::vec![(Value::string("verified"), Value::Bool(false))]);
        let set = Value::Set(alloc::vec![Value::Object(alloc::vec![(
            Value::string("result"),
            report
        )])]);
        assert_eq!(s(to_json(&set)), r#"[{"result":{"verified":false}}]"#);
        assert_eq!(s(to_rego(&set)), r#"{{"result":{"verified":false}}}"#);
        assert_eq!(s(to_json(&Value::Set(Vec::new()))), "[]");
        assert_eq!(s(to_rego(&Value::Set(Vec::new()))), "set()");
    }
}
