//! The JWS signature algorithms a Notary Project signature may use
//! (signature-specification, "Algorithm Selection").

/// One of the six algorithms the Notary Project allows. RS*, HS* and `none` have no variant:
/// they can never be selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

impl SignatureAlgorithm {
    /// The JWS `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }

    /// Parses a JWS `alg` name; anything outside the allowed six is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            _ => return None,
        })
    }

    /// Length in bytes of a raw `R || S` ECDSA signature for the EC algorithms.
    pub fn ecdsa_signature_len(self) -> Option<usize> {
        match self {
            Self::Es256 => Some(64),
            Self::Es384 => Some(96),
            Self::Es512 => Some(132),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_six_notary_algorithms_parse() {
        for a in ["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"] {
            assert_eq!(SignatureAlgorithm::from_name(a).unwrap().name(), a);
        }
        for a in ["none", "RS256", "HS256", "ps256", "EdDSA", ""] {
            assert!(SignatureAlgorithm::from_name(a).is_none(), "{a}");
        }
    }
}
