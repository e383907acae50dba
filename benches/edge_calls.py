#!/usr/bin/env python3
"""SIP call benchmark of `numbat edge` beside a tuned Kamailio, on one machine, over loopback.

What it measures, for each proxy, with the same provisioned numbers (1,000,000 by default), each
carrying a custom header value of 46-54 characters:

1. Throughput: the highest calls/s sustained over a --duration run (30 s) with fewer than 0.1 %
   failed calls and an achieved call rate of at least 97 % of the target. Rates are tried in the
   order --rates gives (6000,8000,10000,11000,12000,13000,14000); a proxy's sweep stops after
   its first failure.
2. CPU per call at a fixed rate (--fixed-rate, 8,000 calls/s): exact on-CPU time of every thread
   of every process of the proxy, from /proc/<pid>/task/*/schedstat, sampled each second; the
   steady window leaves out the first 2 s and the last 1 s of the call-creation period. Printed
   as microseconds per call and % of one core, next to the two SIPp processes' own CPU.
3. Added latency inside the proxy at the fixed rate, from a separate --latency-duration run
   (10 s) recorded with `tcpdump -i lo -s 700` (kernel timestamps, nanosecond precision). Packets
   are matched by Call-ID: the INVITE arriving at the proxy's operator port and the forwarded
   INVITE leaving toward the UAS; the 200 OK (to the INVITE) arriving from the UAS and leaving
   toward the UAC; INVITE->200 as the UAC's wire sees it, and the part of it spent at the UAS
   (forwarded INVITE out to its 200 back in). The capture also checks that the
   custom header is on the message it belongs on (Kamailio: the forwarded INVITE; the edge: the
   200 OK toward the operator) and carries the number's value.
4. Memory after the numbers are loaded and before any call: PSS summed over the proxy's
   processes (/proc/<pid>/smaps_rollup), and RSS.

How. SIPp 3.6 runs the caller (UAC, 127.0.0.1:5060, benches/edge/uac.xml) and the callee (UAS,
127.0.0.1:5080, benches/edge/uas.xml): INVITE with SDP to a number read SEQUENTIALly from a CSV
of up to 200,000 provisioned numbers (every call is a hit), optional 100/180, 200 with SDP, ACK,
1 s hold, BYE, 200. The proxy's operator-facing port is 127.0.0.1:5070.

* numbat edge: a fresh SQLite database in a temporary folder is filled through the real doors:
  `numbat migrate`; `numbat token create`; `numbat serve` and 100 accounts (customer-000 ...
  customer-099, Operator Connect on) PUT through the Provisioning API; then `numbat import
  FILE --apply` of the numbers (timed). Then `numbat edge` listens on 5070 (operator side) and
  5071 (service side), forwards to the UAS and is ready when it logs `edge ready`.
  Unless --numbat-bin is given, target/release/numbat is built first with `cargo build --release
  --locked` when it is missing or older than a file under src/.
* Kamailio: the tuned configuration of the measured anchor, kept in this repository as
  benches/edge/kamailio.cfg (--kamailio-dir names another folder holding a kamailio.cfg), is
  copied to the temporary folder with ANCHOR_DIR set to it and its control socket moved there; its
  table is an SQLite file hdr(number, content) of the same numbers and values. It runs stateless
  (forward()) and tuned: -x tlsf -X tlsf -A BIGBUF -n 2 -m 4000 -M 512, listening on 5070 and
  sending from 5070 to 5080.

Missing Debian packages (sip-tester, tcpdump, kamailio, kamailio-sqlite-modules, sqlite3) are
installed with apt-get, and the harness says so. Every run goes to target/bench/edge/<time>/
runs.jsonl (one JSON object per run) with SIPp's statistics and logs beside it. Prints figures
and asserts nothing; exits 0 unless something could not run. Traffic goes to 127.0.0.1 only and
every run is bounded in calls and time. Needs root (tcpdump, apt-get) and Python 3.11.

    python3 benches/edge_calls.py                    # the full comparison (about 15-20 minutes)
    python3 benches/edge_calls.py --quick            # smoke run: 100,000 numbers, 2000,4000 calls/s, 10 s
    python3 benches/edge_calls.py --only kamailio --quick
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "benches" / "edge"
OUT_ROOT = REPO / "target" / "bench" / "edge"
DEFAULT_NUMBAT = REPO / "target" / "release" / "numbat"

HOST = "127.0.0.1"
UAC_PORT = 5060
UAS_PORT = 5080
HEADER_NAME = "X-MS-Operator-Content"
API_VERSION = "2024-02-29-preview"
ACCOUNTS = 100
CALL_SAMPLE = 200_000
SEED = 4207946
SIPP_BUFFER = 4_194_304
HOLD_MS = 1000
MAX_FAILED_PCT = 0.1
MIN_RATE_SHARE = 0.97
GAP_S = 4  # quiet seconds between two runs
READY_TIMEOUT_S = 120
ERROR_LOG_CAP = 2_000_000  # bytes of a SIPp error log kept
EDGE_ARGS: list[str] = []  # --edge-arg

KAMAILIO_ARGS = ["-m", "4000", "-M", "512", "-n", "2", "-x", "tlsf", "-X", "tlsf", "-A", "BIGBUF"]
PACKAGES = {  # Debian package -> what shows it is installed
    "sip-tester": "sipp",
    "tcpdump": "tcpdump",
    "sqlite3": "sqlite3",
    "kamailio": "kamailio",
    "kamailio-sqlite-modules": None,
}

TIERS = ("gold", "silver", "bronze", "basic")
REGIONS = ("uksouth", "ukwest", "eastus", "westeurope", "northeurope", "japaneast")
# Geographic fixed-line ranges that libphonenumber classifies as valid: (prefix, lowest and
# highest subscriber part). London 020 3/7/8, Berlin 030, and NANP New York, Chicago, San
# Francisco, Boston (exchange codes 200-999).
NUMBER_RANGES = (
    ("+44203", 0, 9_999_999),
    ("+44207", 0, 9_999_999),
    ("+44208", 0, 9_999_999),
    ("+4930", 10_000_000, 99_999_999),
    ("+1212", 2_000_000, 9_999_999),
    ("+1312", 2_000_000, 9_999_999),
    ("+1415", 2_000_000, 9_999_999),
    ("+1617", 2_000_000, 9_999_999),
)

STARTED: list[subprocess.Popen] = []  # every process this harness started, stopped at exit


# ---------------------------------------------------------------- settings and output


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Calls/s, CPU per call, added latency and memory of `numbat edge` and of a "
        "tuned stateless Kamailio, both enriching calls to provisioned numbers with a custom "
        "SIP header, driven by SIPp over loopback.",
        epilog="Writes target/bench/edge/<time>/runs.jsonl. Needs root (tcpdump, apt-get).",
    )
    parser.add_argument("--rates", help="calls/s to try, comma-separated, in order "
                        "(default 6000,8000,10000,11000,12000,13000,14000; --quick: 2000,4000)")
    parser.add_argument("--duration", type=int, help="seconds of call creation per run (default 30; --quick: 10)")
    parser.add_argument("--numbers", type=int, help="numbers provisioned (default 1000000; --quick: 100000)")
    parser.add_argument("--fixed-rate", type=int, help="calls/s of the CPU and latency figures "
                        "(default 8000; --quick: 4000); a sweep run at this rate is reused")
    parser.add_argument("--latency-duration", type=int, help="seconds of the captured latency run "
                        "(default 10; --quick: 5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: the smaller defaults above")
    parser.add_argument("--only", choices=("edge", "kamailio"), help="measure one proxy only")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the temporary folder (databases, CSV files, captures) and say where")
    parser.add_argument("--kamailio-dir", type=Path, default=SCENARIOS,
                        help="folder holding the kamailio.cfg to run (default: benches/edge)")
    parser.add_argument("--edge-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for `numbat edge` (repeat), e.g. --edge-arg=--udp-threads=1")
    parser.add_argument("--numbat-bin", type=Path,
                        help="the numbat binary (default target/release/numbat, built when missing or stale)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.rates = [int(r) for r in (args.rates or ("2000,4000" if quick else "6000,8000,10000,11000,12000,13000,14000")).split(",")]
    args.duration = args.duration or (10 if quick else 30)
    args.numbers = args.numbers or (100_000 if quick else 1_000_000)
    args.fixed_rate = args.fixed_rate or (4000 if quick else 8000)
    args.latency_duration = args.latency_duration or (5 if quick else 10)
    return args


def say(message: str) -> None:
    print(message, flush=True)


class Recorder:
    """Appends one JSON object per run to runs.jsonl and keeps them for the summary."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "runs.jsonl"

    def write(self, record: dict) -> dict:
        record = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}
        with self.path.open("a") as out:
            out.write(json.dumps(record) + "\n")
        return record


