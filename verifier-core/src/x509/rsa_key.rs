//! RSA public keys: checked when parsed, made ready for arithmetic when first used.
//!
//! rsa's `PublicKey::new_with_size_limits` checks a key and precomputes its Montgomery
//! parameters. The second part is most of its cost (about 140 K instructions for RSA-2048
//! natively, a tenth of a whole verify) and is wasted whenever `ring` does the verifying. So the
//! checks run at parse, with rsa's rules and messages (a unit test holds them equal), and rsa's
//! key is built on first use.

use alloc::string::String;
use core::cell::OnceCell;

use der::Decode;
use rsa::{BoxedUint, PublicKey};

/// The largest modulus accepted: bigger keys are refused at parse, which also bounds the work an
/// attacker's certificate can cause.
const MAX_BITS: u32 = 4096;

#[derive(Clone)]
pub(crate) struct RsaKey {
    n: BoxedUint,
    e: BoxedUint,
    bits: usize,
    ready: OnceCell<Option<PublicKey>>,
}

impl RsaKey {
    /// Reads a PKCS#1 `RSAPublicKey`. Small moduli parse, so that the algorithm rules
    /// (2048/3072/4096 only) can name the wrong size.
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        let parsed = pkcs1::RsaPublicKey::from_der(der).map_err(|e| alloc::format!("{e}"))?;
        let uint = |u: der::asn1::UintRef<'_>| BoxedUint::from_be_slice_vartime(u.as_bytes());
        let (n, e) = (uint(parsed.modulus), uint(parsed.public_exponent));
        check(&n, &e).map_err(|e| alloc::format!("{e}"))?;
        Ok(Self {
            bits: n.bit_width_vartime() as usize,
            n,
            e,
            ready: OnceCell::new(),
        })
    }

    /// The modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        self.bits
    }

    /// The modulus size in bytes: the length of every signature this key makes.
    pub(crate) fn size(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// rsa's key, built on the first call. `None` only if rsa refused a key that [`check`]
    /// passed, which the unit test below rules out; a caller then treats the signature as bad.
    pub(crate) fn get(&self) -> Option<&PublicKey> {
        self.ready
            .get_or_init(|| {
                PublicKey::new_with_size_limits(self.n.clone(), self.e.clone(), limits()).ok()
            })
            .as_ref()
    }
}

fn limits() -> core::ops::RangeInclusive<usize> {
    1..=MAX_BITS as usize
}

/// rsa 0.10's checks of `PublicKey::new_with_size_limits(n, e, 1..=4096)`, in its order and with
/// its errors, without the Montgomery precomputation.
fn check(n: &BoxedUint, e: &BoxedUint) -> Result<(), rsa::Error> {
    let bits = n.bit_width_vartime();
    if bits < 1 {
        return Err(rsa::Error::ModulusTooSmall);
    }
    if bits > MAX_BITS {
        return Err(rsa::Error::ModulusTooLarge);
    }
    // Bit 0 is the parity (is_even lives on a crypto-bigint trait rsa does not re-export).
    if e >= n || !n.bit_vartime(0) || bool::from(n.is_zero()) {
        return Err(rsa::Error::InvalidModulus);
    }
    if !e.bit_vartime(0) {
        return Err(rsa::Error::InvalidExponent);
    }
    if e < &BoxedUint::from(PublicKey::MIN_PUB_EXPONENT) {
        return Err(rsa::Error::PublicExponentTooSmall);
    }
    if e > &BoxedUint::from(PublicKey::MAX_PUB_EXPONENT) {
        return Err(rsa::Error::PublicExponentTooLarge);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    fn uint(hex: &str) -> BoxedUint {
        let hex = if hex.len() % 2 == 1 {
            alloc::format!("0{hex}")
        } else {
            hex.into()
        };
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        BoxedUint::from_be_slice_vartime(&bytes)
    }

    /// Every rule, each side of its edge: our checks and rsa's constructor must agree on the
    /// outcome and the message, or native (ring) and wasm reports could differ.
    #[test]
    fn checks_agree_with_rsa() {
        let odd_2048 = alloc::format!("c{}1", "3".repeat(510));
        let odd_4096 = alloc::format!("c{}1", "3".repeat(1022));
        let odd_4097 = alloc::format!("1{}1", "0".repeat(1023));
        let even_2048 = alloc::format!("c{}2", "3".repeat(510));
        let cases: Vec<(String, String)> = [
            (&*odd_2048, "10001"),
            (&*odd_2048, "3"),
            (&*odd_4096, "10001"),
            (&*odd_4097, "10001"),
            (&*even_2048, "10001"),
            (&*odd_2048, "10000"),
            (&*odd_2048, "1"),
            (&*odd_2048, "0"),
            (&*odd_2048, "1ffffffff"),
            (&*odd_2048, "200000001"),
            (&*odd_2048, &*odd_2048),
            ("0", "3"),
            ("f", "3"),
            ("f", "11"),
            ("3", "3"),
            ("5", "3"),
        ]
        .into_iter()
        .map(|(n, e)| (n.to_string(), e.to_string()))
        .collect();
        for (n, e) in cases {
            let ours = check(&uint(&n), &uint(&e)).map_err(|e| e.to_string());
            let theirs = PublicKey::new_with_size_limits(uint(&n), uint(&e), limits())
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "n={n} e={e}");
        }
    }

    #[test]
    fn the_key_is_built_once_on_first_use() {
        let n = uint(&alloc::format!("c{}1", "3".repeat(510)));
        let mut der = Vec::new();
        // SEQUENCE { INTEGER n, INTEGER 65537 } by hand: 0x00 keeps n positive.
        let n_bytes = [&[0u8][..], &n.to_be_bytes()[..]].concat();
        let body = [
            &[0x02, 0x82, (n_bytes.len() >> 8) as u8, n_bytes.len() as u8][..],
            &n_bytes,
            &[0x02, 0x03, 0x01, 0x00, 0x01],
        ]
        .concat();
        der.extend_from_slice(&[0x30, 0x82, (body.len() >> 8) as u8, body.len() as u8]);
        der.extend_from_slice(&body);
        let key = RsaKey::from_pkcs1_der(&der).unwrap();
        assert_eq!((key.bits(), key.size()), (2048, 256));
        assert!(key.ready.get().is_none(), "not built at parse");
        let first = key.get().unwrap() as *const PublicKey;
        assert_eq!(first, key.get().unwrap() as *const PublicKey);
    }
}
