#!/usr/bin/env bash
# Sets up what Numbat needs on this machine, installing only what is missing. `setup.sh run`:
# what running needs (the wasm toolchain, wasm-bindgen and brotli for the browser bundle). `setup.sh` (or `setup.sh test`): that and what the tests need (schemathesis for the
# API contract test, SIPp, dig and Kamailio for the edge, the packaging tools, Chromium and the
# npm packages for the browser tests). A second run installs nothing.
source "$(dirname "$0")/common.sh"
source "$ROOT/scripts/wasm-toolchain.sh"

FOR="${1:-test}"
case "$FOR" in run|test) ;; *) die "usage: scripts/setup.sh [run|test]" ;; esac

# The browser bundle's toolchain. Without one the server still works, without the bundle.
find_wasm_toolchain --install
if [ "$WASM_TOOLCHAIN" = none ]; then
  say "no wasm32 toolchain can be had here (no rustup wasm32-unknown-unknown target, no Debian rustc-web): pages will be served without the browser bundle"
else
  want="$(locked_wasm_bindgen_version)"
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
  if [ "$have" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (Cargo.lock's wasm-bindgen; found: ${have:-none})"
    # No --locked: one of its locked dependencies is not served by the registry.
    cargo install --quiet wasm-bindgen-cli --version "=$want"
  fi
  # brotli compresses the bundle once, at build time (a third smaller than gzip).
  apt_ensure brotli || say "without brotli the bundle is sent gzipped"
fi

[ "$FOR" = run ] && exit 0

# The browser and package tests check that the bundle is sent brotli-compressed.
apt_ensure brotli || die "the browser and package tests need brotli"

# The API contract test: schemathesis from PyPI, in its own virtual environment under target/.
SCHEMATHESIS_VERSION=4.32.5
if [ "$(target/tools/schemathesis/bin/schemathesis --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  command -v python3 >/dev/null 2>&1 || apt_ensure python3 python3-venv || die "the API contract test needs Python 3"
  say "installing schemathesis $SCHEMATHESIS_VERSION"
  rm -rf target/tools/schemathesis
  python3 -m venv target/tools/schemathesis || { apt_ensure python3-venv && python3 -m venv target/tools/schemathesis; } \
    || die "cannot make a Python virtual environment for schemathesis"
  target/tools/schemathesis/bin/pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# The SIP edge's tests: SIPp (Debian's sip-tester) places calls through it, dig (dnsutils) asks
# its DNS responder.
apt_ensure sip-tester dnsutils || die "the edge tests need sipp (sip-tester) and dig (dnsutils)"
# The TLS call test puts a Kamailio relay (its tls module) in front of each SIPp, since
# Debian's SIPp has no TLS; openssl makes the test's throwaway certificates.
apt_ensure kamailio kamailio-tls-modules openssl || die "the edge TLS test needs kamailio, kamailio-tls-modules and openssl"

# The PostgreSQL backup test runs pg_dump and pg_restore, as docs/operations.md tells operators to.
command -v pg_restore >/dev/null 2>&1 || apt_ensure postgresql-client || die "the backup tests need pg_dump and pg_restore (postgresql-client)"

# The packaging test: debootstrap makes clean Debian roots (the .deb is installed into one, the
# image is made from another), podman (with runc where crun cannot run here) runs the image,
# curl signs in, systemd-analyze checks the units.
apt_ensure debootstrap podman runc curl systemd || die "the packaging test needs debootstrap, podman, runc, curl and systemd"

# The browser tests: Debian's Chromium (Playwright cannot download its own here) and npm packages.
apt_ensure chromium fonts-dejavu-core || die "the browser tests need Chromium"
command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm || die "the browser tests need Node.js and npm"
if [ ! -f end2end/node_modules/.package-lock.json ] \
    || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing the browser tests' npm packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
