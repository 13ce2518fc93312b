#!/usr/bin/env bash
# nv2 demo: sign an artifact descriptor with a fresh test certificate, verify it against a trust
# policy, then tamper with the subject digest and watch verification fail.
#
#   NV2=path/to/nv2 bash scripts/demo.sh     (default: target/release/nv2, built when missing)
#
# Everything is written to demo-out/ (removed and recreated on each run). Needs only bash and
# coreutils (base64, sha256sum); the request JSON is written by hand so that you can read it.
set -euo pipefail

cd "$(dirname "$0")/.."
NV2=${NV2:-target/release/nv2}
OUT=demo-out

if [ ! -x "$NV2" ]; then
    echo "building $NV2"
    cargo build --release -q -p nv2-client --bin nv2
fi
NV2=$(realpath "$NV2")

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# Prints the verdict lines of a report (keeps the demo short; the full report is on disk).
verdict() {
    grep -E '^  "verified"|"signer"|"(integrity|authenticity|expiry|authenticTimestamp)"' "$1" |
        sed -e 's/^ *//' -e 's/,$//'
}

rm -rf "$OUT"
mkdir -p "$OUT"

step "1. generate a test key and self-signed certificate (like 'notation cert generate-test demo')"
"$NV2" cert generate-test demo --out "$OUT"

step "2. describe the artifact to sign (an OCI image manifest)"
cat > "$OUT/manifest.json" <<'EOF'
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}
EOF
digest="sha256:$(sha256sum "$OUT/manifest.json" | cut -d' ' -f1)"
size=$(stat -c %s "$OUT/manifest.json")
printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s}\n' \
    "$digest" "$size" > "$OUT/subject.json"
cat "$OUT/subject.json"

step "3. sign it: a Notary Project JWS envelope, expiring in 7 days"
"$NV2" sign-envelope --key "$OUT/demo.key" --cert "$OUT/demo.crt" \
    --subject "$OUT/subject.json" --expiry 7d > "$OUT/envelope.jws.json"
echo "wrote $OUT/envelope.jws.json ($(stat -c %s "$OUT/envelope.jws.json") bytes)"

step "4. trust policy: trust store ca:demo, identity CN=demo"
cat > "$OUT/trustpolicy.json" <<'EOF'
{
  "version": "1.0",
  "trustPolicies": [
    {
      "name": "demo",
      "registryScopes": ["*"],
      "signatureVerification": {"level": "strict"},
      "trustStores": ["ca:demo"],
      "trustedIdentities": ["x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=demo"]
    }
  ]
}
EOF
cat "$OUT/trustpolicy.json"

# The verification request (DESIGN.md, Contract 1): what Rego hands the wasm module as input.
write_request() { # $1 = subject digest, $2 = output file
    local pem envelope_b64 envelope_digest
    pem=$(awk 'BEGIN { ORS = "\\n" } { print }' "$OUT/demo.crt")
    envelope_b64=$(base64 -w0 "$OUT/envelope.jws.json")
    envelope_digest="sha256:$(sha256sum "$OUT/envelope.jws.json" | cut -d' ' -f1)"
    cat > "$2" <<EOF
{
  "reference": "registry.example/net-monitor@$digest",
  "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "$1", "size": $size},
  "signatures": [{"mediaType": "application/jose+json", "digest": "$envelope_digest", "envelope": "$envelope_b64"}],
  "trustPolicy": $(cat "$OUT/trustpolicy.json"),
  "trustStores": {"ca:demo": ["$pem"]},
  "time": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
}

step "5. verify (request: $OUT/request.json, report: $OUT/report.json)"
write_request "$digest" "$OUT/request.json"
set +e
"$NV2" verify --request "$OUT/request.json" > "$OUT/report.json"
status=$?
set -e
verdict "$OUT/report.json"
echo "nv2 verify exit status: $status"
if [ "$status" -ne 0 ]; then
    echo "demo FAILED: the genuine signature did not verify" >&2
    exit 1
fi

step "6. tamper: claim the signature is for another digest"
# Flip the first hex digit of the subject digest.
first=${digest:7:1}
if [ "$first" = "0" ]; then other=1; else other=0; fi
tampered="sha256:$other${digest:8}"
echo "subject digest $digest"
echo "       now     $tampered"
write_request "$tampered" "$OUT/request-tampered.json"
set +e
"$NV2" verify --request "$OUT/request-tampered.json" > "$OUT/report-tampered.json" 2> "$OUT/verify-tampered.err"
status=$?
set -e
verdict "$OUT/report-tampered.json"
echo "nv2 verify exit status: $status"
if [ "$status" -ne 1 ]; then
    echo "demo FAILED: the tampered request was not refused" >&2
    exit 1
fi

step "done: the genuine signature verifies, the tampered subject is refused (files in $OUT/)"
