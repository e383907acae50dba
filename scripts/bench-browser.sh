#!/usr/bin/env bash
# The browser benchmark: the numbers page in Chromium with the CPU slowed four times, on a
# release server with the demo data and the browser bundle in target/site (or the site root
# given, e.g. one built from an older commit, to compare). Prints bytes transferred and the
# time until the page is interactive, for a first visit and a return. Needs what
# `scripts/setup.sh` installs (Chromium, the browser tests' npm packages).
#
#   scripts/bench-browser.sh [site root] [runs]   (NUMBAT_BENCH_BIN=target/debug/numbat: that server)
source "$(dirname "$0")/common.sh"

SITE="$(cd "$OLDPWD" && realpath "${1:-$ROOT/target/site}")"
RUNS="${2:-7}"
PORT="${NUMBAT_BENCH_PORT:-3407}"
[ -d end2end/node_modules ] || die "the browser tests' npm packages are missing: run scripts/setup.sh"
# NUMBAT_BENCH_BIN names a server binary already built (e.g. target/debug/numbat).
NUMBAT="${NUMBAT_BENCH_BIN:-target/release/numbat}"
if [ -z "${NUMBAT_BENCH_BIN:-}" ]; then
  say "building the server (release)"
  cargo build --quiet --locked --release --bin numbat
fi

work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
db="sqlite://$work/numbat.db"
"$NUMBAT" demo-data --database-url "$db" >/dev/null
one_time="$("$NUMBAT" user add bench --role ReadUser --database-url "$db" 2>/dev/null | tail -n 1 | awk '{print $NF}')"
curl -s -o /dev/null "http://127.0.0.1:$PORT/" && die "something already answers on port $PORT (NUMBAT_BENCH_PORT)"
"$NUMBAT" serve --listen "127.0.0.1:$PORT" --database-url "$db" --site-root "$SITE" \
  2>"$work/server.log" &
server=$!
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$base/readyz" >/dev/null || die "the server did not start: $(tail -3 "$work/server.log")"

# The first sign-in asks for a new password: changed here, as a browser without JavaScript would.
password="a-password-for-the-benchmark"
jar="$work/cookies"
same_site=(-H "Origin: $base" -H "Sec-Fetch-Site: same-origin" -H "Accept: text/html")
curl -s -o /dev/null -c "$jar" -b "$jar" "${same_site[@]}" --data-urlencode "name=bench" \
  --data-urlencode "password=$one_time" --data-urlencode "next=/" "$base/sign-in"
location="$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "${same_site[@]}" \
  --data-urlencode "current=$one_time" --data-urlencode "new=$password" \
  --data-urlencode "confirm=$password" "$base/password")"
[ "$location" = "$base/?password_changed=1" ] || die "the benchmark user's password change failed: $location"

say "numbers page with bundle $(cat "$SITE/pkg/bundle" 2>/dev/null || echo "numbat (unhashed)") from $SITE"
(cd end2end && node bench/numbers-page.mjs "$base" bench "$password" "$RUNS")