# ---------------------------------------------------------------- tools


def installed(package: str, command: str | None) -> bool:
    if command and shutil.which(command) is None:
        return False
    probe = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return probe.returncode == 0 and "install ok installed" in probe.stdout


def ensure_packages(with_kamailio: bool) -> None:
    wanted = [p for p in PACKAGES if with_kamailio or not p.startswith("kamailio")]
    missing = [p for p in wanted if not installed(p, PACKAGES[p])]
    if not missing:
        return
    say(f"installing with apt-get: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- processes and /proc


def start(cmd: list, log: Path, **kwargs) -> subprocess.Popen:
    """Starts a process with its output in `log`; it is stopped at exit if still running."""
    out = log.open("ab")
    process = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=kwargs.pop("stderr", subprocess.STDOUT),
                               stdin=subprocess.DEVNULL, **kwargs)
    out.close()
    STARTED.append(process)
    return process


def stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM, grace: float = 15) -> None:
    """Stops one process this harness started, by its pid: `sig`, then SIGKILL after `grace` s."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_all() -> None:
    for process in reversed(STARTED):
        stop(process, grace=10)


def descendants(root: int) -> list[int]:
    """Every process below `root`, from the parent pid in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_ns(pids: list[int]) -> int:
    """Nanoseconds on CPU of every thread of `pids` (first field of task/*/schedstat)."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def memory_kib(pids: list[int]) -> dict:
    """PSS and RSS of each process (smaps_rollup), their sums, and the largest RSS."""
    per = {}
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        values = dict(re.findall(r"^(Rss|Pss):\s+(\d+) kB", rollup, re.M))
        per[pid] = {k.lower(): int(v) for k, v in values.items()}
    return {
        "processes": len(per),
        "pss_kib": sum(p.get("pss", 0) for p in per.values()),
        "rss_sum_kib": sum(p.get("rss", 0) for p in per.values()),
        "rss_largest_kib": max((p.get("rss", 0) for p in per.values()), default=0),
        "per_process": {str(pid): v for pid, v in per.items()},
    }


def udp_sockets() -> dict[str, tuple[int, int]]:
    """inode -> (local port, drops) of every IPv4 UDP socket (/proc/net/udp)."""
    sockets = {}
    with open("/proc/net/udp") as table:
        next(table)
        for line in table:
            cols = line.split()
            if len(cols) >= 13:
                sockets[cols[9]] = (int(cols[1].split(":")[1], 16), int(cols[12]))
    return sockets


def port_in_use(port: int) -> bool:
    return any(p == port for p, _ in udp_sockets().values())


def wait_ports_free(ports: list[int], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while any(port_in_use(p) for p in ports):
        if time.monotonic() > deadline:
            busy = [p for p in ports if port_in_use(p)]
            raise RuntimeError(f"UDP port(s) {busy} on this machine are taken by another process")
        time.sleep(0.2)


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def warn_if_busy() -> float:
    """% of one core the machine is busy for 1 s before a run, while the harness is idle; a
    warning when other work shares the cores (it skews every figure)."""
    busy0, total0 = cpu_times()
    time.sleep(1)
    busy1, total1 = cpu_times()
    cores = os.cpu_count() or 1
    busy = 100.0 * cores * (busy1 - busy0) / max(1, total1 - total0)
    if busy > 20:
        say(f"WARNING: the machine was {busy:.0f} % of a core busy before this run, "
            "while the harness was idle: other work skews its figures")
    return round(busy, 1)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the data


@dataclass
class Dataset:
    folder: Path
    count: int
    import_csv: Path
    small_csv: Path
    table_sqlite: Path
    calls_csv: Path
    calls: int


def header_value(i: int) -> str:
    """46-54 characters of [A-Za-z0-9_-], e.g. acct_A0172325-tier_basic-region_ukwest-trunk_t52."""
    return f"acct_A{i:07d}-tier_{TIERS[i % 4]}-region_{REGIONS[(i // 4) % 6]}-trunk_t{i % 97}"


def account_of(i: int) -> str:
    return f"customer-{i % ACCOUNTS:03d}"


def make_numbers(count: int, rng: random.Random) -> list[str]:
    """`count` distinct E.164 geographic numbers, spread over NUMBER_RANGES."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        prefix, low, high = NUMBER_RANGES[rng.randrange(len(NUMBER_RANGES))]
        digits = len(str(high))
        seen[f"{prefix}{rng.randint(low, high):0{digits}d}"] = None
    return list(seen)


