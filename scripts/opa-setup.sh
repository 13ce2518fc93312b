#!/usr/bin/env bash
# OPA's own engine for the tests: PyPI's opa-golib-python-bindings ships OPA (1.20) as a C shared
# library, opa_bindings/libopabridge.so (it needs only libc). The wheel asks for Python 3.14, but
# the library does not care which Python fetched it, so pip downloads it for 3.14 and we unpack it
# under .tools/opa-golib/ (the tests load it with libloading; NV2_OPA_LIB overrides the path).
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.4.4
dest=.tools/opa-golib
lib="$dest/opa_bindings/libopabridge.so"
if [ -f "$lib" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
echo "setup: fetching OPA's engine (opa-golib-python-bindings $version) into $dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --python-version 3.14 --only-binary=:all: \
  --dest "$tmp" "opa-golib-python-bindings==$version"
rm -rf "$dest"
mkdir -p "$dest"
python3 -m zipfile -e "$tmp"/opa_golib_python_bindings-"$version"-*.whl "$dest"
test -f "$lib"
echo "$version" > "$dest/VERSION"
