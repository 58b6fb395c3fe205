#!/usr/bin/env python3
"""Interop tests: real Dovecot and real clients, first directly, then through mailgate.

Run by `tests/interop/run`, which starts Dovecot, the mock OAuth 2.0 provider and the SMTP sink
and describes them in the JSON file named by $INTEROP_ENV. Python standard library only.

The Direct* classes prove the harness: they log in to Dovecot with XOAUTH2/OAUTHBEARER tokens
from the mock provider. The Proxy* classes run real clients with password logins through the
mailgate binary; they are skipped (with the reason) while the binary lacks the command-line
option they need, unless MAILGATE_INTEROP_REQUIRE_PROXY=1.
"""

from __future__ import annotations

import base64
import concurrent.futures
import functools
import glob
import imaplib
import json
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
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
    return [open(path, "rb").read() for path in sorted(glob.glob(os.path.join(ENV["seed_dir"], "*.eml")))]


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
    def grants(cls, client_id: str, grant: str | None = None) -> int:
        per_client = cls.stats()["by_client"].get(client_id, {})
        return sum(per_client.values()) if grant is None else per_client.get(grant, 0)

    @classmethod
    def introspections(cls, username: str) -> dict:
        return cls.stats()["introspect_by_user"].get(username, {"active": 0, "inactive": 0})

    @classmethod
    def client_credentials(cls, client_id: str, client_secret: str) -> dict:
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                       "client_secret": client_secret, "scope": "mail"}).encode()
        return cls.request("/token", body, "application/x-www-form-urlencoded")


class Grants:
    """Token requests of one client at the mock provider since this object was made."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.start = dict(OAuth.stats()["by_client"].get(client_id, {}))

    def new(self, grant: str | None = None) -> int:
        now = OAuth.stats()["by_client"].get(self.client_id, {})
        if grant is not None:
            return now.get(grant, 0) - self.start.get(grant, 0)
        return sum(now.values()) - sum(self.start.values())


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


def test_message(marker: str, body: bytes, sender: str, recipient: str) -> bytes:
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
    """The message with `marker` reached the sink with exactly the bytes sent (Dovecot may
    only prepend trace headers)."""
    meta, stored = wait_for_sink(marker.encode())
    test.assertTrue(stored.endswith(sent),
                    f"relayed message differs from what was sent:\nsent   {sent!r}\nstored {stored!r}")
    prefix = stored[: len(stored) - len(sent)]
    test.assertTrue(prefix == b"" or prefix.endswith(b"\r\n"), f"unexpected prefix {prefix!r}")
    return meta


def dovecot_logins(user: str) -> list[str]:
    """Dovecot's `Login:` log lines for `user` (they name the mechanism and TLS)."""
    with open(ENV["dovecot_log"], encoding="utf-8", errors="replace") as file:
        return [line for line in file if "Login: user=<" + user + ">" in line]


# ---- a minimal raw IMAP client for what imaplib cannot do (IDLE, literal LOGIN) --------------


class RawImap:
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
                 extra_args: tuple[str, ...] = ()) -> None:
        self.name = name
        self.sections = sections
        self.extra_args = extra_args
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
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output,
                                        stderr=subprocess.STDOUT, start_new_session=True)
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


# ---- direct to Dovecot: proves the harness ----------------------------------------------------


