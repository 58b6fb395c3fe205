"""Operating mailgate: signals, migration from the Python email-oauth2-proxy, rough figures, and what
the debug log must never contain.
"""

from __future__ import annotations

import base64
import imaplib
import os
import re
import signal
import smtplib
import socket
import time
import unittest

from harness import (
    Account,
    ENV,
    Grants,
    Introspections,
    Mailgate,
    ProxyTestCase,
    RawImap,
    SEED,
    TIMEOUT,
    assert_relayed,
    direct_token,
    free_port,
    imap_quote,
    make_message,
    one_shot,
    port_open,
    require_mailgate,
    sasl_plain,
    seed_messages,
    tls_context,
    unique,
    xoauth2,
)


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
    """A config file with tokens the Python email-oauth2-proxy cached works in mailgate unchanged:
    same password, no new token request. Needs the Python email-oauth2-proxy's `emailproxy` command named by
    MAILGATE_INTEROP_REFERENCE (e.g. from `pip install emailproxy` in a virtualenv)."""

    def test_tokens_cached_by_the_reference_are_used_without_a_token_request(self):
        require_mailgate(self)
        if not REFERENCE:
            self.skipTest("MAILGATE_INTEROP_REFERENCE (the Python email-oauth2-proxy's emailproxy command) is not set")
        account = Account("migrate@example.test", 'migrate "pass" \\ word')
        account.register()
        port = free_port()
        sections = {
            f"IMAP-{port}": {"server_address": ENV["dovecot_host"],
                             "server_port": str(ENV["imaps_port"]), "local_address": "127.0.0.1"},
            account.name: account.section(),
        }
        # The Python email-oauth2-proxy verifies the upstream with the default trust store: SSL_CERT_FILE.
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
                # AUTHENTICATE PLAIN: the Python email-oauth2-proxy mangles escaped quoted strings in LOGIN.
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
                            make_message(unique("hygiene"), body_marker.encode() + b"\r\n",
                                         account.name, account.name))
                imap.select("INBOX")
                imap.fetch("1:*", "(BODY.PEEK[])")
            with imaplib.IMAP4("127.0.0.1", imap_port, timeout=TIMEOUT) as imap:
                imap.authenticate("PLAIN", lambda _: sasl_plain(account.name, account.password))
            marker = unique("hygiene-smtp")
            message = make_message(marker, body_marker.encode() + b"\r\n", account.name,
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
