#!/usr/bin/env bash
# Sets up everything Numbat needs on this machine, installing only what is missing:
# the wasm toolchain and wasm-bindgen for the browser bundle, Chromium and the npm packages
# for the browser tests. A second run installs nothing.
source "$(dirname "$0")/common.sh"
source "$ROOT/scripts/wasm-toolchain.sh"

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
fi

# The browser tests: Debian's Chromium (Playwright cannot download its own here) and npm packages.
apt_ensure chromium fonts-dejavu-core || die "the browser tests need Chromium"
command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm || die "the browser tests need Node.js and npm"
if [ ! -f end2end/node_modules/.package-lock.json ] \
    || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing the browser tests' npm packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
