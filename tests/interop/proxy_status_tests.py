"""What the running proxy shows of itself, as an operator uses it: `mailgate status`, the status
listener's `/healthz`, `/metrics` and status page (rendered in headless Chromium), and the
notification commands, while an account goes through its first authorisation, has its refresh
token revoked by the provider, and is authorised again through the page's "Sign in" link.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

from harness import ENV, OAuth, Account, Mailgate, TIMEOUT, free_port, require_mailgate

HERE = os.path.dirname(os.path.abspath(__file__))
# Screenshots of the status page, kept as CI artifacts.
ARTIFACTS = os.path.join(HERE, "..", "..", "target", "status-page")

RECORDER = """\
import json, os, sys
with open(sys.argv[1], "a", encoding="utf-8") as file:
    file.write(json.dumps(dict(os.environ)) + "\\n")
"""

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"'
SAMPLE = re.compile(rf"^({METRIC_NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)$")


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """A strict reader of the Prometheus / OpenMetrics text format: every line is a HELP, TYPE
    or UNIT comment, a sample of a declared family, or the final `# EOF`; values are numbers.
    Raises AssertionError on anything else."""
    families: dict[str, str] = {}
    samples: dict[tuple[str, frozenset], float] = {}
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if not lines or lines[-1] != "# EOF":
        raise AssertionError("the exposition does not end with # EOF")
    for number, line in enumerate(lines[:-1], 1):
        if line.startswith("# HELP ") or line.startswith("# UNIT "):
            if not re.match(rf"^# (HELP|UNIT) {METRIC_NAME}( .*)?$", line):
                raise AssertionError(f"line {number}: malformed comment {line!r}")
            continue
        if line.startswith("# TYPE "):
            match = re.match(rf"^# TYPE ({METRIC_NAME}) (counter|gauge|histogram|summary|"
                             rf"unknown|info|stateset|gaugehistogram)$", line)
            if not match:
                raise AssertionError(f"line {number}: malformed TYPE {line!r}")
            families[match.group(1)] = match.group(2)
            continue
        match = SAMPLE.match(line)
        if not match:
            raise AssertionError(f"line {number}: not a sample {line!r}")
        name, labels, value = match.group(1), match.group(2) or "", match.group(len(match.groups()))
        family = name[:-len("_total")] if name.endswith("_total") else name
        if families.get(family) != "counter" and families.get(name) is None:
            raise AssertionError(f"line {number}: sample of an undeclared family {line!r}")
        if families.get(family) == "counter" and not name.endswith("_total"):
            raise AssertionError(f"line {number}: a counter sample without _total {line!r}")
        pairs = frozenset((k, v) for k, v in re.findall(LABEL, labels))
        samples[(name, pairs)] = float(value)
    for name in families:
        if not name.startswith("mailgate_"):
            raise AssertionError(f"series {name} is not prefixed mailgate_")
    return samples


def metric(samples: dict, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    total = [value for (key, pairs), value in samples.items() if key == name and wanted <= pairs]
    if not total:
        raise AssertionError(f"no sample {name} {labels}")
    return sum(total)


class SignInLinks(html.parser.HTMLParser):
    """The status page's "Sign in" links."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and "signin" in (attributes.get("class") or "").split():
            self.links.append(attributes.get("href") or "")