class DirectImapTest(unittest.TestCase):
    """imaplib straight to Dovecot with XOAUTH2 and OAUTHBEARER."""

    user = "seed@example.test"

    def test_plaintext_port_offers_auth_only_after_starttls(self):
        with imaplib.IMAP4(ENV["dovecot_host"], ENV["imap_port"], timeout=TIMEOUT) as imap:
            self.assertIn("LOGINDISABLED", imap.capabilities)
            self.assertIn("STARTTLS", imap.capabilities)
            self.assertNotIn("AUTH=XOAUTH2", imap.capabilities)
            imap.starttls(tls_context())
            self.assertIn("AUTH=XOAUTH2", imap.capabilities)
            self.assertIn("AUTH=OAUTHBEARER", imap.capabilities)

    def test_xoauth2_over_implicit_tls_fetches_the_seed(self):
        token = direct_token(self.user)
        with imaplib.IMAP4_SSL(ENV["dovecot_host"], ENV["imaps_port"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            typ, _ = imap.authenticate("XOAUTH2", one_shot(xoauth2(self.user, token)))
            self.assertEqual(typ, "OK")
            typ, data = imap.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")
            seeds = seed_messages()
            self.assertEqual(int(data[0]), len(seeds))
            for number, expected in enumerate(seeds, 1):
                typ, data = imap.fetch(str(number), "(BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                self.assertEqual(data[0][1], expected, f"message {number}")

    def test_oauthbearer_after_starttls(self):
        token = direct_token(self.user)
        with imaplib.IMAP4(ENV["dovecot_host"], ENV["imap_port"], timeout=TIMEOUT) as imap:
            imap.starttls(tls_context())
            typ, _ = imap.authenticate("OAUTHBEARER", one_shot(oauthbearer(self.user, token)))
            self.assertEqual(typ, "OK")
            typ, data = imap.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")

    def test_revoked_token_is_refused_after_the_error_challenge(self):
        token = direct_token(self.user)
        OAuth.control(action="revoke", token=token)
        with imaplib.IMAP4_SSL(ENV["dovecot_host"], ENV["imaps_port"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            answer = one_shot(xoauth2(self.user, token))
            with self.assertRaises(imaplib.IMAP4.error) as raised:
                imap.authenticate("XOAUTH2", answer)
            self.assertIn("AUTHENTICATIONFAILED", str(raised.exception))

    def test_token_of_another_user_is_refused(self):
        token = direct_token("someone-else@example.test")
        with imaplib.IMAP4_SSL(ENV["dovecot_host"], ENV["imaps_port"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            with self.assertRaises(imaplib.IMAP4.error):
                imap.authenticate("XOAUTH2", one_shot(xoauth2(self.user, token)))


class DirectPop3Test(unittest.TestCase):
    user = "seed@example.test"

    def authenticate(self, pop: poplib.POP3, payload: bytes) -> bytes:
        return pop._shortcmd("AUTH XOAUTH2 " + base64.b64encode(payload).decode())

    def test_xoauth2_over_implicit_tls_retrieves_the_seed(self):
        token = direct_token(self.user)
        pop = poplib.POP3_SSL(ENV["dovecot_host"], ENV["pop3s_port"], context=tls_context(),
                              timeout=TIMEOUT)
        try:
            self.assertTrue(self.authenticate(pop, xoauth2(self.user, token)).startswith(b"+OK"))
            seeds = seed_messages()
            count, _ = pop.stat()
            self.assertEqual(count, len(seeds))
            for number, expected in enumerate(seeds, 1):
                _, lines, _ = pop.retr(number)
                self.assertEqual(b"\r\n".join(lines) + b"\r\n", expected, f"message {number}")
        finally:
            pop.quit()

    def test_stls_then_xoauth2(self):
        token = direct_token(self.user)
        pop = poplib.POP3(ENV["dovecot_host"], ENV["pop3_port"], timeout=TIMEOUT)
        try:
            pop.stls(tls_context())
            self.assertTrue(self.authenticate(pop, xoauth2(self.user, token)).startswith(b"+OK"))
            self.assertEqual(pop.stat()[0], len(seed_messages()))
        finally:
            pop.quit()


class DirectSmtpTest(unittest.TestCase):
    user = "sender@example.test"

    def test_submission_starttls_xoauth2_relays_exact_bytes(self):
        token = direct_token(self.user)
        marker = unique("direct-smtp")
        message = test_message(marker, TRICKY_BODY, self.user, "rcpt@example.test")
        with smtplib.SMTP(ENV["dovecot_host"], ENV["submission_port"], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            # Dovecot answers "AUTH" with no mechanism before TLS.
            self.assertEqual(smtp.esmtp_features.get("auth", "").strip(), "",
                             "mechanisms offered before STARTTLS")
            smtp.starttls(context=tls_context())
            smtp.ehlo("client.test")
            self.assertIn("XOAUTH2", smtp.esmtp_features.get("auth", ""))
            code, _ = smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(self.user, token).decode()
                                if challenge is None else "")
            self.assertEqual(code, 235)
            smtp.sendmail(self.user, ["rcpt@example.test"], message, mail_options=["BODY=8BITMIME"])
        meta = assert_relayed(self, message, marker)
        self.assertEqual(meta["mail_from"], self.user)
        self.assertEqual(meta["rcpt_to"], ["rcpt@example.test"])

    def test_implicit_tls_oauthbearer(self):
        token = direct_token(self.user)
        marker = unique("direct-smtps")
        message = test_message(marker, b"plain body\r\n", self.user, "rcpt@example.test")
        with smtplib.SMTP_SSL(ENV["dovecot_host"], ENV["submissions_port"], context=tls_context(),
                              timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            code, _ = smtp.auth("OAUTHBEARER", lambda challenge=None:
                                oauthbearer(self.user, token).decode() if challenge is None else "")
            self.assertEqual(code, 235)
            smtp.sendmail(self.user, ["rcpt@example.test"], message)
        assert_relayed(self, message, marker)

    def test_revoked_token_gets_535(self):
        token = direct_token(self.user)
        OAuth.control(action="revoke", token=token)
        with smtplib.SMTP_SSL(ENV["dovecot_host"], ENV["submissions_port"], context=tls_context(),
                              timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            with self.assertRaises(smtplib.SMTPAuthenticationError) as raised:
                smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(self.user, token).decode()
                          if challenge is None else "")
            self.assertEqual(raised.exception.smtp_code, 535)


# ---- through mailgate -------------------------------------------------------------------------


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
ROPC = Account("ropc@example.test", "ropc-secret", flow="password")
EXPIRY = Account("expiry@example.test", "expiry-secret", flow="password")
BEARER = Account("bearer@example.test", "bearer-pass", upstream_sasl="oauthbearer")
MAIN_ACCOUNTS = [SEED, MAILBOX, SENDER, CACHED, REVOKED, BURST, WRONG, FAIL500, FAILGRANT, RETRY,
                 ROPC, EXPIRY, BEARER]


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
                "pop_upstream_stls", "smtp", "smtp_starttls", "smtp_upstream_tls")}
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


def tearDownModule() -> None:  # noqa: N802 - unittest's naming
    MainProxy.stop()


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


class ProxyImapTest(ProxyTestCase):
    """imaplib and raw IMAP through mailgate with password logins."""

    def test_login_select_fetch_seed_byte_exact(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
            self.assertNotIn("LOGINDISABLED", imap.capabilities)
            typ, _ = imap.login(SEED.name, SEED.password)
            self.assertEqual(typ, "OK")
            typ, data = imap.select("INBOX", readonly=True)
            seeds = seed_messages()
            self.assertEqual(int(data[0]), len(seeds))
            for number, expected in enumerate(seeds, 1):
                typ, data = imap.fetch(str(number), "(RFC822.SIZE BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                self.assertEqual(data[0][1], expected, f"message {number}")
                self.assertIn(f"RFC822.SIZE {len(expected)}".encode(), data[0][0])
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
            self.assertEqual(len(data), len(seeds))

    def test_search_and_partial_fetch(self):
        imap = self.imap()
        imap.select("INBOX", readonly=True)
        typ, data = imap.search(None, "SUBJECT", '"seed 6 large"')
        self.assertEqual((typ, data[0]), ("OK", b"6"))
        typ, data = imap.search(None, "SUBJECT", "8bit")
        self.assertEqual(data[0], b"4")
        typ, data = imap.fetch("6", "(BODY.PEEK[TEXT]<1000.500>)")
        self.assertEqual(data[0][1], seed_messages()[5].split(b"\r\n\r\n", 1)[1][1000:1500])

    def test_append_with_literals_then_fetch_back(self):
        imap = self.imap(account=MAILBOX)
        marker = unique("append")
        small = test_message(marker, TRICKY_BODY, MAILBOX.name, MAILBOX.name)
        large_marker = unique("append-large")
        large = test_message(large_marker, b"".join(b"%07d %s\r\n" % (i, b"x" * 70)
                                                      for i in range(30_000)),
                             MAILBOX.name, MAILBOX.name)
        for message in (small, large):
            typ, data = imap.append("INBOX", r"(\Seen)", None, message)
            self.assertEqual(typ, "OK", data)
        imap.select("INBOX")
        for text, message in ((marker, small), (large_marker, large)):
            typ, data = imap.uid("SEARCH", None, "HEADER", "Message-ID", text)
            uids = data[0].split()
            self.assertEqual(len(uids), 1, f"search for {text}: {data}")
            typ, data = imap.uid("FETCH", uids[0], "(FLAGS BODY.PEEK[])")
            self.assertEqual(data[0][1], message)
            self.assertIn(rb"\Seen", data[0][0])

    def test_literal_login_forms(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tag = raw.tag()
            user, password = SEED.name.encode(), SEED.password.encode()
            raw.send(tag + b" LOGIN {%d}\r\n" % len(user))
            raw.expect_continuation()
            raw.send(user + b" {%d}\r\n" % len(password))
            raw.expect_continuation()
            raw.send(password + b"\r\n")
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
            tagged, untagged = raw.command(b"EXAMINE INBOX")
            self.assertTrue(tagged.startswith(b"t2 OK"), tagged)
            self.assertIn(b"* %d EXISTS\r\n" % len(seed_messages()), untagged)
            raw.command(b"LOGOUT")
        finally:
            raw.close()

    def test_quoted_user_with_literal_password(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tag = raw.tag()
            password = SEED.password.encode()
            raw.send(tag + b" LOGIN " + imap_quote(SEED.name) + b" {%d}\r\n" % len(password))
            raw.expect_continuation()
            raw.send(password + b"\r\n")
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
        finally:
            raw.close()

    def test_non_synchronizing_literal_login_when_offered(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tagged, untagged = raw.command(b"CAPABILITY")
            capabilities = b" ".join(untagged).upper()
            if b"LITERAL+" not in capabilities and b"LITERAL-" not in capabilities:
                self.skipTest("mailgate does not offer LITERAL+/LITERAL- before login")
            tag = raw.tag()
            user, password = SEED.name.encode(), SEED.password.encode()
            raw.send(tag + b" LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(user), user,
                                                                  len(password), password))
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
        finally:
            raw.close()

    def test_authenticate_plain_with_continuation(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
            self.assertIn("AUTH=PLAIN", imap.capabilities)
            typ, _ = imap.authenticate("PLAIN", lambda _: sasl_plain(SEED.name, SEED.password))
            self.assertEqual(typ, "OK")
            self.assertEqual(imap.select("INBOX", readonly=True)[0], "OK")

    def test_authenticate_plain_with_initial_response(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            payload = base64.b64encode(sasl_plain(SEED.name, SEED.password))
            tagged, _ = raw.command(b"AUTHENTICATE PLAIN " + payload)
            self.assertTrue(tagged.startswith(b"t1 OK"), tagged)
        finally:
            raw.close()

    def test_idle_sees_a_message_appended_elsewhere(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tagged, _ = raw.command(b"LOGIN " + imap_quote(MAILBOX.name) + b" " +
                                    imap_quote(MAILBOX.password))
            self.assertIn(b" OK", tagged)
            tagged, untagged = raw.command(b"SELECT INBOX")
            self.assertIn(b" OK", tagged)
            exists = [int(m.group(1)) for line in untagged
                      if (m := re.match(rb"\* (\d+) EXISTS", line))]
            self.assertEqual(len(exists), 1, untagged)
            tag = raw.tag()
            raw.send(tag + b" IDLE\r\n")
            raw.expect_continuation()
            other = self.imap(account=MAILBOX)
            marker = unique("idle")
            other.append("INBOX", None, None, test_message(marker, b"idle test\r\n",
                                                           MAILBOX.name, MAILBOX.name))
            wanted = b"* %d EXISTS\r\n" % (exists[0] + 1)
            deadline = time.monotonic() + TIMEOUT
            seen = []
            while wanted not in seen:
                self.assertLess(time.monotonic(), deadline, f"no EXISTS during IDLE: {seen}")
                seen.append(raw.line(timeout=max(0.1, deadline - time.monotonic())))
            raw.send(b"DONE\r\n")
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
        finally:
            raw.close()

    def test_local_starttls(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap_starttls"], timeout=TIMEOUT) as imap:
            self.assertIn("STARTTLS", imap.capabilities)
            imap.starttls(tls_context())
            typ, _ = imap.login(SEED.name, SEED.password)
            self.assertEqual(typ, "OK")
            imap.select("INBOX", readonly=True)
            self.assertEqual(imap.fetch("1", "(BODY.PEEK[])")[1][0][1], seed_messages()[0])

    def test_local_implicit_tls(self):
        with imaplib.IMAP4_SSL("127.0.0.1", self.ports["imap_tls"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            typ, _ = imap.login(SEED.name, SEED.password)
            self.assertEqual(typ, "OK")
            imap.select("INBOX", readonly=True)
            self.assertEqual(imap.fetch("6", "(BODY.PEEK[])")[1][0][1], seed_messages()[5])

    def test_upstream_starttls(self):
        # Dovecot's plain IMAP port refuses authentication before STARTTLS, so this only works if
        # mailgate really upgrades the upstream connection.
        with imaplib.IMAP4("127.0.0.1", self.ports["imap_upstream_starttls"], timeout=TIMEOUT) as imap:
            self.assertEqual(imap.login(SEED.name, SEED.password)[0], "OK")
            imap.select("INBOX", readonly=True)
            self.assertEqual(imap.fetch("5", "(BODY.PEEK[])")[1][0][1], seed_messages()[4])

    def test_upstream_mechanisms(self):
        """XOAUTH2 upstream by default, OAUTHBEARER with `upstream_sasl = oauthbearer`, as
        Dovecot's log records them."""
        for account, mechanism in ((BEARER, "OAUTHBEARER"), (SEED, "XOAUTH2")):
            before = len(dovecot_logins(account.name))
            self.imap(account=account)
            deadline = time.monotonic() + TIMEOUT
            while len(dovecot_logins(account.name)) == before:
                self.assertLess(time.monotonic(), deadline, "Dovecot logged no login")
                time.sleep(0.05)
            line = dovecot_logins(account.name)[-1]
            self.assertIn(f"method={mechanism},", line)
            self.assertIn(", TLS", line)

    def test_curl_imap_fetch(self):
        for scheme, port, extra in (("imap", self.ports["imap"], []),
                                    ("imaps", self.ports["imap_tls"], ["--cacert", ENV["ca"]])):
            result = subprocess.run(
                ["curl", "-sS", "--max-time", str(TIMEOUT), *extra, "--user",
                 f"{SEED.name}:{SEED.password}", f"{scheme}://127.0.0.1:{port}/INBOX;UID=1"],
                capture_output=True, timeout=TIMEOUT + 5)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout, seed_messages()[0], scheme)


class ProxyPop3Test(ProxyTestCase):
    """poplib and raw POP3 through mailgate."""

    def test_user_pass_then_retrieve_byte_exact(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            self.assertTrue(pop.pass_(SEED.password).startswith(b"+OK"))
            seeds = seed_messages()
            self.assertEqual(pop.stat(), (len(seeds), sum(len(m) for m in seeds)))
            for number, expected in enumerate(seeds, 1):
                _, lines, _ = pop.retr(number)
                self.assertEqual(b"\r\n".join(lines) + b"\r\n", expected, f"message {number}")
            _, uidls, _ = pop.uidl()
            self.assertEqual(len(uidls), len(seeds))
            _, top, _ = pop.top(1, 0)
            self.assertIn(b"Subject: seed 1", top)
        finally:
            pop.quit()

    def test_auth_plain_with_initial_response(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            payload = base64.b64encode(sasl_plain(SEED.name, SEED.password)).decode()
            self.assertTrue(pop._shortcmd("AUTH PLAIN " + payload).startswith(b"+OK"))
            self.assertEqual(pop.stat()[0], len(seed_messages()))
        finally:
            pop.quit()

    def test_upstream_stls(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop_upstream_stls"], timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            pop.pass_(SEED.password)
            _, lines, _ = pop.retr(5)
            self.assertEqual(b"\r\n".join(lines) + b"\r\n", seed_messages()[4])
        finally:
            pop.quit()

    def test_wrong_password_gets_err(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            pop.pass_(SEED.password)
        finally:
            pop.quit()
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            with self.assertRaises(poplib.error_proto) as raised:
                pop.pass_("not the password")
            self.assertTrue(str(raised.exception).startswith("b'-ERR"), raised.exception)
        finally:
            pop.close()

    def test_local_stls(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop_stls"], timeout=TIMEOUT)
        try:
            pop.stls(tls_context())
            pop.user(SEED.name)
            pop.pass_(SEED.password)
            _, lines, _ = pop.retr(4)
            self.assertEqual(b"\r\n".join(lines) + b"\r\n", seed_messages()[3])
        finally:
            pop.quit()


class ProxySmtpTest(ProxyTestCase):
    """smtplib, msmtp and curl through mailgate to Dovecot submission (upstream STARTTLS)."""

    def send(self, port_name: str, mechanism: str, body: bytes, starttls: bool = False) -> None:
        marker = unique(f"smtp-{mechanism.lower()}")
        message = test_message(marker, body, SENDER.name, "rcpt@example.test")
        with smtplib.SMTP("127.0.0.1", self.ports[port_name], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            if starttls:
                smtp.starttls(context=tls_context())
                smtp.ehlo("client.test")
            self.assertIn(mechanism, smtp.esmtp_features.get("auth", "").upper().split())
            smtp.user, smtp.password = SENDER.name, SENDER.password
            authenticator = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
            code, _ = smtp.auth(mechanism, authenticator)
            self.assertEqual(code, 235)
            options = ["BODY=8BITMIME"] if "8bitmime" in smtp.esmtp_features else []
            refused = smtp.sendmail(SENDER.name, ["rcpt@example.test", "second@example.test"],
                                    message, mail_options=options)
            self.assertEqual(refused, {})
        meta = assert_relayed(self, message, marker)
        self.assertEqual(meta["mail_from"], SENDER.name)
        self.assertEqual(meta["rcpt_to"], ["rcpt@example.test", "second@example.test"])

    def test_auth_plain_dot_stuffed_8bit_body(self):
        self.send("smtp", "PLAIN", TRICKY_BODY)

    def test_auth_login_dot_stuffed_8bit_body(self):
        self.send("smtp", "LOGIN", TRICKY_BODY)

    def test_upstream_implicit_tls(self):
        self.send("smtp_upstream_tls", "PLAIN", b"implicit TLS upstream\r\n")

    def test_local_starttls(self):
        self.send("smtp_starttls", "PLAIN", TRICKY_BODY, starttls=True)

    def test_oauthbearer_upstream(self):
        before = len(dovecot_logins(BEARER.name))
        marker = unique("smtp-bearer")
        message = test_message(marker, b"sent with OAUTHBEARER upstream\r\n", BEARER.name,
                               "rcpt@example.test")
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.login(BEARER.name, BEARER.password)
            self.assertEqual(smtp.sendmail(BEARER.name, ["rcpt@example.test"], message), {})
        assert_relayed(self, message, marker)
        logins = dovecot_logins(BEARER.name)[before:]
        self.assertTrue(any("submission-login" in line and "method=OAUTHBEARER," in line
                            for line in logins), logins)

    def test_several_messages_in_one_session(self):
        markers = [unique("multi") for _ in range(3)]
        messages = [test_message(m, (b"line %d .\r\n.dot\r\n" % i) * (20_000 if i == 2 else 3),
                                 SENDER.name, "rcpt@example.test") for i, m in enumerate(markers)]
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.login(SENDER.name, SENDER.password)
            for message in messages:
                self.assertEqual(smtp.sendmail(SENDER.name, ["rcpt@example.test"], message), {})
                smtp.rset()
        for marker, message in zip(markers, messages):
            assert_relayed(self, message, marker)

    def test_wrong_password_gets_535(self):
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            smtp.login(SENDER.name, SENDER.password)  # caches the token under the right password
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            with self.assertRaises(smtplib.SMTPAuthenticationError) as raised:
                smtp.login(SENDER.name, "not-the-password")
            self.assertEqual(raised.exception.smtp_code, 535)

    def test_msmtp_with_local_starttls(self):
        marker = unique("msmtp")
        message = test_message(marker, TRICKY_BODY, SENDER.name, "rcpt@example.test")
        config = os.path.join(self.proxy.dir, "msmtprc")
        with open(config, "w", encoding="utf-8") as file:
            file.write(
                "defaults\n"
                f"logfile {os.path.join(self.proxy.dir, 'msmtp.log')}\n"
                "account proxy\n"
                "host 127.0.0.1\n"
                f"port {self.ports['smtp_starttls']}\n"
                "tls on\ntls_starttls on\n"
                f"tls_trust_file {ENV['ca']}\n"
                "auth plain\n"
                f"user {SENDER.name}\n"
                f"password {SENDER.password}\n"
                f"from {SENDER.name}\n"
                "timeout 20\n"
            )
        os.chmod(config, 0o600)
        result = subprocess.run(["msmtp", "-C", config, "-a", "proxy", "rcpt@example.test"],
                                input=message, capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr)
        assert_relayed(self, message, marker)

    def test_curl_smtp_send(self):
        marker = unique("curl-smtp")
        message = test_message(marker, TRICKY_BODY, SENDER.name, "rcpt@example.test")
        path = os.path.join(self.proxy.dir, marker + ".eml")
        with open(path, "wb") as file:
            file.write(message)
        result = subprocess.run(
            ["curl", "-sS", "--max-time", str(TIMEOUT), f"smtp://127.0.0.1:{self.ports['smtp']}",
             "--user", f"{SENDER.name}:{SENDER.password}", "--mail-from", SENDER.name,
             "--mail-rcpt", "rcpt@example.test", "--upload-file", path],
            capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr)
        assert_relayed(self, message, marker)


class ProxyTokenTest(ProxyTestCase):
    """Token handling: caching, flows, refresh, revocation, failures, concurrency."""

    def login_ok(self, account: Account, password: str | None = None) -> None:
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
            typ, _ = imap.login(account.name, account.password if password is None else password)
            self.assertEqual(typ, "OK")
            self.assertEqual(imap.select("INBOX")[0], "OK")

    def test_client_credentials_token_is_cached(self):
        grants, introspections = Grants(CACHED.client_id), Introspections(CACHED.name)
        self.login_ok(CACHED)
        self.login_ok(CACHED)
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            pop.user(CACHED.name)
            pop.pass_(CACHED.password)
        finally:
            pop.quit()
        self.assertEqual(grants.new(), 1)
        self.assertEqual(grants.new("client_credentials"), 1)
        self.assertEqual(introspections.new("inactive"), 0)
        self.assertEqual(introspections.new("active"), 3)
        with open(self.proxy.config, encoding="utf-8", errors="replace") as file:
            config = file.read()
        self.assertNotIn(CACHED.password, config, "the login password was written to the config")

    def test_password_flow_and_wrong_password(self):
        grants = Grants(ROPC.client_id)
        text = self.assert_login_refused(ROPC, "not-the-password")
        self.assertEqual(grants.new("password"), 1)
        self.assertNotIn("at-", text)
        self.assertRegex(self.proxy.logs(), r"invalid_grant|AADSTS50126",
                         "the provider's error is not in the log")
        self.login_ok(ROPC)
        self.login_ok(ROPC)
        self.assertEqual(grants.new("password"), 2)

    def test_wrong_password_with_cached_client_credentials_token(self):
        grants = Grants(WRONG.client_id)
        self.login_ok(WRONG)
        self.assert_login_refused(WRONG, "wrong-pass")
        self.assertEqual(grants.new(), 1,
                         "a wrong password must not get a new client credentials token")
        self.login_ok(WRONG)
        self.assertEqual(grants.new(), 1)

    def test_refresh_after_expiry(self):
        OAuth.control(action="set_expiry", client_id=EXPIRY.client_id, seconds=3)
        grants, introspections = Grants(EXPIRY.client_id), Introspections(EXPIRY.name)
        try:
            self.login_ok(EXPIRY)
            self.assertEqual(grants.new("password"), 1)
            time.sleep(4)
            self.login_ok(EXPIRY)
            self.assertGreaterEqual(grants.new("refresh_token"), 1)
            self.assertEqual(grants.new("password"), 1,
                             "the proxy should refresh rather than log in again")
            self.assertEqual(introspections.new("inactive"), 0, "an expired token was sent upstream")
        finally:
            OAuth.control(action="set_expiry", client_id=EXPIRY.client_id, seconds=3600)

    @pending("a token the server refused is used again for the next login")
    def test_revoked_token_gives_clean_error_then_next_login_works(self):
        self.login_ok(REVOKED)
        grants = Grants(REVOKED.client_id)
        result = OAuth.control(action="revoke", username=REVOKED.name)
        self.assertGreaterEqual(result["revoked"], 1)
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
            try:
                imap.login(REVOKED.name, REVOKED.password)
                # Also acceptable: the proxy noticed the refusal and retried with a new token.
                self.assertGreater(grants.new(), 0)
            except imaplib.IMAP4.error as error:
                self.assertNotIn("BAD", str(error).split()[0])
                # Dovecot's decoded error challenge reaches the client.
                self.assertIn("401", str(error))
                self.assertEqual(imap.noop()[0], "OK")
        self.login_ok(REVOKED)
        self.assertGreater(grants.new(), 0)

    def test_token_endpoint_failure_is_a_clean_no_and_recovers(self):
        for account, kind in ((FAIL500, "500"), (FAILGRANT, "invalid_grant")):
            grants = Grants(account.client_id)
            OAuth.control(action="clear_failures", client_id=account.client_id)
            OAuth.control(action="fail_next", client_id=account.client_id, kind=kind, count=1)
            self.assert_login_refused(account, account.password)
            self.login_ok(account)
            self.assertEqual(grants.new(), 2, kind)

    def test_failed_login_then_retry_on_the_same_connection(self):
        OAuth.control(action="clear_failures", client_id=RETRY.client_id)
        OAuth.control(action="fail_next", client_id=RETRY.client_id, kind="500", count=1)
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
            with self.assertRaises(imaplib.IMAP4.error):
                imap.login(RETRY.name, RETRY.password)
            typ, _ = imap.login(RETRY.name, RETRY.password)
            self.assertEqual(typ, "OK")
            self.assertEqual(imap.select("INBOX")[0], "OK")

    def test_concurrent_logins_make_one_token_request(self):
        # The token endpoint answers slowly so that every login arrives while the first token
        # request is still in flight.
        OAuth.control(action="set_delay", client_id=BURST.client_id, seconds=1.5)
        grants = Grants(BURST.client_id)
        count = 100
        connections = []
        try:
            for _ in range(count):
                connections.append(imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=60))
            barrier = threading.Barrier(count, timeout=TIMEOUT)

            def one_login(imap: imaplib.IMAP4) -> str:
                barrier.wait()
                typ, _ = imap.login(BURST.name, BURST.password)
                typ2, _ = imap.noop()
                return f"{typ}/{typ2}"

            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(count) as pool:
                results = list(pool.map(one_login, connections))
            elapsed = time.monotonic() - started
        finally:
            OAuth.control(action="set_delay", client_id=BURST.client_id, seconds=0)
            for imap in connections:
                self.close_imap(imap)
        self.assertEqual(results, ["OK/OK"] * count)
        self.assertEqual(grants.new(), 1,
                         "concurrent logins of one account must share one token request")
        print(f"\n    {count} concurrent logins took {elapsed:.2f} s", end=" ", flush=True)


class ProxyInteractiveTest(unittest.TestCase):
    """Authorization code with --local-server-auth, and the device flow, on their own mailgate."""

    proxy: Mailgate | None = None

    def setUp(self) -> None:
        require_mailgate(self, "--local-server-auth")
        if ProxyInteractiveTest.proxy is None:
            self.__class__.start_proxy()

    @classmethod
    def start_proxy(cls) -> None:
        cls.port = free_port()
        cls.redirect_port = free_port()
        cls.authcode = Account("authcode@example.test", "authcode-pass", flow="authorization_code",
                               permission_url=ENV["oauth_url"] + "/authorize",
                               redirect_uri=f"http://127.0.0.1:{cls.redirect_port}/")
        cls.device = Account("device@example.test", "device-pass", flow="device",
                             permission_url=ENV["oauth_url"] + "/devicecode")
        for account in (cls.authcode, cls.device):
            account.register()
        sections = {
            f"IMAP-{cls.port}": {"server_address": ENV["dovecot_host"],
                                 "server_port": str(ENV["imaps_port"]),
                                 "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"},
            cls.authcode.name: cls.authcode.section(),
            cls.device.name: cls.device.section(),
        }
        cache = os.path.join(ENV["dir"], "proxy", "interactive", "cache-store")
        cls.proxy = Mailgate("interactive", sections,
                             ("--local-server-auth", "--cache-store", cache)).start()
        cls.cache_store = cache

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.proxy is not None:
            cls.proxy.stop()

    def login_in_background(self, account: Account) -> tuple[threading.Thread, list]:
        outcome: list = []

        def login() -> None:
            try:
                with imaplib.IMAP4("127.0.0.1", self.port, timeout=90) as imap:
                    outcome.append(imap.login(account.name, account.password)[0])
                    outcome.append(imap.select("INBOX")[0])
            except Exception as error:  # noqa: BLE001 - reported by the test
                outcome.append(error)

        thread = threading.Thread(target=login, daemon=True)
        thread.start()
        return thread, outcome

    def visit_url_line(self, account: Account, mark: dict[str, int]) -> str:
        pattern = (r"Please visit the following URL to authenticate account "
                   + re.escape(account.name) + r": (\S+)")
        return self.proxy.wait_for_log(pattern, 30, since=mark).group(1)

    def test_authorization_code_with_local_server_auth(self):
        account = self.authcode
        grants = Grants(account.client_id)
        mark = self.proxy.mark()
        thread, outcome = self.login_in_background(account)
        url = self.visit_url_line(account, mark)
        self.assertTrue(url.startswith(ENV["oauth_url"] + "/authorize?"), url)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        self.assertEqual(query.get("client_id"), [account.client_id])
        self.assertIn("state", query)
        result = subprocess.run(["curl", "-sS", "-L", "--max-time", str(TIMEOUT), url],
                                capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr)
        thread.join(60)
        self.assertEqual(outcome, ["OK", "OK"])
        self.assertEqual(grants.new("authorization_code"), 1)
        self.assertEqual(grants.new(), 1)
        # Cached now (in the cache store): no new authorisation, no new token request.
        with imaplib.IMAP4("127.0.0.1", self.port, timeout=TIMEOUT) as imap:
            self.assertEqual(imap.login(account.name, account.password)[0], "OK")
        self.assertEqual(grants.new(), 1)
        self.assertTrue(os.path.exists(self.cache_store), "--cache-store file not written")

    def test_forged_state_is_refused(self):
        grants = Grants(self.authcode.client_id)
        result = subprocess.run(
            ["curl", "-sS", "--max-time", str(TIMEOUT), "-o", "/dev/null", "-w", "%{http_code}",
             f"http://127.0.0.1:{self.redirect_port}/?code=forged&state=not-a-state"],
            capture_output=True, timeout=TIMEOUT + 5)
        # Either nothing listens (no authorisation pending) or the forged state is refused;
        # in neither case does the proxy redeem the code.
        if result.returncode == 0:
            self.assertNotEqual(result.stdout, b"200")
        time.sleep(0.5)
        self.assertEqual(grants.new(), 0)

    def test_device_flow(self):
        account = self.device
        grants = Grants(account.client_id)
        mark = self.proxy.mark()
        thread, outcome = self.login_in_background(account)
        # The verification URI and the user code; the Python reference words it
        # "Visit <uri> and use code <code>" (after a line naming the account).
        match = self.proxy.wait_for_log(
            r"(?:Please visit the following URL to authenticate account "
            + re.escape(account.name) + r"|Visit): (?P<url>\S+)(?P<rest>.*)|"
            r"Visit (?P<url2>\S+) and use code (?P<code>[A-Z]+)", 30, since=mark)
        url = match.group("url") or match.group("url2")
        self.assertTrue(url.startswith(ENV["oauth_url"] + "/device"), url)
        code = (match.group("code")
                or urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("user_code", [""])[0]
                or (re.findall(r"\b[BCDFGHJKLMNPQRSTVWXZ]{8}\b", match.group("rest") or "") or [""])[0])
        self.assertTrue(code, f"no user code in the log line {match.group(0)!r}")
        result = subprocess.run(
            ["curl", "-sS", "--fail", "--max-time", str(TIMEOUT),
             ENV["oauth_url"] + "/device?user_code=" + code], capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr)
        thread.join(60)
        self.assertEqual(outcome, ["OK", "OK"])
        self.assertGreaterEqual(grants.new("urn:ietf:params:oauth:grant-type:device_code"), 1)


class ProxyLifecycleTest(unittest.TestCase):
    """Signals: SIGHUP reloads listeners without dropping live sessions; SIGTERM says goodbye
    in each protocol's words and exits."""

    def setUp(self) -> None:
        require_mailgate(self)
        self.account = Account("lifecycle@example.test", "lifecycle-pass")
        self.account.register()
        self.upstream = {"server_address": ENV["dovecot_host"], "server_ca_file": ENV["ca"],
                         "local_address": "127.0.0.1", "server_port": str(ENV["imaps_port"])}

    def login(self, port: int) -> RawImap:
        raw = RawImap("127.0.0.1", port)
        self.addCleanup(raw.close)
        tagged, _ = raw.command(b"LOGIN " + imap_quote(self.account.name) + b" " +
                                imap_quote(self.account.password))
        self.assertIn(b" OK", tagged)
        tagged, _ = raw.command(b"SELECT INBOX")
        self.assertIn(b" OK", tagged)
        return raw

    def test_sighup_adds_and_removes_listeners_keeping_live_sessions(self):
        first, second = free_port(), free_port()
        sections = {f"IMAP-{first}": self.upstream, self.account.name: self.account.section()}
        cache = os.path.join(ENV["dir"], "proxy", "reload-cache")
        proxy = Mailgate("reload", sections, ("--cache-store", cache)).start()
        self.addCleanup(proxy.stop)
        live = self.login(first)

        # Add a listener.
        proxy.sections = {f"IMAP-{first}": self.upstream, f"IMAP-{second}": self.upstream,
                          self.account.name: self.account.section()}
        proxy.write_config()
        proxy.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + TIMEOUT
        while not port_open("127.0.0.1", second):
            self.assertLess(time.monotonic(), deadline, f"no listener on {second} after SIGHUP")
            self.assertIsNone(proxy.process.poll(), "mailgate exited on SIGHUP")
            time.sleep(0.05)
        self.login(second)
        self.assertIn(b" OK", live.command(b"NOOP")[0])

        # Remove the first listener: new connections are refused, the live session goes on.
        proxy.sections = {f"IMAP-{second}": self.upstream, self.account.name: self.account.section()}
        proxy.write_config()
        proxy.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + TIMEOUT
        while port_open("127.0.0.1", first):
            self.assertLess(time.monotonic(), deadline, f"listener on {first} still open")
            time.sleep(0.05)
        self.assertIn(b" OK", live.command(b"NOOP")[0])
        self.assertIn(b" OK", live.command(b"UID SEARCH ALL")[0])
        self.assertIsNone(proxy.process.poll())

    def test_sigterm_says_goodbye_and_exits(self):
        imap_port, pop_port, smtp_port = free_port(), free_port(), free_port()
        proxy = Mailgate("terminate", {
            f"IMAP-{imap_port}": self.upstream,
            f"POP-{pop_port}": self.upstream | {"server_port": str(ENV["pop3s_port"])},
            f"SMTP-{smtp_port}": self.upstream | {"server_port": str(ENV["submission_port"]),
                                                  "server_starttls": "True"},
            self.account.name: self.account.section(),
        }).start()
        self.addCleanup(proxy.stop)
        relayed = self.login(imap_port)
        waiting = RawImap("127.0.0.1", imap_port)
        self.addCleanup(waiting.close)
        pop = socket.create_connection(("127.0.0.1", pop_port), timeout=TIMEOUT)
        smtp = socket.create_connection(("127.0.0.1", smtp_port), timeout=TIMEOUT)
        self.addCleanup(pop.close)
        self.addCleanup(smtp.close)
        self.assertTrue(pop.recv(512).startswith(b"+OK"))
        self.assertTrue(smtp.recv(512).startswith(b"220"))

        proxy.process.send_signal(signal.SIGTERM)

        def rest(sock_or_raw) -> bytes:
            sock = getattr(sock_or_raw, "sock", sock_or_raw)
            data = getattr(sock_or_raw, "buffer", b"")
            sock.settimeout(TIMEOUT)
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    return data
                data += chunk

        self.assertTrue(rest(waiting).startswith(b"* BYE"), "no BYE before login")
        self.assertIn(b"* BYE", rest(relayed), "no BYE to the logged-in session")
        self.assertTrue(rest(smtp).startswith(b"421"), "no 421 to the SMTP client")
        rest(pop)  # the POP3 client is closed (with or without a last line)
        self.assertEqual(proxy.process.wait(TIMEOUT), 0)
        self.assertFalse(port_open("127.0.0.1", imap_port))


REFERENCE = os.environ.get("MAILGATE_INTEROP_REFERENCE")


class ProxyMigrationTest(unittest.TestCase):
    """A config file with tokens the Python reference proxy cached works in mailgate unchanged:
    same password, no new token request. Needs the reference's `emailproxy` command named by
    MAILGATE_INTEROP_REFERENCE (e.g. from `pip install emailproxy` in a virtualenv)."""

    def test_tokens_cached_by_the_reference_are_used_without_a_token_request(self):
        require_mailgate(self)
        if not REFERENCE:
            self.skipTest("MAILGATE_INTEROP_REFERENCE (the reference's emailproxy command) is not set")
        account = Account("migrate@example.test", 'migrate "pass" \\ word')
        account.register()
        port = free_port()
        sections = {
            f"IMAP-{port}": {"server_address": ENV["dovecot_host"],
                             "server_port": str(ENV["imaps_port"]), "local_address": "127.0.0.1"},
            account.name: account.section(),
        }
        # The reference verifies the upstream with the default trust store: SSL_CERT_FILE.
        environment = os.environ.copy()
        os.environ["SSL_CERT_FILE"] = ENV["ca"]
        try:
            reference = Mailgate("migrate-reference", sections).start(program=REFERENCE)
        finally:
            os.environ.clear()
            os.environ.update(environment)
        grants = Grants(account.client_id)
        try:
            with imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT) as imap:
                # AUTHENTICATE PLAIN: the reference mangles escaped quoted strings in LOGIN.
                imap.authenticate("PLAIN", lambda _: sasl_plain(account.name, account.password))
        finally:
            reference.stop()
        self.assertEqual(grants.new(), 1)
        with open(reference.config, encoding="utf-8") as file:
            cached = file.read()
        self.assertIn("access_token", cached)

        mailgate = Mailgate("migrate", dict(sections, **{
            f"IMAP-{port}": sections[f"IMAP-{port}"] | {"server_ca_file": ENV["ca"]}}))
        with open(mailgate.config, "w", encoding="utf-8") as file:
            file.write(cached.replace(f"[IMAP-{port}]\n",
                                      f"[IMAP-{port}]\nserver_ca_file = {ENV['ca']}\n"))
        mailgate.start(write_config=False)
        try:
            introspections = Introspections(account.name)
            with imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT) as imap:
                self.assertEqual(imap.login(account.name, account.password)[0], "OK")
            self.assertEqual(grants.new(), 1, "mailgate asked for a new token")
            self.assertEqual(introspections.new("active"), 1)
            with imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT) as imap:
                with self.assertRaises(imaplib.IMAP4.error):
                    imap.login(account.name, "not the password")
            self.assertEqual(grants.new(), 1)
        finally:
            mailgate.stop()


class ProxyMeasureTest(ProxyTestCase):
    """Rough figures printed for the record (the benchmark suite measures properly): relay
    throughput of a large FETCH and sequential login rate, directly and through mailgate."""

    rounds = 8

    def fetch_large(self, imap: imaplib.IMAP4) -> int:
        size = 0
        for _ in range(self.rounds):
            typ, data = imap.fetch("6", "(BODY.PEEK[])")
            self.assertEqual(data[0][1], seed_messages()[5])
            size += len(data[0][1])
        return size

    def test_relay_throughput_and_login_rate(self):
        token = direct_token(SEED.name)
        with imaplib.IMAP4_SSL(ENV["dovecot_host"], ENV["imaps_port"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            imap.authenticate("XOAUTH2", one_shot(xoauth2(SEED.name, token)))
            imap.select("INBOX", readonly=True)
            started = time.perf_counter()
            size = self.fetch_large(imap)
            direct = size / (time.perf_counter() - started) / 1e6
        imap = self.imap()
        imap.select("INBOX", readonly=True)
        started = time.perf_counter()
        size = self.fetch_large(imap)
        proxied = size / (time.perf_counter() - started) / 1e6

        logins = 10
        started = time.perf_counter()
        for _ in range(logins):
            with imaplib.IMAP4_SSL(ENV["dovecot_host"], ENV["imaps_port"], ssl_context=tls_context(),
                                   timeout=TIMEOUT) as imap:
                imap.authenticate("XOAUTH2", one_shot(xoauth2(SEED.name, token)))
        direct_logins = logins / (time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(logins):
            with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
                imap.login(SEED.name, SEED.password)
        proxied_logins = logins / (time.perf_counter() - started)
        build = next((name for name in ("debug", "release") if f"/{name}/" in ENV["mailgate"]),
                     "unknown")
        print(f"\n    measure ({build} build, imaplib client): FETCH relay direct {direct:.0f} MB/s, "
              f"through mailgate {proxied:.0f} MB/s ({proxied / direct:.2f}); logins/s direct "
              f"{direct_logins:.1f}, through mailgate {proxied_logins:.1f} "
              f"({proxied_logins / direct_logins:.2f})", end=" ", flush=True)


TOKEN_PATTERN = re.compile(r"\b[ar]t-[A-Za-z0-9_-]{32}\b")


class ProxyLogHygieneTest(unittest.TestCase):
    """With --debug, mailgate logs protocol traffic but no password, token or message body."""

    def test_debug_log_has_no_secrets_or_bodies(self):
        require_mailgate(self, "--debug")
        account = Account("hygiene@example.test", 'hygiene "secret" pass')
        account.register()
        imap_port, smtp_port = free_port(), free_port()
        upstream = {"server_address": ENV["dovecot_host"], "server_ca_file": ENV["ca"],
                    "local_address": "127.0.0.1"}
        proxy = Mailgate("hygiene", {
            f"IMAP-{imap_port}": upstream | {"server_port": str(ENV["imaps_port"])},
            f"SMTP-{smtp_port}": upstream | {"server_port": str(ENV["submission_port"]),
                                             "server_starttls": "True"},
            account.name: account.section(),
        }, ("--debug",)).start()
        body_marker = unique("body-secret")
        try:
            with imaplib.IMAP4("127.0.0.1", imap_port, timeout=TIMEOUT) as imap:
                imap.login(account.name, account.password)
                imap.append("INBOX", None, None,
                            test_message(unique("hygiene"), body_marker.encode() + b"\r\n",
                                         account.name, account.name))
                imap.select("INBOX")
                imap.fetch("1:*", "(BODY.PEEK[])")
            with imaplib.IMAP4("127.0.0.1", imap_port, timeout=TIMEOUT) as imap:
                imap.authenticate("PLAIN", lambda _: sasl_plain(account.name, account.password))
            marker = unique("hygiene-smtp")
            message = test_message(marker, body_marker.encode() + b"\r\n", account.name,
                                   "rcpt@example.test")
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=TIMEOUT) as smtp:
                smtp.login(account.name, account.password)
                smtp.sendmail(account.name, ["rcpt@example.test"], message)
            assert_relayed(self, message, marker)
        finally:
            proxy.stop()
        logs = proxy.logs()
        self.assertGreater(len(logs), 0, "mailgate --debug logged nothing")
        secrets_and_bodies = {
            "the password": account.password,
            "the escaped password": account.password.replace('"', '\\"'),
            "the SASL PLAIN payload": base64.b64encode(
                sasl_plain(account.name, account.password)).decode(),
            "the client secret": account.client_secret,
            "a message body": body_marker,
        }
        for what, needle in secrets_and_bodies.items():
            at = logs.find(needle)
            self.assertEqual(at, -1, f"{what} is in the log: ...{logs[max(0, at - 200):at + 100]}...")
        token = TOKEN_PATTERN.search(logs)
        self.assertIsNone(token, f"an OAuth token is in the log: ...{logs[max(0, token.start() - 200):token.end()]}"
                          if token else "")


# ---- running ----------------------------------------------------------------------------------


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


def main() -> None:
    load_env()
    runner = unittest.TextTestRunner(resultclass=CountingResult, verbosity=2, stream=sys.stdout)
    program = unittest.main(module=__name__, testRunner=runner, exit=False)
    result = program.result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    summary = f"{result.passed} passed, {failed} failed, {len(result.skipped)} skipped"
    summary_path = os.environ.get("INTEROP_SUMMARY")
    if summary_path:
        with open(summary_path, "w", encoding="utf-8") as file:
            file.write(summary + "\n")
    sys.exit(1 if failed or result.testsRun == 0 else 0)


if __name__ == "__main__":
    main()
