"""Bursts, slow servers and slow providers against the real mailgate binary and real Dovecot:
every client is answered (greeted or refused with a reason) and none is left silent, the
descriptors of clients that left are released, a token endpoint that never answers fails only
the logins of its own account (as a temporary failure, within `token_request_timeout`), and
clients that send nothing before login are closed with the protocol's goodbye.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
import unittest

from harness import ENV, Account, Mailgate, TIMEOUT, free_port, require_mailgate, tls_context
from proxy_flood_tests import (
    close_all,
    imap_login,
    pop_login,
    proc_status,
    raise_descriptor_limit,
    read_line,
    settled_descriptors,
    smtp_login,
    sockets_and_close_wait,
)

PROTOCOLS = ("imap", "pop", "smtp")
GREETING = {"imap": b"* OK", "pop": b"+OK", "smtp": b"220"}
REFUSAL = {"imap": b"* BYE ", "pop": b"-ERR ", "smtp": b"421 "}
LOGIN = {"imap": imap_login, "pop": pop_login, "smtp": smtp_login}


def upstream(protocol: str) -> dict[str, str]:
    """A server section towards Dovecot's implicit-TLS port of `protocol`."""
    port = {"imap": "imaps_port", "pop": "pop3s_port", "smtp": "submissions_port"}[protocol]
    return {"server_address": ENV["dovecot_host"], "server_port": str(ENV[port]),
            "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"}


def first_lines(sockets: list[socket.socket], deadline: float) -> dict[socket.socket, bytes]:
    """Each socket's first line (or b"" when the peer closed without one), read until every
    socket has one or `deadline` (monotonic) passes; sockets still silent then are missing."""
    got: dict[socket.socket, bytes] = {}
    partial: dict[socket.socket, bytes] = {sock: b"" for sock in sockets}
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    try:
        while len(got) < len(sockets) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj
                try:
                    chunk = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                data = partial[sock] + chunk
                partial[sock] = data
                if not chunk or b"\r\n" in data:
                    got[sock] = data.split(b"\r\n", 1)[0] + (b"\r\n" if b"\r\n" in data else b"")
                    selector.unregister(sock)
    finally:
        selector.close()
    return got


class ProxyBurstTest(unittest.TestCase):
    """2,000 connections at once on each protocol's listener, left idle: every one is greeted or
    refused with a reason within 20 s, a normal login during the burst succeeds, and 10 s after
    the clients leave the proxy holds no more descriptors than before (+20)."""

    CONNECTIONS = 2_000
    ANSWERED_WITHIN = 20.0
    RELEASED_WITHIN = 10.0

    def setUp(self) -> None:
        require_mailgate(self)
        raise_descriptor_limit(self, 3 * self.CONNECTIONS + 1_000)
        self.account = Account("burstlogin@example.test", "burst-login-pass")
        self.account.register()
        self.ports = {protocol: free_port() for protocol in PROTOCOLS}
        self.proxy = Mailgate("burst", {
            f"IMAP-{self.ports['imap']}": upstream("imap"),
            f"POP-{self.ports['pop']}": upstream("pop"),
            f"SMTP-{self.ports['smtp']}": upstream("smtp"),
            self.account.name: self.account.section(),
        }).start()
        self.addCleanup(self.proxy.stop)
        self.pid = self.proxy.process.pid
        self.clients: list[socket.socket] = []
        self.addCleanup(close_all, self.clients)

    def burst(self, protocol: str) -> None:
        port = self.ports[protocol]
        # Warm up (the account's token fetched and cached), then the baseline.
        self.assertIn(b"OK" if protocol == "imap" else b"+OK" if protocol == "pop" else b"235",
                      LOGIN[protocol](port, self.account.name, self.account.password))
        baseline_fds = settled_descriptors(self.pid)
        mark = self.proxy.mark()
        started = time.monotonic()
        sockets = []
        for _ in range(self.CONNECTIONS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.clients.append(sock)
            sock.settimeout(TIMEOUT)
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            sockets.append(sock)
        opened = time.monotonic() - started
        lines = first_lines(sockets, started + self.ANSWERED_WITHIN)
        answered = time.monotonic() - started
        silent = len(sockets) - len(lines)
        counts: dict[str, int] = {}
        unexpected = []
        for line in lines.values():
            if line.startswith(GREETING[protocol]):
                kind = "greeted"
            elif line.startswith(REFUSAL[protocol]) and b"max_connection_attempts" in line:
                kind = "refused: attempts"
            elif line.startswith(REFUSAL[protocol]) and b"Timed out after" in line:
                kind = "refused: timeout"
            else:
                kind = "other"
                unexpected.append(line[:200])
            counts[kind] = counts.get(kind, 0) + 1
        self.assertEqual(silent, 0, f"{protocol}: {silent} of {self.CONNECTIONS} connections got "
                                    f"nothing within {self.ANSWERED_WITHIN} s ({counts})")
        self.assertEqual(unexpected[:3], [], f"{protocol}: unexpected first lines")
        self.assertGreater(counts.get("greeted", 0), 0, counts)
        if counts.get("refused: attempts"):
            self.assertIn("connections to the server are already being set up "
                          "(max_connection_attempts)", self.proxy.logs(mark))

        # During the burst (every client socket still open): the proxy's size, and a login.
        during = proc_status(self.pid)
        during_fds, _ = sockets_and_close_wait(self.pid)
        reply = LOGIN[protocol](port, self.account.name, self.account.password)
        self.assertTrue(reply.startswith({"imap": b"", "pop": b"+OK", "smtp": b"235"}[protocol])
                        and (protocol != "imap" or b" OK " in reply), f"{protocol}: {reply!r}")

        # The clients leave: every session and descriptor goes within RELEASED_WITHIN.
        close_all(sockets)
        self.clients.clear()
        left = time.monotonic()
        while True:
            fds, close_wait = sockets_and_close_wait(self.pid)
            if fds <= baseline_fds + 20 and close_wait == 0:
                break
            self.assertLess(time.monotonic() - left, self.RELEASED_WITHIN,
                            f"{protocol}: {self.RELEASED_WITHIN} s after the clients left: {fds} "
                            f"descriptors (baseline {baseline_fds}), {close_wait} in CLOSE_WAIT")
            time.sleep(0.2)
        released = time.monotonic() - left
        self.assertIsNone(self.proxy.process.poll())
        self.wait_for_dovecot(protocol)
        print(f"\n    {protocol} burst: {self.CONNECTIONS} connections opened in {opened:.1f} s, "
              f"all answered in {answered:.1f} s: {dict(sorted(counts.items()))}; RSS "
              f"{during['VmRSS'] // 1024} MB (peak {during['VmHWM'] // 1024} MB); descriptors "
              f"{baseline_fds} -> {during_fds} -> {fds} in {released:.1f} s", flush=True)

    @staticmethod
    def wait_for_dovecot(protocol: str) -> None:
        """Waits (bounded) until Dovecot greets a new connection on the burst's port at once
        again: its login processes drop thousands of connections after a burst, and the next
        test must not meet them busy."""
        port = {"imap": "imaps_port", "pop": "pop3s_port", "smtp": "submissions_port"}[protocol]
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection((ENV["dovecot_host"], ENV[port]), timeout=2) as raw:
                    with tls_context().wrap_socket(raw, server_hostname="localhost") as sock:
                        if sock.recv(4096).startswith(GREETING[protocol]):
                            return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"Dovecot's {protocol} port did not greet within 60 s "
                                     f"after the burst")
            time.sleep(0.5)

    def test_imap_burst(self):
        self.burst("imap")

    def test_pop3_burst(self):
        self.burst("pop")

    def test_smtp_burst(self):
        self.burst("smtp")


