"""Floods against the real mailgate binary: connections opened and never used (the limits per
listener and per source address), and wrong passwords against the encrypted token store (the
per-account back-off). Each case watches the proxy's memory, threads, descriptors and CPU time
in /proc and ends with a normal login.
"""

from __future__ import annotations

import base64
import errno
import math
import os
import re
import resource
import selectors
import socket
import threading
import time
import unittest

from harness import (
    Account,
    ENV,
    Grants,
    Mailgate,
    RawImap,
    TIMEOUT,
    free_port,
    imap_quote,
    require_mailgate,
    sasl_plain,
    tls_context,
)

# ---- the proxy process as /proc shows it ---------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (kB) and Threads of `pid`."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as file:
        for line in file:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(value.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time `pid` has consumed (utime + stime of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sockets_and_close_wait(pid: int) -> tuple[int, int]:
    """(open file descriptors of `pid`, its TCP sockets in CLOSE_WAIT)."""
    inodes = set()
    fds = os.listdir(f"/proc/{pid}/fd")
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    close_wait = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as file:
                next(file)
                for line in file:
                    fields = line.split()
                    if fields[3] == "08" and fields[9] in inodes:
                        close_wait += 1
        except FileNotFoundError:
            pass
    return len(fds), close_wait


def settled_descriptors(pid: int, timeout: float = 5.0) -> int:
    """The descriptor count of `pid` once two reads 0.3 s apart agree (bounded)."""
    deadline = time.monotonic() + timeout
    last = sockets_and_close_wait(pid)[0]
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = sockets_and_close_wait(pid)[0]
        if now == last:
            return now
        last = now
    return last


# ---- raw clients ---------------------------------------------------------------------------------


def read_line(sock: socket.socket, buffer: bytearray) -> bytes:
    """One CRLF line from `sock` (with what is already in `buffer`)."""
    sock.settimeout(TIMEOUT)
    while b"\r\n" not in buffer:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"connection closed; buffered {bytes(buffer)!r}")
        buffer += chunk
    end = buffer.index(b"\r\n") + 2
    line = bytes(buffer[:end])
    del buffer[:end]
    return line


def imap_login(port: int, user: str, password: str) -> bytes:
    """The tagged reply to LOGIN on a fresh connection (the connection is closed after)."""
    raw = RawImap("127.0.0.1", port)
    try:
        tagged, _ = raw.command(b"LOGIN " + imap_quote(user) + b" " + imap_quote(password))
        return tagged
    finally:
        raw.close()


def pop_login(port: int, user: str, password: str) -> bytes:
    """The reply to PASS after USER on a fresh connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        buffer = bytearray()
        greeting = read_line(sock, buffer)
        if not greeting.startswith(b"+OK"):
            raise AssertionError(f"unexpected POP3 greeting {greeting!r}")
        sock.sendall(f"USER {user}\r\n".encode())
        reply = read_line(sock, buffer)
        if not reply.startswith(b"+OK"):
            raise AssertionError(f"USER answered {reply!r}")
        sock.sendall(f"PASS {password}\r\n".encode())
        return read_line(sock, buffer)


def smtp_login(port: int, user: str, password: str) -> bytes:
    """The reply to AUTH PLAIN after EHLO on a fresh connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        buffer = bytearray()

        def reply() -> bytes:
            lines = b""
            while True:
                line = read_line(sock, buffer)
                lines += line
                if line[3:4] != b"-":
                    return lines

        greeting = reply()
        if not greeting.startswith(b"220"):
            raise AssertionError(f"unexpected SMTP greeting {greeting!r}")
        sock.sendall(b"EHLO client.test\r\n")
        ehlo = reply()
        if not ehlo.startswith(b"250"):
            raise AssertionError(f"EHLO answered {ehlo!r}")
        sock.sendall(b"AUTH PLAIN " + base64.b64encode(sasl_plain(user, password)) + b"\r\n")
        return reply()


def raise_descriptor_limit(test: unittest.TestCase, needed: int) -> None:
    """Raises this process's RLIMIT_NOFILE soft limit to its hard limit (mailgate, started
    afterwards, inherits it); skips the test when the hard limit is below `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        test.skipTest(f"the hard RLIMIT_NOFILE is {hard}, below the {needed} descriptors this "
                      f"flood needs (raise it with `ulimit -Hn` as root)")
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def close_all(sockets) -> None:
    for sock in sockets:
        try:
            sock.close()
        except OSError:
            pass


# ---- 1. ten thousand idle connections --------------------------------------------------------------


class ProxyIdleFloodTest(unittest.TestCase):
    """10,000 connections opened and never used: `max_connections` and
    `max_connections_per_address` refuse the rest with the exact refusal line and a log line,
    the proxy stays small and keeps serving, and everything is released when the clients go."""

    CONNECTIONS = 10_000
    FROM_SECOND_ADDRESS = 1_000  # of CONNECTIONS, from 127.0.0.2
    PER_LISTENER = 500
    PER_ADDRESS = 300
    TLS_LIMIT = 3
    TLS_CONNECTIONS = 20
    RSS_LIMIT_KB = 200 * 1024

    def setUp(self) -> None:
        require_mailgate(self)
        # The held sockets, the refused ones until they are read, and some to spare.
        raise_descriptor_limit(self, self.CONNECTIONS + self.TLS_CONNECTIONS + 500)
        self.account = Account("idleflood@example.test", "idle-flood-pass")
        self.account.register()
        upstream = {"server_address": ENV["dovecot_host"], "server_ca_file": ENV["ca"],
                    "local_address": "127.0.0.1", "server_port": str(ENV["imaps_port"])}
        self.limited, self.open_port, self.tls_port = free_port(), free_port(), free_port()
        self.proxy = Mailgate("idle-flood", {
            f"IMAP-{self.limited}": upstream | {
                "max_connections": str(self.PER_LISTENER),
                "max_connections_per_address": str(self.PER_ADDRESS),
                # The flood measures these two limits: the 500 admitted connections may all
                # be setting up their upstream connection at once (proxy_burst_tests.py
                # covers max_connection_attempts).
                "max_connection_attempts": str(self.PER_LISTENER)},
            f"IMAP-{self.open_port}": upstream,
            f"IMAP-{self.tls_port}": upstream | {
                "local_certificate_path": ENV["cert"], "local_key_path": ENV["key"],
                "max_connections": str(self.TLS_LIMIT)},
            self.account.name: self.account.section(),
        }).start()
        self.addCleanup(self.proxy.stop)
        self.pid = self.proxy.process.pid
        self.clients: list[socket.socket] = []
        self.addCleanup(close_all, self.clients)

    def login(self, port: int, source: str | None = None, tls: bool = False) -> None:
        """A normal LOGIN and SELECT on `port` (from `source`), then LOGOUT."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT,
                                        source_address=(source, 0) if source else None)
        self.login_on(sock, tls)

    def login_on(self, sock: socket.socket, tls: bool = False) -> None:
        sock.settimeout(TIMEOUT)
        if tls:
            sock = tls_context().wrap_socket(sock, server_hostname="127.0.0.1")
        raw = RawImap.__new__(RawImap)
        raw.sock, raw.buffer, raw.counter = sock, b"", 0
        try:
            raw.greeting = raw.line()
            self.assertTrue(raw.greeting.startswith(b"* OK"), raw.greeting)
            tagged, _ = raw.command(b"LOGIN " + imap_quote(self.account.name) + b" " +
                                    imap_quote(self.account.password))
            self.assertIn(b" OK", tagged)
            tagged, _ = raw.command(b"SELECT INBOX")
            self.assertIn(b" OK", tagged)
            raw.command(b"LOGOUT")
        finally:
            raw.close()

    def open_connections(self, count: int, source: str, port: int) -> list[socket.socket]:
        opened = []
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.clients.append(sock)
            sock.settimeout(TIMEOUT)
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            opened.append(sock)
        return opened

    def first_bytes(self, sockets: list[socket.socket], timeout: float = 45.0
                    ) -> dict[socket.socket, tuple[bytes, bool]]:
        """For each socket: its bytes up to the first CRLF (or all it sent before closing) and
        whether it was closed; waits until every socket has a line or is closed (bounded)."""
        state: dict[socket.socket, tuple[bytes, bool]] = {sock: (b"", False) for sock in sockets}
        selector = selectors.DefaultSelector()
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        waiting = len(sockets)
        deadline = time.monotonic() + timeout
        try:
            while waiting and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.5):
                    sock = key.fileobj
                    data, _closed = state[sock]
                    try:
                        chunk = sock.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    data += chunk
                    closed = not chunk
                    state[sock] = (data, closed)
                    if closed or b"\r\n" in data:
                        selector.unregister(sock)
                        waiting -= 1
        finally:
            selector.close()
        if waiting:
            raise AssertionError(f"{waiting} of {len(sockets)} connections got neither a line "
                                 f"nor a close within {timeout} s")
        return state

    def test_ten_thousand_idle_connections(self):
        # Warm up (token fetched and cached), then the baseline.
        self.login(self.open_port)
        time.sleep(0.5)
        baseline_fds = settled_descriptors(self.pid)
        baseline = proc_status(self.pid)
        mark = self.proxy.mark()
        started = time.monotonic()

        # Implicit TLS listener limited to TLS_LIMIT: the connections above it are closed
        # without a byte (a plain-text line would be garbage to a TLS client).
        tls_clients = self.open_connections(self.TLS_CONNECTIONS, "127.0.0.1", self.tls_port)

        # The flood: 9,000 from 127.0.0.1, then 1,000 from 127.0.0.2; nothing is sent.
        first = self.open_connections(self.CONNECTIONS - self.FROM_SECOND_ADDRESS,
                                      "127.0.0.1", self.limited)
        second = self.open_connections(self.FROM_SECOND_ADDRESS, "127.0.0.2", self.limited)
        opened = time.monotonic() - started

        tls_refused = self.closed_without_a_byte(tls_clients, self.TLS_CONNECTIONS - self.TLS_LIMIT)
        tls_held = [sock for sock in tls_clients if sock not in tls_refused]

        describe = (f"IMAP server at 127.0.0.1:{self.limited} (unsecured) proxying "
                    f"{ENV['dovecot_host']}:{ENV['imaps_port']} (SSL/TLS)")
        per_address = (f"{describe} rejecting new connection above the limit of "
                       f"{self.PER_ADDRESS} connections from one address")
        per_listener = (f"{describe} rejecting new connection above the limit of "
                        f"{self.PER_LISTENER} connections on this server")
        replies = self.first_bytes(first + second)
        counts: dict[str, dict[str, int]] = {"127.0.0.1": {}, "127.0.0.2": {}}
        unexpected = []
        for sock, (data, closed) in replies.items():
            source = "127.0.0.1" if sock in first else "127.0.0.2"
            if data.startswith(b"* OK") and not closed:
                kind = "held"
            elif data == f"* BYE {per_address}\r\n".encode():
                kind = "per_address"
            elif data == f"* BYE {per_listener}\r\n".encode():
                kind = "per_listener"
            else:
                kind = "other"
                unexpected.append(data[:200])
            counts[source][kind] = counts[source].get(kind, 0) + 1
        self.assertEqual(unexpected[:3], [], f"unexpected first lines ({len(unexpected)})")
        held = self.CONNECTIONS - self.FROM_SECOND_ADDRESS
        self.assertEqual(counts["127.0.0.1"], {"held": self.PER_ADDRESS,
                                               "per_address": held - self.PER_ADDRESS})
        self.assertEqual(counts["127.0.0.2"], {
            "held": self.PER_LISTENER - self.PER_ADDRESS,
            "per_listener": self.FROM_SECOND_ADDRESS - (self.PER_LISTENER - self.PER_ADDRESS)})

        # While all 10,000 client sockets are open: the log says why, the proxy is small and
        # its thread count did not follow the connections.
        logs = self.proxy.logs(mark)
        self.assertIn(per_address + " (connection from 127.0.0.1:", logs)
        self.assertIn(per_listener + " (connection from 127.0.0.2:", logs)
        self.assertIn(f"IMAP server at 127.0.0.1:{self.tls_port} (SSL/TLS) proxying "
                      f"{ENV['dovecot_host']}:{ENV['imaps_port']} (SSL/TLS) rejecting new "
                      f"connection above the limit of {self.TLS_LIMIT} connections on this server "
                      f"(connection from 127.0.0.1:", logs)
        during = proc_status(self.pid)
        during_fds, _ = sockets_and_close_wait(self.pid)
        self.assertLess(during["VmRSS"], self.RSS_LIMIT_KB, during)
        self.assertLess(during["VmHWM"], self.RSS_LIMIT_KB, during)
        self.assertLessEqual(during["Threads"], baseline["Threads"] + 4,
                             f"threads grew with the connections: {baseline} -> {during}")

        # The proxy keeps serving: logins on another listener and on a held TLS connection.
        # The limited listener is full (held connections count until they close), so a third
        # address is refused for the listener limit; once one held connection closes, its
        # place is free for 127.0.0.1 again.
        self.login(self.open_port)
        self.login_on(tls_held[0], tls=True)
        refused_third = socket.create_connection(("127.0.0.1", self.limited), timeout=TIMEOUT,
                                                 source_address=("127.0.0.3", 0))
        self.clients.append(refused_third)
        self.assertEqual(read_line(refused_third, bytearray()),
                         f"* BYE {per_listener}\r\n".encode())
        held_first = [sock for sock in first if not replies[sock][1]
                      and replies[sock][0].startswith(b"* OK")]
        held_first[0].close()
        self.login_after_release("127.0.0.1")

        # Every client goes; the proxy releases every session, socket and descriptor.
        close_all(self.clients)
        self.clients.clear()
        deadline = time.monotonic() + 30
        while True:
            fds, close_wait = sockets_and_close_wait(self.pid)
            if fds <= baseline_fds and close_wait == 0:
                break
            self.assertLess(time.monotonic(), deadline,
                            f"30 s after the clients closed: {fds} descriptors (baseline "
                            f"{baseline_fds}), {close_wait} sockets in CLOSE_WAIT")
            time.sleep(0.2)
        after = proc_status(self.pid)
        self.assertLessEqual(after["Threads"], baseline["Threads"] + 4)
        self.login(self.limited)
        self.login(self.limited, source="127.0.0.2")
        self.assertIsNone(self.proxy.process.poll())
        print(f"\n    idle flood: {self.CONNECTIONS} connections opened in {opened:.1f} s; "
              f"held {self.PER_LISTENER} + {self.TLS_LIMIT} TLS; RSS {baseline['VmRSS'] // 1024} "
              f"-> {during['VmRSS'] // 1024} MB (peak {during['VmHWM'] // 1024} MB); threads "
              f"{baseline['Threads']} -> {during['Threads']} -> {after['Threads']}; descriptors "
              f"{baseline_fds} -> {during_fds} -> {fds}; refusals logged "
              f"{logs.count('rejecting new connection')}", flush=True)

    @staticmethod
    def closed_without_a_byte(sockets: list[socket.socket], expected: int,
                              timeout: float = 20.0) -> list[socket.socket]:
        """The sockets the peer closed without sending a byte: waits (bounded) until `expected`
        are, then checks that the others are still open and silent (a held TLS connection
        waits for the client's hello)."""
        closed: list[socket.socket] = []
        selector = selectors.DefaultSelector()
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while len(closed) < expected and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.5):
                    try:
                        data = key.fileobj.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError as error:
                        if error.errno != errno.ECONNRESET:
                            raise
                        data = b""
                    if data:
                        raise AssertionError(f"the implicit TLS listener sent {data!r}")
                    closed.append(key.fileobj)
                    selector.unregister(key.fileobj)
            if len(closed) != expected:
                raise AssertionError(f"{len(closed)} connections to the implicit TLS listener "
                                     f"were closed, expected {expected}")
            ready = selector.select(timeout=0.3)
            if ready:
                raise AssertionError(f"{len(ready)} connections within the limit of the implicit "
                                     f"TLS listener were closed or sent bytes")
        finally:
            selector.close()
        return closed

    def login_after_release(self, source: str) -> None:
        """A login from `source` on the limited listener once the proxy has noticed a closed
        connection (bounded: a few refusals while it releases the place are fine)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            sock = socket.create_connection(("127.0.0.1", self.limited), timeout=TIMEOUT,
                                            source_address=(source, 0))
            sock.settimeout(TIMEOUT)
            first = sock.recv(1, socket.MSG_PEEK)
            if first == b"*" and sock.recv(5, socket.MSG_PEEK) == b"* OK ":
                self.login_on(sock)
                return
            sock.close()
            self.assertLess(time.monotonic(), deadline, "the closed connection's place was "
                                                        "never released")
            time.sleep(0.1)


# ---- 2. wrong passwords against the encrypted token store --------------------------------------------


class ProxyWrongPasswordFloodTest(unittest.TestCase):
    """Wrong passwords in a flood through IMAP, POP3 and SMTP for an account whose tokens are
    stored encrypted in the config file: each gets the exact refusal, the tokens stay, the
    back-off keeps key derivations (and so CPU) few, and the right password works afterwards."""

    ATTEMPTS = 40
    PARALLEL = 12  # two bursts; the rest of ATTEMPTS are sequential

    def setUp(self) -> None:
        require_mailgate(self)
        self.account = Account("guessed@example.test", "the-right-password")
        self.account.register()
        upstream = {"server_address": ENV["dovecot_host"], "server_ca_file": ENV["ca"],
                    "local_address": "127.0.0.1"}
        self.imap, self.pop, self.smtp = free_port(), free_port(), free_port()
        self.proxy = Mailgate("password-flood", {
            f"IMAP-{self.imap}": upstream | {"server_port": str(ENV["imaps_port"])},
            f"POP-{self.pop}": upstream | {"server_port": str(ENV["pop3s_port"])},
            f"SMTP-{self.smtp}": upstream | {"server_port": str(ENV["submission_port"]),
                                             "server_starttls": "True"},
            self.account.name: self.account.section(),
        }).start()
        self.addCleanup(self.proxy.stop)
        self.pid = self.proxy.process.pid

    def account_section(self) -> list[str]:
        """The account's section of the config file, line by line."""
        with open(self.proxy.config, encoding="utf-8") as file:
            text = file.read()
        match = re.search(r"(?ms)^\[" + re.escape(self.account.name) + r"\]\n(.*?)(?=^\[|\Z)", text)
        self.assertIsNotNone(match, f"no [{self.account.name}] section in\n{text}")
        return [line for line in match.group(1).splitlines() if line.strip()]

    def attempt(self, protocol: str, password: str) -> tuple[str, bytes]:
        port = {"imap": self.imap, "pop": self.pop, "smtp": self.smtp}[protocol]
        login = {"imap": imap_login, "pop": pop_login, "smtp": smtp_login}[protocol]
        return protocol, login(port, self.account.name, password)

    def classify(self, protocol: str, reply: bytes) -> str:
        """'incorrect' (the password was tried), 'backoff' (refused without trying), else
        the test fails: the reply must be exactly one of the two."""
        name = re.escape(self.account.name)
        incorrect = f"mailgate: login failed - the password for account {name} is incorrect"
        backoff = f"mailgate: too many failed logins for account {name} - retry in [0-9]+ s"
        prefix = {"imap": r"t1 NO \[AUTHENTICATIONFAILED\] ",
                  "pop": r"-ERR \[AUTH\] Authentication failed\. ",
                  "smtp": r"535 5\.7\.8 Authentication credentials invalid\. "}[protocol]
        text = reply.decode("utf-8", "replace")
        if re.fullmatch(prefix + incorrect + "\r\n", text):
            return "incorrect"
        if re.fullmatch(prefix + backoff + "\r\n", text):
            return "backoff"
        self.fail(f"{protocol}: unexpected reply to a wrong password: {text!r}")

    def burst(self, first_index: int) -> list[tuple[str, bytes]]:
        """PARALLEL wrong-password attempts at once over the three protocols."""
        protocols = ("imap", "pop", "smtp")
        results: list = [None] * self.PARALLEL

        def one(slot: int) -> None:
            index = first_index + slot
            try:
                results[slot] = self.attempt(protocols[index % 3], f"wrong-password-{index}")
            except Exception as error:  # noqa: BLE001 - reported below
                results[slot] = error

        threads = [threading.Thread(target=one, args=(slot,)) for slot in range(self.PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT * 3)
        errors = [result for result in results if not isinstance(result, tuple)]
        self.assertEqual(errors, [], "parallel attempts failed")
        return results

    def test_wrong_password_flood(self):
        # The right password first: the token is fetched and stored encrypted in the file.
        self.assertIn(b" OK", imap_login(self.imap, self.account.name, self.account.password))
        stored = self.account_section()
        keys = {line.split("=", 1)[0].strip() for line in stored}
        self.assertTrue({"access_token", "access_token_expiry", "token_salt",
                         "token_iterations"} <= keys, stored)
        grants = Grants(self.account.client_id)
        mark = self.proxy.mark()

        # One wrong password alone: never throttled, it costs one key derivation per iteration
        # count tried; its CPU time is the unit of the bound below.
        cpu_start = cpu_seconds(self.pid)
        replies = [self.attempt("imap", "wrong-password-0")]
        unit = cpu_seconds(self.pid) - cpu_start
        self.assertEqual(self.classify(*replies[0]), "incorrect")

        # The flood: sequential attempts over the three protocols, a parallel burst while the
        # account is blocked, and another once the back-off has passed; every password
        # differs, so no derived key can be reused.
        protocols = ("imap", "pop", "smtp")
        flood_start = time.monotonic()
        sequential = self.ATTEMPTS - 1 - 2 * self.PARALLEL
        for index in range(1, sequential + 1):
            replies.append(self.attempt(protocols[index % 3], f"wrong-password-{index}"))
        blocked_burst = self.burst(sequential + 1)
        replies.extend(blocked_burst)
        # The longest wait announced (the burst just ended, so it is at most that long).
        waits = [int(match.group(1)) for _, reply in blocked_burst
                 for match in [re.search(rb"retry in ([0-9]+) s", reply)] if match]
        self.assertTrue(waits, "no back-off reply in the burst while the account is blocked")
        self.assertLessEqual(max(waits), 30, "the back-off outlasts this test")
        time.sleep(max(waits) + 0.5)
        # Logins of one account wait for each other: one of the burst tries the password and
        # blocks the account again before the others are looked at.
        free_burst = self.burst(sequential + 1 + self.PARALLEL)
        replies.extend(free_burst)
        duration = time.monotonic() - flood_start
        cpu = cpu_seconds(self.pid) - cpu_start
        free_tried = [self.classify(*r) for r in free_burst].count("incorrect")
        self.assertGreaterEqual(free_tried, 1, "after the back-off no password was tried")
        self.assertLessEqual(free_tried, 2, f"{free_tried} of a parallel burst of {self.PARALLEL} "
                                            f"were tried: the back-off does not hold them")

        kinds = [self.classify(protocol, reply) for protocol, reply in replies]
        tried = kinds.count("incorrect")
        self.assertEqual(len(kinds), self.ATTEMPTS)
        self.assertEqual({p for p, _ in replies}, set(protocols))
        # The policy: the first two failures are tried at once, then the account waits 1, 2,
        # 4 ... s (whole seconds, so a wait may end up to a second early) before the next try.
        allowed = 3 + math.ceil(math.log2(duration + 2))
        self.assertLessEqual(tried, allowed,
                             f"{tried} of {self.ATTEMPTS} wrong passwords were tried in "
                             f"{duration:.1f} s; the back-off allows {allowed}")
        self.assertGreaterEqual(kinds.count("backoff"), self.ATTEMPTS - allowed)
        bound = 1.5 * unit * tried + 1.5
        self.assertLessEqual(cpu, bound,
                             f"the flood took {cpu:.2f} s of CPU; {tried} tries at {unit:.2f} s "
                             f"allow {bound:.2f} s")

        # Tokens kept, no token request, the cause logged.
        self.assertEqual(self.account_section(), stored, "the stored tokens changed")
        self.assertEqual(grants.new(), 0, "a wrong password caused a token request")
        logs = self.proxy.logs(mark)
        self.assertIn(f"mailgate: login failed - the password for account {self.account.name} "
                      f"is incorrect", logs)
        self.assertIn(f"mailgate: too many failed logins for account {self.account.name}", logs)

        # The right password works once the back-off has passed (it says how long).
        waited = 0.0
        for _ in range(4):
            reply = imap_login(self.imap, self.account.name, self.account.password)
            if b" OK" in reply:
                break
            self.assertEqual(self.classify("imap", reply), "backoff", reply)
            seconds = int(re.search(rb"retry in ([0-9]+) s", reply).group(1))
            self.assertLessEqual(waited + seconds, 30, "the back-off outlasts this test")
            time.sleep(seconds + 0.5)
            waited += seconds + 0.5
        self.assertIn(b" OK", reply)
        self.assertTrue(pop_login(self.pop, self.account.name,
                                  self.account.password).startswith(b"+OK"))
        self.assertTrue(smtp_login(self.smtp, self.account.name,
                                   self.account.password).startswith(b"235"))
        self.assertEqual(grants.new(), 0, "the right password after the flood fetched a token")
        print(f"\n    wrong-password flood: {self.ATTEMPTS} attempts in {duration:.1f} s, "
              f"{tried} tried ({free_tried} of the burst after the back-off), "
              f"{kinds.count('backoff')} backed off; CPU {cpu:.2f} s (one try "
              f"{unit:.2f} s; bound {bound:.2f} s); waited {waited:.1f} s for the right password",
              flush=True)


if __name__ == "__main__":
    unittest.main()
