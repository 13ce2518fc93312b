//! The values hosts hold by address: OPA's JSON-plus-sets data model.
//!
//! Hosts never look inside a value (the ABI passes them as opaque addresses), so this is an
//! ordinary Rust enum living in the bump heap. Numbers keep the text they were written with, as
//! OPA does for numbers it does not need to compute with, so that nothing is lost on a round
//! trip. Objects keep their keys in insertion order (a report dumps in the order the verifier
//! wrote it); keys and set elements are unique under [`compare`].

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// A Rego value.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    /// A number literal, exactly as written (JSON number grammar).
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Key/value pairs in insertion order, keys unique. Rego allows any value as a key.
    Object(Vec<(Value, Value)>),
    /// Elements in insertion order, unique.
    Set(Vec<Value>),
}

/// OPA's error codes for `opa_value_add_path` and `opa_value_remove_path` (wasm.md, "Error codes").
/// `OPA_ERR_INTERNAL` (1) is not among them: nothing here fails internally without aborting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    InvalidType = 2,
    InvalidPath = 3,
}

impl Value {
    /// A string value.
    pub fn string(s: &str) -> Value {
        Value::String(String::from(s))
    }

    /// The rank of the value's type in OPA's total order: null < boolean < number < string <
    /// array < object < set.
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
            Value::Set(_) => 6,
        }
    }

    /// The value stored under `key` when `self` is an object.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Object(pairs) => pairs
                .iter()
                .find(|(k, _)| compare(k, key).is_eq())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_mut(&mut self, key: &Value) -> Option<&mut Value> {
        match self {
            Value::Object(pairs) => pairs
                .iter_mut()
                .find(|(k, _)| compare(k, key).is_eq())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` to `value` in an object, replacing an existing entry in place (its position
    /// is kept) or appending a new one. Returns false when `self` is not an object.
    pub fn insert(&mut self, key: Value, value: Value) -> bool {
        let Value::Object(pairs) = self else {
            return false;
        };
        match pairs.iter_mut().find(|(k, _)| compare(k, &key).is_eq()) {
            Some(slot) => slot.1 = value,
            None => pairs.push((key, value)),
        }
        true
    }

    /// Removes `key` from an object; returns the removed value.
    pub fn remove(&mut self, key: &Value) -> Option<Value> {
        let Value::Object(pairs) = self else {
            return None;
        };
        let at = pairs.iter().position(|(k, _)| compare(k, key).is_eq())?;
        Some(pairs.remove(at).1)
    }
}

/// OPA's total order over values. Numbers compare exactly by value (`1`, `1.0` and `1e0` are one
/// number, as in OPA); arrays compare element-wise; objects and sets compare as their sorted
/// contents.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => compare_sequences(x.iter(), y.iter()),
        (Value::Object(x), Value::Object(y)) => {
            let (mut x, mut y): (Vec<_>, Vec<_>) = (x.iter().collect(), y.iter().collect());
            x.sort_by(|p, q| compare(&p.0, &q.0));
            y.sort_by(|p, q| compare(&p.0, &q.0));
            for (p, q) in x.iter().zip(y.iter()) {
                let ord = compare(&p.0, &q.0).then_with(|| compare(&p.1, &q.1));
                if ord.is_ne() {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Set(x), Value::Set(y)) => {
            let (mut x, mut y): (Vec<_>, Vec<_>) = (x.iter().collect(), y.iter().collect());
            x.sort_by(|p, q| compare(p, q));
            y.sort_by(|p, q| compare(p, q));
            compare_sequences(x.into_iter(), y.into_iter())
        }
        _ => a.rank().cmp(&b.rank()),
    }
}

fn compare_sequences<'a>(
    mut x: impl Iterator<Item = &'a Value>,
    mut y: impl Iterator<Item = &'a Value>,
) -> Ordering {
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let ord = compare(p, q);
                if ord.is_ne() {
                    return ord;
                }
            }
        }
    }
}

fn compare_numbers(x: &str, y: &str) -> Ordering {
    if x == y {
        return Ordering::Equal;
    }
    match (Decimal::parse(x), Decimal::parse(y)) {
        (Some(p), Some(q)) => p.cmp(&q),
        // Not reachable for parsed values (the parser accepts only JSON numbers).
        _ => x.cmp(y),
    }
}

/// An exact decimal: `sign × 0.digits × 10^exponent`, digits without leading or trailing zeros
/// (none for zero). Comparing these is exact for any literal, where f64 would round large
/// integers together.
#[derive(PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

impl Decimal {
    /// Reads a JSON number literal.
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].trim_start_matches('+')),
            None => (rest, "0"),
        };
        // Exponents beyond i32 are clamped: no literal has that many digits, so the order holds.
        let exp: i64 = match exp.parse::<i64>() {
            Ok(e) => e.clamp(-(i32::MAX as i64), i32::MAX as i64),
            Err(_) if exp.starts_with('-') && exp[1..].bytes().all(|b| b.is_ascii_digit()) => {
                -(i32::MAX as i64)
            }
            Err(_) if !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit()) => i32::MAX as i64,
            Err(_) => return None,
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let all: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        let leading = all.iter().take_while(|&&d| d == 0).count();
        if leading == all.len() {
            return Some(Decimal {
                negative: false,
                digits: Vec::new(),
                exponent: 0,
            });
        }
        let trailing = all.iter().rev().take_while(|&&d| d == 0).count();
        let digits = all[leading..all.len() - trailing].to_vec();
        let exponent = int.len() as i64 - leading as i64 + exp;
        Some(Decimal {
            negative,
            digits,
            exponent,
        })
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |d: &Decimal| {
            if d.is_zero() {
                0
            } else if d.negative {
                -1
            } else {
                1
            }
        };
        let (a, b) = (sign(self), sign(other));
        if a != b || a == 0 {
            return a.cmp(&b);
        }
        // Same sign, both non-zero: compare magnitudes, then flip for negatives.
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Drops duplicate set elements, keeping the first occurrence of each, in order.
pub fn dedup_set(elements: &mut Vec<Value>) {
    if elements.len() < 2 {
        return;
    }
    // Sorting indices keeps this O(n log n) for the large values hosts may load as data.
    let mut order: Vec<usize> = (0..elements.len()).collect();
    order.sort_by(|&i, &j| compare(&elements[i], &elements[j]).then(i.cmp(&j)));
    let mut keep = alloc::vec![true; elements.len()];
    for w in order.windows(2) {
        if compare(&elements[w[0]], &elements[w[1]]).is_eq() {
            keep[w[1]] = false;
        }
    }
    retain_indices(elements, &keep);
}

/// Drops duplicate object keys: the first occurrence keeps its position and takes the value of
/// the last one (what a JSON decoder that inserts into a map does).
pub fn dedup_object(pairs: &mut Vec<(Value, Value)>) {
    let n = pairs.len();
    if n < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| compare(&pairs[i].0, &pairs[j].0).then(i.cmp(&j)));
    let mut keep = alloc::vec![true; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && compare(&pairs[order[start]].0, &pairs[order[end]].0).is_eq() {
            end += 1;
        }
        if end - start > 1 {
            let (first, last) = (order[start], order[end - 1]);
            let value = core::mem::replace(&mut pairs[last].1, Value::Null);
            pairs[first].1 = value;
            for &i in &order[start + 1..end] {
                keep[i] = false;
            }
        }
        start = end;
    }
    retain_indices(pairs, &keep);
}

fn retain_indices<T>(items: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    items.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// Validates a path for `add_path`/`remove_path`: a non-empty array whose elements, except
/// possibly the last, are strings (the same rule as OPA's own implementation).
fn path_keys(path: &Value) -> Result<&[Value], ErrorCode> {
    match path {
        Value::Array(keys) if !keys.is_empty() => {
            if keys[..keys.len() - 1]
                .iter()
                .all(|k| matches!(k, Value::String(_)))
            {
                Ok(keys)
            } else {
                Err(ErrorCode::InvalidPath)
            }
        }
        _ => Err(ErrorCode::InvalidPath),
    }
}

/// `opa_value_add_path`: sets `value` at `path` inside the object `base`, creating missing
/// intermediate objects. On error `base` is left unchanged and `value` is never called, so the
/// caller keeps its value.
pub fn add_path(base: &mut Value, path: &Value, value: impl FnOnce() -> Value) -> ErrorCode {
    let keys = match path_keys(path) {
        Ok(keys) => keys,
        Err(code) => return code,
    };
    // Check the whole walk before changing anything, so that a failure leaves `base` as it was.
    let mut probe: Option<&Value> = Some(base);
    for key in keys {
        match probe {
            Some(node @ Value::Object(_)) => probe = node.get(key),
            Some(_) => return ErrorCode::InvalidType,
            None => break,
        }
    }
    let (last, parents) = keys
        .split_last()
        .expect("path_keys guarantees a non-empty path");
    let mut node = base;
    for key in parents {
        if node.get(key).is_none() {
            node.insert(key.clone(), Value::Object(Vec::new()));
        }
        node = node.get_mut(key).expect("present or just inserted");
    }
    if node.insert(last.clone(), value()) {
        ErrorCode::Ok
    } else {
        // Unreachable: the walk above checked that the last parent is an object.
        ErrorCode::InvalidType
    }
}

/// `opa_value_remove_path`: removes the entry at `path` inside the object `base`. A path that
/// leads nowhere already names nothing, which counts as removed.
pub fn remove_path(base: &mut Value, path: &Value) -> ErrorCode {
    let keys = match path_keys(path) {
        Ok(keys) => keys,
        Err(code) => return code,
    };
    let (last, parents) = keys
        .split_last()
        .expect("path_keys guarantees a non-empty path");
    let mut node = base;
    for key in parents {
        match node.get_mut(key) {
            Some(next) => node = next,
            None => return ErrorCode::Ok,
        }
    }
    match node {
        Value::Object(_) => {
            node.remove(last);
            ErrorCode::Ok
        }
        _ => ErrorCode::InvalidType,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::to_json;
    use crate::parse::{parse, Syntax};

    fn v(text: &str) -> Value {
        parse(text.as_bytes(), Syntax::Rego).unwrap().value
    }

    fn json(value: &Value) -> String {
        String::from_utf8(to_json(value)).unwrap()
    }

    #[test]
    fn add_path_creates_missing_objects_and_keeps_siblings() {
        // The example of wasm.md.
        let mut base = v(r#"{"a": {"b": 123}}"#);
        assert_eq!(
            add_path(&mut base, &v(r#"["a", "x", "y"]"#), || v(
                r#"{"foo": "bar"}"#
            )),
            ErrorCode::Ok
        );
        assert_eq!(json(&base), r#"{"a":{"b":123,"x":{"y":{"foo":"bar"}}}}"#);
    }

    #[test]
    fn add_path_replaces_in_place() {
        let mut base = v(r#"{"a": 1, "b": 2, "c": 3}"#);
        assert_eq!(
            add_path(&mut base, &v(r#"["b"]"#), || v("[true]")),
            ErrorCode::Ok
        );
        assert_eq!(json(&base), r#"{"a":1,"b":[true],"c":3}"#);
    }

    #[test]
    fn add_path_rejects_bad_paths_and_non_objects_without_changing_base() {
        let mut base = v(r#"{"a": {"b": 5}}"#);
        assert_eq!(
            add_path(&mut base, &v("[]"), || v("1")),
            ErrorCode::InvalidPath
        );
        assert_eq!(
            add_path(&mut base, &v(r#""a""#), || v("1")),
            ErrorCode::InvalidPath
        );
        assert_eq!(
            add_path(&mut base, &v(r#"[1, "a"]"#), || v("1")),
            ErrorCode::InvalidPath
        );
        // Through a number: invalid type, and nothing created on the way.
        assert_eq!(
            add_path(&mut base, &v(r#"["a", "b", "c"]"#), || v("1")),
            ErrorCode::InvalidType
        );
        assert_eq!(
            add_path(&mut base, &v(r#"["a", "b", "c", "d"]"#), || v("1")),
            ErrorCode::InvalidType
        );
        let mut array = v("[1]");
        assert_eq!(
            add_path(&mut array, &v(r#"["x"]"#), || v("1")),
            ErrorCode::InvalidType
        );
        assert_eq!(json(&base), r#"{"a":{"b":5}}"#);
        // On error the caller keeps its value: it is never taken.
        assert_eq!(
            add_path(&mut base, &v(r#"["a", "b", "c"]"#), || panic!(
                "value taken on error"
            )),
            ErrorCode::InvalidType
        );
    }

    #[test]
    fn add_path_last_key_may_be_any_value() {
        let mut base = v("{}");
        assert_eq!(
            add_path(&mut base, &v(r#"["a", 7]"#), || v("true")),
            ErrorCode::Ok
        );
        assert!(base
            .get(&Value::string("a"))
            .unwrap()
            .get(&v("7"))
            .is_some());
    }

    #[test]
    fn remove_path_removes_and_ignores_missing() {
        let mut base = v(r#"{"a": {"b": 1, "c": 2}, "d": 3}"#);
        assert_eq!(remove_path(&mut base, &v(r#"["a", "b"]"#)), ErrorCode::Ok);
        assert_eq!(remove_path(&mut base, &v(r#"["x", "y"]"#)), ErrorCode::Ok);
        assert_eq!(remove_path(&mut base, &v(r#"["a", "zz"]"#)), ErrorCode::Ok);
        assert_eq!(remove_path(&mut base, &v(r#"["d"]"#)), ErrorCode::Ok);
        assert_eq!(json(&base), r#"{"a":{"c":2}}"#);
        assert_eq!(remove_path(&mut base, &v("[]")), ErrorCode::InvalidPath);
        let mut s = v(r#"{"a": [1]}"#);
        assert_eq!(
            remove_path(&mut s, &v(r#"["a", "b"]"#)),
            ErrorCode::InvalidType
        );
    }

    #[test]
    fn order_follows_opa_type_ranks_and_contents() {
        let ordered = [
            "null", "false", "true", "-1", "2", "10", r#""""#, r#""a""#, "[]", "[1]", "{}",
            "set()", "{1}",
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                compare(&v(w[0]), &v(w[1])),
                Ordering::Less,
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert!(compare(&v("{1, 2}"), &v("{2, 1}")).is_eq());
        assert!(compare(&v(r#"{"a": 1, "b": 2}"#), &v(r#"{"b": 2, "a": 1}"#)).is_eq());
        assert!(compare(&v("1"), &v("1.0")).is_eq());
    }

    #[test]
    fn numbers_compare_exactly() {
        let ordered = [
            "-1e400",
            "-123456789012345678902",
            "-123456789012345678901",
            "-2",
            "-1.5",
            "-0.001",
            "0",
            "1e-400",
            "0.0001",
            "0.5",
            "1",
            "1.25",
            "2",
            "10",
            "123456789012345678901",
            "123456789012345678902",
            "1e400",
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                compare(&v(w[0]), &v(w[1])),
                Ordering::Less,
                "{} < {}",
                w[0],
                w[1]
            );
            assert_eq!(
                compare(&v(w[1]), &v(w[0])),
                Ordering::Greater,
                "{} > {}",
                w[1],
                w[0]
            );
        }
        for (a, b) in [
            ("0", "-0.0"),
            ("100", "1e2"),
            ("1.50", "15E-1"),
            ("-0.010", "-1e-2"),
            ("7", "7.000"),
        ] {
            assert!(compare(&v(a), &v(b)).is_eq(), "{a} == {b}");
        }
        // A set keeps one spelling of a number: the first.
        assert_eq!(json(&v("{1, 1.0, 2}")), "[1,2]");
    }

    #[test]
    fn dedup_keeps_first_position_and_last_value() {
        let mut pairs = alloc::vec![
            (Value::string("a"), v("1")),
            (Value::string("b"), v("2")),
            (Value::string("a"), v("3")),
            (Value::string("a"), v("4")),
        ];
        dedup_object(&mut pairs);
        assert_eq!(json(&Value::Object(pairs)), r#"{"a":4,"b":2}"#);
        let mut set = alloc::vec![v("3"), v("1"), v("3"), v("[1]"), v("1")];
        dedup_set(&mut set);
        assert_eq!(json(&Value::Set(set)), "[3,1,[1]]");
    }
}
