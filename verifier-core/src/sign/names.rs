//! Distinguished names from the strings people write in trust policies
//! (`"C=US, ST=WA, L=Seattle, O=Notary, CN=demo"`).
//!
//! Unlike RFC 4514 (which lists the most specific RDN first), these strings are read in the order
//! written and encoded in that order, which is how the Notary Project's trust policy writes
//! `x509.subject` and how `openssl -subj` reads names. One attribute per RDN; `\,` escapes a comma.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::asn1::Any;
use der::Tag;
use spki::ObjectIdentifier;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use super::SignError;

/// Parses `"C=US, ST=WA, O=Acme, CN=leaf"` into a `Name` whose RDNs are in the written order.
///
/// Keys: C, ST, L, O, OU, CN, SERIALNUMBER, STREET, POSTALCODE, DC, E (or EMAILADDRESS), or a
/// dotted OID. Values are PrintableStrings when they fit that alphabet (as Go's crypto/x509
/// encodes them, so names compare equal with notation's), else UTF8Strings; DC and E are
/// IA5Strings. An empty string is the empty name.
pub fn parse_name(s: &str) -> Result<Name, SignError> {
    let bad = |reason| SignError::InvalidName {
        name: s.to_string(),
        reason,
    };
    let mut rdns = Vec::new();
    if s.trim().is_empty() {
        return Ok(Name::default());
    }
    for part in split_unescaped(s) {
        let part = part.trim();
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad("an RDN has no '='"))?;
        let key = key.trim();
        let value = value.trim();
        if value.is_empty() {
            return Err(bad("an RDN has an empty value"));
        }
        let (oid, kind) = attribute(key).ok_or_else(|| bad("unknown attribute name"))?;
        let tag = match kind {
            Kind::Ia5 if value.is_ascii() => Tag::Ia5String,
            Kind::Ia5 => return Err(bad("DC and E values must be ASCII")),
            Kind::Printable if value.bytes().all(is_printable) => Tag::PrintableString,
            Kind::Printable if oid == OID_C => return Err(bad("C must be a two-letter code")),
            Kind::Printable => Tag::Utf8String,
        };
        let any = Any::new(tag, value.as_bytes()).map_err(SignError::Der)?;
        let atv = AttributeTypeAndValue { oid, value: any };
        rdns.push(RelativeDistinguishedName::try_from(alloc::vec![atv]).map_err(SignError::Der)?);
    }
    // `hazmat_from_rdn_sequence` is x509-cert's door for names whose string types the caller
    // chose, which this parser does on purpose (PrintableString where it fits, as Go does).
    Ok(Name::hazmat_from_rdn_sequence(RdnSequence::from(rdns)))
}

enum Kind {
    Printable,
    Ia5,
}

const OID_C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");

fn attribute(key: &str) -> Option<(ObjectIdentifier, Kind)> {
    let oid = |s| ObjectIdentifier::new_unwrap(s);
    Some(match key.to_ascii_uppercase().as_str() {
        "C" => (OID_C, Kind::Printable),
        "ST" => (oid("2.5.4.8"), Kind::Printable),
        "L" => (oid("2.5.4.7"), Kind::Printable),
        "O" => (oid("2.5.4.10"), Kind::Printable),
        "OU" => (oid("2.5.4.11"), Kind::Printable),
        "CN" => (oid("2.5.4.3"), Kind::Printable),
        "SERIALNUMBER" => (oid("2.5.4.5"), Kind::Printable),
        "STREET" => (oid("2.5.4.9"), Kind::Printable),
        "POSTALCODE" => (oid("2.5.4.17"), Kind::Printable),
        "DC" => (oid("0.9.2342.19200300.100.1.25"), Kind::Ia5),
        "E" | "EMAILADDRESS" => (oid("1.2.840.113549.1.9.1"), Kind::Ia5),
        _ => (ObjectIdentifier::new(key).ok()?, Kind::Printable),
    })
}

/// The ASN.1 PrintableString alphabet (X.680 §41.4).
fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}

/// Splits at commas not preceded by a backslash, and removes the escapes.
fn split_unescaped(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' => parts.push(core::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Encode, Tagged};

    #[test]
    fn written_order_is_der_order() {
        let n = parse_name("C=US, ST=WA, L=Seattle, O=Notary, CN=demo").unwrap();
        assert_eq!(n.len(), 5);
        // x509-cert displays RFC 4514 style (last RDN first).
        assert_eq!(n.to_string(), "CN=demo,O=Notary,L=Seattle,ST=WA,C=US");
        assert!(n.to_der().is_ok());
    }

    #[test]
    fn escapes_and_utf8() {
        let n = parse_name(r"O=Acme\, Inc., CN=Zoë").unwrap();
        let values: Vec<_> = n.iter().map(|atv| &atv.value).collect();
        assert_eq!(values[0].tag(), Tag::PrintableString);
        assert_eq!(values[1].tag(), Tag::Utf8String);
        assert_eq!(values[0].value(), b"Acme, Inc.");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_name("CN").is_err());
        assert!(parse_name("XX=1").is_err());
        assert!(parse_name("CN=").is_err());
        assert!(parse_name("").unwrap().is_empty());
    }
}
