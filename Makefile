# nv2: build, test and demo. Every target runs `setup` first, so a fresh machine needs no other
# step. `make help` lists the targets.

SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

# The wasm32 toolchain: rustup's target when it installs, else Debian's rustc-web with build-std.
WASM_TARGET := wasm32-unknown-unknown
WASM_DEBIAN := RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS="-C linker=/usr/lib/llvm-19/bin/wasm-ld" /usr/bin/cargo

.PHONY: help setup build bundle config-bundle image image-push test test-rust test-wasm-nostd demo bench install-plugin clean

help:
	@echo "make demo   - the whole flow: registry, build-sign-push with docker generate, discover, verify, OPA, Gatekeeper admission"
	@echo "make test   - every test: unit, cross-crate, interop, notation vectors, no_std wasm build"
	@echo "make bench  - benchmarks (verifier criterion bench beside openssl speed)"
	@echo "make bundle - build policy.wasm and the OPA bundle (dist/bundle/, dist/bundle.tar.gz)"
	@echo "make image  - the registry's OCI image, no Docker engine (dist/image/, dist/nv2-registry.tar)"
	@echo "make image-push REGISTRY=host:port/repo:tag [NV2_FLAGS=--plain-http] - push it by digest, sign, tag"
	@echo "make config-bundle CONFIG=config.json - the configuration as a bundle (dist/config-bundle.tar.gz)"
	@echo "make install-plugin - build docker-generate and put it in docker's cli-plugins folder (docker generate …)"
	@echo "make setup  - install what the build and tests need (idempotent; every target runs it)"

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace --release

# The OPA bundle: policy.wasm (with the ABI version globals added after linking), .manifest and
# the Rego of rego/notary/.
bundle: setup
	$(CARGO) run -p xtask -- bundle

# The configuration as a second bundle (root notary/config), for `opa run -b … -b …`.
config-bundle:
	@test -n "$(CONFIG)" || { echo "usage: make config-bundle CONFIG=config.json"; exit 2; }
	$(CARGO) run -q -p xtask -- config-bundle "$(CONFIG)"

# The registry's image: a static musl release binary (the glibc one plus its libraries when the
# musl target is missing) packed by the xtask; it prints the digest and writes dist/image.digest.
MUSL_TARGET := x86_64-unknown-linux-musl
image: setup
	@if rustup target list --installed 2>/dev/null | grep -q '^$(MUSL_TARGET)$$'; then \
	  $(CARGO) build --release -p nv2-registry --target $(MUSL_TARGET) \
	  && $(CARGO) run -q -p xtask -- image --binary $(TARGET_DIR)/$(MUSL_TARGET)/release/nv2-registry; \
	else \
	  echo "make image: no $(MUSL_TARGET) target: packing the glibc binary and its libraries"; \
	  $(CARGO) build --release -p nv2-registry \
	  && $(CARGO) run -q -p xtask -- image --binary $(TARGET_DIR)/release/nv2-registry; \
	fi

# Push by digest, sign that digest with the default signing key, and only then move the tag
# (REGISTRY without a tag: latest). NV2_FLAGS goes to every nv2 call (--plain-http, -u …).
image-push: image
	@test -n "$(REGISTRY)" || { echo "usage: make image-push REGISTRY=host:port/repo:tag [NV2_FLAGS=--plain-http]"; exit 2; }
	$(CARGO) build --release -p nv2-client --bin nv2
	@set -euo pipefail; nv2=$(TARGET_DIR)/release/nv2; digest=$$(cat dist/image.digest); \
	repo="$(REGISTRY)"; tag=latest; last="$${repo##*/}"; \
	if [[ "$$last" == *:* ]]; then tag="$${last##*:}"; repo="$${repo%:*}"; fi; \
	$$nv2 copy $(NV2_FLAGS) --from-oci-layout "dist/image@$$digest" "$$repo@$$digest"; \
	$$nv2 sign $(NV2_FLAGS) "$$repo@$$digest"; \
	$$nv2 tag $(NV2_FLAGS) "$$repo@$$digest" "$$tag"; \
	echo "make image-push: $$repo:$$tag is $$digest (signed)"

# bundle first: the wasm host, the npm OPA host and the Rego tests load dist/bundle/policy.wasm;
# image too: tests/tests/registry_image.rs checks that dist/image holds the static binary.
test: setup bundle image test-rust test-wasm-nostd
	@echo "make test: all suites passed"

test-rust:
	NV2_REQUIRE_PEERS=1 $(CARGO) test --workspace
	@echo "verifier-core again with the RustCrypto backend only (what the wasm build runs)"
	$(CARGO) test -p verifier-core --no-default-features --features sign

# verifier-core must always build without std for wasm32: this is what keeps no_std honest.
test-wasm-nostd:
	@if rustup target list --installed 2>/dev/null | grep -q '^$(WASM_TARGET)$$'; then \
	  echo "building verifier-core for $(WASM_TARGET) (no_std, rustup target)"; \
	  $(CARGO) build -p verifier-core --no-default-features --target $(WASM_TARGET) --release; \
	else \
	  echo "building verifier-core for $(WASM_TARGET) (no_std, Debian rustc-web + build-std)"; \
	  $(WASM_DEBIAN) build -p verifier-core --no-default-features --target $(WASM_TARGET) --release \
	    -Z build-std=core,alloc --target-dir target/wasm-debian; \
	fi

# The release binaries the demo runs, in one cargo build (so they share their dependencies), and
# the bundle through the release xtask (no debug build of the workspace needed).
DEMO_BINS := -p nv2-client -p nv2-registry -p gatekeeper -p xtask
demo: setup
	@start=$$(date +%s); \
	  $(CARGO) build --release $(DEMO_BINS) && \
	  echo "demo: release binaries built in $$(( $$(date +%s) - start ))s"
	$(TARGET_DIR)/release/xtask bundle
	NV2_BIN=$(TARGET_DIR)/release bash scripts/demo.sh

bench: setup
	bash scripts/bench-verify.sh

# The docker CLI plug-in: docker looks for docker-<name> in $$DOCKER_CONFIG/cli-plugins (else
# ~/.docker/cli-plugins); `docker generate …` then runs it, no engine needed.
PLUGIN_DIR := $(or $(DOCKER_CONFIG),$(HOME)/.docker)/cli-plugins
install-plugin:
	$(CARGO) build --release -p nv2-client --bin docker-generate
	install -d "$(PLUGIN_DIR)"
	install -m 0755 $(TARGET_DIR)/release/docker-generate "$(PLUGIN_DIR)/docker-generate"
	@echo "installed $(PLUGIN_DIR)/docker-generate: try docker generate --help"

clean:
	$(CARGO) clean
	rm -rf dist demo-out
