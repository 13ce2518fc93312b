//! Text to [`Value`]: JSON for `opa_json_parse`, Rego value text for `opa_value_parse` and for
//! the input of `opa_eval`.
//!
//! Rego value text is what OPA writes when it hands a value to a module (Go's `ast.Value.String()`):
//! JSON plus set literals (`{1, 2}`, `set()`), non-string object keys, and strings quoted by Go's
//! `strconv.Quote`, which adds the escapes `\a`, `\v`, `\xHH` and `\UHHHHHHHH` to JSON's. Raw
//! strings in backquotes are Rego source syntax that a value can also be written in. Every such
//! feature sets [`Parsed::extended`], so that callers know whether the text was plain JSON.
//!
//! A trailing NUL is ignored (some hosts pass the C string with its terminator), and nesting is
//! capped at [`MAX_DEPTH`] so that hostile input cannot exhaust the module's small stack.

use alloc::string::String;
use alloc::vec::Vec;

use crate::value::{dedup_object, dedup_set, Value};

/// Deepest nesting of arrays, objects and sets accepted (serde_json's own limit).
pub const MAX_DEPTH: usize = 128;

/// Which grammar to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// RFC 8259 JSON.
    Json,
    /// JSON plus Rego's value syntax (see the module documentation).
    Rego,
}

/// A parsed value, and whether the text used anything beyond JSON.
#[derive(Debug)]
pub struct Parsed {
    pub value: Value,
    pub extended: bool,
}

/// Why and where parsing stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the text.
    pub offset: usize,
    pub reason: &'static str,
}

