"""End-to-end benchmark of mailgate against Dovecot directly and the Python email-oauth2-proxy.

Started by `benches/e2e/run` once the interop harness (Dovecot, mock OAuth provider, SMTP sink)
is serving; reuses the harness's environment file, accounts and process management. Every
measurement interleaves the compared systems (direct, mailgate, reference, direct, ...), prints
`metric=value` lines (median, then min..max) and the whole run ends in a markdown table.
"""

from __future__ import annotations

import argparse
import os
import pwd
import resource
import select
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "interop"))

import harness  # noqa: E402  (the interop suite's shared machinery)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
USER = "bench@example.test"
PASSWORD = "bench-pass-1"
SYSTEMS = ("direct", "mailgate", "reference")



def log(text: str) -> None:
    print(f"e2e: {text}", file=sys.stderr, flush=True)


# ---- process figures ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def status(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as file:
        for line in file:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "Threads"):
                values[key] = int(rest.split()[0])
    return values


def rss_kb(pid: int) -> int:
    return status(pid)["VmRSS"]


def close_wait_sockets(pid: int) -> tuple[int, int]:
    """(sockets of `pid` in CLOSE_WAIT, open file descriptors of `pid`)."""
    inodes = set()
    fds = os.listdir(f"/proc/{pid}/fd")
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as file:
            next(file)
            for line in file:
                fields = line.split()
                if fields[3] == "08" and fields[9] in inodes:
                    count += 1
    return count, len(fds)


