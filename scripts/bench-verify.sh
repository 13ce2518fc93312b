#!/usr/bin/env bash
# The verifier benchmark beside OpenSSL, in one run: criterion's µs per full verify, and
# `openssl speed`'s raw verifications for the signatures each verify contains.
#   ps256_self_signed_rsa2048: 1 RSA-2048 PSS (the signer is its own trust anchor)
#   ps384_chain_rsa3072:       2 RSA-3072 (the JWS, and the leaf certificate by its root)
#   es256_chain_p256:          2 P-256 ECDSA (the same two)
# A trust anchor's self-signature is not re-verified (it is trusted as given, RFC 5280 §6.1).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p verifier-core --bench verify -- --noplot >/dev/null 2>&1
speed=$(openssl speed -seconds 2 rsa2048 rsa3072 ecdsap256 2>/dev/null)
python3 - "$speed" "${CARGO_TARGET_DIR:-target}" <<'PY'
import json, re, sys
speed, target = sys.argv[1], sys.argv[2]
def rsa(bits):
    m = re.search(rf"^rsa\s+{bits} bits\s+\S+s\s+(\S+)s", speed, re.M)
    return float(m.group(1)) * 1e6
def ec():
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+\S+\s+(\S+)", speed)
    return 1e6 / float(m.group(1))
def ours(name):
    with open(f"{target}/criterion/verify/{name}/new/estimates.json") as f:
        return json.load(f)["mean"]["point_estimate"] / 1000
rows = [
    ("ps256_self_signed_rsa2048", "1 x rsa2048", rsa(2048)),
    ("ps384_chain_rsa3072", "2 x rsa3072", 2 * rsa(3072)),
    ("es256_chain_p256", "2 x ecdsap256", 2 * ec()),
]
print(f"{'case':28} {'nv2 full verify':>16} {'openssl raw':>22} {'ratio':>7}")
for name, what, raw in rows:
    us = ours(name)
    print(f"{name:28} {us:13.1f} µs {what:>13} {raw:6.1f} µs {us / raw:6.2f}x")
PY