/// Parses one value that spans the whole text (surrounding whitespace and one or more trailing
/// NULs allowed).
pub fn parse(text: &[u8], syntax: Syntax) -> Result<Parsed, ParseError> {
    let mut end = text.len();
    while end > 0 && text[end - 1] == 0 {
        end -= 1;
    }
    let mut p = Parser {
        s: &text[..end],
        pos: 0,
        syntax,
        depth: 0,
        extended: false,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.error("trailing characters after the value"));
    }
    Ok(Parsed {
        value,
        extended: p.extended,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    syntax: Syntax,
    depth: usize,
    extended: bool,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> ParseError {
        ParseError {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, word: &[u8]) -> bool {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Marks the use of a Rego-only feature, or refuses it in JSON mode.
    fn rego_only(&mut self, reason: &'static str) -> Result<(), ParseError> {
        match self.syntax {
            Syntax::Rego => {
                self.extended = true;
                Ok(())
            }
            Syntax::Json => Err(self.error(reason)),
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            None => Err(self.error("unexpected end of text")),
            Some(b'n') if self.eat(b"null") => Ok(Value::Null),
            Some(b't') if self.eat(b"true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Value::Bool(false)),
            Some(b's') if self.s[self.pos..].starts_with(b"set") => self.empty_set(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string().map(Value::String),
            Some(b'`') => {
                self.rego_only("raw strings are not JSON")?;
                self.raw_string().map(Value::String)
            }
            Some(b'[') => self.nested(Self::array),
            Some(b'{') => self.nested(Self::object_or_set),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Value, ParseError>,
    ) -> Result<Value, ParseError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.depth += 1;
        let value = f(self);
        self.depth -= 1;
        value
    }

    /// `set()`: Rego's empty set (`{}` is the empty object).
    fn empty_set(&mut self) -> Result<Value, ParseError> {
        self.rego_only("set() is not JSON")?;
        self.pos += 3;
        self.skip_ws();
        if !self.eat(b"(") {
            return Err(self.error("expected ( after set"));
        }
        self.skip_ws();
        if !self.eat(b")") {
            return Err(self.error("expected ) in set()"));
        }
        Ok(Value::Set(Vec::new()))
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        self.eat(b"-");
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected a digit")),
        }
        if self.eat(b".") {
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("expected a digit after the decimal point"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("expected a digit in the exponent"));
            }
            self.digits();
        }
        // Only ASCII was consumed, so the slice is valid UTF-8.
        let text = core::str::from_utf8(&self.s[start..self.pos])
            .map_err(|_| self.error("invalid number"))?;
        Ok(Value::Number(String::from(text)))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // the opening quote
        let mut out: Vec<u8> = Vec::new();
        // Set by `\xHH` and octal escapes, which Go uses for bytes that are not valid UTF-8.
        let mut raw_bytes = false;
        loop {
            let run_start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.extend_from_slice(&self.s[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    raw_bytes |= self.escape(&mut out)?;
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
        match String::from_utf8(out) {
            Ok(s) => Ok(s),
            Err(e) if raw_bytes => Ok(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            Err(_) => Err(self.error("string is not valid UTF-8")),
        }
    }

    /// One escape after a backslash; returns true when it produced a raw byte.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<bool, ParseError> {
        let Some(c) = self.peek() else {
            return Err(self.error("unterminated escape"));
        };
        self.pos += 1;
        let simple = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            return Ok(false);
        }
        match c {
            b'u' => {
                let unit = self.hex(4)?;
                let ch =
                    if (0xD800..0xDC00).contains(&unit) && self.s[self.pos..].starts_with(b"\\u") {
                        let save = self.pos;
                        self.pos += 2;
                        let low = self.hex(4)?;
                        if (0xDC00..0xE000).contains(&low) {
                            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                        } else {
                            // Not a pair: the high surrogate alone is replaced, the next escape is
                            // read on its own.
                            self.pos = save;
                            None
                        }
                    } else {
                        char::from_u32(unit)
                    };
                // A lone surrogate becomes U+FFFD, as Go's JSON decoder does.
                push_char(out, ch.unwrap_or('\u{FFFD}'));
                Ok(false)
            }
            b'a' | b'v' | b'\'' => {
                self.rego_only("escape is not JSON")?;
                out.push(match c {
                    b'a' => 0x07,
                    b'v' => 0x0b,
                    _ => b'\'',
                });
                Ok(false)
            }
            b'x' => {
                self.rego_only("\\x escape is not JSON")?;
                out.push(self.hex(2)? as u8);
                Ok(true)
            }
            b'U' => {
                self.rego_only("\\U escape is not JSON")?;
                let scalar = self.hex(8)?;
                let ch = char::from_u32(scalar)
                    .ok_or_else(|| self.error("\\U escape is not a Unicode scalar value"))?;
                push_char(out, ch);
                Ok(false)
            }
            b'0'..=b'7' => {
                self.rego_only("octal escape is not JSON")?;
                let mut byte = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            byte = byte * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => return Err(self.error("octal escape needs three digits")),
                    }
                }
                if byte > 0xff {
                    return Err(self.error("octal escape above \\377"));
                }
                out.push(byte as u8);
                Ok(true)
            }
            _ => {
                self.pos -= 1;
                Err(self.error("unknown escape"))
            }
        }
    }

    fn hex(&mut self, n: usize) -> Result<u32, ParseError> {
        let mut v: u32 = 0;
        for _ in 0..n {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.error("expected a hex digit")),
            };
            v = (v << 4) | u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    /// A Rego raw string: everything up to the next backquote, no escapes.
    fn raw_string(&mut self) -> Result<String, ParseError> {
        self.pos += 1;
        let start = self.pos;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == b'`')
            .ok_or_else(|| self.error("unterminated raw string"))?;
        self.pos = start + len + 1;
        core::str::from_utf8(&self.s[start..start + len])
            .map(String::from)
            .map_err(|_| self.error("raw string is not valid UTF-8"))
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        self.pos += 1;
        let items = self.elements(b']')?;
        Ok(Value::Array(items))
    }

    /// The comma-separated values up to `close`, which is consumed.
    fn elements(&mut self, close: u8) -> Result<Vec<Value>, ParseError> {
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat(&[close]) {
            return Ok(items);
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.error("expected , or the closing bracket")),
            }
        }
    }

    /// `{` starts an object, or in Rego a set: the first member decides (a `:` after it means
    /// object). `{}` is the empty object.
    fn object_or_set(&mut self) -> Result<Value, ParseError> {
        self.pos += 1;
        self.skip_ws();
        if self.eat(b"}") {
            return Ok(Value::Object(Vec::new()));
        }
        let first = self.value()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            self.rego_only("expected : after an object key")?;
            let mut items = alloc::vec![first];
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    items.extend(self.elements(b'}')?);
                }
                Some(b'}') => self.pos += 1,
                _ => return Err(self.error("expected , or } in a set")),
            }
            dedup_set(&mut items);
            return Ok(Value::Set(items));
        }
        let mut pairs = Vec::new();
        let mut key = first;
        loop {
            if !matches!(key, Value::String(_)) {
                self.rego_only("object keys must be strings in JSON")?;
            }
            self.skip_ws();
            if !self.eat(b":") {
                return Err(self.error("expected : after an object key"));
            }
            self.skip_ws();
            let value = self.value()?;
            pairs.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.error("expected , or } in an object")),
            }
            self.skip_ws();
            key = self.value()?;
        }
        dedup_object(&mut pairs);
        Ok(Value::Object(pairs))
    }
}

