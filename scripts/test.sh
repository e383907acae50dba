#!/usr/bin/env bash
# The README's test command (and CI's): sets up what is missing, then runs, in order, the
# formatting check, clippy, a build of the previous release (for the rolling-upgrade test), the
# Rust tests (SQLite and PostgreSQL), the API contract test (schemathesis), the browser tests
# and the packaging test (the .deb and the OCI image).
source "$(dirname "$0")/common.sh"

"$ROOT/scripts/setup.sh"

# A one-off build keeps no incremental state: it would only add gigabytes to CI's disk.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi

say "cargo fmt --check"
cargo fmt --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --locked --all-targets -- -D warnings

# PostgreSQL: required in CI, optional elsewhere (skipped, and said so).
export NUMBAT_TEST_POSTGRES_URL="${NUMBAT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_hostport="$(sed -E 's#^[a-z]+://([^@/]*@)?([^/:?]+)(:([0-9]+))?.*#\2 \4#' <<<"$NUMBAT_TEST_POSTGRES_URL")"
read -r pg_host pg_port <<<"$pg_hostport"
pg_port="${pg_port:-5432}"
postgres_answers() { timeout 2 bash -c "exec 3<>/dev/tcp/$pg_host/$pg_port" 2>/dev/null; }
if ! postgres_answers && [ "${CI:-}" = true ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  say "PostgreSQL is not answering on $pg_host:$pg_port: starting the local cluster"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  sleep 2
fi
if postgres_answers; then
  pg_summary="PostgreSQL tests ran against $pg_host:$pg_port"
elif [ "${CI:-}" = true ]; then
  die "PostgreSQL at $pg_host:$pg_port is unreachable, and CI=true requires the PostgreSQL tests"
else
  pg_summary="PostgreSQL tests were SKIPPED: nothing answers on $pg_host:$pg_port (set NUMBAT_TEST_POSTGRES_URL to point at a server)"
  export NUMBAT_TEST_POSTGRES_URL=skip
  say "$pg_summary"
fi

say "the previous release's binary, for the rolling-upgrade test"
NUMBAT_PREVIOUS_BINARY="$("$ROOT/scripts/previous-release.sh")"
if [ -n "$NUMBAT_PREVIOUS_BINARY" ]; then export NUMBAT_PREVIOUS_BINARY; else unset NUMBAT_PREVIOUS_BINARY; fi

say "cargo test"
cargo test --locked

say "API contract (schemathesis: the server's /openapi.json, then Microsoft's swagger)"
# `cargo test` built target/debug/numbat (the integration tests run it). `cargo build` here
# would resolve dev-dependency features differently and build the library a second time
# (a gigabyte of disk and a minute), so the tests' binary is the one used.
[ -x "$ROOT/target/debug/numbat" ] || die "cargo test did not leave target/debug/numbat"
"$ROOT/scripts/api-contract.sh"

say "browser tests"
"$ROOT/scripts/build-bundle.sh"
(cd end2end && npx playwright test)

say "packages: the .deb in a clean Debian root, the OCI image with podman"
"$ROOT/scripts/package-test.sh"

say "all tests passed; $pg_summary"
