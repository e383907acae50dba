#!/usr/bin/env bash
# Runs schemathesis twice against a live server that holds data in every resource (the demo
# consents and civic addresses with their locations, an account of every service, numbers of
# every service): first with the server's own /openapi.json, then with Microsoft's swagger
# (tests/contract/acg-swagger.json), as a client generated from it would call. Every operation,
# generated requests, every check but positive_data_acceptance (the rules refuse schema-valid
# requests by design: an account without the service, a filter outside the subset, a stale
# If-Match...). The swagger pass leaves deletes out, so the data stays for every operation, and
# also leaves out negative_data_rejection: the swagger's header sets are open (an unknown header
# is not an error) and its empty strings are valid, which that check reads the other way; the
# pass with the server's own document runs it. What the swagger pass holds the server to is
# every answer: status codes, content types and bodies exactly as Microsoft's description says.
source "$(dirname "$0")/common.sh"

PORT="${NUMBAT_CONTRACT_PORT:-3108}"
WORK="$(mktemp -d)"
export DATABASE_URL="sqlite://$WORK/contract.db"
TOKEN="$(target/debug/numbat token create --name schemathesis --role Admin | tail -n 1)"
# The run makes webhook subscriptions to generated addresses: nothing is delivered to them.
NUMBAT_WEBHOOKS_DELIVER=false target/debug/numbat serve --listen "127.0.0.1:$PORT" --site-root "$WORK" >"$WORK/server.log" 2>&1 &
SERVER=$!
# On a failed run the server's log is shown before its folder goes.
finish() {
  local status=$?
  kill "$SERVER" 2>/dev/null
  wait "$SERVER" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    say "the server's log (last 40 lines):"
    tail -n 40 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
}
trap finish EXIT
ready=0
for _ in $(seq 1 100); do
  kill -0 "$SERVER" 2>/dev/null || die "numbat serve exited before it listened on port $PORT"
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
[ "$ready" -eq 1 ] || die "numbat serve did not listen on port $PORT within 10 s"

# Data in every resource, through the real doors.
target/debug/numbat demo-data >"$WORK/demo.log" 2>&1 || { cat "$WORK/demo.log"; die "numbat demo-data failed"; }
API="http://127.0.0.1:$PORT/provisioning"
V="api-version=2024-02-29-preview"
put() {
  local answer
  answer="$(curl -sS -o "$WORK/answer.json" -w '%{http_code}' -X PUT "$API$1?$V" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data "$2")" \
    || die "seeding PUT $1: the server did not answer"
  case "$answer" in 200|201) ;; *) cat "$WORK/answer.json" >&2; die "seeding PUT $1 answered $answer" ;; esac
}
TEAMS='"configuration": { "usage": "CallingUserAssignment", "allowTenantAddressUpdate": true, "choosableCapabilities": ["InboundCalling", "OutboundCalling"] }'
put /accounts/dr-co '{ "name": "dr-co", "serviceDetails": { "teamsDirectRouting": { "enabled": true, "syncEnabled": false } } }'
put /accounts/zoom-co '{ "name": "zoom-co", "serviceDetails": { "zoomPhoneCloudPeering": { "enabled": true } } }'
put /accounts/aocp-co '{ "name": "aocp-co", "serviceDetails": { "azureOperatorCallProtection": { "enabled": true } } }'
put /accounts/tpm-co '{ "name": "tpm-co", "serviceDetails": { "teamsTenantId": "7a9c0e2d-1b3f-4c5d-8e6f-a0b1c2d3e4f5", "teamsPhoneMobile": { "enabled": true, "syncEnabled": false } } }'
put /accounts/dr-co/numbers/+442079460001 '{ "telephoneNumber": "+442079460001", "accountName": "dr-co", "serviceDetails": { "teamsDirectRouting": { "enabled": true } }, "configuration": { "customSipHeader": "site-7" } }'
put /accounts/zoom-co/numbers/+14155550101 '{ "telephoneNumber": "+14155550101", "accountName": "zoom-co", "serviceDetails": { "zoomPhoneCloudPeering": { "enabled": true } } }'
put /accounts/aocp-co/numbers/+14155550102 '{ "telephoneNumber": "+14155550102", "accountName": "aocp-co", "serviceDetails": { "azureOperatorCallProtection": { "enabled": true } } }'
put /accounts/tpm-co/numbers/+447700900124 "{ \"telephoneNumber\": \"+447700900124\", \"accountName\": \"tpm-co\", \"serviceDetails\": { \"teamsPhoneMobile\": { \"enabled\": true, $TEAMS } } }"
put /accounts/fabrikam/numbers/+442079460300 "{ \"telephoneNumber\": \"+442079460300\", \"accountName\": \"fabrikam\", \"serviceDetails\": { \"teamsOperatorConnect\": { \"enabled\": true, $TEAMS } }, \"configuration\": { \"customSipHeader\": \"oc-site\" } }"

say "API contract: the server's own /openapi.json"
target/tools/schemathesis/bin/schemathesis run "http://127.0.0.1:$PORT/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --exclude-checks positive_data_acceptance \
  --max-examples 30 --seed 20261125 --no-color

say "API contract: Microsoft's swagger, as a generated client calls"
CONTRACT_ACCOUNT=fabrikam CONTRACT_TENANT=3f2b8c1a-5d4e-4f6a-9b7c-0e1d2c3b4a59 \
CONTRACT_CIVIC_ADDRESS=civic-fabrikam-hq \
  target/tools/schemathesis/bin/schemathesis --config-file tests/contract/schemathesis.toml \
  run tests/contract/acg-swagger.json --url "$API" \
  --header "Authorization: Bearer $TOKEN" \
  --exclude-checks positive_data_acceptance,negative_data_rejection \
  --exclude-method DELETE --exclude-operation-id Accounts_DeleteNumbers \
  --max-examples 30 --seed 20261125 --no-color
