#!/usr/bin/env bash
# Installs the peer tools the registry's interop tests and benchmark talk to:
# skopeo, umoci, Debian's docker-registry (CNCF distribution 2.8.2) and a docker
# CLI from apt, and the `oras` Python SDK from PyPI. Idempotent: when everything
# is already present it only checks and returns (no network). No daemon is
# started: the tests use only the docker CLI's client side.
set -euo pipefail

need_apt=()
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
command -v umoci >/dev/null 2>&1 || need_apt+=(umoci)
# Debian installs distribution as /usr/bin/docker-registry.
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
# curl and openssl drive the TLS test.
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
need_docker=0
command -v docker >/dev/null 2>&1 || need_docker=1

if [ "${#need_apt[@]}" -gt 0 ] || [ "$need_docker" = 1 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    if [ "$need_docker" = 1 ]; then
        # Newer Debian splits the CLI out as docker-cli; bookworm ships it only
        # inside docker.io (which also brings dockerd and containerd).
        if apt-cache show docker-cli >/dev/null 2>&1; then
            need_apt+=(docker-cli)
        else
            need_apt+=(docker.io)
        fi
    fi
    echo "registry-peers: installing ${need_apt[*]} from apt"
    # Keep package scripts from starting services (docker, containerd,
    # docker-registry) while we install; a policy-rc.d we did not write stays.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    # --no-install-recommends keeps it quick; the registry package would
    # otherwise start a system service we do not want.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" \
        || { [ "$made_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d; exit 1; }
    if [ "$made_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
    # Debian's docker-registry package starts a service on :5000; we run our
    # own instances on chosen ports, so stop it if it came up.
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl stop docker-registry >/dev/null 2>&1 || true
        $SUDO systemctl disable docker-registry >/dev/null 2>&1 || true
        if [ "$need_docker" = 1 ]; then
            $SUDO systemctl stop docker.socket docker containerd >/dev/null 2>&1 || true
            $SUDO systemctl disable docker.socket docker containerd >/dev/null 2>&1 || true
        fi
    fi
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import oras.client' >/dev/null 2>&1; then
    echo "registry-peers: installing oras from PyPI"
    # A Debian-managed python refuses plain pip installs; allow it there.
    "$PY" -m pip install -q 'oras>=0.2.25' 2>/dev/null \
        || "$PY" -m pip install -q --break-system-packages 'oras>=0.2.25'
fi

echo "registry-peers: skopeo $(skopeo --version 2>/dev/null | awk '{print $3}'), umoci $(umoci --version 2>/dev/null | awk '{print $3}'), docker-registry present, docker CLI $(docker --version 2>/dev/null | awk '{print $3}' | tr -d ,), oras $("$PY" -c 'import oras;print(oras.__version__)' 2>/dev/null || echo '?')"
