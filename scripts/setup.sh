#!/usr/bin/env bash
# Installs what nv2's build and tests need. Idempotent and quick when everything is present.
# - the wasm32 target (rustup), else Debian's rustc-web + rust-web-src + lld-19 (build-std route)
# - OpenSSL headers for the josekit cross-check (a dev-dependency); binaryen's wasm-opt
# - the x86_64-unknown-linux-musl target (rustup) and musl-tools: the static registry binary of
#   `make image`
# - npm's @open-policy-agent/opa-wasm (scripts/npm-setup.sh)
# - OPA's own engine as a C library (scripts/opa-setup.sh)
# - the registry interop peers (scripts/registry-peers.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then apt-get update -qq; apt_updated=1; fi
  echo "setup: apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  if ! rustup target add wasm32-unknown-unknown 2>/dev/null; then
    echo "setup: rustup cannot add wasm32-unknown-unknown; using Debian's rustc-web"
    apt_install rustc-web cargo-web rust-web-src lld-19
  fi
fi

apt_install pkg-config libssl-dev openssl
# wasm-opt shrinks policy.wasm (the bundle builds without it, only larger).
apt_install binaryen

# `make image` packs a static-pie nv2-registry: rustup's musl std plus Debian's musl-gcc. Without
# the target the xtask falls back to the glibc binary and its libraries.
if ! rustup target list --installed 2>/dev/null | grep -q '^x86_64-unknown-linux-musl$'; then
  rustup target add x86_64-unknown-linux-musl 2>/dev/null \
    || echo "setup: rustup cannot add x86_64-unknown-linux-musl; make image will pack the glibc binary"
fi
apt_install musl-tools

# The official OPA Wasm host for the differential test.
bash scripts/npm-setup.sh

# OPA's own engine: every shipped Rego file must compile and pass its tests under it.
bash scripts/opa-setup.sh

if [ -x scripts/registry-peers.sh ] || [ -f scripts/registry-peers.sh ]; then
  bash scripts/registry-peers.sh
fi
