//! Arbitrary bytes as a Contract 1 request, and as the envelope inside a fixed request: the
//! verifier must never panic, and random bytes must never verify.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(!verifier_core::verify_json(data).verified);
    let envelope = base64_encode(data);
    let request = format!(
        r#"{{"reference":"r.io/a/b:1","subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1}},
        "signatures":[{{"envelope":"{envelope}"}}],
        "trustPolicy":{{"version":"1.0","trustPolicies":[{{"name":"p","registryScopes":["*"],"signatureVerification":{{"level":"audit"}},"trustStores":["ca:s"],"trustedIdentities":["*"]}}]}},
        "trustStores":{{}},"time":"2027-01-01T00:00:00Z"}}"#
    );
    let _ = verifier_core::verify_json(request.as_bytes());
});

fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
