"""Token handling through mailgate: caching, flows, refresh, revocation, provider failures,
concurrency, and the interactive flows on their own instance.
"""

from __future__ import annotations

import base64
import concurrent.futures
import imaplib
import os
import poplib
import smtplib
import re
import subprocess
import threading
import time
import unittest
import urllib.parse

from harness import (
    Account,
    BURST,
    CACHED,
    ENV,
    EXPIRY,
    FAIL500,
    FAILGRANT,
    Grants,
    IN_A_ROW,
    Introspections,
    Mailgate,
    OAuth,
    OUTAGE,
    ProxyTestCase,
    RETRY,
    REVOKED,
    ROPC,
    TIMEOUT,
    WRONG,
    free_port,
    require_mailgate,
)


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

    def test_clients_in_a_row_reuse_the_login_and_still_refuse_a_wrong_password(self):
        """IMAP, POP3 and SMTP clients one after another, each wrong password right after a
        good login (whose result the proxy keeps for a minute): the wrong one is refused on every
        protocol, and no login needs a token request. One wrong password at a time: from the
        second in a row the account is refused for a while (the failure back-off)."""
        self.login_ok(IN_A_ROW)
        grants = Grants(IN_A_ROW.client_id)

        def pop_login(password: str) -> None:
            pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
            try:
                pop.user(IN_A_ROW.name)
                if password == IN_A_ROW.password:
                    self.assertTrue(pop.pass_(password).startswith(b"+OK"))
                else:
                    with self.assertRaises(poplib.error_proto):
                        pop.pass_(password)
            finally:
                pop.close()

        def smtp_login(password: str) -> None:
            with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
                smtp.ehlo("client.test")
                # One AUTH PLAIN: `login()` would try LOGIN after a refused PLAIN, a second
                # wrong password in a row.
                smtp.user, smtp.password = IN_A_ROW.name, password
                if password == IN_A_ROW.password:
                    self.assertEqual(smtp.auth("PLAIN", smtp.auth_plain)[0], 235)
                else:
                    with self.assertRaises(smtplib.SMTPAuthenticationError):
                        smtp.auth("PLAIN", smtp.auth_plain)

        self.assert_login_refused(IN_A_ROW, "wrong-pass")
        pop_login(IN_A_ROW.password)
        pop_login("wrong-pass")
        smtp_login(IN_A_ROW.password)
        smtp_login("wrong-pass")
        self.login_ok(IN_A_ROW)
        self.login_ok(IN_A_ROW)
        self.assertEqual(grants.new(), 0, "a login with a valid stored token made a token request")

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

    def test_an_smtp_client_retrying_through_a_provider_outage_is_not_closed(self):
        """Each login during a token endpoint outage gets `454` (temporary); a client that
        retries on the same connection is not closed as a password guesser (three refused
        passwords would close it), and logs in once the provider answers again."""
        grants = Grants(OUTAGE.client_id)
        OAuth.control(action="clear_failures", client_id=OUTAGE.client_id)
        OAuth.control(action="fail_next", client_id=OUTAGE.client_id, kind="500", count=4)
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            plain = base64.b64encode(f"\0{OUTAGE.name}\0{OUTAGE.password}".encode()).decode()
            for attempt in range(4):
                code, text = smtp.docmd("AUTH", "PLAIN " + plain)
                self.assertEqual(code, 454, f"attempt {attempt + 1}: {text!r}")
            code, text = smtp.docmd("AUTH", "PLAIN " + plain)
            self.assertEqual(code, 235, text)
        self.assertEqual(grants.new(), 5)

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
        cls.device_lost = Account("device-lost@example.test", "device-lost-pass", flow="device",
                                  permission_url=ENV["oauth_url"] + "/devicecode")
        # POP3 and SMTP logins that wait for a browser, as IMAP's do.
        cls.pop_port = free_port()
        cls.smtp_port = free_port()
        cls.authpop = Account("authpop@example.test", "authpop-pass", flow="authorization_code",
                              permission_url=ENV["oauth_url"] + "/authorize",
                              redirect_uri=f"http://127.0.0.1:{cls.redirect_port}/")
        cls.authsmtp = Account("authsmtp@example.test", "authsmtp-pass",
                               flow="authorization_code",
                               permission_url=ENV["oauth_url"] + "/authorize",
                               redirect_uri=f"http://127.0.0.1:{cls.redirect_port}/")
        for account in (cls.authcode, cls.device, cls.device_lost, cls.authpop, cls.authsmtp):
            account.register()
        upstream = {"server_address": ENV["dovecot_host"], "server_ca_file": ENV["ca"],
                    "local_address": "127.0.0.1"}
        sections = {
            f"IMAP-{cls.port}": upstream | {"server_port": str(ENV["imaps_port"])},
            f"POP-{cls.pop_port}": upstream | {"server_port": str(ENV["pop3s_port"])},
            f"SMTP-{cls.smtp_port}": upstream | {"server_port": str(ENV["submissions_port"])},
            cls.authcode.name: cls.authcode.section(),
            cls.device.name: cls.device.section(),
            cls.device_lost.name: cls.device_lost.section(),
            cls.authpop.name: cls.authpop.section(),
            cls.authsmtp.name: cls.authsmtp.section(),
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

    def test_authorization_code_over_pop3_and_smtp(self):
        """A POP3 or SMTP login waits for the browser and then logs in upstream, as IMAP does
        (the token is obtained before the upstream connection is used)."""

        def pop3_login(account: Account) -> list:
            pop = poplib.POP3("127.0.0.1", self.pop_port, timeout=90)
            try:
                pop.user(account.name)
                return [pop.pass_(account.password)[:3], pop.stat()[0] >= 0]
            finally:
                pop.quit()

        def smtp_login(account: Account) -> list:
            with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=90) as smtp:
                smtp.ehlo("client.example")
                return [smtp.login(account.name, account.password)[0]]

        for account, login, expected in ((self.authpop, pop3_login, [b"+OK", True]),
                                         (self.authsmtp, smtp_login, [235])):
            with self.subTest(account=account.name):
                grants = Grants(account.client_id)
                mark = self.proxy.mark()
                outcome: list = []

                def run(account=account, login=login) -> None:
                    try:
                        outcome.extend(login(account))
                    except Exception as error:  # noqa: BLE001 - reported by the test
                        outcome.append(error)

                thread = threading.Thread(target=run, daemon=True)
                thread.start()
                url = self.visit_url_line(account, mark)
                result = subprocess.run(["curl", "-sS", "-L", "--max-time", str(TIMEOUT), url],
                                        capture_output=True, timeout=TIMEOUT + 5)
                self.assertEqual(result.returncode, 0, result.stderr)
                thread.join(60)
                self.assertEqual(outcome, expected)
                self.assertEqual(grants.new("authorization_code"), 1)

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

    def approve_device_code(self, account: Account, mark: dict[str, int]) -> None:
        """Reads the verification URI and user code from the log and approves the code."""
        # The Python email-oauth2-proxy words it "Visit <uri> and use code <code>" (after a
        # line naming the account).
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

    def test_device_flow(self):
        account = self.device
        grants = Grants(account.client_id)
        mark = self.proxy.mark()
        thread, outcome = self.login_in_background(account)
        self.approve_device_code(account, mark)
        thread.join(60)
        self.assertEqual(outcome, ["OK", "OK"])
        self.assertGreaterEqual(grants.new("urn:ietf:params:oauth:grant-type:device_code"), 1)

    def test_device_flow_survives_lost_connections_while_polling(self):
        """RFC 8628 §3.5: a poll whose connection is lost is repeated after a longer wait; the
        flow goes on and the login succeeds once the user enters the code."""
        account = self.device_lost
        grants = Grants(account.client_id)
        mark = self.proxy.mark()
        OAuth.control(action="fail_next", kind="drop", count=2, client_id=account.client_id)
        try:
            thread, outcome = self.login_in_background(account)
            # Both lost polls (1 s, then 2 s apart) happen before the code is entered.
            warning = (re.escape(account.name) + r".*device code poll failed; polling again")
            self.proxy.wait_for_log(warning + r"(?s:.*)" + warning, 30, since=mark)
            self.approve_device_code(account, mark)
            thread.join(60)
        finally:
            OAuth.control(action="clear_failures", client_id=account.client_id)
        self.assertEqual(outcome, ["OK", "OK"])
        self.assertEqual(grants.new("urn:ietf:params:oauth:grant-type:device_code"), 3,
                         "two lost polls and the one that got the token")