IMPORT_COLUMNS = (
    "telephoneNumber",
    "accountName",
    "serviceDetails_teamsOperatorConnect_enabled",
    "serviceDetails_teamsOperatorConnect_configuration_usage",
    "serviceDetails_teamsOperatorConnect_configuration_choosableCapabilities",
    "serviceDetails_teamsOperatorConnect_configuration_allowTenantAddressUpdate",
    "configuration_customSipHeader",
)


def write_import_csv(path: Path, numbers: list[str]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(IMPORT_COLUMNS)
        for i, number in enumerate(numbers):
            writer.writerow((number, account_of(i), "true", "CallingUserAssignment",
                             "InboundCalling;OutboundCalling", "true", header_value(i)))


def write_table_sqlite(path: Path, numbers: list[str]) -> None:
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE hdr (number TEXT PRIMARY KEY NOT NULL, content TEXT NOT NULL)")
    db.executemany("INSERT INTO hdr VALUES (?, ?)", ((n, header_value(i)) for i, n in enumerate(numbers)))
    db.commit()
    db.close()


def write_calls_csv(path: Path, numbers: list[str], rng: random.Random) -> int:
    """SIPp's -inf file: field0 the called number, field1 the header value it should get."""
    picks = rng.sample(range(len(numbers)), min(CALL_SAMPLE, len(numbers)))
    with path.open("w") as out:
        out.write("SEQUENTIAL\n")
        for i in picks:
            out.write(f"{numbers[i]};{header_value(i)}\n")
    return len(picks)


def make_dataset(folder: Path, count: int) -> Dataset:
    started = time.monotonic()
    rng = random.Random(SEED)
    numbers = make_numbers(count, rng)
    data = Dataset(folder, count, folder / "numbers.csv", folder / "numbers-first10.csv",
                   folder / "kamailio" / "data" / "hdr.sqlite", folder / "calls.csv", 0)
    data.table_sqlite.parent.mkdir(parents=True)
    write_import_csv(data.import_csv, numbers)
    with data.import_csv.open() as full, data.small_csv.open("w") as small:
        small.writelines(line for _, line in zip(range(11), full))
    write_table_sqlite(data.table_sqlite, numbers)
    data.calls = write_calls_csv(data.calls_csv, numbers, rng)
    say(f"data: {count:,} numbers, import CSV, SQLite table and {data.calls:,} called numbers "
        f"written in {time.monotonic() - started:.1f} s ({folder})")
    return data


def expected_values(calls_csv: Path) -> dict[str, str]:
    with calls_csv.open() as f:
        next(f)
        return dict(line.rstrip("\n").split(";", 1) for line in f)


# ---------------------------------------------------------------- the proxies


@dataclass
class Proxy:
    name: str  # "edge" or "kamailio"
    title: str
    operator_port: int  # where the UAC sends; responses to the UAC leave from here
    service_port: int  # where the forwarded INVITE leaves from; the UAS answers to it
    enriched_hop: str  # the captured message that must carry the custom header
    process: subprocess.Popen | None = None
    facts: dict = field(default_factory=dict)  # load times, memory, errors

    def pids(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.title} is not running")
        return [self.process.pid, *descendants(self.process.pid)]

    def ports(self) -> list[int]:
        return sorted({self.operator_port, self.service_port})

    def hops(self) -> dict[tuple[str, int, int], str]:
        """(message, source port, destination port) -> the name of that hop."""
        return {
            ("INVITE", UAC_PORT, self.operator_port): "inv_in",
            ("INVITE", self.service_port, UAS_PORT): "inv_out",
            ("200", UAS_PORT, self.service_port): "ok_in",
            ("200", self.operator_port, UAC_PORT): "ok_out",
        }


def edge_proxy() -> Proxy:
    return Proxy("edge", "numbat edge", 5070, 5071, "ok_out")


def kamailio_proxy() -> Proxy:
    return Proxy("kamailio", "Kamailio", 5070, 5070, "inv_out")


# ---- Kamailio


def start_kamailio(proxy: Proxy, anchor_dir: Path, data: Dataset, logs: Path) -> None:
    home = data.table_sqlite.parent.parent
    template = (anchor_dir / "kamailio.cfg").read_text()
    if "@ANCHOR_DIR@" not in template:
        raise RuntimeError(f"{anchor_dir / 'kamailio.cfg'} has no @ANCHOR_DIR@ to fill in")
    control = home / "ctl.sock"
    config = home / "kamailio.cfg"
    config.write_text(template.replace("@ANCHOR_DIR@", str(home))
                      .replace("unix:/tmp/kamailio_anchor_ctl", f"unix:{control}"))
    wait_ports_free(proxy.ports() + [UAC_PORT, UAS_PORT])
    started = time.monotonic()
    proxy.process = start(["kamailio", "-f", config, "-DD", "-E", *KAMAILIO_ARGS],
                          logs / "kamailio.log", cwd=home)
    deadline = started + READY_TIMEOUT_S
    while True:
        if proxy.process.poll() is not None:
            raise RuntimeError(f"kamailio exited with {proxy.process.returncode}: {tail(logs / 'kamailio.log')}")
        probe = subprocess.run(["kamcmd", "-s", f"unix:{control}", "core.uptime"], capture_output=True)
        if probe.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"kamailio not ready after {READY_TIMEOUT_S} s")
        time.sleep(0.2)
    proxy.facts["ready_s"] = round(time.monotonic() - started, 2)
    say(f"kamailio: table of {data.count:,} numbers loaded, ready after {proxy.facts['ready_s']} s "
        f"(pid {proxy.process.pid}, {' '.join(KAMAILIO_ARGS)})")


# ---- numbat edge


