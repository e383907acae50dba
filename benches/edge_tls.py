#!/usr/bin/env python3
"""SIP over TLS through `numbat edge`, with real TLS stacks on both sides, on one machine.

    SIPp UAC --UDP--> Kamailio relay --TLS--> edge --mutual TLS--> Kamailio relay --UDP--> SIPp UAS

Debian's SIPp has no TLS, so a Kamailio relay (its tls module; tests/tls/relay.cfg) stands in
front of each SIPp, as in the test suite's TLS call. For each rate (--rates, default
250,500,750,1000 calls/s) it places rate x --duration (10 s) calls (tests/tls/sipp/call_uac.xml:
INVITE, 100, 180, 200, ACK, BYE, 200 on every hop; 100 ms hold) and prints the calls that failed
and the CPU time (user + system, from /proc) per call of the edge and of each relay. Stop when
the failures pass 0.1 %: the highest rate under it is what this path sustains here.

    python3 benches/edge_tls.py                   # release binary, built when missing
    python3 benches/edge_tls.py --rates 500 --duration 20

Needs kamailio, kamailio-tls-modules, sip-tester and openssl (scripts/setup.sh installs them).
Traffic stays on 127.0.0.1. Under root the relays run as nobody in a PID namespace of their own
(Kamailio stopped as a group has been seen to signal every process it may).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TLS = REPO / "tests" / "tls"
NUMBER = "+442079460000"  # unprovisioned London fixed line: Operator Connect by the default rule
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


def answers_options(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.2)
        me = "%s:%d" % s.getsockname()
        while time.monotonic() < deadline:
            ping = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKready\r\n"
                    f"From: <sip:bench@127.0.0.1>;tag=b\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: ready-{port}\r\n"
                    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
            s.sendto(ping.encode(), ("127.0.0.1", port))
            try:
                if s.recv(4096).startswith(b"SIP/2.0 200"):
                    return
            except socket.timeout:
                pass
    sys.exit(f"nothing answered OPTIONS on 127.0.0.1:{port} within {timeout} s")


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(root: int) -> float:
    total = 0
    for pid in descendants(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def relay(work: Path, certs: Path, name: str, udp: int, tls: int, extra: list[str]) -> subprocess.Popen:
    command = ["bash", str(TLS / "start-relay.sh"), "--run-dir", str(work / name), "--certs", str(certs),
               "--cert", name, "--udp", f"127.0.0.1:{udp}", "--tls", f"127.0.0.1:{tls}",
               "--log-level", "1", "--shm", "1024", *extra]
    if os.geteuid() == 0:
        command = ["unshare", "--pid", "--fork", "--kill-child", "setpriv", "--reuid=nobody",
                   "--regid=nogroup", "--clear-groups", *command]
    log = open(work / f"{name}.log", "wb")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    answers_options(udp)
    return process


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to Kamailio's main process only (under unshare, its only child)."""
    if process.poll() is None:
        try:
            child = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        except OSError:
            child = []
        target = int(child[0]) if child else process.pid
        os.kill(target, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(target, signal.SIGKILL)
            process.kill()
            process.wait()


def stat(csv: Path, column: str) -> int:
    lines = csv.read_text().splitlines()
    header, last = lines[0].split(";"), lines[-1].split(";")
    return int(last[header.index(column)])


def run(rate: int, seconds: int, work: Path, edge: subprocess.Popen, relays: list, ports: dict) -> dict:
    calls = rate * seconds
    folder = work / f"run-{rate}"
    folder.mkdir()
    uas = subprocess.Popen(["sipp", "-sf", str(TLS / "sipp" / "uas.xml"), "-i", "127.0.0.1", "-p", str(ports["uas"]),
                            "-m", str(calls), "-nostdin", "-timeout", f"{seconds + 30}s", "-trace_err",
                            "-trace_stat", "-stf", "uas.csv", "-fd", "600"],
                           cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    before = [cpu_seconds(p.pid) for p in [edge, *relays]]
    started = time.monotonic()
    uac = subprocess.run(["sipp", f"127.0.0.1:{ports['caller_relay']}", "-sf", str(TLS / "sipp" / "call_uac.xml"),
                          "-s", NUMBER, "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate), "-m", str(calls),
                          "-d", "100", "-nostdin", "-timeout", f"{seconds + 30}s", "-trace_err", "-trace_stat",
                          "-stf", "uac.csv", "-fd", "600"],
                         cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 60)
    took = time.monotonic() - started
    after = [cpu_seconds(p.pid) for p in [edge, *relays]]
    try:
        uas.wait(10)
    except subprocess.TimeoutExpired:
        uas.send_signal(signal.SIGUSR1)
        try:
            uas.wait(5)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()
    csv = folder / "uac.csv"
    ok, failed = stat(csv, "SuccessfulCall(C)"), stat(csv, "FailedCall(C)")
    made = stat(csv, "TotalCallCreated")
    per_call = [1e6 * (b - a) / max(ok, 1) for a, b in zip(before, after)]
    return {"rate": rate, "made": made, "ok": ok, "failed": failed, "exit": uac.returncode, "took": took,
            "edge_us": per_call[0], "caller_relay_us": per_call[1], "callee_relay_us": per_call[2],
            "retransmissions": stat(csv, "Retransmissions(C)")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="250,500,750,1000")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--numbat-bin", type=Path, default=REPO / "target" / "release" / "numbat")
    args = parser.parse_args()
    for tool in ("kamailio", "sipp", "openssl"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: scripts/setup.sh installs it")
    if not args.numbat_bin.exists():
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=REPO, check=True)
    work = Path(tempfile.mkdtemp(prefix="numbat-edge-tls-"))
    os.chmod(work, 0o777)
    certs = work / "certs"
    subprocess.run(["bash", str(TLS / "make-certs.sh"), str(certs)], check=True, stdout=subprocess.DEVNULL)
    os.chmod(certs, 0o755)
    for entry in certs.iterdir():
        os.chmod(entry, 0o644)
    url = f"sqlite://{work}/numbat.db"
    subprocess.run([str(args.numbat_bin), "migrate", "--database-url", url], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ports = {name: free_port() for name in ("operator", "service", "operator_tls", "service_tls", "caller_relay",
                                            "caller_relay_tls", "callee_relay", "callee_relay_tls", "uas")}
    edge = subprocess.Popen(
        [str(args.numbat_bin), "edge", "--database-url", url,
         "--operator-listen", f"127.0.0.1:{ports['operator']}", "--service-listen", f"127.0.0.1:{ports['service']}",
         "--operator-tls-listen", f"127.0.0.1:{ports['operator_tls']}",
         "--service-tls-listen", f"127.0.0.1:{ports['service_tls']}",
         "--operator-next-hop", f"tls:127.0.0.1:{ports['caller_relay_tls']}",
         "--next-hop", f"operator-connect=tls:127.0.0.1:{ports['callee_relay_tls']}",
         "--operator-peer", "127.0.0.1", "--service-peer", "127.0.0.1", "--invite-rate", "0", "--keepalive-secs", "0",
         "--tls-cert", str(certs / "edge.crt"), "--tls-key", str(certs / "edge.key"), "--tls-ca", str(certs / "ca.crt"),
         "--tls-client-auth", "operator", "--tls-client-auth", "service"],
        stdout=subprocess.DEVNULL, stderr=open(work / "edge.log", "wb"), env={**os.environ, "RUST_LOG": "warn"})
    relays = []
    try:
        answers_options(ports["operator"])
        relays.append(relay(work, certs, "operator-relay", ports["caller_relay"], ports["caller_relay_tls"],
                            ["--tls-next-hop", f"127.0.0.1:{ports['operator_tls']}", "--verify-client", "on",
                             "--sni", "edge.numbat.test"]))
        relays.append(relay(work, certs, "service-relay", ports["callee_relay"], ports["callee_relay_tls"],
                            ["--udp-next-hop", f"127.0.0.1:{ports['uas']}",
                             "--tls-next-hop", f"127.0.0.1:{ports['service_tls']}", "--verify-client", "on",
                             "--", "-A", "REQUIRE_VERIFIED_PEER"]))
        print(f"{'calls/s':>8} {'made':>7} {'ok':>7} {'failed':>7} {'retrans':>8} "
              f"{'edge µs/call':>13} {'caller relay':>13} {'callee relay':>13}")
        for rate in [int(r) for r in args.rates.split(",")]:
            r = run(rate, args.duration, work, edge, relays, ports)
            print(f"{r['rate']:>8} {r['made']:>7} {r['ok']:>7} {r['failed']:>7} {r['retransmissions']:>8} "
                  f"{r['edge_us']:>13.1f} {r['caller_relay_us']:>13.1f} {r['callee_relay_us']:>13.1f}", flush=True)
            if r["failed"] > 0.001 * max(r["made"], 1):
                print(f"over 0.1 % failed at {rate} calls/s: stopping")
                break
            time.sleep(3)
    finally:
        for process in relays:
            stop(process)
        stop(edge)
        print(f"logs: {work}")


if __name__ == "__main__":
    main()
