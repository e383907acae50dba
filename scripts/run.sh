#!/usr/bin/env bash
# The README's run command: sets up what is missing, builds the browser bundle and the server,
# and starts the server on the embedded SQLite database (./data/numbat.db unless DATABASE_URL
# or --database-url says otherwise), with the Operator Connect emulator as its upstream unless
# NUMBAT_OC_URL says otherwise. Extra arguments go to `numbat serve`.
source "$(dirname "$0")/common.sh"

"$ROOT/scripts/setup.sh" run
"$ROOT/scripts/build-bundle.sh"
say "building the server (release)"
cargo build --quiet --locked --release --bin numbat
# Operator Connect: the emulator, unless NUMBAT_OC_URL names a real one.
if [ -z "${NUMBAT_OC_URL:-}" ]; then
  export NUMBAT_OC_EMULATOR_LISTEN="${NUMBAT_OC_EMULATOR_LISTEN:-127.0.0.1:3001}"
  target/release/numbat oc-emulator &
  emulator=$!
  trap 'kill "$emulator" 2>/dev/null' EXIT
  export NUMBAT_OC_URL="http://$NUMBAT_OC_EMULATOR_LISTEN"
  say "Operator Connect: the emulator at $NUMBAT_OC_URL (set NUMBAT_OC_URL for a real one)"
fi
target/release/numbat serve "$@"
