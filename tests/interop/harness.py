"""Shared machinery of the interop suite: the run's environment, the mock provider's client,
message helpers, a raw IMAP client, mailgate processes, the accounts and the shared mailgate
instance, and the result class that counts passes and pending gaps.
"""

from __future__ import annotations

import functools
import glob
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid


ENV: dict = {}
TIMEOUT = 20  # seconds for any single network operation
DEBUG = os.environ.get("MAILGATE_INTEROP_DEBUG") == "1"
REQUIRE_PROXY = os.environ.get("MAILGATE_INTEROP_REQUIRE_PROXY") == "1"


def load_env() -> None:
    path = os.environ.get("INTEROP_ENV")
    if not path:
        sys.exit("INTEROP_ENV is not set: run this suite with tests/interop/run")
    with open(path, encoding="utf-8") as file:
        ENV.update(json.load(file))


# ---- helpers ----------------------------------------------------------------------------------


def tls_context() -> ssl.SSLContext:
    """A client context that trusts only the run's test CA and checks host names."""
    return ssl.create_default_context(cafile=ENV["ca"])


def seed_messages() -> list[bytes]:
    """The seeded mailbox's messages in order, as `seed.py` wrote them (CRLF)."""
    messages = []
    for path in sorted(glob.glob(os.path.join(ENV["seed_dir"], "*.eml"))):
        with open(path, "rb") as file:
            messages.append(file.read())
    return messages


def xoauth2(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer(user: str, token: str) -> bytes:
    return f"n,a={user},\x01auth=Bearer {token}\x01\x01".encode()


def sasl_plain(user: str, password: str) -> bytes:
    return b"\0" + user.encode() + b"\0" + password.encode()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class OAuth:
    """Client of the mock provider's token, control and statistics endpoints."""

    @staticmethod
    def request(path: str, body: bytes | None = None, content_type: str = "application/json") -> dict:
        request = urllib.request.Request(ENV["oauth_url"] + path, data=body,
                                         headers={"Content-Type": content_type} if body else {})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            return json.loads(error.read() or b"{}") | {"http_status": error.code}

    @classmethod
    def control(cls, **command) -> dict:
        result = cls.request("/_control", json.dumps(command).encode())
        if not result.get("ok", "access_token" in result):
            raise AssertionError(f"mock OAuth control {command} failed: {result}")
        return result

    @classmethod
    def stats(cls) -> dict:
        return cls.request("/_stats")

    @classmethod
    def introspections(cls, username: str) -> dict:
        return cls.stats()["introspect_by_user"].get(username, {"active": 0, "inactive": 0})

    @classmethod
    def client_credentials(cls, client_id: str, client_secret: str) -> dict:
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                       "client_secret": client_secret, "scope": "mail"}).encode()
        return cls.request("/token", body, "application/x-www-form-urlencoded")


class Grants:
    """Token requests (and authorize visits) of one client at the mock provider since this
    object was made."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        stats = OAuth.stats()
        self.start = dict(stats["by_client"].get(client_id, {}))
        self.start_authorize = stats["authorize_by_client"].get(client_id, 0)

    def new(self, grant: str | None = None) -> int:
        now = OAuth.stats()["by_client"].get(self.client_id, {})
        if grant is not None:
            return now.get(grant, 0) - self.start.get(grant, 0)
        return sum(now.values()) - sum(self.start.values())

    def authorizations(self) -> int:
        """Visits of the authorize endpoint with this client_id."""
        return OAuth.stats()["authorize_by_client"].get(self.client_id, 0) - self.start_authorize

    def scopes(self) -> dict[str, dict[str, int]]:
        """The `scope` values this client sent, by endpoint ("token", "authorize"), with counts
        (since the provider started, not since this object was made)."""
        return OAuth.stats()["scopes_by_client"].get(self.client_id, {})


class Introspections:
    """Introspection requests for one user since this object was made."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.start = OAuth.introspections(username)

    def new(self, kind: str) -> int:
        return OAuth.introspections(self.username)[kind] - self.start[kind]


