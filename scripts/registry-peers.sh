#!/usr/bin/env bash
# Installs the peer tools the registry's interop tests and benchmark talk to:
# skopeo, umoci and Debian's docker-registry (CNCF distribution 2.8.2) from apt,
# and the `oras` Python SDK from PyPI. Idempotent: when everything is already
# present it only checks and returns (no network).
set -euo pipefail

need_apt=()
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
command -v umoci >/dev/null 2>&1 || need_apt+=(umoci)
# Debian installs distribution as /usr/bin/docker-registry.
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
# curl and openssl drive the TLS test.
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)

if [ "${#need_apt[@]}" -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    echo "registry-peers: installing ${need_apt[*]} from apt"
    $SUDO apt-get update -qq
    # --no-install-recommends keeps it quick; the registry package would
    # otherwise start a system service we do not want.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
    # Debian's docker-registry package starts a service on :5000; we run our
    # own instances on chosen ports, so stop it if it came up.
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl stop docker-registry >/dev/null 2>&1 || true
        $SUDO systemctl disable docker-registry >/dev/null 2>&1 || true
    fi
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import oras.client' >/dev/null 2>&1; then
    echo "registry-peers: installing oras from PyPI"
    # A Debian-managed python refuses plain pip installs; allow it there.
    "$PY" -m pip install -q 'oras>=0.2.25' 2>/dev/null \
        || "$PY" -m pip install -q --break-system-packages 'oras>=0.2.25'
fi

echo "registry-peers: skopeo $(skopeo --version 2>/dev/null | awk '{print $3}'), umoci $(umoci --version 2>/dev/null | awk '{print $3}'), docker-registry present, oras $("$PY" -c 'import oras;print(oras.__version__)' 2>/dev/null || echo '?')"