class ProxyStatusTest(unittest.TestCase):
    """One account through its first authorisation, a revoked refresh token and a new
    authorisation through the status page's link: `mailgate status` (exit 0/1), `/healthz`
    (200/503), the auth and error notification commands (repeated while nobody acts), token
    events, `/metrics` read with a strict text-format parser, and the page in Chromium."""

    def setUp(self) -> None:
        require_mailgate(self, "--local-server-auth")
        self.dir = os.path.join(ENV["dir"], "status")
        os.makedirs(self.dir, exist_ok=True)
        recorder = os.path.join(self.dir, "record.py")
        with open(recorder, "w", encoding="utf-8") as file:
            file.write(RECORDER)
        self.records = {kind: os.path.join(self.dir, f"{kind}.jsonl")
                        for kind in ("auth", "error", "token")}
        for path in self.records.values():
            open(path, "w", encoding="utf-8").close()
        self.port, redirect_port, self.status_port = free_port(), free_port(), free_port()
        self.account = Account("status@example.test", "status-pass",
                               flow="authorization_code",
                               permission_url=ENV["oauth_url"] + "/authorize",
                               redirect_uri=f"http://127.0.0.1:{redirect_port}/")
        self.account.register()
        # 610 s: inside the 600 s refresh margin ten seconds after issue, so the refresher's
        # next round (at most 60 s later) refreshes the account.
        OAuth.control(action="set_expiry", client_id=self.account.client_id, seconds=610)
        self.addCleanup(OAuth.control, action="set_expiry", client_id=self.account.client_id,
                        seconds=3600)
        command = f"{sys.executable} {recorder}"
        self.proxy = Mailgate("status", {
            "emailproxy": {
                "status_address": f"127.0.0.1:{self.status_port}",
                "auth_notify_cmd": f"{command} {self.records['auth']}",
                "auth_notify_interval": "8",
                "error_notify_cmd": f"{command} {self.records['error']}",
                "token_event_cmd": f"{command} {self.records['token']}",
            },
            f"IMAP-{self.port}": {"server_address": ENV["dovecot_host"],
                                  "server_port": str(ENV["imaps_port"]),
                                  "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"},
            self.account.name: self.account.section(),
        }, ("--local-server-auth",)).start()
        self.addCleanup(self.proxy.stop)

    # ---- what the operator looks at ----

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}{path}",
                                        timeout=TIMEOUT) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def status_command(self, *args: str) -> tuple[int, str]:
        result = subprocess.run([ENV["mailgate"], "--config-file", self.proxy.config, "status",
                                 *args], capture_output=True, text=True, timeout=TIMEOUT)
        return result.returncode, result.stdout + result.stderr

    def report(self) -> dict:
        status, body = self.get("/status.json")
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def account_report(self) -> dict:
        for account in self.report()["accounts"]:
            if account["account"] == self.account.name:
                return account
        return {}

    def wait_for(self, what: str, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"{what} within {timeout} s; report: {self.report()}\n"
                             f"{self.proxy.logs()[-2000:]}")

    def records_of(self, kind: str) -> list[dict]:
        with open(self.records[kind], encoding="utf-8") as file:
            return [json.loads(line) for line in file if line.strip()]

    def assert_green(self) -> None:
        code, text = self.status_command()
        self.assertEqual(code, 0, text)
        self.assertIn("all accounts are well", text)
        self.assertEqual(self.get("/healthz"), (200, "ok\n"))

    def assert_attention(self, reason: str) -> None:
        code, text = self.status_command()
        self.assertEqual(code, 1, text)
        self.assertIn(reason, text)
        code, json_text = self.status_command("--json")
        self.assertEqual(code, 1, json_text)
        self.assertEqual(json.loads(json_text)["state"], "attention")
        status, body = self.get("/healthz")
        self.assertEqual(status, 503, body)
        self.assertIn(self.account.name, body)

    # ---- the browser ----

    def chromium(self, name: str, width: int) -> str:
        """The status page's DOM as headless Chromium renders it `width` px wide; keeps a
        screenshot under target/status-page/."""
        os.makedirs(ARTIFACTS, exist_ok=True)
        url = f"http://127.0.0.1:{self.status_port}/"
        common = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                  f"--window-size={width},900", f"--user-data-dir={self.dir}/chromium"]
        dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=90)
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        shot = os.path.join(ARTIFACTS, f"{name}-{width}px.png")
        result = subprocess.run(common + [f"--screenshot={shot}", url], capture_output=True,
                                text=True, timeout=90)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertGreater(os.path.getsize(shot), 1000)
        return dom.stdout

    def assert_page_shows_pending(self, dom: str, url: str) -> None:
        self.assertIn(f'data-account="{self.account.name}"', dom)
        self.assertIn("Needs authorisation", dom)
        links = SignInLinks()
        links.feed(dom)
        self.assertEqual([link.replace("&amp;", "&") for link in links.links], [url])
        self.assertIn(f"IMAP-{self.port}", dom)
        self.assertNotIn(self.account.password, dom)
        self.assertNotIn(self.account.client_secret, dom)

    # ---- the test ----

    def login_in_background(self) -> tuple[threading.Thread, list]:
        import imaplib
        outcome: list = []

        def login() -> None:
            try:
                with imaplib.IMAP4("127.0.0.1", self.port, timeout=120) as imap:
                    outcome.append(imap.login(self.account.name, self.account.password)[0])
                    imap.select("INBOX")
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                outcome.append(repr(error))

        thread = threading.Thread(target=login, daemon=True)
        thread.start()
        return thread, outcome

    def sign_in_through_the_page(self, thread: threading.Thread, outcome: list) -> None:
        """Follows the page's link to the provider (which redirects back to the proxy's
        redirect listener) and waits for the waiting login to succeed."""
        status, page = self.get("/")
        self.assertEqual(status, 200)
        links = SignInLinks()
        links.feed(page)
        self.assertEqual(len(links.links), 1, page)
        result = subprocess.run(["curl", "-sS", "-L", "--max-time", str(TIMEOUT),
                                 links.links[0].replace("&amp;", "&")],
                                capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr)
        thread.join(60)
        self.assertEqual(outcome, ["OK"])

    def test_status_follows_an_account_through_authorisation_and_revocation(self):
        self.assert_green()
        before = parse_metrics(self.get("/metrics")[1])
        self.assertEqual(metric(before, "mailgate_logins_total", outcome="success"), 0)

        # 1. The first login waits for an authorisation: everything says so.
        thread, outcome = self.login_in_background()
        url = self.wait_for("a pending authorisation on the board",
                            lambda: self.account_report().get("authorisation_url"), 30)
        self.assert_attention(f"account {self.account.name} waits for an authorisation")
        self.assertEqual(self.account_report()["state"], "needs-authorisation")
        record = self.wait_for("auth_notify_cmd to run",
                               lambda: self.records_of("auth"), 15)[0]
        self.assertEqual(record["MAILGATE_EVENT"], "authorisation-needed")
        self.assertEqual(record["MAILGATE_ACCOUNT"], self.account.name)
        self.assertEqual(record["MAILGATE_URL"], url)
        allowed = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME"}
        for key, value in record.items():
            self.assertTrue(key.startswith("MAILGATE_") or key in allowed, key)
            self.assertNotIn(self.account.password, value)
            self.assertNotIn(self.account.client_secret, value)
        for width in (1280, 390):
            self.assert_page_shows_pending(self.chromium("pending", width), url)
        self.sign_in_through_the_page(thread, outcome)
        self.assert_green()
        token = self.wait_for("token_event_cmd (new)", lambda: self.records_of("token"), 15)[0]
        self.assertEqual((token["MAILGATE_EVENT"], token["MAILGATE_ACCOUNT"]),
                         ("new", self.account.name))
        self.assertGreater(int(token["MAILGATE_EXPIRES_AT"]), time.time())
        after_login = parse_metrics(self.get("/metrics")[1])
        self.assertEqual(metric(after_login, "mailgate_logins_total",
                                listener=f"IMAP-{self.port}", outcome="success"), 1)
        self.assertGreaterEqual(metric(after_login, "mailgate_relayed_bytes_total",
                                       direction="from_server"), 1)
        self.assertEqual(metric(after_login, "mailgate_token_requests_total",
                                grant="authorization_code", outcome="success"), 1)

        # 2. The provider revokes the refresh token: the proactive refresh fails within a
        # minute, and the account needs authorising (announced again until someone acts).
        OAuth.control(action="revoke", username=self.account.name, what="refresh")
        notified = len(self.records_of("auth"))
        self.wait_for("the refresh failure on the board",
                      lambda: self.account_report().get("state") == "needs-authorisation", 90)
        self.assert_attention(f"account {self.account.name} needs authorising")
        repeats = self.wait_for(
            "auth_notify_cmd twice more", lambda: (lambda r: r if len(r) >= notified + 2 else None)(
                self.records_of("auth")), 30)
        self.assertTrue(all("MAILGATE_URL" not in r for r in repeats[notified:]))
        error = self.wait_for("error_notify_cmd", lambda: self.records_of("error"), 15)[0]
        self.assertEqual(error["MAILGATE_ACCOUNT"], self.account.name)
        self.assertIn("refresh", error["MAILGATE_ERROR"])
        failing = parse_metrics(self.get("/metrics")[1])
        self.assertGreaterEqual(metric(failing, "mailgate_refresh_failures_total"), 1)
        self.assertGreaterEqual(metric(failing, "mailgate_token_requests_total",
                                       grant="refresh_token", outcome="failure"), 1)
        self.assertEqual(metric(failing, "mailgate_accounts_needing_authorisation"), 1)

        # 3. A client logs in: the authorisation it starts is completed through the page.
        thread, outcome = self.login_in_background()
        self.wait_for("a new pending authorisation",
                      lambda: self.account_report().get("authorisation_url"), 60)
        self.assertEqual(metric(parse_metrics(self.get("/metrics")[1]),
                                "mailgate_authorisations_pending"), 1)
        self.sign_in_through_the_page(thread, outcome)
        self.assert_green()
        final = parse_metrics(self.get("/metrics")[1])
        self.assertEqual(metric(final, "mailgate_logins_total", outcome="success"), 2)
        self.assertEqual(metric(final, "mailgate_authorisations_pending"), 0)
        self.assertEqual(metric(final, "mailgate_accounts_needing_authorisation"), 0)
        self.assertGreaterEqual(metric(final, "mailgate_sessions_total"), 2)
        for width in (1280, 390):
            dom = self.chromium("green", width)
            self.assertIn("All accounts are well.", dom)
        print(f"\n    status: screenshots in {os.path.normpath(ARTIFACTS)}", flush=True)