def numbat_binary(explicit: Path | None) -> Path:
    """The binary to use; the default one is built when missing or older than src/."""
    if explicit is not None:
        binary = explicit if explicit.is_absolute() else (Path.cwd() / explicit)
        if not binary.exists():
            raise RuntimeError(f"{binary} does not exist")
        return binary.resolve()
    newest = max(p.stat().st_mtime for p in (REPO / "src").rglob("*") if p.is_file())
    if not DEFAULT_NUMBAT.exists() or DEFAULT_NUMBAT.stat().st_mtime < newest:
        why = "missing" if not DEFAULT_NUMBAT.exists() else "older than src/"
        say(f"{DEFAULT_NUMBAT.relative_to(REPO)} is {why}: running cargo build --release --locked")
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=REPO, check=True)
    return DEFAULT_NUMBAT


def numbat(binary: Path, work: Path, *args, timeout: float = 600) -> str:
    """Runs one numbat command to its end; its standard output, or an error with its output."""
    done = subprocess.run([str(binary), *map(str, args)], cwd=work, capture_output=True, text=True,
                          timeout=timeout, env=numbat_env(work))
    if done.returncode != 0:
        raise RuntimeError(f"numbat {args[0]} exited with {done.returncode}: "
                           f"{(done.stdout + done.stderr).strip()[-1500:]}")
    return done.stdout


def numbat_env(work: Path) -> dict:
    """The environment of numbat commands: info logs (the edge's `edge ready` is one), and no
    Operator Connect settings (sync stays off)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBAT_OC_")}
    return {**env, "NUMBAT_LOG_FORMAT": "text", "RUST_LOG": "info"}


# loopback needs no HTTP proxy, whatever the environment says
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def api_put_account(base: str, token: str, name: str, tenant: str) -> None:
    body = {"name": name, "serviceDetails": {
        "teamsTenantId": tenant,
        "teamsOperatorConnect": {"enabled": True, "syncEnabled": False},
    }}
    request = urllib.request.Request(
        f"{base}/provisioning/accounts/{name}?api-version={API_VERSION}",
        data=json.dumps(body).encode(), method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with HTTP.open(request, timeout=30) as answer:
            if answer.status not in (200, 201):
                raise RuntimeError(f"PUT account {name}: HTTP {answer.status}")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"PUT account {name}: HTTP {e.code} {e.read()[:500]!r}") from e


def wait_http_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"numbat serve exited with {process.returncode}: {tail(log)}")
        try:
            with HTTP.open(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def create_accounts(binary: Path, work: Path, url: str, logs: Path) -> None:
    """Token, then `numbat serve` and 100 Operator Connect accounts PUT through the API."""
    token = numbat(binary, work, "token", "create", "--name", "edge-bench", "--role", "Admin",
                   "--database-url", url).strip().splitlines()[-1]
    port = free_tcp_port()
    log = logs / "numbat-serve.log"
    serve = start([binary, "serve", "--database-url", url, "--listen", f"{HOST}:{port}"], log,
                  cwd=work, env=numbat_env(work))
    try:
        base = f"http://{HOST}:{port}"
        wait_http_ready(f"{base}/readyz", serve, log)
        started = time.monotonic()
        for i in range(ACCOUNTS):
            api_put_account(base, token, account_of(i), f"00000000-0000-4000-8000-{i:012d}")
        say(f"edge data: {ACCOUNTS} accounts PUT through the Provisioning API in "
            f"{time.monotonic() - started:.1f} s")
    finally:
        stop(serve, signal.SIGTERM, grace=20)


IMPORTED = re.compile(r"(\d+) rows: (\d+) created, (\d+) changed, (\d+) unchanged; (\d+) invalid")


def import_numbers(binary: Path, work: Path, url: str, data: Dataset, logs: Path) -> float:
    """A dry run of the first 10 rows (to fail early on a rule), then the timed --apply."""
    report = work / "first10-report.csv"
    check = subprocess.run([str(binary), "import", data.small_csv, "--report", report,
                            "--database-url", url], cwd=work, capture_output=True, text=True,
                           env=numbat_env(work), timeout=120)
    if check.returncode != 0:
        raise RuntimeError(f"the importer refuses the first 10 rows (exit {check.returncode}): "
                           f"{(check.stdout + check.stderr).strip()[-1500:]}")
    started = time.monotonic()
    with (logs / "numbat-import.log").open("w") as log:
        done = subprocess.run([str(binary), "import", data.import_csv, "--apply", "--database-url", url],
                              cwd=work, stdout=subprocess.PIPE, stderr=log, text=True,
                              env=numbat_env(work), timeout=7200)
    took = time.monotonic() - started
    summary = IMPORTED.search(done.stdout or "")
    if done.returncode not in (0, 2) or summary is None:
        raise RuntimeError(f"numbat import exited with {done.returncode}: {done.stdout.strip()[-1500:]}")
    rows, created, _, unchanged, invalid = map(int, summary.groups())
    say(f"edge data: numbat import --apply of {rows:,} rows took {took:.1f} s "
        f"({rows / took:,.0f} rows/s): {created:,} created, {unchanged:,} unchanged, {invalid:,} invalid")
    if invalid:
        say(f"WARNING: {invalid:,} rows were refused; those calls will not be enriched")
    return took


def provision_edge(binary: Path, work: Path, data: Dataset, logs: Path) -> tuple[str, dict]:
    database = work / "edge.db"
    url = f"sqlite://{database}"
    started = time.monotonic()
    numbat(binary, work, "migrate", "--database-url", url)
    say(f"edge data: numbat migrate took {time.monotonic() - started:.1f} s ({url})")
    create_accounts(binary, work, url, logs)
    import_s = import_numbers(binary, work, url, data, logs)
    return url, {"import_s": round(import_s, 1), "database_mib": round(database.stat().st_size / 2**20, 1)}


def edge_command(binary: Path, url: str, proxy: Proxy) -> list[str]:
    return [str(binary), "edge", "--database-url", url,
            "--operator-listen", f"{HOST}:{proxy.operator_port}",
            "--service-listen", f"{HOST}:{proxy.service_port}",
            "--operator-next-hop", f"udp:{HOST}:{UAS_PORT}",
            "--next-hop", f"operator-connect=udp:{HOST}:{UAS_PORT}",
            "--header-name", HEADER_NAME,
            # SIPp sends from the loopback address on both sides; one source places every call.
            "--operator-peer", HOST, "--service-peer", HOST, "--invite-rate", "0",
            # SIPp's UAS counts an OPTIONS outside a call as an unexpected message.
            "--keepalive-secs", "0",
            *EDGE_ARGS]


def follow_stderr(process: subprocess.Popen, log: Path, ready: threading.Event) -> None:
    """Copies the edge's log lines to `log` and sets `ready` at the line saying `edge ready`."""
    with log.open("ab") as out:
        for line in process.stderr:
            out.write(line)
            if not ready.is_set() and b"edge ready" in line:
                out.flush()
                ready.set()


