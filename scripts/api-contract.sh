#!/usr/bin/env bash
# Runs schemathesis against a live server's /openapi.json: every operation, generated requests,
# every check but positive_data_acceptance (the rules refuse schema-valid requests by design:
# an account without the service, a filter outside the subset, a stale If-Match...).
source "$(dirname "$0")/common.sh"

PORT="${NUMBAT_CONTRACT_PORT:-3108}"
WORK="$(mktemp -d)"
export DATABASE_URL="sqlite://$WORK/contract.db"
TOKEN="$(target/debug/numbat token create --name schemathesis --role Admin | tail -n 1)"
target/debug/numbat serve --listen "127.0.0.1:$PORT" --site-root "$WORK" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
target/tools/schemathesis/bin/schemathesis run "http://127.0.0.1:$PORT/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --exclude-checks positive_data_acceptance \
  --max-examples 30 --seed 20261125 --no-color
