//! Distinguished names: the attributes of a certificate subject, and the `x509.subject:` form
//! of trusted identities (trust-store-trust-policy.md, "Trusted Identities Constraints").

use alloc::string::String;
use alloc::vec::Vec;

use der::asn1::ObjectIdentifier;
use der::Tag;
use x509_cert::name::Name;

/// One attribute of a name: its short type (`C`, `ST`, `O`, …) and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub kind: String,
    pub value: String,
}

const SHORT_NAMES: [(&str, &str); 11] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "E"),
];

fn short_name(oid: &ObjectIdentifier) -> String {
    let dotted = alloc::format!("{oid}");
    SHORT_NAMES
        .iter()
        .find(|(o, _)| *o == dotted)
        .map(|(_, n)| String::from(*n))
        .unwrap_or(dotted)
}

/// The attributes of a name in the order of the certificate (most significant first).
/// Values of string types other than UTF8, Printable, IA5, Teletex and BMP are skipped.
pub fn attributes(name: &Name) -> Vec<Attribute> {
    let mut out = Vec::new();
    for rdn in name.iter_rdn() {
        for atv in rdn.iter() {
            let bytes = atv.value.value();
            let value = match der::Tagged::tag(&atv.value) {
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
                    core::str::from_utf8(bytes).ok().map(String::from)
                }
                Tag::BmpString if bytes.len() % 2 == 0 => {
                    let units = bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    char::decode_utf16(units)
                        .collect::<Result<String, _>>()
                        .ok()
                }
                _ => None,
            };
            if let Some(value) = value {
                out.push(Attribute {
                    kind: short_name(&atv.oid),
                    value,
                });
            }
        }
    }
    out
}

/// RFC 4514 style, most specific first (`CN=…,O=…,ST=…,C=…`), as notation prints signers.
pub fn display(attrs: &[Attribute]) -> String {
    let mut s = String::new();
    for (i, a) in attrs.iter().rev().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&a.kind);
        s.push('=');
        for c in a.value.chars() {
            if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
                s.push('\\');
            }
            s.push(c);
        }
    }
    s
}

/// Parses the DN of an `x509.subject:` identity: comma-separated `TYPE=value`, with `\,`, `\;`,
/// `\\` and escaped leading or trailing spaces. Each type may appear once.
pub fn parse_dn(text: &str) -> Result<Vec<Attribute>, String> {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    // Escaped characters are kept with a marker so that trimming spares escaped spaces.
    let mut escaped_positions: Vec<(usize, usize)> = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars
                    .next()
                    .ok_or_else(|| String::from("dangling escape"))?;
                escaped_positions.push((parts.len(), current.len()));
                current.push(next);
            }
            ',' => parts.push(core::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);

    let mut attrs: Vec<Attribute> = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let escapes: Vec<usize> = escaped_positions
            .iter()
            .filter(|(p, _)| *p == index)
            .map(|(_, at)| *at)
            .collect();
        let eq = part
            .find('=')
            .ok_or_else(|| alloc::format!("{part:?} is not TYPE=value"))?;
        let kind = part[..eq].trim();
        let raw_value = &part[eq + 1..];
        let value = trim_unescaped(raw_value, eq + 1, &escapes);
        if kind.is_empty() || value.is_empty() {
            return Err(alloc::format!("{part:?} has an empty type or value"));
        }
        let kind = kind.to_ascii_uppercase();
        let kind = if kind == "S" {
            String::from("ST")
        } else {
            kind
        };
        if attrs.iter().any(|a| a.kind == kind) {
            return Err(alloc::format!("attribute {kind} appears more than once"));
        }
        attrs.push(Attribute { kind, value });
    }
    Ok(attrs)
}

fn trim_unescaped(value: &str, offset: usize, escapes: &[usize]) -> String {
    let chars: Vec<(usize, char)> = value.char_indices().map(|(i, c)| (i + offset, c)).collect();
    let is_escaped = |pos: usize| escapes.contains(&pos);
    let start = chars
        .iter()
        .position(|(i, c)| *c != ' ' || is_escaped(*i))
        .unwrap_or(chars.len());
    let end = chars
        .iter()
        .rposition(|(i, c)| *c != ' ' || is_escaped(*i))
        .map(|p| p + 1)
        .unwrap_or(start);
    chars[start..end.max(start)]
        .iter()
        .map(|(_, c)| c)
        .collect()
}

/// Whether every attribute of `identity` is in `subject` with the same value.
pub fn is_subset(identity: &[Attribute], subject: &[Attribute]) -> bool {
    identity.iter().all(|want| {
        subject
            .iter()
            .any(|have| have.kind == want.kind && have.value == want.value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(attrs: &[Attribute]) -> Vec<(&str, &str)> {
        attrs
            .iter()
            .map(|a| (a.kind.as_str(), a.value.as_str()))
            .collect()
    }

    #[test]
    fn parses_identities_with_escapes() {
        let dn = parse_dn(" C=US, ST=WA, O=Acme\\, Inc., CN=\\ padded\\ ").unwrap();
        assert_eq!(
            kv(&dn),
            [
                ("C", "US"),
                ("ST", "WA"),
                ("O", "Acme, Inc."),
                ("CN", " padded ")
            ]
        );
        assert!(parse_dn("C=US, C=CA").is_err());
        assert!(parse_dn("C=US, novalue").is_err());
        assert!(parse_dn("C=").is_err());
        assert!(parse_dn("C=US\\").is_err());
    }

    #[test]
    fn subset_matching_needs_equal_values() {
        let subject = parse_dn("C=US, ST=WA, L=Seattle, O=Notary, CN=leaf").unwrap();
        assert!(is_subset(
            &parse_dn("C=US, ST=WA, O=Notary").unwrap(),
            &subject
        ));
        assert!(!is_subset(
            &parse_dn("C=US, ST=WA, O=notary").unwrap(),
            &subject
        ));
        assert!(!is_subset(
            &parse_dn("C=US, ST=WA, O=Notary, OU=x").unwrap(),
            &subject
        ));
    }
}
