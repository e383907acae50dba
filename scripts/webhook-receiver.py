#!/usr/bin/env python3
"""A small webhook receiver for trying Numbat's webhooks: checks each delivery's signature
(Standard Webhooks: HMAC-SHA256 over "id.timestamp.body" with the key after "whsec_"), refuses
one older than five minutes, answers 204 and prints the event.

    python3 scripts/webhook-receiver.py --secret whsec_... [--port 8081]

Numbat reaches it on loopback only when serving with --webhooks-allow-private (a lab)."""
import argparse, base64, hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer


def verify(secret, msg_id, timestamp, body, signatures):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and any(
        hmac.compare_digest(s.removeprefix("v1,"), expected) for s in signatures.split(" ")
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            length = min(int(self.headers.get("content-length", 0)), 1 << 20)
            body = self.rfile.read(length)
            h = self.headers
            ok = verify(args.secret, h.get("webhook-id", ""), h.get("webhook-timestamp", "0"),
                        body, h.get("webhook-signature", ""))
            self.send_response(204 if ok else 401)
            self.end_headers()
            if ok:
                event = json.loads(body)
                print(event["id"], event["type"], event["resourceKey"], flush=True)
            else:
                print("refused: the signature does not verify", file=sys.stderr, flush=True)

        def log_message(self, *_):
            pass

    HTTPServer(("127.0.0.1", args.port), Receiver).serve_forever()


if __name__ == "__main__":
    main()