class ProxyStatusAccessTest(unittest.TestCase):
    """A status listener off loopback needs `status_token`: without it the proxy does not
    start; with it, requests without the token are refused, a bearer token or the one-time
    sign-in link from the log lets them in, and the link works once."""

    def test_the_status_token(self):
        require_mailgate(self)
        port, status_port = free_port(), free_port()
        imap = {"server_address": ENV["dovecot_host"], "server_port": str(ENV["imaps_port"]),
                "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"}
        refused = Mailgate("status-no-token", {
            "emailproxy": {"status_address": f"0.0.0.0:{status_port}"}, f"IMAP-{port}": imap})
        refused.write_config()
        result = subprocess.run([ENV["mailgate"], "--config-file", refused.config, "--no-gui"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(result.returncode, 78, result.stdout + result.stderr)
        self.assertIn("status_token", result.stdout + result.stderr)

        token = "s3cret-status-token-0123456789"
        proxy = Mailgate("status-token", {
            "emailproxy": {"status_address": f"0.0.0.0:{status_port}", "status_token": token},
            f"IMAP-{port}": imap}).start()
        self.addCleanup(proxy.stop)
        base = f"http://127.0.0.1:{status_port}"

        def get(path: str, headers: dict | None = None):
            request = urllib.request.Request(base + path, headers=headers or {})
            opener = urllib.request.build_opener(NoRedirect)
            try:
                with opener.open(request, timeout=TIMEOUT) as response:
                    return response.status, response.read().decode(), response.headers
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode(), error.headers

        for path in ("/", "/metrics", "/healthz", "/status.json"):
            self.assertEqual(get(path)[0], 401, path)
            self.assertEqual(get(path, {"Authorization": "Bearer wrong"})[0], 401, path)
        self.assertEqual(get("/healthz", {"Authorization": f"Bearer {token}"})[:2], (200, "ok\n"))
        link = proxy.wait_for_log(r"Status page sign-in link \(works once\): http://\S+"
                                  r"(/login\?once=[0-9a-f]+)").group(1)
        status, _, headers = get(link)
        self.assertEqual(status, 303)
        self.assertEqual(headers.get("Location"), "/")
        cookie = headers.get("Set-Cookie", "").split(";")[0]
        self.assertIn("HttpOnly", headers.get("Set-Cookie", ""))
        self.assertEqual(get("/", {"Cookie": cookie})[0], 200)
        self.assertEqual(get(link)[0], 403, "a sign-in link works once")
        self.assertNotIn(token, proxy.logs())
        self.assertEqual(get("/", {"Cookie": "mailgate_status=guess"})[0], 401)


class ProxyStatusReloadTest(unittest.TestCase):
    """`systemctl reload` (SIGHUP) applies `[emailproxy]`'s status and notification settings:
    a moved `status_address` is served at the new address and no longer at the old one, a new
    `auth_notify_cmd` is the one run for the next pending authorisation, and removing
    `status_address` turns the listener off; the proxy keeps serving logins throughout."""

    def test_a_reload_applies_the_status_and_notification_settings(self):
        require_mailgate(self, "--local-server-auth")
        directory = os.path.join(ENV["dir"], "status-reload")
        os.makedirs(directory, exist_ok=True)
        recorder = os.path.join(directory, "record.py")
        with open(recorder, "w", encoding="utf-8") as file:
            file.write(RECORDER)
        before, after = (os.path.join(directory, f"{name}.jsonl") for name in ("before", "after"))
        for path in (before, after):
            open(path, "w", encoding="utf-8").close()
        port, redirect_port = free_port(), free_port()
        first_status, second_status = free_port(), free_port()
        account = Account("status-reload@example.test", "status-reload-pass",
                          flow="authorization_code",
                          permission_url=ENV["oauth_url"] + "/authorize",
                          redirect_uri=f"http://127.0.0.1:{redirect_port}/")
        account.register()
        command = f"{sys.executable} {recorder}"
        proxy = Mailgate("status-reload", {
            "emailproxy": {"status_address": f"127.0.0.1:{first_status}",
                           "auth_notify_cmd": f"{command} {before}"},
            f"IMAP-{port}": {"server_address": ENV["dovecot_host"],
                             "server_port": str(ENV["imaps_port"]),
                             "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"},
            account.name: account.section(),
        }, ("--local-server-auth",)).start()
        self.addCleanup(proxy.stop)

        def healthz(status_port: int) -> int | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/healthz",
                                            timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code
            except OSError:
                return None

        def reload(emailproxy: dict[str, str]) -> None:
            mark = proxy.mark()
            proxy.sections["emailproxy"] = emailproxy
            proxy.write_config()
            proxy.process.send_signal(signal.SIGHUP)
            proxy.wait_for_log(r"Reloading configuration", TIMEOUT, since=mark)

        def eventually(what: str, predicate, timeout: float = 20) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if predicate():
                    return
                time.sleep(0.2)
            self.fail(f"{what} within {timeout} s:\n{proxy.logs()[-2000:]}")

        self.assertEqual(healthz(first_status), 200)
        reload({"status_address": f"127.0.0.1:{second_status}",
                "auth_notify_cmd": f"{command} {after}"})
        eventually("the status listener moves", lambda: healthz(second_status) == 200
                   and healthz(first_status) is None)

        # A login that needs a browser: the new command announces it, the old one never runs.
        import imaplib
        outcome: list = []

        def login() -> None:
            try:
                with imaplib.IMAP4("127.0.0.1", port, timeout=120) as imap:
                    outcome.append(imap.login(account.name, account.password)[0])
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                outcome.append(repr(error))

        thread = threading.Thread(target=login, daemon=True)
        thread.start()
        url = proxy.wait_for_log(r"Please visit the following URL to authenticate account "
                                 + re.escape(account.name) + r": (\S+)").group(1)

        def announced() -> list[dict]:
            with open(after, encoding="utf-8") as file:
                return [json.loads(line) for line in file if line.strip()]

        eventually("the new auth_notify_cmd runs", lambda: any(
            record.get("MAILGATE_ACCOUNT") == account.name for record in announced()))
        with open(before, encoding="utf-8") as file:
            self.assertEqual(file.read(), "", "the old auth_notify_cmd ran after the reload")
        result = subprocess.run(["curl", "-sS", "-L", "--max-time", str(TIMEOUT), url],
                                capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr)
        thread.join(60)
        self.assertEqual(outcome, ["OK"])

        reload({})
        eventually("the status listener stops", lambda: healthz(second_status) is None)
        proxy.wait_for_log(r"The status listener is off")
        self.assertIsNone(proxy.process.poll(), "the proxy exited on a reload")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