fn push_char(out: &mut Vec<u8>, ch: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::{to_json, to_rego};

    fn json(text: &str) -> String {
        String::from_utf8(to_json(
            &parse(text.as_bytes(), Syntax::Rego).unwrap().value,
        ))
        .unwrap()
    }

    fn rego(text: &str) -> String {
        String::from_utf8(to_rego(
            &parse(text.as_bytes(), Syntax::Rego).unwrap().value,
        ))
        .unwrap()
    }

    fn fails(text: &[u8], syntax: Syntax) -> ParseError {
        parse(text, syntax).expect_err(core::str::from_utf8(text).unwrap_or("?"))
    }

    #[test]
    fn json_scalars_and_containers() {
        for (text, out) in [
            ("null", "null"),
            (" true ", "true"),
            ("false", "false"),
            ("0", "0"),
            ("-12.5e+3", "-12.5e+3"),
            ("1E-7", "1E-7"),
            (r#""a\"b\\c\/d\b\f\n\r\t""#, r#""a\"b\\c/d\b\f\n\r\t""#),
            (r#""\u00e9\ud83d\ude00é""#, "\"é😀é\""),
            ("[1, [2, []], {}]", "[1,[2,[]],{}]"),
            (
                r#"{"a": {"b": [true, null]}, "c": "d"}"#,
                r#"{"a":{"b":[true,null]},"c":"d"}"#,
            ),
        ] {
            assert_eq!(json(text), out, "{text}");
            let parsed = parse(text.as_bytes(), Syntax::Json).unwrap();
            assert!(!parsed.extended, "{text} is plain JSON");
        }
    }

    #[test]
    fn json_mode_rejects_what_json_does() {
        for text in [
            "",
            " ",
            "nul",
            "01",
            "1.",
            "-",
            "1e",
            "+1",
            "[1,]",
            "[1 2]",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            "{1: 2}",
            "{1, 2}",
            "set()",
            "`raw`",
            r#""\x41""#,
            r#""\a""#,
            r#""\U0001F600""#,
            "\"tab\there\"",
            r#""\q""#,
            "\"open",
            "[1] [2]",
            "nan",
            "'single'",
        ] {
            fails(text.as_bytes(), Syntax::Json);
        }
        assert_eq!(
            fails(b"\"\xff\"", Syntax::Json).reason,
            "string is not valid UTF-8"
        );
    }

    #[test]
    fn trailing_nul_is_ignored() {
        let parsed = parse(b"{\"a\":1}\0", Syntax::Json).unwrap();
        assert!(parsed.value.get(&Value::string("a")).is_some());
        assert!(parse(b"[1]\0\0", Syntax::Json).is_ok());
        assert!(
            parse(b"[1\0]", Syntax::Json).is_err(),
            "only a trailing NUL is ignored"
        );
    }

    #[test]
    fn rego_sets_and_non_string_keys() {
        assert_eq!(rego("set()"), "set()");
        assert_eq!(rego("set( )"), "set()");
        assert_eq!(rego("{1, 2, 1}"), "{1,2}");
        assert_eq!(
            rego(r#"{{"result": {"x": set()}}}"#),
            r#"{{"result":{"x":set()}}}"#
        );
        assert_eq!(rego(r#"{1: "a", [2]: {3}}"#), r#"{1:"a",[2]:{3}}"#);
        // JSON rendering: sets become arrays, non-string keys become strings.
        assert_eq!(
            json(r#"{1: "a", [2, "x"]: {3}}"#),
            r#"{"1":"a","[2,\"x\"]":[3]}"#
        );
        assert!(parse(b"{1}", Syntax::Rego).unwrap().extended);
        assert!(!parse(b"{\"a\": [1]}", Syntax::Rego).unwrap().extended);
    }

    #[test]
    fn rego_strings_accept_go_quoting() {
        // What Go's strconv.Quote writes for control characters, DEL, non-printables and bad bytes.
        assert_eq!(
            json(r#""\a\v\x00\x7f\U0001F600\u200b""#),
            "\"\\u0007\\u000b\\u0000\u{7f}😀\u{200b}\""
        );
        assert_eq!(json(r#""\xff""#), "\"\u{FFFD}\"");
        assert_eq!(json(r#""\101\'""#), r#""A'""#);
        assert_eq!(json("`a\\nb\"c`"), r#""a\\nb\"c""#);
        assert!(parse(br#""\x4""#, Syntax::Rego).is_err());
        assert!(parse(br#""\U00110000""#, Syntax::Rego).is_err());
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(json(r#""\ud800x""#), "\"\u{FFFD}x\"");
        assert_eq!(json(r#""\ud800\u0041""#), "\"\u{FFFD}A\"");
        assert_eq!(json(r#""\udc00""#), "\"\u{FFFD}\"");
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        assert_eq!(json(r#"{"a": 1, "b": 2, "a": 3}"#), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn nesting_is_capped() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes(), Syntax::Json).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(
            fails(deep.as_bytes(), Syntax::Json).reason,
            "nesting too deep"
        );
        let sets = "{".repeat(MAX_DEPTH + 1) + "1" + &"}".repeat(MAX_DEPTH + 1);
        assert_eq!(
            fails(sets.as_bytes(), Syntax::Rego).reason,
            "nesting too deep"
        );
    }

    #[test]
    fn round_trips_are_stable() {
        let text = r#"{"n": [0, -1.5e10, 123456789012345678901234567890], "s": "é\u0001\"", "e": {}, "t": {"x": {1, {"y": set()}}}}"#;
        let once = rego(text);
        assert_eq!(rego(&once), once);
        let j = json(text);
        assert_eq!(json(&j), j);
        assert!(!parse(j.as_bytes(), Syntax::Json).unwrap().extended);
    }
}
