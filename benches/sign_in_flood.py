#!/usr/bin/env python3
"""A flood of wrong passwords against one portal user, and another person signing in meanwhile.

Starts `numbat serve` on a fresh SQLite database on 127.0.0.1, adds two users, then sends
--attempts wrong passwords for the first from --clients concurrent clients (each its own
connection, from 127.0.0.1). While the flood runs, the second user signs in from 127.0.0.2, a
different source address, as someone elsewhere would. Prints how the attempts were answered,
the server's peak memory (VmHWM) and how long the other sign-in took. Only loopback traffic;
the number of requests and the time are bounded.

    python3 benches/sign_in_flood.py [--binary target/release/numbat] [--attempts 5000] [--clients 500]
"""

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_sign_in(port, name, password, source="127.0.0.1", timeout=60):
    """One sign-in on its own connection from `source`; returns (status, location, seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    body = urllib.parse.urlencode({"name": name, "password": password, "next": "/"})
    conn.request("POST", "/sign-in", body=body, headers={
        "content-type": "application/x-www-form-urlencoded",
        "accept": "text/html",
    })
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response.getheader("location"), time.monotonic() - started


def memory_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def add_user(binary, db_url, name):
    out = subprocess.run([binary, "user", "add", name, "--role", "ReadUser", "--database-url", db_url],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=None, help="numbat binary (default: release, else debug build)")
    parser.add_argument("--attempts", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--time-limit", type=float, default=300, help="stop the flood after this many seconds")
    args = parser.parse_args()
    binary = args.binary or next((b for b in (os.path.join(ROOT, "target/release/numbat"),
                                              os.path.join(ROOT, "target/debug/numbat")) if os.path.exists(b)), None)
    if not binary:
        sys.exit("build numbat first (cargo build --release)")
    work = tempfile.mkdtemp(prefix="numbat-flood-")
    db_url = f"sqlite://{work}/numbat.db"
    port = free_port()
    subprocess.run([binary, "migrate", "--database-url", db_url], check=True, capture_output=True)
    victim_password = add_user(binary, db_url, "victim")
    other_password = add_user(binary, db_url, "other")
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([binary, "serve", "--database-url", db_url, "--listen", f"127.0.0.1:{port}"],
                              stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "warn"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("the server did not start")
        rss_before = memory_kib(server.pid, "VmRSS")
        # The same sign-in on a quiet server, to compare with the one during the flood.
        quiet = min(post_sign_in(port, "other", other_password, source="127.0.0.2")[2] for _ in range(3))

        counts = {}
        lock = threading.Lock()
        next_attempt = [0]
        stop_at = time.monotonic() + args.time_limit

        def client():
            while time.monotonic() < stop_at:
                with lock:
                    n = next_attempt[0]
                    if n >= args.attempts:
                        return
                    next_attempt[0] += 1
                try:
                    status, _, _ = post_sign_in(port, "victim", f"wrong-guess-{n}")
                    key = str(status)
                except Exception as error:  # a refused or reset connection counts as such
                    key = type(error).__name__
                with lock:
                    counts[key] = counts.get(key, 0) + 1

        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        # Someone else signs in from another address while the flood is under way.
        time.sleep(0.5)
        other = post_sign_in(port, "other", other_password, source="127.0.0.2")
        for t in threads:
            t.join()
        flood_seconds = time.monotonic() - started
        victim_after = post_sign_in(port, "victim", victim_password, source="127.0.0.3")
        peak = memory_kib(server.pid, "VmHWM")
        audit_locks = subprocess.run(
            [shutil.which("sqlite3") or "sqlite3", f"{work}/numbat.db",
             "SELECT COUNT(*) FROM audit_events WHERE action = 'signInLocked'"],
            capture_output=True, text=True).stdout.strip() if shutil.which("sqlite3") else "(sqlite3 not installed)"

        print(f"attempts sent         {sum(counts.values())} from {args.clients} concurrent clients in {flood_seconds:.1f} s")
        for key in sorted(counts):
            meaning = {"303": "refused (password checked)", "429": "throttled (no hash)"}.get(key, "")
            print(f"  answered {key:<10} {counts[key]:>6}  {meaning}")
        print(f"other user signed in  {other[0]} -> {other[1]} in {other[2] * 1000:.0f} ms (from 127.0.0.2, during the flood; "
              f"{quiet * 1000:.0f} ms on the quiet server)")
        print(f"victim, right password, after the flood: {victim_after[0]} (a locked name stays locked)")
        print(f"server memory         RSS before {rss_before / 1024:.1f} MiB, peak (VmHWM) {peak / 1024:.1f} MiB")
        print(f"signInLocked events   {audit_locks}")
        ok = other[0] == 303 and other[1] == "/password" and peak < 500 * 1024 and counts.get("429", 0) > 0
        print("result               " + ("the name was throttled, memory stayed under 500 MB, the other user got in"
                                         if ok else "NOT MET: see the figures above"))
        return 0 if ok else 1
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
