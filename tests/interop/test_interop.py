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
import glob
import imaplib
import json
import os
import poplib
import re
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

    def __init__(self, name: str, sections: dict[str, dict[str, str]],
                 extra_args: tuple[str, ...] = ()) -> None:
        self.name = name
        self.sections = sections
        self.extra_args = extra_args
        self.dir = os.path.join(ENV["dir"], "proxy", name)
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "emailproxy.config")
        self.log_file = os.path.join(self.dir, "mailgate.log")
        self.output_file = os.path.join(self.dir, "output.log")
        self.process: subprocess.Popen | None = None

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

    def start(self) -> "Mailgate":
        self.write_config()
        args = [ENV["mailgate"], "--config-file", self.config, "--log-file", self.log_file,
                "--no-gui", *self.extra_args]
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

    def logs(self) -> str:
        text = ""
        for path in (self.log_file, self.output_file):
            try:
                with open(path, encoding="utf-8", errors="replace") as file:
                    text += file.read()
            except FileNotFoundError:
                pass
        return text

    def wait_for_log(self, pattern: str, timeout: float = TIMEOUT) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.logs())
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


# ---- running ----------------------------------------------------------------------------------


class CountingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.passed = 0

    def addSuccess(self, test) -> None:  # noqa: N802 - unittest's naming
        super().addSuccess(test)
        self.passed += 1


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
