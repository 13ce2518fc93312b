#!/usr/bin/env bash
# nv2 demo: the whole flow on one machine, no Docker engine, no cluster, no network.
#
#   make demo                       (builds the release binaries and the bundle first)
#   NV2_BIN=DIR bash scripts/demo.sh (binaries from DIR: nv2, docker-generate, nv2-registry,
#                                    nv2-gatekeeper, xtask; the bundle from dist/bundle.tar.gz)
#
# Starts nv2-registry (and CNCF distribution when Debian's docker-registry is installed), makes
# a test signing key and a strict trust policy, builds two small images, pushes one through the
# docker CLI plug-in (by digest, signed, SBoM attached and signed, then tagged), discovers and
# verifies it, evaluates the OPA bundle for it, runs the Gatekeeper provider and admits Pods:
# signed allowed, unsigned denied, and a tag moved to an unsigned image denied. Everything it
# writes is under demo-out/ (made afresh each run); everything it starts is stopped on exit,
# failure or Ctrl-C. Exits non-zero when any step does not give the answer it should.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$(realpath "${NV2_BIN:-target/release}")
OUT=$ROOT/demo-out
BUNDLE=$ROOT/dist/bundle.tar.gz

for tool in nv2 docker-generate nv2-registry nv2-gatekeeper xtask; do
    if [ ! -x "$BIN/$tool" ]; then
        echo "demo: $BIN/$tool is missing: run 'make demo' (it builds the release binaries)" >&2
        exit 2
    fi
done
[ -f "$BUNDLE" ] || { echo "demo: $BUNDLE is missing: run 'make bundle'" >&2; exit 2; }
export PATH="$BIN:$PATH"

if [ -t 1 ]; then bold=$'\033[1m' dim=$'\033[2m' plain=$'\033[0m'; else bold='' dim='' plain=''; fi

