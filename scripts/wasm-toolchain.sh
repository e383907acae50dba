# Finds (and with `--install`, sets up) a toolchain that compiles Rust to wasm32-unknown-unknown.
# Sourced after common.sh. Sets WASM_TOOLCHAIN to `rustup` (the user's rustup has the target),
# `debian` (Debian's rustc-web and its std source, built with -Zbuild-std) or `none`.

WASM_DEBIAN_PACKAGES=(rustc-web cargo-web rust-web-src lld-19)
WASM_LINKER=/usr/lib/llvm-19/bin/wasm-ld

rustup_has_wasm_target() {
  command -v rustup >/dev/null 2>&1 \
    && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown
}

debian_wasm_ready() {
  [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] && [ -x "$WASM_LINKER" ] \
    && [ -d "$(/usr/bin/rustc --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library" ]
}

find_wasm_toolchain() {
  WASM_TOOLCHAIN=none
  if rustup_has_wasm_target; then
    WASM_TOOLCHAIN=rustup
  elif debian_wasm_ready; then
    WASM_TOOLCHAIN=debian
  elif [ "${1:-}" = "--install" ] && can_use_apt; then
    say "rustup has no wasm32-unknown-unknown target: setting up Debian's rustc-web for the browser bundle"
    if apt_ensure "${WASM_DEBIAN_PACKAGES[@]}" && debian_wasm_ready; then
      WASM_TOOLCHAIN=debian
    fi
  fi
}