class HangingEndpoint:
    """A token endpoint that accepts connections and never answers (loopback, bounded)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.held: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.held.append(conn)

    def count(self) -> int:
        with self.lock:
            return self.accepted

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            close_all(self.held)


class ProxySlowProviderTest(unittest.TestCase):
    """A token endpoint that accepts and never answers: each protocol's client gets its
    temporary-failure reply naming the account and the cause within `token_request_timeout`,
    while another account logs in normally at the same time; the next login tries again."""

    TIMEOUT_SECONDS = 3

    def setUp(self) -> None:
        require_mailgate(self)
        self.endpoint = HangingEndpoint()
        self.addCleanup(self.endpoint.close)
        self.hanging = Account("hanging@example.test", "hanging-pass",
                               token_url=f"http://127.0.0.1:{self.endpoint.port}/token")
        self.normal = Account("prompt@example.test", "prompt-pass")
        self.normal.register()
        self.ports = {protocol: free_port() for protocol in PROTOCOLS}
        self.proxy = Mailgate("slow-provider", {
            "emailproxy": {"token_request_timeout": str(self.TIMEOUT_SECONDS)},
            f"IMAP-{self.ports['imap']}": upstream("imap"),
            f"POP-{self.ports['pop']}": upstream("pop"),
            f"SMTP-{self.ports['smtp']}": upstream("smtp"),
            self.hanging.name: self.hanging.section(),
            self.normal.name: self.normal.section(),
        }).start()
        self.addCleanup(self.proxy.stop)

    def test_a_hanging_token_endpoint_fails_only_its_own_account(self):
        expected = {
            "imap": rb"^\S+ NO \[UNAVAILABLE\] ",
            "pop": rb"^-ERR \[SYS/TEMP\] Temporary authentication failure\. ",
            "smtp": rb"^454 4\.7\.0 Temporary authentication failure\. ",
        }
        cause = (rb"mailgate: token request for account hanging@example\.test failed: could not "
                 rb"reach the token endpoint: .*timed out after 3 s")
        for attempt in (1, 2):
            for protocol in PROTOCOLS:
                port = self.ports[protocol]
                before = self.endpoint.count()
                result: dict[str, object] = {}

                def hang() -> None:
                    started = time.monotonic()
                    result["reply"] = LOGIN[protocol](port, self.hanging.name,
                                                      self.hanging.password)
                    result["elapsed"] = time.monotonic() - started

                thread = threading.Thread(target=hang)
                thread.start()
                # While that login waits for its token: the other account is not held up.
                time.sleep(0.5)
                started = time.monotonic()
                normal = LOGIN[protocol](port, self.normal.name, self.normal.password)
                normal_elapsed = time.monotonic() - started
                self.assertTrue(b"OK" in normal or normal.startswith(b"235"), normal)
                self.assertLess(normal_elapsed, self.TIMEOUT_SECONDS - 0.5,
                                f"{protocol}: the other account waited {normal_elapsed:.1f} s")
                thread.join(TIMEOUT)
                self.assertFalse(thread.is_alive())
                reply = result["reply"]
                self.assertRegex(reply, expected[protocol])
                self.assertRegex(reply, cause)
                self.assertGreaterEqual(result["elapsed"], self.TIMEOUT_SECONDS - 0.5)
                self.assertLess(result["elapsed"], self.TIMEOUT_SECONDS + 3, protocol)
                # Each login asked again: the failure was not remembered as final.
                self.assertEqual(self.endpoint.count(), before + 1,
                                 f"{protocol}, attempt {attempt}")
        print(f"\n    slow provider: {self.endpoint.count()} token requests timed out after "
              f"{self.TIMEOUT_SECONDS} s; the other account logged in meanwhile", flush=True)


class SilentUpstream:
    """A server that accepts TCP connections and never sends a byte (no TLS, no greeting)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)

    def open_connections(self) -> int:
        """Connections the proxy has not closed yet (what it sent is read and dropped)."""
        count = 0
        for conn in self.held:
            conn.setblocking(False)
            try:
                while conn.recv(4096):
                    pass
            except BlockingIOError:
                count += 1
            except OSError:
                pass
        return count

    def close(self) -> None:
        self.listener.close()
        close_all(self.held)