def start_edge(proxy: Proxy, binary: Path, url: str, work: Path, logs: Path) -> None:
    wait_ports_free(proxy.ports() + [UAC_PORT, UAS_PORT])
    log = logs / "numbat-edge.log"
    started = time.monotonic()
    proxy.process = start(edge_command(binary, url, proxy), logs / "numbat-edge.stdout.log",
                          stderr=subprocess.PIPE, cwd=work, env=numbat_env(work))
    ready = threading.Event()
    threading.Thread(target=follow_stderr, args=(proxy.process, log, ready), daemon=True).start()
    while not ready.wait(0.2):
        if proxy.process.poll() is not None:
            time.sleep(0.3)  # let the reader copy the last lines
            raise RuntimeError(f"numbat edge exited with {proxy.process.returncode}: {tail(log)}")
        if time.monotonic() - started > READY_TIMEOUT_S:
            raise RuntimeError(f"numbat edge printed no 'edge ready' within {READY_TIMEOUT_S} s")
    proxy.facts["ready_s"] = round(time.monotonic() - started, 2)
    say(f"edge: ready after {proxy.facts['ready_s']} s (pid {proxy.process.pid})")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- one SIPp run


def start_uas(folder: Path) -> subprocess.Popen:
    uas = start(["sipp", "-sf", SCENARIOS / "uas.xml", "-i", HOST, "-p", UAS_PORT, "-nostdin",
                 "-buff_size", SIPP_BUFFER, "-trace_err"], folder / "uas.out", cwd=folder)
    deadline = time.monotonic() + 5
    while not port_in_use(UAS_PORT):
        if uas.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the SIPp UAS did not start: {tail(folder / 'uas.out')}")
        time.sleep(0.05)
    return uas


def uac_command(proxy: Proxy, rate: int, seconds: int, calls_csv: Path) -> list:
    calls = rate * seconds
    return ["sipp", f"{HOST}:{proxy.operator_port}", "-sf", SCENARIOS / "uac.xml", "-inf", calls_csv,
            "-i", HOST, "-p", UAC_PORT, "-r", rate, "-rp", 1000, "-m", calls, "-l", rate * 3,
            "-d", HOLD_MS, "-nostdin", "-recv_timeout", 5000, "-timeout", f"{seconds + 40}s",
            "-buff_size", SIPP_BUFFER, "-trace_stat", "-stf", "stat.csv", "-fd", 1, "-trace_err"]


@dataclass
class Sample:
    t: float
    proxy: int
    uac: int
    uas: int


def sample_run(uac: subprocess.Popen, uas: subprocess.Popen, proxy_pids: list[int], limit: float,
               drops: dict[str, tuple[int, int]]) -> list[Sample]:
    """Samples CPU each second while the UAC runs (at most `limit` s), and socket drops."""
    samples = []
    started = time.monotonic()
    tick = started
    while True:
        samples.append(Sample(time.monotonic() - started, cpu_ns(proxy_pids), cpu_ns([uac.pid]),
                              cpu_ns([uas.pid])))
        for inode, (port, dropped) in udp_sockets().items():
            drops[inode] = (port, max(dropped, drops.get(inode, (port, 0))[1]))
        if uac.poll() is not None:
            return samples
        if time.monotonic() - started > limit:
            stop(uac, signal.SIGTERM, grace=5)
            return samples
        tick += 1.0
        time.sleep(max(0.0, tick - time.monotonic()))


def steady_window(samples: list[Sample], seconds: int) -> tuple[Sample, Sample]:
    """The samples nearest 2 s after the start and 1 s before call creation ends."""
    inside = [s for s in samples if 2 <= s.t <= seconds - 1 + 0.5]
    if len(inside) >= 2:
        return inside[0], inside[-1]
    return samples[0], samples[-1]


def read_sipp_stats(path: Path, planned: int) -> dict:
    """SIPp's final counters and the achieved creation rate from its per-second rows."""
    try:
        with path.open() as f:
            rows = [r for r in csv.reader(f, delimiter=";") if r]
    except OSError:
        return {"error": "no stat.csv"}
    if len(rows) < 2:
        return {"error": "stat.csv has no rows"}
    heading, last = rows[0], rows[-1]

    def column(row: list[str], name: str) -> str:
        return row[heading.index(name)]

    def counter(name: str) -> int:
        return int(column(last, name))

    points = []
    for row in rows[1:]:
        when = float(column(row, "CurrentTime").split("\t")[-1])
        points.append((when, int(column(row, "OutgoingCall(C)"))))
    creating = [p for p in points if 0 < p[1] < planned]
    achieved = None
    if len(creating) >= 2 and creating[-1][0] > creating[0][0]:
        achieved = (creating[-1][1] - creating[0][1]) / (creating[-1][0] - creating[0][0])
    elif len(points) >= 2 and points[-1][0] > points[0][0]:
        achieved = points[-1][1] / (points[-1][0] - points[0][0])
    return {
        "created": counter("OutgoingCall(C)"),
        "successful": counter("SuccessfulCall(C)"),
        "failed": counter("FailedCall(C)"),
        "retransmissions": counter("Retransmissions(C)"),
        "timeouts_on_recv": counter("FailedTimeoutOnRecv(C)"),
        "unexpected_messages": counter("FailedUnexpectedMessage(C)"),
        "achieved_cps": round(achieved, 1) if achieved else None,
    }


def cap_error_logs(folder: Path) -> None:
    for log in folder.glob("*_errors.log"):
        if log.stat().st_size > ERROR_LOG_CAP:
            with log.open("r+b") as f:
                f.truncate(ERROR_LOG_CAP)
                f.seek(0, 2)
                f.write(b"\n[cut by edge_calls.py]\n")