# ---- results -----------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.notes: dict[str, str] = {}

    def add(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(value)
        print(f"sample.{name}={value:.6g}", flush=True)

    def median(self, name: str) -> float | None:
        values = self.values.get(name)
        return statistics.median(values) if values else None

    def cell(self, name: str, digits: int = 1) -> str:
        values = self.values.get(name)
        if not values:
            return self.notes.get(name, "–")
        text = f"{statistics.median(values):.{digits}f}"
        if len(values) > 1:
            text += f" ({min(values):.{digits}f}–{max(values):.{digits}f})"
        return text

    def ratio(self, name: str, system: str, base: str = "direct") -> str:
        value, reference = self.median(f"{name}.{system}"), self.median(f"{name}.{base}")
        if value is None or not reference:
            return ""
        return f"{value / reference:.2f}"

    def print_lines(self) -> None:
        for name, values in self.values.items():
            print(f"{name}={statistics.median(values):.6g}")
            print(f"{name}.range={min(values):.6g}..{max(values):.6g}")


# ---- the compared systems ----------------------------------------------------------------------


class Systems:
    """Ports and processes of direct Dovecot, mailgate and the Python email-oauth2-proxy."""

    def __init__(self, args: argparse.Namespace, upstream_port: int) -> None:
        self.args = args
        self.client = args.client
        self.token = harness.direct_token(USER)
        account = harness.Account(USER, PASSWORD)
        account.register()
        self.proxies: dict[str, harness.Mailgate] = {}
        self.ports: dict[str, dict[str, int]] = {}
        upstream = {"server_address": harness.ENV["dovecot_host"],
                    "server_ca_file": harness.ENV["ca"], "local_address": "127.0.0.1"}
        names = ["mailgate"] + (["reference"] if args.reference else [])
        for name in names:
            ports = {kind: harness.free_port() for kind in ("imap", "smtp", "light")}
            self.ports[name] = ports
            sections = {
                f"IMAP-{ports['imap']}": upstream | {"server_port": str(harness.ENV["imaps_port"])},
                f"SMTP-{ports['smtp']}": upstream | {
                    "server_port": str(harness.ENV["submissions_port"])},
                f"IMAP-{ports['light']}": {
                    "server_address": "127.0.0.1", "server_port": str(upstream_port),
                    "server_ca_file": harness.ENV["ca"], "local_address": "127.0.0.1"},
                USER: account.section(),
            }
            self.proxies[name] = harness.Mailgate(f"bench-{name}", sections)
        self.start("mailgate")
        if args.reference:
            self.start("reference")

    def start(self, name: str) -> None:
        if name == "reference":
            # The Python email-oauth2-proxy verifies upstream certificates with the default trust store.
            saved = os.environ.get("SSL_CERT_FILE")
            os.environ["SSL_CERT_FILE"] = harness.ENV["ca"]
            try:
                self.proxies[name].start(program=self.args.reference)
            finally:
                if saved is None:
                    os.environ.pop("SSL_CERT_FILE", None)
                else:
                    os.environ["SSL_CERT_FILE"] = saved
        else:
            self.proxies[name].start()

    def names(self) -> list[str]:
        return [name for name in SYSTEMS if name == "direct" or name in self.proxies]

    def pid(self, name: str) -> int:
        return self.proxies[name].process.pid

    def target(self, name: str, kind: str = "imap") -> list[str]:
        """Client arguments reaching `name`'s `kind` service with its credential."""
        if name == "direct":
            port = harness.ENV["imaps_port" if kind == "imap" else "submissions_port"]
            return ["--addr", f"{harness.ENV['dovecot_host']}:{port}", "--ca", harness.ENV["ca"],
                    "--user", USER, "--token", self.token]
        return ["--addr", f"127.0.0.1:{self.ports[name][kind]}", "--user", USER,
                "--password", PASSWORD]

    def run_client(self, command: str, *arguments: str, timeout: float = 600) -> dict[str, str]:
        result = subprocess.run([self.client, command, *arguments], capture_output=True,
                                timeout=timeout, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"client {command} failed: {result.stderr.strip()[-500:]}")
        if result.stderr.strip():
            log(result.stderr.strip()[-300:])
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    def stop(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()


# ---- the mailbox -------------------------------------------------------------------------------


def seed_mailbox(count: int, size: int) -> None:
    """Writes `count` messages of `size` bytes straight into the account's Maildir."""
    maildir = os.path.join(harness.ENV["dir"], "home", USER, "Maildir")
    nobody = pwd.getpwnam("nobody")
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
    for sub in ("", "cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    now = int(time.time())
    for index in range(count):
        header = (f"From: <sender@example.test>\r\nTo: <{USER}>\r\nSubject: bench {index}\r\n"
                  f"Message-ID: <bench-{index}@example.test>\r\n"
                  f"Date: Mon, 2 Mar 2026 12:00:00 +0000\r\n\r\n").encode()
        body = line * ((size - len(header)) // len(line) + 1)
        data = (header + body)[:size - 2] + b"\r\n"
        path = os.path.join(maildir, "cur", f"{now}.M{index}P{os.getpid()}.bench,S={len(data)}:2,S")
        with open(path, "wb") as file:
            file.write(data)
    for root, dirs, files in os.walk(os.path.join(harness.ENV["dir"], "home", USER)):
        for name in dirs + files:
            os.chown(os.path.join(root, name), nobody.pw_uid, nobody.pw_gid)
    os.chown(os.path.join(harness.ENV["dir"], "home", USER), nobody.pw_uid, nobody.pw_gid)


# ---- measurements ------------------------------------------------------------------------------


def measure_relay(systems: Systems, results: Results, rounds: int, repeat: int) -> None:
    for _ in range(rounds):
        for name in systems.names():
            before = cpu_seconds(systems.pid(name)) if name != "direct" else 0.0
            out = systems.run_client("fetch", *systems.target(name), "--repeat", str(repeat))
            results.add(f"relay_mb_s.{name}", float(out["mb_per_s"]))
            if name != "direct":
                cpu = cpu_seconds(systems.pid(name)) - before
                results.add(f"relay_cpu_s_per_gb.{name}", cpu / (int(out["bytes"]) / 1e9))


def measure_logins(systems: Systems, results: Results, rounds: int, quick: bool) -> None:
    for _ in range(rounds):
        for parallel in (1, 8):
            for name in systems.names():
                slow = name == "reference"
                n = (6 if quick else 24) if slow else (40 if quick else 400)
                max_seconds = 10 if quick else 30
                before = cpu_seconds(systems.pid(name)) if name != "direct" else 0.0
                out = systems.run_client("logins", *systems.target(name), "--n", str(n),
                                         "--parallel", str(parallel),
                                         "--max-seconds", str(max_seconds))
                cycles = int(out["cycles"])
                if int(out["failures"]):
                    log(f"{name}: {out['failures']} login failures")
                results.add(f"logins_per_s_{parallel}.{name}", float(out["per_s"]))
                if name != "direct" and cycles:
                    cpu = cpu_seconds(systems.pid(name)) - before
                    results.add(f"login_cpu_ms_{parallel}.{name}", cpu / cycles * 1000)


def measure_smtp(systems: Systems, results: Results, rounds: int, quick: bool) -> None:
    for _ in range(rounds):
        for name in systems.names():
            n = 20 if quick else 200
            out = systems.run_client("smtp", *systems.target(name, "smtp"), "--n", str(n),
                                     "--size", "100000")
            results.add(f"smtp_one_session_msgs_s.{name}", float(out["per_s"]))
        for name in systems.names():
            n = (4 if quick else 10) if name == "reference" else (10 if quick else 50)
            out = systems.run_client("smtp", *systems.target(name, "smtp"), "--n", str(n),
                                     "--size", "100000", "--per-session", "1")
            results.add(f"smtp_per_session_msgs_s.{name}", float(out["per_s"]))


class Lines:
    """Lines of a child's standard output, each read with a time limit (no buffering hidden
    from select)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.fd = process.stdout.fileno()
        self.buffer = b""

    def ready(self, timeout: float) -> bool:
        if b"\n" in self.buffer:
            return True
        readable, _, _ = select.select([self.fd], [], [], timeout)
        return bool(readable)

    def next(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise RuntimeError(f"client said nothing for {timeout:.0f} s")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise RuntimeError("client exited")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode().strip()


def measure_backpressure(systems: Systems, results: Results, rounds: int, stall: int,
                         stall_after: int) -> None:
    for _ in range(rounds):
        for name in systems.names():
            if name == "direct":
                continue
            pid = systems.pid(name)
            rss_before = rss_kb(pid)
            process = subprocess.Popen(
                [systems.client, "fetch", *systems.target(name), "--stall-after", str(stall_after),
                 "--stall-seconds", str(stall)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            lines = Lines(process)
            try:
                line = lines.next(120)
                if line != "stall-begin":
                    raise RuntimeError(f"{name}: expected stall-begin, got {line!r}")
                cpu_begin, rss_max = cpu_seconds(pid), rss_kb(pid)
                while not lines.ready(0.25):
                    rss_max = max(rss_max, rss_kb(pid))
                cpu_end = cpu_seconds(pid)
                line = lines.next(10)
                if line != "stall-end":
                    raise RuntimeError(f"{name}: expected stall-end, got {line!r}")
                process.wait(300)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            results.add(f"stall_cpu_s.{name}", cpu_end - cpu_begin)
            results.add(f"stall_rss_growth_mb.{name}", (rss_max - rss_before) / 1024)


def measure_concurrency(systems: Systems, results: Results, levels: list[int],
                        reference_max: int) -> None:
    failed: set[str] = set()
    for k in levels:
        for name in systems.names():
            if name == "direct" or name in failed:
                continue
            if name == "reference" and k > reference_max:
                results.notes[f"k{k}_noop_ok.{name}"] = "not tried"
                continue
            pid = systems.pid(name)
            rss_before = rss_kb(pid)
            process = subprocess.Popen(
                [systems.client, "hold", *systems.target(name, "light"), "--k", str(k),
                 # The Python email-oauth2-proxy logs in one client at a time (~0.3 CPU-seconds each): few
                 # logins in flight, so that a session's time limit measures holding it.
                 "--concurrency", "8" if name == "reference" else "50",
                 "--session-timeout", "60"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True)
            out: dict[str, str] = {}
            lines = Lines(process)
            try:
                # The Python email-oauth2-proxy spends about 0.3 CPU-seconds on each login.
                deadline = time.monotonic() + 60 + k * (1.0 if name == "reference" else 0.1)
                while True:
                    line = lines.next(max(1.0, deadline - time.monotonic()))
                    if line == "held":
                        break
                    if "=" in line:
                        key, value = line.split("=", 1)
                        out[key] = value
                figures = status(pid)
                process.stdin.write("\n")
                process.stdin.flush()
                lines.next(60)
                process.wait(60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            time.sleep(2)  # let the proxy see every close
            close_wait, fds = close_wait_sockets(pid)
            held = int(out.get("noop_ok", 0))
            prefix = f"k{k}"
            results.add(f"{prefix}_noop_ok.{name}", held)
            results.add(f"{prefix}_rss_mb.{name}", figures["VmRSS"] / 1024)
            results.add(f"{prefix}_threads.{name}", figures["Threads"])
            if held:
                results.add(f"{prefix}_rss_kb_per_session.{name}",
                            (figures["VmRSS"] - rss_before) / held)
            results.add(f"{prefix}_close_wait_after.{name}", close_wait)
            results.add(f"{prefix}_fds_after.{name}", fds)
            if held < k:
                log(f"{name}: {held} of {k} sessions held; not trying more")
                failed.add(name)
                for higher in levels[levels.index(k) + 1:]:
                    results.notes[f"k{higher}_noop_ok.{name}"] = "not tried"


# ---- the table ---------------------------------------------------------------------------------


def table(results: Results, args: argparse.Namespace, levels: list[int]) -> str:
    rows = [
        ("FETCH relay, MB/s", "relay_mb_s", 1, True),
        ("proxy CPU seconds per GB relayed", "relay_cpu_s_per_gb", 2, False),
        ("logins/s with a cached token, 1 client", "logins_per_s_1", 1, True),
        ("logins/s with a cached token, 8 parallel", "logins_per_s_8", 1, True),
        ("proxy CPU ms per login, 1 client", "login_cpu_ms_1", 2, False),
        ("proxy CPU ms per login, 8 parallel", "login_cpu_ms_8", 2, False),
        ("SMTP 100 KB messages/s, one session", "smtp_one_session_msgs_s", 1, True),
        ("SMTP 100 KB messages/s, one session per message", "smtp_per_session_msgs_s", 1, True),
        (f"client stalls {args.stall_seconds} s mid-FETCH: proxy CPU seconds", "stall_cpu_s", 3,
         False),
        (f"client stalls {args.stall_seconds} s mid-FETCH: proxy RSS growth, MB",
         "stall_rss_growth_mb", 1, False),
    ]
    for k in levels:
        rows += [
            (f"{k} idle sessions: answering NOOP", f"k{k}_noop_ok", 0, False),
            (f"{k} idle sessions: proxy RSS, MB", f"k{k}_rss_mb", 1, False),
            (f"{k} idle sessions: proxy RSS growth per session while held, KB", f"k{k}_rss_kb_per_session", 1, False),
            (f"{k} idle sessions: proxy threads", f"k{k}_threads", 0, False),
            (f"{k} idle sessions: proxy sockets in CLOSE_WAIT after the clients left",
             f"k{k}_close_wait_after", 0, False),
        ]
    lines = ["| metric | direct to Dovecot | mailgate | reference | mailgate / direct "
             "| reference / direct |", "|---|---|---|---|---|---|"]
    for label, name, digits, ratio in rows:
        cells = [results.cell(f"{name}.{system}", digits) for system in SYSTEMS]
        ratios = [results.ratio(name, "mailgate"), results.ratio(name, "reference")] if ratio \
            else ["", ""]
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", required=True)
    parser.add_argument("--client", required=True)
    parser.add_argument("--reference", default="")
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stall-seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--levels", default="")
    parser.add_argument("--reference-max-sessions", type=int, default=500)
    parser.add_argument("--only", default="", help="stages to run: relay,logins,smtp,backpressure,concurrency")
    args = parser.parse_args()
    os.environ["INTEROP_ENV"] = args.env
    harness.load_env()
    rounds = args.rounds or (2 if args.quick else 5)
    count, size = (200, 20_000) if args.quick else (2000, 20_000)
    levels = [int(k) for k in args.levels.split(",") if k] or (
        [100, 500] if args.quick else [1000, 2000, 5000, 10000])

    # A proxy holds two descriptors per session (client and upstream).
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = (soft - 100) // 2
    if args.reference:  # the Python email-oauth2-proxy is tried up to its own maximum: include that level
        levels = sorted(set(levels) | {args.reference_max_sessions})
    if any(k > cap for k in levels):
        log(f"open files limit {soft}: a proxy can hold at most about {cap} sessions")
        levels = sorted({min(k, cap) for k in levels})
    log(f"seeding {count} messages of {size} bytes")
    seed_mailbox(count, size)
    upstream_port_file = os.path.join(harness.ENV["dir"], "light-upstream.port")
    upstream = subprocess.Popen(
        [args.client, "upstream", "--listen", "127.0.0.1:0", "--cert", harness.ENV["cert"],
         "--key", harness.ENV["key"], "--port-file", upstream_port_file],
        stdin=subprocess.DEVNULL)
    systems = None
    results = Results()
    failures: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(upstream_port_file) or not open(upstream_port_file).read():
            if time.monotonic() > deadline or upstream.poll() is not None:
                raise RuntimeError("the light upstream did not start")
            time.sleep(0.05)
        systems = Systems(args, int(open(upstream_port_file).read()))
        log("warming up (mailbox index, cached tokens)")
        for name in systems.names():
            systems.run_client("fetch", *systems.target(name))
            systems.run_client("smtp", *systems.target(name, "smtp"), "--n", "1", "--size", "1000")
        stages = {
            # 400 MB per measurement: CPU time is counted in 10 ms ticks, which must stay a
            # small part of a proxy's CPU for the transfer.
            "relay": lambda: measure_relay(systems, results, rounds, 2 if args.quick else 10),
            "logins": lambda: measure_logins(systems, results, max(2, rounds // 2 + 1), args.quick),
            "smtp": lambda: measure_smtp(systems, results, max(2, rounds // 2 + 1), args.quick),
            "backpressure": lambda: measure_backpressure(
                systems, results, 1 if args.quick else 3, args.stall_seconds, (count * size) // 10),
            "concurrency": lambda: measure_concurrency(systems, results, levels,
                                                       args.reference_max_sessions),
        }
        only = [stage for stage in args.only.split(",") if stage] or list(stages)
        for stage in only:
            log(f"{stage}")
            try:
                stages[stage]()
            except Exception as error:  # noqa: BLE001 - report and go on with the next stage
                log(f"{stage} failed: {type(error).__name__}: {error}")
                failures.append(stage)
    finally:
        if systems is not None:
            systems.stop()
        upstream.terminate()
        upstream.wait(10)
    results.print_lines()
    text = table(results, args, levels)
    with open(args.out, "w", encoding="utf-8") as file:
        file.write(text)
    print(text)
    log(f"table written to {args.out}")
    if failures:
        log(f"failed stages: {', '.join(failures)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