class ProxyBoundedWaitTest(unittest.TestCase):
    """Idle clients before login are closed with each protocol's goodbye after
    `client_idle_timeout`; a server that never starts TLS is given up after
    `server_tls_timeout` with a refusal that names it, and a client that leaves first takes the
    upstream connection with it."""

    def setUp(self) -> None:
        require_mailgate(self)
        self.silent = SilentUpstream()
        self.addCleanup(self.silent.close)
        self.ports = {protocol: free_port() for protocol in PROTOCOLS}
        self.silent_port = free_port()
        self.proxy = Mailgate("bounded-waits", {
            **{f"{ {'imap': 'IMAP', 'pop': 'POP', 'smtp': 'SMTP'}[p] }-{self.ports[p]}":
               upstream(p) | {"client_idle_timeout": "2"} for p in PROTOCOLS},
            f"IMAP-{self.silent_port}": {"server_address": "127.0.0.1",
                                         "server_port": str(self.silent.port),
                                         "server_tls_timeout": "2",
                                         "local_address": "127.0.0.1"},
        }).start()
        self.addCleanup(self.proxy.stop)

    def test_idle_clients_get_the_protocols_goodbye(self):
        goodbye = {"imap": b"* BYE Autologout; idle for too long\r\n",
                   "pop": b"-ERR Autologout; idle for too long\r\n",
                   "smtp": b"421 4.4.2 Idle for too long, closing transmission channel\r\n"}
        for protocol in PROTOCOLS:
            with socket.create_connection(("127.0.0.1", self.ports[protocol]),
                                          timeout=TIMEOUT) as sock:
                buffer = bytearray()
                self.assertTrue(read_line(sock, buffer).startswith(GREETING[protocol]))
                started = time.monotonic()
                # One byte every half second never completes a command.
                for byte in b"NOO":
                    time.sleep(0.5)
                    sock.sendall(bytes([byte]))
                self.assertEqual(read_line(sock, buffer), goodbye[protocol])
                elapsed = time.monotonic() - started
                self.assertGreaterEqual(elapsed, 1.8)
                self.assertLess(elapsed, 6)
                self.assertEqual(sock.recv(100), b"")

    def test_a_server_that_never_starts_tls_is_given_up_with_a_reason(self):
        mark = self.proxy.mark()
        with socket.create_connection(("127.0.0.1", self.silent_port), timeout=TIMEOUT) as sock:
            started = time.monotonic()
            line = read_line(sock, bytearray())
            elapsed = time.monotonic() - started
        self.assertEqual(line, f"* BYE Timed out after 2 s in the TLS handshake with the server "
                               f"127.0.0.1:{self.silent.port}\r\n".encode())
        self.assertGreaterEqual(elapsed, 1.8)
        self.assertLess(elapsed, 6)
        self.proxy.wait_for_log(r"Timed out after 2 s in the TLS handshake with the server "
                                r"127\.0\.0\.1:\d+ \(server_tls_timeout\)", since=mark)
        # A client that leaves before the limit takes its upstream connection with it.
        before = len(self.silent.held)
        sock = socket.create_connection(("127.0.0.1", self.silent_port), timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while len(self.silent.held) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.silent.held), before + 1)
        sock.close()
        time.sleep(0.5)
        self.assertEqual(self.silent.open_connections(), 0)