def run_calls(proxy: Proxy, kind: str, rate: int, seconds: int, data: Dataset, folder: Path) -> dict:
    """One bounded SIPp run through `proxy`: counters, pass or fail, CPU and socket drops."""
    folder.mkdir(parents=True, exist_ok=True)
    wait_ports_free([UAC_PORT, UAS_PORT])
    proxy_pids = proxy.pids()
    planned = rate * seconds
    busy_before = warn_if_busy()
    drops: dict[str, tuple[int, int]] = {}
    before = udp_sockets()
    uas = start_uas(folder)
    try:
        command = uac_command(proxy, rate, seconds, data.calls_csv)
        uac = start(command, folder / "uac.out", cwd=folder)
        samples = sample_run(uac, uas, proxy_pids, seconds + 60, drops)
    finally:
        stop(uas, signal.SIGTERM, grace=10)
    cap_error_logs(folder)
    stats = read_sipp_stats(folder / "stat.csv", planned)
    first, last = steady_window(samples, seconds)
    span = last.t - first.t
    record = {"proxy": proxy.name, "kind": kind, "target_cps": rate, "duration_s": seconds,
              "calls_planned": planned, **stats, "uac_exit": uac.returncode, "busy_before_pct": busy_before}
    created = stats.get("created") or 0
    unfinished = max(0, created - (stats.get("successful") or 0) - (stats.get("failed") or 0))
    record["unfinished"] = unfinished
    record["failed_pct"] = round(100.0 * ((stats.get("failed") or 0) + unfinished) / created, 4) if created else None
    record["passed"] = bool(created and record["failed_pct"] < MAX_FAILED_PCT
                            and (record.get("achieved_cps") or 0) >= MIN_RATE_SHARE * rate)
    if span > 0:
        calls = (record.get("achieved_cps") or rate) * span
        record["cpu_window_s"] = round(span, 1)
        record["cpu_pct"] = {"proxy": round((last.proxy - first.proxy) / 1e7 / span, 1),
                             "uac": round((last.uac - first.uac) / 1e7 / span, 1),
                             "uas": round((last.uas - first.uas) / 1e7 / span, 1)}
        record["proxy_us_per_call"] = round((last.proxy - first.proxy) / 1e3 / calls, 1)
    record["socket_drops"] = drops_by_port(before, drops, proxy.ports())
    record["folder"] = str(folder.relative_to(REPO))
    record["uac_command"] = " ".join(map(str, command))
    return record


def drops_by_port(before: dict, seen: dict, proxy_ports: list[int]) -> dict[str, int]:
    """Packets dropped during the run by the sockets of the UAC, UAS and proxy ports."""
    names = {UAC_PORT: "uac", UAS_PORT: "uas", **{p: f"proxy:{p}" for p in proxy_ports}}
    totals = {}
    for inode, (port, dropped) in seen.items():
        if port in names:
            earlier = before.get(inode, (port, 0))[1]
            totals[names[port]] = totals.get(names[port], 0) + dropped - earlier
    return totals


def describe_run(r: dict) -> str:
    cpu = r.get("cpu_pct", {})
    drops = " ".join(f"{k}={v}" for k, v in sorted(r.get("socket_drops", {}).items()) if v) or "none"
    achieved = f"{r['achieved_cps']:>7,.0f}" if r.get("achieved_cps") else "      -"
    failed_pct = f"{r['failed_pct']:.3f}" if r.get("failed_pct") is not None else "-"
    return (f"{r['proxy']:<8} {r['kind']:<7} {r['target_cps']:>6,} cps: achieved {achieved}, "
            f"calls {r.get('created', 0):,}/{r['calls_planned']:,}, failed {failed_pct} %, "
            f"retrans {r.get('retransmissions', '-')}, proxy CPU {cpu.get('proxy', 0):5.1f} % "
            f"({r.get('proxy_us_per_call', 0):5.1f} us/call), UAC {cpu.get('uac', 0):5.1f} %, "
            f"UAS {cpu.get('uas', 0):5.1f} %, drops {drops} -> {'PASS' if r['passed'] else 'FAIL'}")


# ---------------------------------------------------------------- capture and latency


def start_capture(path: Path, ports: list[int], log: Path) -> subprocess.Popen:
    expression = "udp and (" + " or ".join(f"port {p}" for p in ports) + ")"
    capture = start(["tcpdump", "-i", "lo", "-nn", "-s", "700", "-B", "32768", "-U",
                     "--time-stamp-precision=nano", "-w", path, expression], log)
    deadline = time.monotonic() + 10
    while "listening on" not in tail(log):
        if capture.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"tcpdump did not start: {tail(log)}")
        time.sleep(0.1)
    time.sleep(0.5)
    return capture


def stop_capture(capture: subprocess.Popen, log: Path) -> dict:
    stop(capture, signal.SIGINT, grace=30)
    said = re.findall(r"(\d+) packets? (captured|received by filter|dropped by kernel)", tail(log))
    counts = {what: int(count) for count, what in said}
    return {"captured": counts.get("captured"), "dropped_by_kernel": counts.get("dropped by kernel")}


LINK_HEADER = {0: 4, 1: 14, 12: 0, 101: 0, 113: 16, 276: 20}
PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # microseconds, little-endian
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}


