#!/usr/bin/env bash
# Builds the browser bundle (target/site/pkg/numbat.js and numbat_bg.wasm) from the library's
# `hydrate` feature, with whichever wasm toolchain setup.sh found. Cargo rebuilds only what
# changed, so an up-to-date bundle takes seconds.
source "$(dirname "$0")/common.sh"
source "$ROOT/scripts/wasm-toolchain.sh"

OUT=target/site/pkg
WASM=target/front/wasm32-unknown-unknown/wasm-release/numbat.wasm
BUILD=(rustc --lib --crate-type cdylib --locked --profile wasm-release
       --target wasm32-unknown-unknown --no-default-features --features hydrate
       --target-dir target/front)

find_wasm_toolchain
case "$WASM_TOOLCHAIN" in
  none)
    rm -f "$OUT/numbat.js" "$OUT/numbat_bg.wasm"
    say "no wasm32 toolchain: pages will be served without the browser bundle (run scripts/setup.sh to get one)"
    exit 0
    ;;
  rustup)
    say "building the browser bundle (rustup's wasm32 target)"
    cargo "${BUILD[@]}"
    ;;
  debian)
    say "building the browser bundle (Debian's rustc-web, std built from source)"
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LINKER" \
      /usr/bin/cargo "${BUILD[@]}" -Zbuild-std=std,panic_abort
    ;;
esac

if [ ! -f "$OUT/numbat_bg.wasm" ] || [ "$WASM" -nt "$OUT/numbat_bg.wasm" ]; then
  command -v wasm-bindgen >/dev/null 2>&1 || die "wasm-bindgen is missing: run scripts/setup.sh"
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$OUT" --out-name numbat "$WASM"
fi
say "browser bundle: $OUT/numbat_bg.wasm ($(wc -c < "$OUT/numbat_bg.wasm") bytes, $(gzip -9c "$OUT/numbat_bg.wasm" | wc -c) gzipped)"
