//! Content digests (`algorithm:hex`) as the OCI image spec defines them.
//!
//! Only the registered algorithms `sha256` and `sha512` are accepted, with the
//! exact lowercase hex length each one requires, so a digest string that
//! parses is always safe to use as a file name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

/// A registered digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as it appears before the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Why a string is not a valid digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestError {
    /// No `:` separator.
    MissingAlgorithm,
    /// An algorithm other than `sha256` or `sha512`.
    UnsupportedAlgorithm(String),
    /// The encoded part is not lowercase hex of the algorithm's length.
    BadEncoding,
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::MissingAlgorithm => write!(f, "digest has no algorithm prefix"),
            DigestError::UnsupportedAlgorithm(a) => write!(f, "unsupported digest algorithm {a:?}"),
            DigestError::BadEncoding => write!(
                f,
                "digest encoding is not lowercase hex of the right length"
            ),
        }
    }
}

impl std::error::Error for DigestError {}

/// A validated digest such as `sha256:e3b0…`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest::from_sha256(sha2::Sha256::digest(bytes).into())
    }

    /// A SHA-256 digest from its raw 32 bytes (e.g. a finished hasher).
    pub fn from_sha256(raw: [u8; 32]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(raw),
        }
    }

    /// The digest of `bytes` under this digest's own algorithm.
    pub fn recompute(&self, bytes: &[u8]) -> Digest {
        match self.algorithm {
            Algorithm::Sha256 => Digest::sha256_of(bytes),
            Algorithm::Sha512 => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(sha2::Sha512::digest(bytes)),
            },
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part after the colon.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s.split_once(':').ok_or(DigestError::MissingAlgorithm)?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => return Err(DigestError::UnsupportedAlgorithm(other.to_string())),
        };
        // Lowercase only: the spec's registered algorithms require it, and it
        // keeps one spelling per digest (no case-folding duplicates on disk).
        let ok = hex.len() == algorithm.hex_len()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(DigestError::BadEncoding);
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d = Digest::sha256_of(b"{}");
        assert_eq!(
            d.to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
    }

    #[test]
    fn rejects_bad_digests() {
        assert_eq!("abc".parse::<Digest>(), Err(DigestError::MissingAlgorithm));
        assert!(matches!(
            "md5:00".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert_eq!(upper.parse::<Digest>(), Err(DigestError::BadEncoding));
        assert_eq!(
            "sha256:../../etc".parse::<Digest>(),
            Err(DigestError::BadEncoding)
        );
    }

    #[test]
    fn sha512_recompute() {
        let d: Digest = format!("sha512:{}", "0".repeat(128)).parse().unwrap();
        assert_eq!(d.recompute(b"").algorithm(), Algorithm::Sha512);
    }
}
