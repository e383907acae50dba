# Shared by the project's scripts: where we are, how we talk, how system packages get installed.
# Sourced, not run.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '\033[1mnumbat:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mnumbat:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

can_use_apt() {
  command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }
}

is_installed_deb() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

APT_UPDATED=0
# Installs the Debian packages named that are not installed yet, saying which; fails (returns 1)
# with a message when they cannot be had.
apt_ensure() {
  local missing=() pkg
  for pkg in "$@"; do is_installed_deb "$pkg" || missing+=("$pkg"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if ! can_use_apt; then
    say "missing system packages (${missing[*]}) and no apt-get as root here to install them"
    return 1
  fi
  say "installing system packages: ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root apt-get update -qq >/dev/null || true
    APT_UPDATED=1
  fi
  local log
  log="$(mktemp)"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$log" 2>&1; then
    tail -n 5 "$log" >&2
    rm -f "$log"
    say "apt-get could not install: ${missing[*]}"
    return 1
  fi
  rm -f "$log"
}

# The wasm-bindgen version Cargo.lock pins; the CLI must match it exactly.
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] \
  || die "no Rust toolchain: install rustup (https://rustup.rs) and run again"
export PATH="$HOME/.cargo/bin:$PATH"
