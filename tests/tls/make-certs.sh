#!/usr/bin/env bash
# Makes a throwaway PKI for the edge's TLS tests with the openssl CLI, into the folder given
# (default ./certs). ECDSA P-256 keys, SHA-256 signatures, X.509 v3 with the extensions
# rustls/webpki insist on: the CA has basicConstraints CA:TRUE and keyCertSign; each leaf has
# CA:FALSE, digitalSignature, EKU serverAuth+clientAuth and its names in subjectAltName
# (webpki ignores the CN).
#
#   ca.crt / ca.key                  the trusted test CA
#   edge.crt / edge.key              the edge: DNS:edge.numbat.test, IP:127.0.0.1
#                                    (server cert on both sides, client cert toward the relays)
#   operator-relay.crt / .key        DNS:operator.relay.test, IP:127.0.0.1
#   service-relay.crt / .key         DNS:service.relay.test, IP:127.0.0.1
#   rogue-ca.crt, rogue.crt / .key   a leaf from another CA, for "an untrusted peer is refused"
#   *-chain.pem                      leaf followed by the CA, for peers that want the chain
#
# Keys are unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), as Kamailio and rustls-pki-types read them.
# DAYS (default 30) sets the leaves' and CAs' lifetime. Takes well under a second.
set -euo pipefail

out="${1:-./certs}"
days="${DAYS:-30}"
mkdir -p "$out"
cd "$out"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

ca() { # name, common name
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days "$days" -subj "/O=Numbat tests/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$1.crt"
}

leaf() { # name, issuer, subjectAltName
  key "$1.key"
  cat >"$1.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$3
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
  local cn="${3#DNS:}"; cn="${cn%%,*}"
  openssl req -new -key "$1.key" -subj "/O=Numbat tests/CN=$cn" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -sha256 \
    -days "$days" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  cat "$1.crt" "$2.crt" >"$1-chain.pem"
  rm -f "$1.csr" "$1.ext"
}

ca ca "Numbat test CA"
leaf edge ca "DNS:edge.numbat.test,IP:127.0.0.1"
leaf operator-relay ca "DNS:operator.relay.test,IP:127.0.0.1"
leaf service-relay ca "DNS:service.relay.test,IP:127.0.0.1"
ca rogue-ca "Untrusted CA"
leaf rogue rogue-ca "DNS:rogue.numbat.test,IP:127.0.0.1"
rm -f ./*.srl

for name in edge operator-relay service-relay; do
  openssl verify -CAfile ca.crt -purpose sslserver "$name.crt" >/dev/null
  openssl verify -CAfile ca.crt -purpose sslclient "$name.crt" >/dev/null
done
if openssl verify -CAfile ca.crt rogue.crt >/dev/null 2>&1; then
  echo "rogue.crt must not verify against ca.crt" >&2; exit 1
fi
echo "certificates in $(pwd)"
