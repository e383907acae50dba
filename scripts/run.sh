#!/usr/bin/env bash
# The README's run command: sets up what is missing, builds the browser bundle and the server,
# and starts the server on the embedded SQLite database (./data/numbat.db unless DATABASE_URL
# or --database-url says otherwise). Extra arguments go to `numbat serve`.
source "$(dirname "$0")/common.sh"

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-bundle.sh"
say "building the server (release)"
cargo build --quiet --locked --release --bin numbat
exec target/release/numbat serve "$@"