# ---- narration ----
STEP=0
declare -a SUMMARY=()
step() { # $1 = title, $2 = what the step proves
    STEP=$((STEP + 1))
    printf '\n%s%d. %s%s\n' "$bold" "$STEP" "$1" "$plain"
    printf '%s   %s%s\n' "$dim" "$2" "$plain"
    SUMMARY+=("$STEP. $1")
}
# Shows a command as a user would type it (paths under demo-out/ relative, binaries by name).
show() {
    local line="" a
    for a in "$@"; do
        a=${a//$OUT\//}
        a=${a//$BIN\//}
        a=${a//$ROOT\//}
        case $a in *[[:space:]\'\"\{\}]*) a="'$a'" ;; esac
        line+=" $a"
    done
    printf '%s$%s%s\n' "$bold" "$line" "$plain"
}
run() { show "$@"; "$@"; }
# Runs a command that must exit with status $1 (0 allowed, 1 denied, ...).
expect() {
    local want=$1 status=0
    shift
    show "$@"
    "$@" || status=$?
    if [ "$status" -ne "$want" ]; then
        echo "demo FAILED at step $STEP: expected exit status $want, got $status" >&2
        exit 1
    fi
}
fail() { echo "demo FAILED at step $STEP: $*" >&2; exit 1; }

# ---- processes started here, stopped on every exit ----
declare -a PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$status" -ne 0 ]; then
        echo "demo: stopped everything it started; logs are in demo-out/logs/" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # $1 = what, then a command that succeeds once it is up
    local what=$1 i
    shift
    for i in $(seq 1 100); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    fail "$what did not come up (see demo-out/logs/)"
}

rm -rf "$OUT"
mkdir -p "$OUT/logs" "$OUT/images" "$OUT/docker/cli-plugins"
started=$(date +%s)

# ---------------------------------------------------------------------------------------------
step "Start the registries" \
    "nv2-registry serves OCI distribution 1.1 with the referrers API; CNCF distribution 2.8 has none (the tag schema)."
show nv2-registry serve --root registry --addr 127.0.0.1:0 "&"
nv2-registry serve --root "$OUT/registry" --addr 127.0.0.1:0 \
    > "$OUT/logs/registry.out" 2> "$OUT/logs/registry.log" &
PIDS+=($!)
wait_for "nv2-registry" grep -q listening "$OUT/logs/registry.out"
REG=$(sed -n 's|.*listening on http://||p' "$OUT/logs/registry.out")
echo "nv2-registry on $REG; its first log line: $(head -1 "$OUT/logs/registry.log")"
DIST=""
if command -v docker-registry >/dev/null 2>&1; then
    port=$(free_port)
    cat > "$OUT/distribution.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $OUT/distribution}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOF
    show docker-registry serve distribution.yml "&"
    docker-registry serve "$OUT/distribution.yml" > "$OUT/logs/distribution.log" 2>&1 &
    PIDS+=($!)
    wait_for "CNCF distribution" curl -sf "http://127.0.0.1:$port/v2/"
    DIST=127.0.0.1:$port
    echo "CNCF distribution on $DIST"
else
    echo "(Debian's docker-registry is not installed: the tag-schema part is left out)"
fi

# ---------------------------------------------------------------------------------------------
step "A test signing key and a strict trust policy" \
    "nv2 keeps notation's configuration layout; the policy trusts only certificates of the store ca:demo."
export NV2_CONFIG_DIR=$OUT/config DOCKER_CONFIG=$OUT/docker
run nv2 cert generate-test demo --default
scopes=(--scope "$REG/app")
[ -n "$DIST" ] && scopes+=(--scope "$DIST/app")
run nv2 policy init --name demo --store ca:demo "${scopes[@]}"

# ---------------------------------------------------------------------------------------------
step "Build two small images, without an engine" \
    "Our own image writer: an OCI layout and the docker-archive that 'docker save' would give."
run xtask demo-image --out-layout "$OUT/images/app" --out-archive "$OUT/images/app.tar" \
    --message "hello from a signed image" --tag v1
run xtask demo-image --out-layout "$OUT/images/unsigned" --out-archive "$OUT/images/unsigned.tar" \
    --message "nobody signed this" --tag v1
cat > "$OUT/images/sbom.spdx.json" <<'EOF'
{"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
 "name": "app", "documentNamespace": "https://example.com/spdx/app",
 "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: nv2-demo"]},
 "packages": [{"name": "hello", "SPDXID": "SPDXRef-hello", "downloadLocation": "NOASSERTION"}]}
EOF

# ---------------------------------------------------------------------------------------------
step "Build, sign, push: the docker CLI plug-in" \
    "Pushed by digest, signed, the SBoM attached and signed, and only then tagged: a tag never points at an unsigned image."
cp "$BIN/docker-generate" "$OUT/docker/cli-plugins/docker-generate"
if command -v docker >/dev/null 2>&1; then
    generate=(docker generate)
else
    echo "(no docker CLI: running the plug-in binary as docker would)"
    generate=(docker-generate generate)
fi
run "${generate[@]}" push "$OUT/images/app.tar" "$REG/app:v1" --sbom "$OUT/images/sbom.spdx.json"
if [ -n "$DIST" ]; then
    run "${generate[@]}" push "$OUT/images/app.tar" "$DIST/app:v1" --sbom "$OUT/images/sbom.spdx.json"
fi

# ---------------------------------------------------------------------------------------------
step "Discover, verify, inspect" \
    "The signature and the SBoM hang off the image, the SBoM's signature off the SBoM; the signature verifies under the policy."
run nv2 discover "$REG/app:v1" -o tree
run nv2 verify "$REG/app:v1"
run nv2 inspect "$REG/app:v1"
if [ -n "$DIST" ]; then
    run nv2 discover "$DIST/app:v1" -o tree
    run nv2 verify "$DIST/app:v1"
fi
DIGEST=$(nv2 manifest fetch "$REG/app:v1" --descriptor 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
echo "app:v1 is $REG/app@$DIGEST"

# ---------------------------------------------------------------------------------------------
step "The OPA bundle decides" \
    "policy.wasm inside an OPA bundle verifies the image through the registry; the configuration is nv2's own files."
show nv2 policy opa-config --plain-http "$REG" ">" opa-config.json
nv2 policy opa-config --plain-http "$REG" > "$OUT/opa-config.json"
echo "{\"image\": \"$REG/app:v1\"}" > "$OUT/input.json"
show nv2-gatekeeper policy eval -b dist/bundle.tar.gz -d opa-config.json -i input.json data.notary.policy.allow
answer=$(nv2-gatekeeper policy eval -b "$BUNDLE" -d "$OUT/opa-config.json" -i "$OUT/input.json" \
    'data.notary.policy.allow')
echo "$answer"
[ "$answer" = true ] || fail "the bundle did not allow the signed image"
if command -v opa >/dev/null 2>&1; then
    run opa eval -f raw -b "$BUNDLE" -d "$OUT/opa-config.json" -i "$OUT/input.json" \
        'data.notary.policy.allow'
else
    echo "(no opa binary on PATH: 'opa eval -b dist/bundle.tar.gz -d opa-config.json -i input.json data.notary.policy.allow' gives the same)"
fi

# ---------------------------------------------------------------------------------------------
step "Gatekeeper's provider, and admission without a cluster" \
    "What Gatekeeper would decide: the template's Rego with external_data answered by the provider over TLS 1.3."
show nv2-gatekeeper certs --out "$OUT/certs" --dns localhost --ip 127.0.0.1 ">" ca-bundle.txt
nv2-gatekeeper certs --out "$OUT/certs" --dns localhost --ip 127.0.0.1 > "$OUT/ca-bundle.txt"
PROVIDER_PORT=$(free_port)
PROVIDER=https://127.0.0.1:$PROVIDER_PORT
# --cache-ttl 0: step 8 moves a tag and the demo wants the answer at once (default: 30 s).
show nv2-gatekeeper serve --addr "127.0.0.1:$PROVIDER_PORT" --tls-cert certs/tls.crt \
    --tls-key certs/tls.key --bundle dist/bundle.tar.gz --plain-http "$REG" --cache-ttl 0 "&"
nv2-gatekeeper serve --addr "127.0.0.1:$PROVIDER_PORT" --tls-cert "$OUT/certs/tls.crt" \
    --tls-key "$OUT/certs/tls.key" --bundle "$BUNDLE" --plain-http "$REG" --cache-ttl 0 \
    2> "$OUT/logs/provider.log" &
PIDS+=($!)
wait_for "the provider" curl -sf --cacert "$OUT/certs/ca.crt" "$PROVIDER/readyz"
echo "provider ready on $PROVIDER; its first log line: $(head -1 "$OUT/logs/provider.log")"
# Pushed without signing: a plain copy of the layout.
run nv2 copy --from-oci-layout "$OUT/images/unsigned:v1" "$REG/app:unsigned"
pod() { # $1 = name, $2 = image
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default}
spec:
  containers:
    - {name: app, image: "$2"}
EOF
}
pod signed "$REG/app:v1" > "$OUT/pod-signed.yaml"
pod unsigned "$REG/app:unsigned" > "$OUT/pod-unsigned.yaml"
admit=(nv2-gatekeeper admit --parameters "$ROOT/gatekeeper/deploy/constraint.yaml"
    --provider "$PROVIDER/validate" --provider-ca "$OUT/certs/ca.crt")
expect 0 "${admit[@]}" "$OUT/pod-signed.yaml"
expect 1 "${admit[@]}" "$OUT/pod-unsigned.yaml"
request='{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["'$REG/app:v1'"]}}'
show curl -s --cacert certs/ca.crt "$PROVIDER/mutate" -d "$request"
mutated=$(curl -sf --cacert "$OUT/certs/ca.crt" "$PROVIDER/mutate" -d "$request")
echo "$mutated"
case $mutated in *"$REG/app@$DIGEST"*) ;; *) fail "/mutate did not pin app:v1 to $DIGEST" ;; esac

# ---------------------------------------------------------------------------------------------
step "Move the tag to an unsigned image" \
    "A tag is a pointer anyone with push rights can move; what runs is judged by the digest the tag names now."
run nv2 tag "$REG/app:unsigned" v1
expect 1 "${admit[@]}" "$OUT/pod-signed.yaml"
echo "(the same Pod as in step 7, now refused: app:v1 names an image nobody signed)"

# ---------------------------------------------------------------------------------------------
step "Stop everything" "Registries and provider are stopped, on success, failure or Ctrl-C alike."
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()
echo "stopped the registries and the provider; files and logs are in demo-out/"

printf '\n%sdemo passed in %ds%s\n' "$bold" "$(($(date +%s) - started))" "$plain"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
