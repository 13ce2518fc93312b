//! A bounded, deterministic fuzz run that `make test` executes in a few seconds (the cargo-fuzz
//! target in `verifier-core/fuzz/` is the open-ended version): arbitrary bytes and mutated valid
//! envelopes go through the verifier. It must never panic, and a mutated envelope must never
//! verify unless what it signs (protected header, payload, signature, chain) is unchanged.

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use verifier_core::sign::KeyType;
use verifier_core::verify_json;

/// xorshift64*: deterministic, so a failure names its seed and replays.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"\\u0000",
    b"=",
    b"-",
    b"_",
    b"1e999",
    b"\"alg\"",
    b"\"crit\"",
    b"\"x5c\"",
    b"\xff",
    b" ",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            2 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, piece.iter().copied());
            }
            3 if at < out.len() => {
                let len = 1 + rng.below(16).min(out.len() - at - 1);
                out.drain(at..at + len);
            }
            4 => out.truncate(at),
            _ => {
                // Duplicate a slice elsewhere (repeats members, keys, base64 runs).
                if !out.is_empty() {
                    let from = rng.below(out.len());
                    let len = 1 + rng.below(32).min(out.len() - from - 1);
                    let piece: Vec<u8> = out[from..from + len].to_vec();
                    out.splice(at.min(out.len())..at.min(out.len()), piece);
                }
            }
        }
    }
    out
}

/// What a signature commits to; equal for two envelopes that may both verify.
fn signed_content(envelope: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<Vec<u8>>)> {
    let e = verifier_core::jws::parse_envelope(envelope).ok()?;
    Some((e.signing_input, e.signature, e.x5c))
}

#[test]
fn mutated_envelopes_never_verify_and_nothing_panics() {
    let pki = pki(KeyType::EcP256);
    let original = Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]).build();
    let template = Request::new(original.clone(), &pki.root).json();
    let original_content = signed_content(&original).unwrap();
    assert!(verify_json(&serde_json::to_vec(&template).unwrap()).verified);

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut verified_equivalents = 0;
    for round in 0..3000 {
        // Mutate the envelope bytes, or one decoded part re-encoded without re-signing.
        let candidate = if round % 3 == 0 {
            let obj: serde_json::Value = serde_json::from_slice(&original).unwrap();
            let member = ["protected", "payload", "signature"][rng.below(3)];
            let decoded =
                base64ct::Base64UrlUnpadded::decode_vec(obj[member].as_str().unwrap()).unwrap();
            let mut obj = obj;
            obj[member] = serde_json::json!(base64ct::Base64UrlUnpadded::encode_string(&mutate(
                &mut rng, &decoded
            )));
            serde_json::to_vec(&obj).unwrap()
        } else {
            mutate(&mut rng, &original)
        };
        let mut request = template.clone();
        request["signatures"][0]["envelope"] = serde_json::json!(Base64::encode_string(&candidate));
        let report = verify_json(&serde_json::to_vec(&request).unwrap());
        if report.verified {
            assert_eq!(
                signed_content(&candidate).as_ref(),
                Some(&original_content),
                "round {round}: a mutated envelope verified: {}",
                String::from_utf8_lossy(&candidate)
            );
            verified_equivalents += 1;
        }
    }
    // Some mutations only touch unsigned, ignored parts (the signing agent); most do not.
    assert!(
        verified_equivalents < 1500,
        "{verified_equivalents} of 3000 mutations still verified"
    );
}

#[test]
fn arbitrary_requests_never_panic() {
    let mut rng = Rng(42);
    let pki = pki(KeyType::EcP256);
    let request = serde_json::to_vec(
        &Request::new(
            Envelope::new(&pki.leaf.key, &[&pki.leaf, &pki.root]).build(),
            &pki.root,
        )
        .json(),
    )
    .unwrap();
    for _ in 0..2000 {
        let len = rng.below(256);
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(!verify_json(&noise).verified);
        let mutated = mutate(&mut rng, &request);
        let _ = verify_json(&mutated);
    }
}
