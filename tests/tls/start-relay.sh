#!/usr/bin/env bash
# Starts one UDP <-> TLS Kamailio relay (relay.cfg) in the foreground, its files in a run
# folder of its own: tls.cfg (written here), the pid file. Logs go to stderr. It execs
# kamailio, so the pid of this script is the relay's main process; SIGTERM to it stops every
# process of the relay.
#
#   start-relay.sh --run-dir DIR --certs DIR --cert NAME \
#       [--udp 127.0.0.1:PORT] [--tls 127.0.0.1:PORT] \
#       [--tls-next-hop IP:PORT] [--udp-next-hop IP:PORT] \
#       [--verify-client on|optional|off] [--no-client-cert] [--sni NAME] \
#       [--log-level N] [--workers N] [-- extra kamailio arguments]
#
#   --cert NAME        NAME.crt / NAME.key in --certs: what the relay presents, as a TLS server
#                      and as a TLS client; --certs/ca.crt is the CA it trusts on both sides
#   --tls-next-hop     where new requests that arrived over UDP go, over TLS
#   --udp-next-hop     where new requests that arrived over TLS go, over UDP
#   --verify-client    the TLS server side: on = a client certificate signed by the CA is
#                      required (mutual TLS), optional = checked if sent, off = not asked for
#                      (default on)
#   --no-client-cert   the relay presents no certificate when it connects (negative tests)
#   --sni NAME         server name the relay sends when it connects (default none)
#   --log-level N      Kamailio debug level: 1 warnings, 2 info (default: handshakes and one
#                      line per new request over TLS), 3 debug
#   --workers N        UDP workers and TLS workers (default 2)
#   --shm MB           shared memory (default 256). tm keeps each transaction about 5 s after it
#                      ends: at 500 calls/s, 64 MB runs out within seconds (new_t(): out of mem,
#                      477/500 to the caller, the TLS layer's low-memory guard drops connections)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
run_dir= certs= cert= udp= tls= tls_next= udp_next= verify=on client_cert=yes sni= level=2 workers=2 shm=256
while [ $# -gt 0 ]; do
  case "$1" in
    --run-dir) run_dir="$2"; shift 2 ;;
    --certs) certs="$2"; shift 2 ;;
    --cert) cert="$2"; shift 2 ;;
    --udp) udp="$2"; shift 2 ;;
    --tls) tls="$2"; shift 2 ;;
    --tls-next-hop) tls_next="$2"; shift 2 ;;
    --udp-next-hop) udp_next="$2"; shift 2 ;;
    --verify-client) verify="$2"; shift 2 ;;
    --no-client-cert) client_cert=no; shift ;;
    --sni) sni="$2"; shift 2 ;;
    --log-level) level="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --shm) shm="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "start-relay.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$run_dir" ] && [ -n "$certs" ] && [ -n "$cert" ] || { echo "start-relay.sh: --run-dir, --certs and --cert are required" >&2; exit 2; }
[ -n "$udp" ] || [ -n "$tls" ] || { echo "start-relay.sh: give --udp and/or --tls" >&2; exit 2; }
case "$verify" in on|optional|off) ;; *) echo "start-relay.sh: --verify-client on|optional|off" >&2; exit 2 ;; esac

mkdir -p "$run_dir"
run_dir="$(cd "$run_dir" && pwd)"
certs="$(cd "$certs" && pwd)"

{
  echo "# written by start-relay.sh"
  echo "[server:default]"
  echo "method = TLSv1.2+"
  echo "verify_client = $verify"
  echo "certificate = $certs/$cert.crt"
  echo "private_key = $certs/$cert.key"
  echo "ca_list = $certs/ca.crt"
  echo
  echo "[client:default]"
  echo "method = TLSv1.2+"
  echo "verify_certificate = yes"
  echo "require_certificate = yes"
  if [ "$client_cert" = yes ]; then
    echo "certificate = $certs/$cert.crt"
    echo "private_key = $certs/$cert.key"
  fi
  echo "ca_list = $certs/ca.crt"
  [ -z "$sni" ] || echo "server_name = $sni"
} >"$run_dir/tls.cfg"

args=(-f "$here/relay.cfg" -DD -E -m "$shm" -M 8 --atexit=no
  -P "$run_dir/kamailio.pid" -Y "$run_dir" -w "$run_dir"
  -A "TLS_CFG=\"$run_dir/tls.cfg\"" -A "LOG_LEVEL=$level" -A "WORKERS=$workers")
[ -z "$udp" ] || args+=(-l "udp:$udp")
[ -z "$tls" ] || args+=(-l "tls:$tls")
[ -z "$tls_next" ] || args+=(-A "TLS_NEXT_HOP=\"sip:$tls_next;transport=tls\"")
[ -z "$udp_next" ] || args+=(-A "UDP_NEXT_HOP=\"sip:$udp_next\"")
exec kamailio "${args[@]}" "$@"