def udp_packets(path: Path):
    """(timestamp ns, source port, destination port, payload, truncated) of each IPv4 UDP packet."""
    with path.open("rb") as f:
        head = f.read(24)
        if head[:4] not in PCAP_MAGIC:
            raise RuntimeError(f"{path} is not a pcap file")
        order, to_ns = PCAP_MAGIC[head[:4]]
        link = struct.unpack(order + "I", head[20:24])[0] & 0xFFFF
        if link not in LINK_HEADER:
            raise RuntimeError(f"{path}: link type {link} is not handled")
        skip = LINK_HEADER[link]
        record = struct.Struct(order + "IIII")
        while True:
            raw = f.read(16)
            if len(raw) < 16:
                return
            seconds, fraction, kept, length = record.unpack(raw)
            frame = f.read(kept)
            ip = frame[skip:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            start_udp = (ip[0] & 0x0F) * 4
            source, destination = struct.unpack_from(">HH", ip, start_udp)
            yield (seconds * 1_000_000_000 + fraction * to_ns, source, destination,
                   ip[start_udp + 8:], kept < length)


CALL_ID = re.compile(rb"\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]+)", re.I)
CSEQ_METHOD = re.compile(rb"\r\ncseq[ \t]*:[ \t]*\d+[ \t]+([A-Za-z]+)", re.I)
TO_USER = re.compile(rb"\r\n(?:to|t)[ \t]*:[^\r\n]*?sips?:([^@;>\r\n]+)@", re.I)
CUSTOM_HEADER = re.compile(rb"\r\n" + HEADER_NAME.encode() + rb"[ \t]*:[ \t]*([^\r\n]*)", re.I)


def hop_of(payload: bytes, source: int, destination: int, hops: dict) -> str | None:
    if payload.startswith(b"INVITE "):
        return hops.get(("INVITE", source, destination))
    if payload.startswith(b"SIP/2.0 200 "):
        hop = hops.get(("200", source, destination))
        if hop:
            method = CSEQ_METHOD.search(payload)
            if method and method.group(1).upper() == b"INVITE":
                return hop
    return None


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    values = sorted(values)

    def rank(p: float) -> float:  # nearest rank
        return round(values[max(0, min(len(values) - 1, math.ceil(len(values) * p / 100) - 1))], 1)

    return {"n": len(values), "p50": rank(50), "p90": rank(90), "p99": rank(99), "p99.9": rank(99.9),
            "max": round(values[-1], 1)}


def latency_from_capture(path: Path, proxy: Proxy, expected: dict[str, str]) -> dict:
    """Per-call times (microseconds) between the first sighting of each message on each hop."""
    hops = proxy.hops()
    seen: dict[tuple[bytes, str], int] = {}
    header = {"messages": 0, "with_header": 0, "value_right": 0, "cut_by_snaplen": 0}
    packets = 0
    for ts, source, destination, payload, truncated in udp_packets(path):
        packets += 1
        hop = hop_of(payload, source, destination, hops)
        found = hop and CALL_ID.search(payload)
        if not found or (found.group(1).strip(), hop) in seen:
            continue  # not a hop we time, or a retransmission
        seen[(found.group(1).strip(), hop)] = ts
        if hop == proxy.enriched_hop:
            check_header(payload, truncated, expected, header)
    calls: dict[bytes, dict[str, int]] = {}
    for (call_id, hop), ts in seen.items():
        calls.setdefault(call_id, {})[hop] = ts
    series = {"invite_in_proxy_us": ("inv_in", "inv_out"), "ok_in_proxy_us": ("ok_in", "ok_out"),
              "invite_to_200_on_uac_wire_us": ("inv_in", "ok_out"),
              "invite_to_200_at_uas_us": ("inv_out", "ok_in")}
    result = {"packets": packets, "calls": len(calls), "header_on": proxy.enriched_hop, "header": header}
    for name, (a, b) in series.items():
        result[name] = percentiles([(c[b] - c[a]) / 1000 for c in calls.values() if a in c and b in c])
    return result


def check_header(payload: bytes, truncated: bool, expected: dict[str, str], tally: dict) -> None:
    tally["messages"] += 1
    value = CUSTOM_HEADER.search(payload)
    if value is None:
        tally["cut_by_snaplen"] += truncated
        return
    tally["with_header"] += 1
    user = TO_USER.search(payload)
    if user and expected.get(user.group(1).decode()) == value.group(1).strip().decode(errors="replace"):
        tally["value_right"] += 1


def latency_run(proxy: Proxy, rate: int, seconds: int, data: Dataset, out: Path, work: Path) -> dict:
    """A separate run while tcpdump records loopback; the capture is parsed here and removed."""
    folder = out / f"{proxy.name}-latency-r{rate}"
    folder.mkdir(parents=True, exist_ok=True)
    pcap = work / f"{proxy.name}-r{rate}.pcap"
    capture = start_capture(pcap, sorted({UAC_PORT, UAS_PORT, *proxy.ports()}), folder / "tcpdump.log")
    try:
        record = run_calls(proxy, "latency", rate, seconds, data, folder)
    finally:
        time.sleep(1)
        record_capture = stop_capture(capture, folder / "tcpdump.log")
    record["capture"] = record_capture
    record["latency"] = latency_from_capture(pcap, proxy, expected_values(data.calls_csv))
    record["capture"]["bytes"] = pcap.stat().st_size
    pcap.unlink()
    return record


def describe_latency(r: dict) -> str:
    lat = r["latency"]

    def pair(name: str) -> str:
        s = lat[name]
        return f"{s['p50']:,.0f} / {s['p99']:,.0f}" if s["n"] else "-"

    head = lat["header"]
    return (f"{r['proxy']:<8} latency {r['target_cps']:>6,} cps: {lat['calls']:,} calls captured, "
            f"INVITE in proxy p50/p99 {pair('invite_in_proxy_us')} us, 200 in proxy {pair('ok_in_proxy_us')} us, "
            f"INVITE->200 on UAC wire {pair('invite_to_200_on_uac_wire_us')} us "
            f"(at the UAS {pair('invite_to_200_at_uas_us')} us); header on {lat['header_on']}: "
            f"{head['with_header']:,} of {head['messages']:,} ({head['value_right']:,} right value); "
            f"capture dropped {r['capture'].get('dropped_by_kernel')}")


# ---------------------------------------------------------------- one proxy, all figures


def measure_memory(proxy: Proxy, recorder: Recorder, numbers: int) -> dict:
    time.sleep(1)
    memory = memory_kib(proxy.pids())
    record = recorder.write({"proxy": proxy.name, "kind": "memory", "numbers": numbers,
                             "ready_s": proxy.facts.get("ready_s"), **memory})
    say(f"{proxy.name:<8} memory with {numbers:,} numbers, before traffic: PSS {memory['pss_kib'] / 1024:,.1f} MiB "
        f"over {memory['processes']} process(es), RSS sum {memory['rss_sum_kib'] / 1024:,.1f} MiB, "
        f"largest RSS {memory['rss_largest_kib'] / 1024:,.1f} MiB")
    return record


def bench_proxy(proxy: Proxy, args: argparse.Namespace, data: Dataset, recorder: Recorder,
                out: Path, work: Path) -> dict:
    """Memory, the latency run, the rate sweep and (when the sweep skipped it) the fixed-rate run."""
    figures = {"memory": measure_memory(proxy, recorder, data.count)}
    time.sleep(GAP_S)
    latency = recorder.write(latency_run(proxy, args.fixed_rate, args.latency_duration, data, out, work))
    say(describe_latency(latency))
    figures["latency"] = latency
    sweep = []
    for rate in args.rates:
        time.sleep(GAP_S)
        run = recorder.write(run_calls(proxy, "load", rate, args.duration, data, out / f"{proxy.name}-load-r{rate}"))
        say(describe_run(run))
        sweep.append(run)
        if not run["passed"]:
            break
    figures["sweep"] = sweep
    fixed = next((r for r in sweep if r["target_cps"] == args.fixed_rate), None)
    if fixed is None:
        time.sleep(GAP_S)
        fixed = recorder.write(run_calls(proxy, "cpu", args.fixed_rate, args.duration, data,
                                         out / f"{proxy.name}-cpu-r{args.fixed_rate}"))
        say(describe_run(fixed))
    figures["fixed"] = fixed
    return figures


def bench_kamailio(args: argparse.Namespace, data: Dataset, recorder: Recorder, out: Path, work: Path) -> dict:
    proxy = kamailio_proxy()
    try:
        start_kamailio(proxy, args.kamailio_dir.resolve(), data, out)
        figures = bench_proxy(proxy, args, data, recorder, out, work)
        figures["ready_s"] = proxy.facts["ready_s"]
        return figures
    finally:
        stop(proxy.process)


def bench_edge(args: argparse.Namespace, data: Dataset, recorder: Recorder, out: Path, work: Path) -> dict:
    proxy = edge_proxy()
    binary = numbat_binary(args.numbat_bin)
    say(f"edge: using {binary}")
    url, provisioning = provision_edge(binary, work, data, out)
    recorder.write({"proxy": "edge", "kind": "provisioning", "numbers": data.count, "binary": str(binary),
                    **provisioning})
    try:
        start_edge(proxy, binary, url, work, out)
        figures = bench_proxy(proxy, args, data, recorder, out, work)
        figures.update(provisioning, ready_s=proxy.facts["ready_s"])
        return figures
    finally:
        stop(proxy.process)


# ---------------------------------------------------------------- the summary


def max_sustained(figures: dict) -> str:
    sweep = figures.get("sweep", [])
    passed = [r["target_cps"] for r in sweep if r["passed"]]
    failed = [r["target_cps"] for r in sweep if not r["passed"]]
    best = f"{max(passed):,}" if passed else "none"
    if failed:
        return f"{best} ({failed[0]:,} failed)"
    return f"{best} (every rate tried passed)" if sweep else "-"


def summary_rows(figures: dict, args: argparse.Namespace) -> list[tuple[str, str]]:
    fixed = figures.get("fixed", {})
    cpu = fixed.get("cpu_pct", {})
    memory = figures.get("memory", {})
    latency = figures.get("latency", {}).get("latency", {})
    header = latency.get("header", {})
    note = "" if fixed.get("passed") else " (run failed)"

    def lat(name: str) -> str:
        s = latency.get(name, {"n": 0})
        return f"{s['p50']:,.0f} / {s['p99']:,.0f}" if s.get("n") else "-"

    start = f"{figures['ready_s']} s" if "ready_s" in figures else "-"
    if "import_s" in figures:
        start = f"import {figures['import_s']} s, start {start}"
    return [
        ("load numbers / start", start),
        (f"max sustained calls/s ({args.duration} s)", max_sustained(figures)),
        (f"proxy CPU @ {args.fixed_rate:,} cps, % core", f"{cpu.get('proxy', '-')}{note}" if cpu else "-"),
        (f"proxy CPU per call, us", f"{fixed.get('proxy_us_per_call', '-')}"),
        ("SIPp CPU UAC + UAS, % core", f"{cpu.get('uac', '-')} + {cpu.get('uas', '-')}" if cpu else "-"),
        ("INVITE in proxy p50 / p99, us", lat("invite_in_proxy_us")),
        ("200 OK in proxy p50 / p99, us", lat("ok_in_proxy_us")),
        ("INVITE->200 UAC wire p50/p99 us", lat("invite_to_200_on_uac_wire_us")),
        ("  of which at the UAS p50/p99 us", lat("invite_to_200_at_uas_us")),
        ("custom header right / checked",
         f"{header.get('value_right', 0):,} / {header.get('messages', 0):,} ({latency.get('header_on', '-')})"
         if header else "-"),
        ("memory PSS (all processes), MiB", f"{memory['pss_kib'] / 1024:,.1f}" if memory else "-"),
        ("memory RSS sum / largest, MiB",
         f"{memory['rss_sum_kib'] / 1024:,.1f} / {memory['rss_largest_kib'] / 1024:,.1f}" if memory else "-"),
    ]


def print_summary(results: dict[str, dict], errors: dict[str, str], args: argparse.Namespace) -> None:
    names = [n for n in ("edge", "kamailio") if n in results or n in errors]
    titles = {"edge": "numbat edge", "kamailio": "Kamailio (stateless, tuned)"}
    columns = {n: dict(summary_rows(results[n], args)) if n in results else {} for n in names}
    labels = [label for label, _ in summary_rows({}, args)]
    width = 36
    say("")
    say(f"Summary: {args.numbers:,} numbers, UAC -> proxy 127.0.0.1:5070 -> UAS 127.0.0.1:5080, "
        f"hold {HOLD_MS} ms, pass = failed < {MAX_FAILED_PCT} % and achieved >= {MIN_RATE_SHARE:.0%} of target")
    say(f"{'':<{width}}" + "".join(f"{titles[n]:<44}" for n in names))
    for label in labels:
        cells = [columns[n].get(label, "could not run" if n in errors else "-") for n in names]
        say(f"{label:<{width}}" + "".join(f"{c:<43} " for c in cells))
    for name, error in errors.items():
        say(f"{titles[name]} could not run: {error}")


# ---------------------------------------------------------------- main


def main() -> int:
    args = parse_args()
    EDGE_ARGS.extend(args.edge_arg)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wanted = [args.only] if args.only else ["edge", "kamailio"]
    ensure_packages(with_kamailio="kamailio" in wanted)
    out = OUT_ROOT / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    recorder = Recorder(out)
    work = Path(tempfile.mkdtemp(prefix="numbat-edge-bench-"))
    say(f"edge_calls: {args.numbers:,} numbers, rates {args.rates}, {args.duration} s runs, fixed rate "
        f"{args.fixed_rate:,} cps, latency run {args.latency_duration} s; runs go to {recorder.path.relative_to(REPO)}")
    results, errors = {}, {}
    try:
        data = make_dataset(work, args.numbers)
        benches = {"edge": bench_edge, "kamailio": bench_kamailio}
        for name in wanted:
            try:
                results[name] = benches[name](args, data, recorder, out, work)
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
                errors[name] = str(e).strip().replace("\n", " | ")[:2000]
                recorder.write({"proxy": name, "kind": "error", "error": errors[name]})
                say(f"{name}: could not run: {errors[name]}")
            time.sleep(1)
    finally:
        stop_all()
        if args.keep_data:
            say(f"data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_summary(results, errors, args)
    say(f"every run: {recorder.path}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
