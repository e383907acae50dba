#!/usr/bin/env bash
# Builds the browser bundle from the library's `hydrate` feature, with whichever wasm toolchain
# setup.sh found: wasm-bindgen's output, named by its content's hash
# (target/site/pkg/numbat-<hash>.js and numbat-<hash>_bg.wasm, the name in pkg/bundle, so
# browsers may keep each for a year), with brotli and gzip copies for the server to send.
# Cargo rebuilds only what changed, so an up-to-date bundle takes seconds.
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
    rm -f "$OUT"/numbat*.js* "$OUT"/numbat*.wasm* "$OUT/bundle"
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

BINDGEN=target/front/bindgen
# Made again when the wasm changed, or when what pkg/bundle names is not all there (a build
# cut short, brotli installed since).
complete() {
  local name
  name="$(cat "$OUT/bundle" 2>/dev/null)" || return 1
  [ -f "$OUT/$name.js.gz" ] && [ -f "$OUT/${name}_bg.wasm.gz" ] || return 1
  if command -v brotli >/dev/null 2>&1; then
    [ -f "$OUT/$name.js.br" ] && [ -f "$OUT/${name}_bg.wasm.br" ] || return 1
  fi
}
if ! complete || [ ! -f "$BINDGEN/numbat_bg.wasm" ] || [ "$WASM" -nt "$BINDGEN/numbat_bg.wasm" ]; then
  command -v wasm-bindgen >/dev/null 2>&1 || die "wasm-bindgen is missing: run scripts/setup.sh"
  rm -rf "$BINDGEN"
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$BINDGEN" --out-name numbat "$WASM"
  # No wasm-opt: Debian's binaryen (108) made a bundle that no longer hydrates, and its -Oz,
  # -Os and -O2 left the compressed size within 1% of rustc's own opt-level "z".
  name="numbat-$(cat "$BINDGEN/numbat.js" "$BINDGEN/numbat_bg.wasm" | sha256sum | cut -c1-16)"
  mkdir -p "$OUT"
  # The name goes first and comes back last, so a build cut short names nothing.
  rm -f "$OUT/bundle" "$OUT"/numbat*.js* "$OUT"/numbat*.wasm*
  cp "$BINDGEN/numbat.js" "$OUT/$name.js"
  cp "$BINDGEN/numbat_bg.wasm" "$OUT/${name}_bg.wasm"
  for file in "$OUT/$name.js" "$OUT/${name}_bg.wasm"; do
    gzip -9 -k -f "$file"
    if command -v brotli >/dev/null 2>&1; then brotli -q 11 -k -f "$file"; fi
  done
  printf '%s\n' "$name" > "$OUT/bundle"
fi
name="$(cat "$OUT/bundle")"
wasm_file="$OUT/${name}_bg.wasm"
say "browser bundle: $wasm_file ($(wc -c < "$wasm_file") bytes, $(wc -c < "$wasm_file.gz") gzipped$([ -f "$wasm_file.br" ] && echo ", $(wc -c < "$wasm_file.br") brotli"))"
