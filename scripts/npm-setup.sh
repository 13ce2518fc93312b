#!/usr/bin/env bash
# Installs the official npm OPA WebAssembly host (@open-policy-agent/opa-wasm, pinned by
# policy-wasm/node/package-lock.json) into policy-wasm/node/node_modules, for policy-wasm's
# differential test (policy-wasm/tests/differential.rs). Installs Node.js and npm from apt when
# they are missing. Idempotent: when node_modules already matches the lock file it only checks.
set -euo pipefail
cd "$(dirname "$0")/../policy-wasm/node"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    echo "npm-setup: installing nodejs and npm from apt"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

# npm ci records what it installed in node_modules/.package-lock.json; when that is newer than
# the lock file and the package is there, the tree is current.
if [ -f node_modules/@open-policy-agent/opa-wasm/package.json ] \
    && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    echo "npm-setup: @open-policy-agent/opa-wasm $(node -p 'require("./node_modules/@open-policy-agent/opa-wasm/package.json").version') present"
    exit 0
fi

echo "npm-setup: npm ci in policy-wasm/node"
npm ci --no-audit --no-fund --loglevel=error
echo "npm-setup: @open-policy-agent/opa-wasm $(node -p 'require("./node_modules/@open-policy-agent/opa-wasm/package.json").version') installed"