class ProxyRefresherTest(unittest.TestCase):
    """The proactive refresher as deployed: tokens close to expiry are refreshed in the
    background; a refresh token the provider refuses never starts an interactive authorisation
    there, never holds up another account, keeps the stored tokens, and is reported as a
    warning that names the account."""

    def test_a_refused_refresh_token_starts_no_authorisation_and_holds_up_no_one(self):
        require_mailgate(self, "--local-server-auth")
        port, redirect_port = free_port(), free_port()
        refused = Account("refresh-refused@example.test", "refused-pass",
                          flow="authorization_code", permission_url=ENV["oauth_url"] + "/authorize",
                          redirect_uri=f"http://127.0.0.1:{redirect_port}/")
        steady = Account("refresh-steady@example.test", "steady-pass")
        for account in (refused, steady):
            account.register()
            # 610 s: inside the 600 s refresh margin ten seconds after issue, so the
            # refresher's next round (at most 60 s later) refreshes both.
            OAuth.control(action="set_expiry", client_id=account.client_id, seconds=610)
        sections = {
            f"IMAP-{port}": {"server_address": ENV["dovecot_host"],
                             "server_port": str(ENV["imaps_port"]),
                             "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"},
            refused.name: refused.section(),
            steady.name: steady.section(),
        }
        proxy = Mailgate("refresher", sections, ("--local-server-auth",)).start()
        try:
            refused_grants, steady_grants = Grants(refused.client_id), Grants(steady.client_id)
            visit = (r"Please visit the following URL to authenticate account "
                     + re.escape(refused.name) + r": (\S+)")
            mark = proxy.mark()
            outcome: list = []

            def first_login() -> None:
                with imaplib.IMAP4("127.0.0.1", port, timeout=90) as imap:
                    outcome.append(imap.login(refused.name, refused.password)[0])

            thread = threading.Thread(target=first_login, daemon=True)
            thread.start()
            url = proxy.wait_for_log(visit, 30, since=mark).group(1)
            result = subprocess.run(["curl", "-sS", "-L", "--max-time", str(TIMEOUT), url],
                                    capture_output=True, timeout=TIMEOUT + 5)
            self.assertEqual(result.returncode, 0, result.stderr)
            thread.join(60)
            self.assertEqual(outcome, ["OK"])
            with imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT) as imap:
                self.assertEqual(imap.login(steady.name, steady.password)[0], "OK")
            self.assertEqual((refused_grants.new(), steady_grants.new()), (1, 1))

            # Two refusals: before the fix the refresher went through both strikes, dropped the
            # tokens and started a browser authorisation.
            OAuth.control(action="fail_next", client_id=refused.client_id,
                          kind="invalid_grant", count=2)
            mark = proxy.mark()
            proxy.wait_for_log(
                r"WARN.*Unable to refresh the access token of account " + re.escape(refused.name)
                + r" ahead of its expiry: account " + re.escape(refused.name)
                + r" needs a new authorisation \(the provider refused its refresh token", 90,
                since=mark)
            # The other account was refreshed in the same round, not after a wait.
            deadline = time.monotonic() + 30
            while steady_grants.new() < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(steady_grants.new(), 2)
            self.assertNotRegex(proxy.logs(mark), visit)
            self.assertEqual(refused_grants.authorizations(), 1)
            self.assertEqual(refused_grants.new("refresh_token"), 1)

            # The stored tokens were kept: the next login refreshes (one more refusal, then
            # success) without any authorisation.
            with imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT) as imap:
                self.assertEqual(imap.login(refused.name, refused.password)[0], "OK")
            self.assertNotRegex(proxy.logs(mark), visit)
            self.assertEqual(refused_grants.authorizations(), 1)
        finally:
            proxy.stop()
            for account in (refused, steady):
                OAuth.control(action="set_expiry", client_id=account.client_id, seconds=3600)