def direct_token(user: str) -> str:
    """A fresh access token for `user` by the client credentials grant at the mock provider."""
    client_id = "direct-" + user
    OAuth.control(action="add_client", client_id=client_id, client_secret="direct-secret",
                  username=user)
    response = OAuth.client_credentials(client_id, "direct-secret")
    if "access_token" not in response:
        raise AssertionError(f"token request failed: {response}")
    return response["access_token"]


def one_shot(payload: bytes):
    """An imaplib/smtplib authenticator: the payload first, then an empty answer to any
    error challenge (XOAUTH2 and OAUTHBEARER servers send one before the final NO)."""
    calls = []

    def answer(challenge=None):
        calls.append(challenge)
        return payload if len(calls) == 1 else b""

    return answer


def sink_messages() -> list[tuple[dict, bytes]]:
    result = []
    for meta_path in sorted(glob.glob(os.path.join(ENV["sink_dir"], "*.json"))):
        with open(meta_path, encoding="utf-8") as file:
            meta = json.load(file)
        with open(meta_path[:-5] + ".eml", "rb") as file:
            result.append((meta, file.read()))
    return result


def wait_for_sink(marker: bytes, timeout: float = TIMEOUT) -> tuple[dict, bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for meta, data in sink_messages():
            if marker in data:
                return meta, data
        time.sleep(0.05)
    raise AssertionError(f"no message containing {marker!r} reached the SMTP sink")


def make_message(marker: str, body: bytes, sender: str, recipient: str) -> bytes:
    return (
        f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: {marker}\r\n"
        f"Message-ID: <{marker}@example.test>\r\nDate: Mon, 2 Mar 2026 12:00:00 +0000\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body


# A body that exercises dot-stuffing (leading dots, a lone dot, a dot line at the very end)
# and 8-bit text.
TRICKY_BODY = (
    ".leading dot\r\n"
    "..two leading dots\r\n"
    ".\r\n"
    "a line after a lone dot\r\n"
    "Grüße, naïve café, 日本語\r\n"
    " .space then dot\r\n"
    "..\r\n"
).encode()


def assert_relayed(test: unittest.TestCase, sent: bytes, marker: str) -> dict:
    """The message with `marker` reached the sink with exactly the bytes sent (Dovecot only
    prepends its Received header)."""
    meta, stored = wait_for_sink(marker.encode())
    test.assertTrue(stored.endswith(sent),
                    f"relayed message differs from what was sent:\nsent   {sent!r}\nstored {stored!r}")
    prefix = stored[: len(stored) - len(sent)]
    test.assertTrue(prefix == b"" or (prefix.startswith(b"Received: ") and prefix.endswith(b"\r\n")),
                    f"unexpected text before the message: {prefix!r}")
    return meta


def save_message(user: str, message: bytes) -> None:
    """Deliver `message` to `user`'s INBOX at Dovecot with `doveadm save` (as the run script
    seeds its mailbox)."""
    result = subprocess.run(["doveadm", "-c", ENV["dovecot_conf"], "save", "-u", user],
                            input=message, capture_output=True, timeout=TIMEOUT)
    if result.returncode != 0:
        raise AssertionError(f"doveadm save for {user} failed: {result.stderr!r}")


def dovecot_logins(user: str) -> list[str]:
    """Dovecot's `Login:` log lines for `user` (they name the mechanism and TLS)."""
    with open(ENV["dovecot_log"], encoding="utf-8", errors="replace") as file:
        return [line for line in file if "Login: user=<" + user + ">" in line]


# ---- a minimal raw IMAP client for what imaplib cannot do (IDLE, literal LOGIN) --------------


class RawImap:
    """A line-and-literal IMAP client over a plain or TLS socket, reading the greeting."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None = None,
                 server_hostname: str | None = None) -> None:
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=server_hostname or host)
        self.sock = sock
        self.buffer = b""
        self.counter = 0
        self.greeting = self.line()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self, timeout: float = TIMEOUT) -> bytes:
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; buffered {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_exact(self, size: int) -> bytes:
        self.sock.settimeout(TIMEOUT)
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside a literal")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def tag(self) -> bytes:
        self.counter += 1
        return b"t%d" % self.counter

    def until_tagged(self, tag: bytes, timeout: float = TIMEOUT) -> tuple[bytes, list[bytes]]:
        """Read responses (with literals) up to the tagged one; returns (tagged line, others)."""
        others = []
        while True:
            line = self.line(timeout)
            match = re.search(rb"\{(\d+)\}\r\n$", line)
            if match:
                line += self.read_exact(int(match.group(1)))
                while True:  # the rest of the response after the literal
                    more = self.line(timeout)
                    line += more
                    inner = re.search(rb"\{(\d+)\}\r\n$", more)
                    if not inner:
                        break
                    line += self.read_exact(int(inner.group(1)))
            if line.startswith(tag + b" "):
                return line, others
            others.append(line)

    def command(self, text: bytes, timeout: float = TIMEOUT) -> tuple[bytes, list[bytes]]:
        tag = self.tag()
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tagged(tag, timeout)

    def expect_continuation(self) -> bytes:
        line = self.line()
        if not line.startswith(b"+"):
            raise AssertionError(f"expected a continuation request, got {line!r}")
        return line


# ---- mailgate process management --------------------------------------------------------------

_HELP: str | None = None


def mailgate_help() -> str:
    global _HELP
    if _HELP is None:
        try:
            result = subprocess.run([ENV["mailgate"], "--help"], capture_output=True, timeout=10)
            _HELP = (result.stdout + result.stderr).decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired) as error:
            _HELP = f"(mailgate --help failed: {error})"
    return _HELP


def require_mailgate(test: unittest.TestCase, *options: str) -> None:
    """Skip (or fail with MAILGATE_INTEROP_REQUIRE_PROXY=1) unless `mailgate --help` lists
    every option in `options`."""
    text = mailgate_help()
    missing = [option for option in ("--config-file",) + options if option not in text]
    if missing:
        first_line = text.strip().splitlines()[0] if text.strip() else "(no output)"
        reason = (f"mailgate does not offer {', '.join(missing)} yet "
                  f"(`mailgate --help` says: {first_line!r})")
        if REQUIRE_PROXY:
            test.fail(reason)
        test.skipTest(reason)


def pending(gap: str):
    """Mark a test of behaviour mailgate does not have yet: while it fails it is reported as
    skipped with `gap` (a failure with MAILGATE_INTEROP_REQUIRE_PROXY=1); once it passes it
    counts as passed and the marker should go."""

    def wrap(test):
        @functools.wraps(test)
        def run(self, *args, **kwargs):
            try:
                return test(self, *args, **kwargs)
            except unittest.SkipTest:
                raise
            except Exception as error:  # noqa: BLE001 - any failure of a pending behaviour
                if REQUIRE_PROXY:
                    raise
                detail = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
                raise unittest.SkipTest(f"pending in mailgate: {gap} "
                                        f"({type(error).__name__}: {detail})") from error
        return run

    return wrap


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Mailgate:
    """One mailgate process with its own config file, log file and output capture."""

    running: list["Mailgate"] = []  # every instance made in this run, for failure diagnosis

    def __init__(self, name: str, sections: dict[str, dict[str, str]],
                 extra_args: tuple[str, ...] = (),
                 environment: dict[str, str] | None = None) -> None:
        self.name = name
        self.sections = sections
        self.extra_args = extra_args
        self.environment = environment  # added to the suite's own environment
        self.dir = os.path.join(ENV["dir"], "proxy", name)
        shutil.rmtree(self.dir, ignore_errors=True)  # a fresh start: no cached tokens, no old logs
        os.makedirs(self.dir)
        self.config = os.path.join(self.dir, "emailproxy.config")
        self.log_file = os.path.join(self.dir, "mailgate.log")
        self.output_file = os.path.join(self.dir, "output.log")
        self.process: subprocess.Popen | None = None
        Mailgate.running.append(self)

    def write_config(self) -> None:
        lines = ["# Written by the interop suite."]
        for section, values in self.sections.items():
            lines.append(f"\n[{section}]")
            lines.extend(f"{key} = {value}" for key, value in values.items())
        with open(self.config, "w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")

    def local_ports(self) -> list[int]:
        ports = []
        for section, values in self.sections.items():
            match = re.fullmatch(r"(IMAP|POP|SMTP)-(\d+)", section)
            if match:
                ports.append(int(match.group(2)))
        return ports

    def start(self, write_config: bool = True, program: str | None = None) -> "Mailgate":
        """Start the proxy (`program` instead of mailgate: a compatible proxy, e.g. the Python
        reference) and wait until it listens on every local port of `sections`."""
        if write_config:
            self.write_config()
        args = [program or ENV["mailgate"], "--config-file", self.config, "--log-file",
                self.log_file, "--no-gui", *self.extra_args]
        if DEBUG:
            args.append("--debug")
        output = open(self.output_file, "ab")
        environment = os.environ | (self.environment or {})
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        env=environment)
        output.close()
        with open(ENV["pids_file"], "a", encoding="utf-8") as file:
            file.write(f"{self.process.pid}\n")
        deadline = time.monotonic() + TIMEOUT
        pending = self.local_ports()
        while pending:
            if self.process.poll() is not None:
                raise AssertionError(f"mailgate {self.name} exited with status "
                                     f"{self.process.returncode}:\n{self.logs()[-3000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"mailgate {self.name} did not listen on {pending} within "
                                     f"{TIMEOUT} s:\n{self.logs()[-3000:]}")
            pending = [port for port in pending if not port_open("127.0.0.1", port)]
            if pending:
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def logs(self, since: dict[str, int] | None = None) -> str:
        """The log file and the captured output, each from its `since` offset (see `mark`)."""
        text = ""
        for path in (self.log_file, self.output_file):
            try:
                with open(path, "rb") as file:
                    file.seek((since or {}).get(path, 0))
                    text += file.read().decode("utf-8", "replace")
            except FileNotFoundError:
                pass
        return text

    def mark(self) -> dict[str, int]:
        """Current log sizes; `wait_for_log(..., since=mark)` looks only at what follows."""
        sizes = {}
        for path in (self.log_file, self.output_file):
            try:
                sizes[path] = os.path.getsize(path)
            except FileNotFoundError:
                sizes[path] = 0
        return sizes

    def wait_for_log(self, pattern: str, timeout: float = TIMEOUT,
                     since: dict[str, int] | None = None) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.logs(since))
            if match:
                return match
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"mailgate {self.name} never logged /{pattern}/:\n{self.logs()[-3000:]}")


# ---- accounts and the shared mailgate instance -------------------------------------------


class Account:
    """An account section of the proxy's config and the matching client at the mock provider."""

    def __init__(self, name: str, password: str, flow: str = "client_credentials",
                 **options: str) -> None:
        self.name = name
        self.password = password
        self.flow = flow
        self.client_id = "client-" + name.split("@")[0]
        self.client_secret = "secret-" + name.split("@")[0]
        self.options = options

    def register(self) -> None:
        OAuth.control(action="add_client", client_id=self.client_id,
                      client_secret=self.client_secret, username=self.name)
        if self.flow == "password":
            OAuth.control(action="add_user", username=self.name, password=self.password)

    def section(self) -> dict[str, str]:
        values = {
            "token_url": ENV["oauth_url"] + "/token",
            "oauth2_scope": "mail",
            "oauth2_flow": self.flow,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        values.update(self.options)
        return values


# Passwords with characters IMAP must quote or escape (space, quotes, backslash).
SEED = Account("seed@example.test", 'seed pass "quoted" \\ back')
MAILBOX = Account("cc@example.test", 'cc pass "quoted" \\ back')
SENDER = Account("smtp@example.test", "smtp-pass-1")
CACHED = Account("cached@example.test", "cached-pass")
REVOKED = Account("revoke@example.test", "revoke-pass")
BURST = Account("burst@example.test", "burst-pass")
WRONG = Account("wrongpw@example.test", "right-pass")
FAIL500 = Account("fail500@example.test", "fail500-pass")
FAILGRANT = Account("failgrant@example.test", "failgrant-pass")
RETRY = Account("retry@example.test", "retry-pass")
IN_A_ROW = Account("inarow@example.test", "inarow-pass")
OUTAGE = Account("outage@example.test", "outage-pass")
ROPC = Account("ropc@example.test", "ropc-secret", flow="password")
EXPIRY = Account("expiry@example.test", "expiry-secret", flow="password")
BEARER = Account("bearer@example.test", "bearer-pass", upstream_sasl="oauthbearer")
MAIN_ACCOUNTS = [SEED, MAILBOX, SENDER, CACHED, REVOKED, BURST, WRONG, FAIL500, FAILGRANT, RETRY,
                 IN_A_ROW, OUTAGE, ROPC, EXPIRY, BEARER]


def imap_quote(text: str) -> bytes:
    return b'"' + text.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class MainProxy:
    """The shared mailgate instance: every listener kind and the MAIN_ACCOUNTS."""

    instance: Mailgate | None = None
    failure: str | None = None
    ports: dict[str, int] = {}

    @classmethod
    def get(cls) -> Mailgate:
        if cls.failure is not None:
            raise AssertionError(cls.failure)
        if cls.instance is None:
            for account in MAIN_ACCOUNTS:
                account.register()
            ports = {name: free_port() for name in (
                "imap", "imap_starttls", "imap_tls", "imap_upstream_starttls", "pop", "pop_stls",
                "pop_tls", "pop_upstream_stls", "smtp", "smtp_starttls", "smtp_tls",
                "smtp_upstream_tls")}
            cls.ports = ports
            upstream = {"server_address": ENV["dovecot_host"], "server_ca_file": ENV["ca"],
                        "local_address": "127.0.0.1"}
            local_tls = {"local_certificate_path": ENV["cert"], "local_key_path": ENV["key"]}
            sections = {
                f"IMAP-{ports['imap']}": upstream | {"server_port": str(ENV["imaps_port"])},
                f"IMAP-{ports['imap_starttls']}": upstream | local_tls | {
                    "server_port": str(ENV["imaps_port"]), "local_starttls": "True"},
                f"IMAP-{ports['imap_tls']}": upstream | local_tls | {
                    "server_port": str(ENV["imaps_port"])},
                f"IMAP-{ports['imap_upstream_starttls']}": upstream | {
                    "server_port": str(ENV["imap_port"]), "server_starttls": "True"},
                f"POP-{ports['pop']}": upstream | {"server_port": str(ENV["pop3s_port"])},
                f"POP-{ports['pop_tls']}": upstream | local_tls | {
                    "server_port": str(ENV["pop3s_port"])},
                f"SMTP-{ports['smtp_tls']}": upstream | local_tls | {
                    "server_port": str(ENV["submission_port"]), "server_starttls": "True"},
                f"POP-{ports['pop_upstream_stls']}": upstream | {
                    "server_port": str(ENV["pop3_port"]), "server_starttls": "True"},
                f"POP-{ports['pop_stls']}": upstream | local_tls | {
                    "server_port": str(ENV["pop3s_port"]), "local_starttls": "True"},
                f"SMTP-{ports['smtp']}": upstream | {
                    "server_port": str(ENV["submission_port"]), "server_starttls": "True"},
                f"SMTP-{ports['smtp_starttls']}": upstream | local_tls | {
                    "server_port": str(ENV["submission_port"]), "server_starttls": "True",
                    "local_starttls": "True"},
                f"SMTP-{ports['smtp_upstream_tls']}": upstream | {
                    "server_port": str(ENV["submissions_port"])},
            }
            for account in MAIN_ACCOUNTS:
                sections[account.name] = account.section()
            try:
                cls.instance = Mailgate("main", sections).start()
            except AssertionError as error:
                cls.failure = f"the shared mailgate instance did not start: {error}"
                raise
        return cls.instance

    @classmethod
    def stop(cls) -> None:
        if cls.instance is not None:
            cls.instance.stop()


class ProxyTestCase(unittest.TestCase):
    """Base of the tests through the shared mailgate instance."""

    options: tuple[str, ...] = ()

    def setUp(self) -> None:
        require_mailgate(self, *self.options)
        self.proxy = MainProxy.get()
        self.ports = MainProxy.ports

    def imap(self, port_name: str = "imap", account: Account = SEED) -> imaplib.IMAP4:
        """An imaplib connection logged in with the account's password."""
        imap = imaplib.IMAP4("127.0.0.1", self.ports[port_name], timeout=TIMEOUT)
        self.addCleanup(self.close_imap, imap)
        typ, _ = imap.login(account.name, account.password)
        self.assertEqual(typ, "OK")
        return imap

    @staticmethod
    def close_imap(imap: imaplib.IMAP4) -> None:
        try:
            if imap.state != "LOGOUT":
                imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

    def assert_login_refused(self, account: Account, password: str, port_name: str = "imap") -> str:
        """LOGIN is answered with a tagged NO (not BAD, not a dropped connection); returns its text."""
        with imaplib.IMAP4("127.0.0.1", self.ports[port_name], timeout=TIMEOUT) as imap:
            with self.assertRaises(imaplib.IMAP4.error) as raised:
                imap.login(account.name, password)
            text = str(raised.exception)
            self.assertNotIn("BAD", text.split()[0] if text else "")
            # The connection is still usable after the refusal.
            self.assertEqual(imap.noop()[0], "OK")
            return text


# What mailgate logs when it refuses a session because that part is not built yet.
UNAVAILABLE = re.compile(r"[^\n]*not available yet[^\n]*")


class CountingResult(unittest.TextTestResult):
    """Counts passes; a failure while mailgate logged that the feature is not available yet
    counts as a skip (unless MAILGATE_INTEROP_REQUIRE_PROXY=1)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.passed = 0
        self.marks: dict[int, dict[str, int]] = {}

    def startTest(self, test) -> None:  # noqa: N802 - unittest's naming
        self.marks = {id(proxy): proxy.mark() for proxy in Mailgate.running}
        super().startTest(test)

    def addSuccess(self, test) -> None:  # noqa: N802 - unittest's naming
        super().addSuccess(test)
        self.passed += 1

    def unavailable(self) -> str | None:
        if REQUIRE_PROXY:
            return None
        for proxy in Mailgate.running:
            match = UNAVAILABLE.search(proxy.logs(self.marks.get(id(proxy))))
            if match:
                return match.group(0).strip()
        return None

    def addError(self, test, err) -> None:  # noqa: N802 - unittest's naming
        reason = self.unavailable()
        if reason:
            self.addSkip(test, f"mailgate: {reason}")
        else:
            super().addError(test, err)

    def addFailure(self, test, err) -> None:  # noqa: N802 - unittest's naming
        reason = self.unavailable()
        if reason:
            self.addSkip(test, f"mailgate: {reason}")
        else:
            super().addFailure(test, err)
