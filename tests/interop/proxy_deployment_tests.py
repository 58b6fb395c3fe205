"""Deployments as users run them: one mailgate process per scenario, driven through a whole
working life (first login, later logins, another client, a wrong password, a restart on the
file it rewrote), and the user guide's `register` command line taken literally.

The matrix crosses the account's shape in the file, the OAuth 2.0 flow, the wrong-password
policy and the protocol; each cell is a test method named after it, e.g.
`test_catchall_at_authcode_delete_true_pop3`, so a failure names its scenario.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import http.server
import imaplib
import itertools
import os
import poplib
import re
import shlex
import smtplib
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse
from typing import Callable

from harness import (
    Account,
    ENV,
    Grants,
    Introspections,
    Mailgate,
    TIMEOUT,
    assert_relayed,
    free_port,
    make_message,
    require_mailgate,
    save_message,
    unique,
)

DOMAIN = "deploy.example.test"
RECIPIENT = "rcpt@example.test"
# The scope the account's settings ask for; the domain-wide section of the override shape asks
# for another, which the provider must never see.
SCOPE = "mail offline_access"
DOMAIN_SCOPE = "domain-wide-scope"
# Stored values that are the tokens (and what protects them); all but the expiry are Fernet.
TOKEN_KEYS = ("access_token", "access_token_expiry", "refresh_token", "token_salt",
              "token_iterations")
VISIT = "Please visit the following URL to authenticate account {}: (\\S+)"


def incorrect(user: str) -> str:
    """The proxy's words for a wrong password that is refused (tokens kept)."""
    return f"mailgate: login failed - the password for account {user} is incorrect"


def read_sections(path: str) -> dict[str, dict[str, str]]:
    """The config file's sections, as a user's INI reader sees them."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keep the keys as written
    with open(path, encoding="utf-8") as file:
        parser.read_file(file)
    return {name: dict(parser.items(name, raw=True)) for name in parser.sections()}


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, timeout=TIMEOUT + 5, **kwargs)


def visit(test: unittest.TestCase, url: str) -> None:
    """What the user does with the logged URL: open it in a browser, which follows the
    provider's redirect back to mailgate's local redirect listener."""
    result = run(["curl", "-sS", "-L", "--max-time", str(TIMEOUT), url])
    test.assertEqual(result.returncode, 0, f"visiting {url}: {result.stderr!r}")


class Background:
    """A client's login on its own thread: interactive logins wait for the user."""

    def __init__(self, action: Callable[[list], None]) -> None:
        self.clients: list = []  # the client object, once connected, so it can be dropped
        self.outcome: list = []
        self.thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self.thread.start()

    def _run(self, action: Callable[[list], None]) -> None:
        try:
            action(self.clients)
            self.outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            self.outcome.append(error)

    def wait(self, timeout: float = TIMEOUT + 10) -> None:
        """Wait for the action to end; its exception is raised here."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"the client's login did not end within {timeout} s")
        if self.outcome[0] is not None:
            raise self.outcome[0]

    def drop(self) -> BaseException | None:
        """Close the client's connection under it (the user gives up); returns what the
        client then raised, or None if its login had succeeded."""
        deadline = time.monotonic() + TIMEOUT
        while not self.clients and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.clients:
            raise AssertionError("the client never connected")
        try:
            self.clients[0].sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(TIMEOUT)
        if self.thread.is_alive():
            raise AssertionError("the client did not notice its dropped connection")
        return self.outcome[0]


# ---- the three protocols, each with its library client and curl (and msmtp for SMTP) -------------


class Protocol:
    """How one protocol's clients log in and do something real through a listener."""

    section = ""  # the server section's prefix

    def __init__(self, test: unittest.TestCase, port: int, message: bytes) -> None:
        self.test = test
        self.port = port
        self.message = message  # the one message in the user's mailbox (IMAP, POP3)

    def upstream(self, starttls: bool) -> dict[str, str]:
        raise NotImplementedError

    def session(self, user: str, password: str, clients: list | None = None) -> None:
        """Connect with the library client, log in, do something real, log out."""
        raise NotImplementedError

    def login_only(self, user: str, password: str, clients: list) -> None:
        """Connect with the library client (appended to `clients`) and log in; nothing else."""
        raise NotImplementedError

    def refused(self, user: str, password: str) -> None:
        """The library client's login is refused with the exact reply of a wrong password."""
        raise NotImplementedError

    def curl(self, user: str, password: str) -> None:
        raise NotImplementedError

    def other_clients(self, user: str, password: str) -> None:
        """Step 3: every other real client this protocol has."""
        self.curl(user, password)


class Imap(Protocol):
    section = "IMAP"

    def upstream(self, starttls: bool) -> dict[str, str]:
        if starttls:
            return {"server_port": str(ENV["imap_port"]), "server_starttls": "True"}
        return {"server_port": str(ENV["imaps_port"])}

    def connect(self, clients: list | None = None) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=TIMEOUT)
        if clients is not None:
            clients.append(imap)
        return imap

    def session(self, user: str, password: str, clients: list | None = None) -> None:
        with self.connect(clients) as imap:
            self.test.assertEqual(imap.login(user, password)[0], "OK")
            self.test.assertEqual(imap.select("INBOX"), ("OK", [b"1"]))
            self.test.assertEqual(imap.noop()[0], "OK")
            typ, data = imap.fetch("1", "(BODY.PEEK[])")
            self.test.assertEqual(typ, "OK")
            self.test.assertEqual(data[0][1], self.message)

    def login_only(self, user: str, password: str, clients: list) -> None:
        imap = self.connect(clients)
        imap.login(user, password)

    def refused(self, user: str, password: str) -> None:
        with self.connect() as imap:
            with self.test.assertRaises(imaplib.IMAP4.error) as raised:
                imap.login(user, password)
            # imaplib raises the text of a tagged NO as it is (a BAD would read
            # "LOGIN command error: BAD ...").
            self.test.assertEqual(raised.exception.args[0],
                                  b"[AUTHENTICATIONFAILED] " + incorrect(user).encode())
            self.test.assertEqual(imap.noop()[0], "OK")

    def curl(self, user: str, password: str) -> None:
        result = run(["curl", "-sS", "--max-time", str(TIMEOUT), "--user", f"{user}:{password}",
                      f"imap://127.0.0.1:{self.port}/INBOX;UID=1"])
        self.test.assertEqual(result.returncode, 0, result.stderr)
        self.test.assertEqual(result.stdout, self.message)


class Pop3(Protocol):
    section = "POP"

    def upstream(self, starttls: bool) -> dict[str, str]:
        if starttls:
            return {"server_port": str(ENV["pop3_port"]), "server_starttls": "True"}
        return {"server_port": str(ENV["pop3s_port"])}

    def connect(self, clients: list | None = None) -> poplib.POP3:
        pop = poplib.POP3("127.0.0.1", self.port, timeout=TIMEOUT)
        if clients is not None:
            clients.append(pop)
        return pop

    def session(self, user: str, password: str, clients: list | None = None) -> None:
        pop = self.connect(clients)
        try:
            self.test.assertTrue(pop.user(user).startswith(b"+OK"))
            self.test.assertTrue(pop.pass_(password).startswith(b"+OK"))
            self.test.assertEqual(pop.stat(), (1, len(self.message)))
        finally:
            pop.quit()

    def login_only(self, user: str, password: str, clients: list) -> None:
        pop = self.connect(clients)
        pop.user(user)
        pop.pass_(password)

    def refused(self, user: str, password: str) -> None:
        pop = self.connect()
        try:
            pop.user(user)
            with self.test.assertRaises(poplib.error_proto) as raised:
                pop.pass_(password)
            self.test.assertEqual(raised.exception.args[0],
                                  b"-ERR [AUTH] Authentication failed. " + incorrect(user).encode())
        finally:
            pop.quit()

    def curl(self, user: str, password: str) -> None:
        result = run(["curl", "-sS", "--max-time", str(TIMEOUT), "--user", f"{user}:{password}",
                      f"pop3://127.0.0.1:{self.port}/1"])
        self.test.assertEqual(result.returncode, 0, result.stderr)
        self.test.assertEqual(result.stdout, self.message)


class Smtp(Protocol):
    section = "SMTP"

    def upstream(self, starttls: bool) -> dict[str, str]:
        if starttls:
            return {"server_port": str(ENV["submission_port"]), "server_starttls": "True"}
        return {"server_port": str(ENV["submissions_port"])}

    def connect(self, clients: list | None = None) -> smtplib.SMTP:
        smtp = smtplib.SMTP("127.0.0.1", self.port, timeout=TIMEOUT)
        if clients is not None:
            clients.append(smtp)
        return smtp

    @staticmethod
    def new_message(user: str, client: str) -> tuple[bytes, str]:
        marker = unique(f"deploy-{client}")
        return make_message(marker, f"sent by {client}\r\n".encode(), user, RECIPIENT), marker

    def session(self, user: str, password: str, clients: list | None = None) -> None:
        message, marker = self.new_message(user, "smtplib")
        with self.connect(clients) as smtp:
            smtp.ehlo("client.test")
            self.test.assertEqual(smtp.login(user, password)[0], 235)
            self.test.assertEqual(smtp.sendmail(user, [RECIPIENT], message), {})
        assert_relayed(self.test, message, marker)

    def login_only(self, user: str, password: str, clients: list) -> None:
        smtp = self.connect(clients)
        smtp.ehlo("client.test")
        smtp.login(user, password)

    def refused(self, user: str, password: str) -> None:
        with self.connect() as smtp:
            smtp.ehlo("client.test")
            # One mechanism only: smtplib's login() would try PLAIN and then LOGIN, two wrong
            # passwords, and the second starts the back-off.
            smtp.user, smtp.password = user, password
            with self.test.assertRaises(smtplib.SMTPAuthenticationError) as raised:
                smtp.auth("PLAIN", smtp.auth_plain)
            self.test.assertEqual(raised.exception.smtp_code, 535)
            self.test.assertEqual(raised.exception.smtp_error,
                                  b"5.7.8 Authentication credentials invalid. "
                                  + incorrect(user).encode())

    def curl(self, user: str, password: str) -> None:
        message, marker = self.new_message(user, "curl")
        path = os.path.join(ENV["dir"], "proxy", marker + ".eml")
        with open(path, "wb") as file:
            file.write(message)
        result = run(["curl", "-sS", "--max-time", str(TIMEOUT), f"smtp://127.0.0.1:{self.port}",
                      "--user", f"{user}:{password}", "--mail-from", user, "--mail-rcpt",
                      RECIPIENT, "--upload-file", path])
        self.test.assertEqual(result.returncode, 0, result.stderr)
        assert_relayed(self.test, message, marker)

    def msmtp(self, user: str, password: str) -> None:
        message, marker = self.new_message(user, "msmtp")
        config = os.path.join(ENV["dir"], "proxy", marker + ".msmtprc")
        with open(config, "w", encoding="utf-8") as file:
            file.write(f"account proxy\nhost 127.0.0.1\nport {self.port}\ntls off\nauth plain\n"
                       f"user {user}\npassword {password}\nfrom {user}\ntimeout {TIMEOUT}\n")
        os.chmod(config, 0o600)
        result = run(["msmtp", "-C", config, "-a", "proxy", RECIPIENT], input=message)
        self.test.assertEqual(result.returncode, 0, result.stderr)
        assert_relayed(self.test, message, marker)

    def other_clients(self, user: str, password: str) -> None:
        self.curl(user, password)
        self.msmtp(user, password)


PROTOCOLS: dict[str, type[Protocol]] = {"imap": Imap, "pop3": Pop3, "smtp": Smtp}


# ---- the matrix -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Cell:
    """One deployment scenario."""

    # "explicit": [user@domain]; "catchall_at": [@] alone; "catchall_domain": [@domain] alone;
    # "catchall_domain_override": [@domain] and a [user@domain] that overrides its oauth2_scope
    shape: str
    flow: str  # "clientcreds" or "authcode" (--local-server-auth)
    delete: bool  # delete_account_token_on_password_error
    protocol: str  # "imap", "pop3", "smtp"

    @property
    def name(self) -> str:
        return f"{self.shape}_{self.flow}_delete_{str(self.delete).lower()}_{self.protocol}"

    @property
    def directory(self) -> str:
        """The name of the instance's directory: short, because the control socket's path
        beside the config file must fit a Unix socket address."""
        return self.name.replace("catchall_domain_", "").replace("catchall_", "").replace("_", "-")

    @property
    def starttls_upstream(self) -> bool:
        """The upstream connection: as the user guide (IMAP and POP3 over implicit TLS, SMTP with
        STARTTLS) when the policy is True, the other way round when it is False, so both kinds
        of upstream run under every shape and flow."""
        return (self.protocol == "smtp") == self.delete

    @property
    def resets(self) -> bool:
        """Whether a wrong password starts a new authorisation (README, "Security model"):
        only with the policy on, and never for client credentials."""
        return self.delete and self.flow == "authcode"


CELLS = [Cell(*axes) for axes in itertools.product(
    ("explicit", "catchall_at", "catchall_domain", "catchall_domain_override"),
    ("clientcreds", "authcode"), (True, False),
    ("imap", "pop3", "smtp"))]


class Deployment:
    """One cell's mailgate, account and mailbox; nothing shared with another cell."""

    def __init__(self, test: unittest.TestCase, cell: Cell) -> None:
        self.test = test
        self.cell = cell
        local = unique(cell.name.replace("_", "-"))
        self.user = f"{local}@{DOMAIN}"
        self.password = "pw-" + local[-12:]
        self.message = (f"From: <sender@example.test>\r\nTo: <{self.user}>\r\n"
                        f"Subject: {local}\r\nMessage-ID: <{local}@example.test>\r\n\r\n"
                        f"the one message of {self.user}\r\n").encode()
        if cell.protocol != "smtp":
            save_message(self.user, self.message)
        options = {}
        if cell.flow == "authcode":
            options = {"permission_url": ENV["oauth_url"] + "/authorize",
                       "redirect_uri": f"http://127.0.0.1:{free_port()}/"}
        flow = "authorization_code" if cell.flow == "authcode" else "client_credentials"
        self.account = Account(self.user, self.password, flow=flow, oauth2_scope=SCOPE, **options)
        self.account.register()
        self.client_id = self.account.client_id

        self.port = free_port()
        self.protocol = PROTOCOLS[cell.protocol](test, self.port, self.message)
        server = {"server_address": ENV["dovecot_host"], "server_ca_file": ENV["ca"],
                  "local_address": "127.0.0.1"} | self.protocol.upstream(cell.starttls_upstream)
        settings = self.account.section()
        sections: dict[str, dict[str, str]] = {"emailproxy": {
            "delete_account_token_on_password_error": str(cell.delete),
            "allow_catch_all_accounts": str(cell.shape != "explicit")}}
        sections[f"{self.protocol.section}-{self.port}"] = server
        # The section the account's settings come from (unchanged by mailgate), and what the
        # user's own section must hold besides the tokens.
        if cell.shape == "explicit":
            self.catch_all = None
            sections[self.user] = settings
            self.own = dict(settings)
        elif cell.shape in ("catchall_at", "catchall_domain"):
            self.catch_all = "@" if cell.shape == "catchall_at" else "@" + DOMAIN
            sections[self.catch_all] = settings
            self.own = {}
        else:
            self.catch_all = "@" + DOMAIN
            sections[self.catch_all] = settings | {"oauth2_scope": DOMAIN_SCOPE}
            sections[self.user] = {"oauth2_scope": SCOPE}
            self.own = {"oauth2_scope": SCOPE}
        self.written = {name: dict(values) for name, values in sections.items()}
        extra = ("--local-server-auth",) if cell.flow == "authcode" else ()
        self.proxy = Mailgate(cell.directory, sections, extra)
        self.visit_url = ""
        self.stored: dict[str, str] = {}  # the tokens the first login stored

    # ---- steps --------------------------------------------------------------------------------

    def interactive(self, action: Callable[[list], None]) -> None:
        """Run `action` (a client's first login) while the user authorises in a browser."""
        mark = self.proxy.mark()
        login = Background(action)
        url = self.proxy.wait_for_log(VISIT.format(re.escape(self.user)), 30, since=mark).group(1)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        self.test.assertTrue(url.startswith(ENV["oauth_url"] + "/authorize?"), url)
        self.test.assertEqual(query.get("client_id"), [self.client_id], url)
        self.test.assertEqual(query.get("scope"), [SCOPE], url)
        visit(self.test, url)
        self.visit_url = url
        try:
            login.wait()
        except Exception as error:
            raise AssertionError(f"the login waiting for the authorisation failed: "
                                 f"{error!r}") from error

    def first_login(self) -> None:
        if self.cell.flow == "authcode":
            self.interactive(lambda clients: self.protocol.session(self.user, self.password,
                                                                   clients))
        else:
            self.protocol.session(self.user, self.password)

    def own_section(self) -> dict[str, str]:
        """The user's own section in the file, once it holds the tokens (mailgate writes them
        before the login's reply, or retries soon after)."""
        deadline = time.monotonic() + 5
        while True:
            section = read_sections(self.proxy.config).get(self.user, {})
            if "access_token" in section or time.monotonic() > deadline:
                return section
            time.sleep(0.05)

    def tokens(self, section: dict[str, str]) -> dict[str, str]:
        return {key: section[key] for key in TOKEN_KEYS if key in section}

    def assert_stored(self, section: dict[str, str], when: str) -> None:
        keys = {"access_token", "access_token_expiry", "token_salt", "token_iterations"}
        if self.cell.flow == "authcode":
            keys.add("refresh_token")
        self.test.assertEqual(set(self.tokens(section)), keys,
                              f"{when}: tokens stored in [{self.user}]: {section}")
        for key in ("access_token", "refresh_token"):
            if key in section:
                self.test.assertTrue(section[key].startswith("gAAAAA"),
                                     f"{when}: {key} is not encrypted: {section[key]!r}")
        own = {key: value for key, value in section.items() if key not in TOKEN_KEYS}
        own.pop("last_activity", None)
        self.test.assertEqual(own, self.own, f"{when}: the settings in [{self.user}]")
        with open(self.proxy.config, encoding="utf-8") as file:
            self.test.assertNotIn(self.password, file.read(), "the password was written")

    def assert_catch_all_unchanged(self, when: str) -> None:
        if self.catch_all is not None:
            self.test.assertEqual(read_sections(self.proxy.config).get(self.catch_all),
                                  self.written[self.catch_all],
                                  f"{when}: mailgate changed the [{self.catch_all}] section")

    def wrong_then_right(self) -> None:
        wrong = self.password + "-wrong"
        if self.cell.resets:
            # A new authorisation with the wrong password starts; nobody completes it. The
            # stored tokens stay until one completes, so the right password still works.
            mark = self.proxy.mark()
            attempt = Background(lambda clients: self.protocol.login_only(self.user, wrong,
                                                                          clients))
            url = self.proxy.wait_for_log(VISIT.format(re.escape(self.user)), 30,
                                          since=mark).group(1)
            self.test.assertNotEqual(url, self.visit_url, "the new authorisation reuses a state")
            self.test.assertTrue(attempt.thread.is_alive(),
                                 f"the wrong password's login ended: {attempt.outcome}")
            error = attempt.drop()
            self.test.assertIsNotNone(error, "the wrong password logged in")
        else:
            self.protocol.refused(self.user, wrong)
        self.protocol.session(self.user, self.password)

    def after_first_login(self) -> None:
        section = self.own_section()
        self.assert_stored(section, "after the first login")
        self.assert_catch_all_unchanged("after the first login")
        self.stored = self.tokens(section)

    def restart(self) -> None:
        self.proxy.stop()
        self.test.assertEqual(self.proxy.process.returncode, 0,
                              f"mailgate exited with {self.proxy.process.returncode} on SIGTERM")
        section = read_sections(self.proxy.config).get(self.user, {})
        self.assert_stored(section, "after SIGTERM")
        self.test.assertEqual(self.tokens(section), self.stored,
                              "the tokens the first login stored changed (a wrong password must "
                              "not replace them)")
        self.assert_catch_all_unchanged("after SIGTERM")
        self.proxy.start(write_config=False)

    def assert_counts(self, grants: Grants, when: str) -> None:
        grant = "authorization_code" if self.cell.flow == "authcode" else "client_credentials"
        self.test.assertEqual(
            (grants.new(), grants.new(grant), grants.authorizations()),
            (1, 1, 1 if self.cell.flow == "authcode" else 0),
            f"after {when}: (token requests, {grant} grants, authorize visits) at the provider")

    def assert_scopes(self) -> None:
        """The provider saw the account's own scope only (the override of the domain's)."""
        # The scope goes with the authorization request, or with the client credentials grant;
        # the code exchange carries none (nor does the Python email-oauth2-proxy's).
        endpoint = "authorize" if self.cell.flow == "authcode" else "token"
        self.test.assertEqual(Grants(self.client_id).scopes(), {endpoint: {SCOPE: 1}},
                              "the scope the provider was asked for")


class ProxyDeploymentTest(unittest.TestCase):
    """The deployment matrix: account shape × flow × delete_account_token_on_password_error ×
    protocol, each cell a whole working life of one mailgate process with one token request."""

    @contextlib.contextmanager
    def step(self, what: str):
        """A failure inside is this test's failure, naming the step (a client's exception,
        e.g. a refused login, included)."""
        try:
            yield
        except unittest.SkipTest:
            raise
        except Exception as error:  # noqa: BLE001 - reported as the step's failure
            raise self.failureException(f"{what}: {type(error).__name__}: {error}") from error

    def run_cell(self, cell: Cell) -> None:
        require_mailgate(self, *(("--local-server-auth",) if cell.flow == "authcode" else ()))
        deployment = Deployment(self, cell)
        grants = Grants(deployment.client_id)
        introspections = Introspections(deployment.user)
        proxy = deployment.proxy.start()
        self.addCleanup(proxy.stop)
        protocol, user, password = deployment.protocol, deployment.user, deployment.password

        with self.step("step 1 (first login)"):
            deployment.first_login()
            deployment.assert_counts(grants, "step 1")
            deployment.after_first_login()
        with self.step("step 2 (a second login on a new connection)"):
            protocol.session(user, password)
            deployment.assert_counts(grants, "step 2")
        with self.step("step 3 (other clients)"):
            protocol.other_clients(user, password)
            deployment.assert_counts(grants, "step 3")
        with self.step("step 4 (a wrong password, then the right one)"):
            deployment.wrong_then_right()
            deployment.assert_counts(grants, "step 4")
        with self.step("step 5 (SIGTERM and a restart on the rewritten file)"):
            deployment.restart()
        with self.step("step 6 (a login after the restart)"):
            protocol.session(user, password)
            deployment.assert_counts(grants, "step 6")
        deployment.assert_scopes()
        # Every login that succeeded went upstream with the one token, which Dovecot checked at
        # the provider (it caches nothing): two library sessions, the other clients, the right
        # password after the wrong one, and the session after the restart.
        upstream = 5 + (cell.protocol == "smtp")
        self.assertEqual((introspections.new("active"), introspections.new("inactive")),
                         (upstream, 0), "(valid, refused) tokens Dovecot checked")


def _cell_test(cell: Cell) -> Callable[[ProxyDeploymentTest], None]:
    def test(self: ProxyDeploymentTest) -> None:
        self.run_cell(cell)

    test.__name__ = "test_" + cell.name
    test.__doc__ = None
    return test


for _cell in CELLS:
    setattr(ProxyDeploymentTest, "test_" + _cell.name, _cell_test(_cell))
del _cell


# ---- the user guide's register command ------------------------------------------------------------

# The user guide's command, word for word (the guide runs it as `orbit email-oauth2-proxy
# register`), stray spaces inside the quotes included. The test replaces the servers, the
# provider's URLs and the client with its own, inside the quotes, and adds the config file and
# free local ports.
GUIDE_REGISTER = """register \\
 --imap-server-address=outlook.office365.com \\
 --imap-server-port=993 \\
 --smtp-server-address=smtp.office365.com \\
 --smtp-server-port=587 \\
 --smtp-server-starttls \\
 --oauth2-token-url="https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token " \\
 --oauth2-permission-url="https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/authorize " \\
 --oauth2-scope=" https://outlook.office365.com/IMAP.AccessAsUser.All https://outlook.office365.com/SMTP.Send offline_access " \\
 --oauth2-flow="client_credentials" \\
 --oauth2-client-id="CLIENT_ID" \\
 --oauth2-client-secret="CLIENT_SECRET" \\
 --force"""
GUIDE_SCOPE = ("https://outlook.office365.com/IMAP.AccessAsUser.All "
               "https://outlook.office365.com/SMTP.Send offline_access")
GUIDE_FLOW_WARNING = ("warning: [@] oauth2_flow: oauth2_flow = client_credentials is ignored "
                      "because permission_url is set")


class GuideVault:
    """The appliance's web server of the guide: the provider redirects the browser to
    `http://<vault>/email-oauth2-proxy-authorize/`, which sends it on to the proxy's redirect
    listener (`redirect_list_address = http://127.0.0.1:8801/` in the guide's sample)."""

    def __init__(self, listener_port: int) -> None:
        target = f"http://127.0.0.1:{listener_port}"

        class Forward(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(302)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ProxyGuideRegisterTest(unittest.TestCase):
    """The deployment of the user guide: its `register` command line as printed, the file edited
    as the guide's sample shows, mailgate started on it, the authorisation URL taken from the
    log, then two clients per protocol, twice each, on one token request."""

    def setUp(self) -> None:
        require_mailgate(self, "--local-server-auth")
        if "--imap-local-port" not in run([ENV["mailgate"], "register", "--help"]).stdout.decode():
            self.skipTest("mailgate register has no --imap-local-port")

    def register(self, with_permission_url: bool) -> tuple[Mailgate, Account, str]:
        """Runs the guide's command (without its permission URL if asked); returns the
        proxy to start on the file it wrote, the account and register's standard error."""
        local = unique("guide")
        self.account = account = Account(f"{local}@example.test", "pw-" + local[-12:])
        account.register()
        imap_port, smtp_port = free_port(), free_port()
        # `sections` only tells the harness which local ports to wait for: the file is the one
        # register writes.
        proxy = Mailgate(local, {f"IMAP-{imap_port}": {}, f"SMTP-{smtp_port}": {}},
                         ("--local-server-auth",))
        command = GUIDE_REGISTER
        for old, new in (
                ("outlook.office365.com \\", f"{ENV['dovecot_host']} \\"),
                ("smtp.office365.com", ENV["dovecot_host"]),
                ("--imap-server-port=993", f"--imap-server-port={ENV['imaps_port']}"),
                ("--smtp-server-port=587", f"--smtp-server-port={ENV['submission_port']}"),
                ("https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token",
                 ENV["oauth_url"] + "/token"),
                ("https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/authorize",
                 ENV["oauth_url"] + "/authorize"),
                ("CLIENT_ID", account.client_id), ("CLIENT_SECRET", account.client_secret)):
            self.assertIn(old, command)
            command = command.replace(old, new)
        # The stray spaces stay where the guide has them.
        self.assertIn(f'--oauth2-token-url="{ENV["oauth_url"]}/token "', command)
        self.assertIn(f'--oauth2-scope=" {GUIDE_SCOPE} "', command)
        if not with_permission_url:
            command, removed = re.subn(r'\n --oauth2-permission-url="[^"]*" \\', "", command)
            self.assertEqual(removed, 1)
        # Through a shell, as the user types it (quotes and line continuations).
        command = " ".join([shlex.quote(ENV["mailgate"]), command, shlex.join([
            "--config-file", proxy.config, f"--imap-local-port={imap_port}",
            f"--smtp-local-port={smtp_port}"])])
        result = run(["sh", "-c", command], cwd=proxy.dir)
        self.assertEqual(result.returncode, 0,
                         f"{command}\nfailed: {result.stdout!r} {result.stderr!r}")
        self.assertEqual(result.stdout.decode().strip(), f"Wrote {proxy.config}")

        written = read_sections(proxy.config)
        self.assertEqual(set(written), {"emailproxy", f"IMAP-{imap_port}", f"SMTP-{smtp_port}",
                                        "@"})
        expected = {"token_url": ENV["oauth_url"] + "/token", "oauth2_scope": GUIDE_SCOPE,
                    "oauth2_flow": "client_credentials", "client_id": account.client_id,
                    "client_secret": account.client_secret}
        if with_permission_url:
            expected["permission_url"] = ENV["oauth_url"] + "/authorize"
        self.assertEqual(written["@"], expected)
        self.assertEqual(written["emailproxy"].get("allow_catch_all_accounts"), "True")
        message = (f"From: <sender@example.test>\r\nTo: <{account.name}>\r\n"
                   f"Subject: {local}\r\n\r\nfor {account.name}\r\n").encode()
        save_message(account.name, message)
        self.imap = Imap(self, imap_port, message)
        self.smtp = Smtp(self, smtp_port, message)
        return proxy, account, result.stderr.decode()

    @staticmethod
    def edit(proxy: Mailgate, after: str, lines: list[str]) -> None:
        """A user's text edit: `lines` added after each line matching `after`."""
        with open(proxy.config, encoding="utf-8") as file:
            text = file.read()
        text, count = re.subn(f"(?m)^({after})$", lambda m: "\n".join([m.group(1), *lines]), text)
        if not count:
            raise AssertionError(f"no line /{after}/ to edit in\n{text}")
        with open(proxy.config, "w", encoding="utf-8") as file:
            file.write(text)

    def use(self, first_login: Callable[[], None]) -> None:
        """imaplib and curl over IMAP, smtplib and msmtp over SMTP, twice each; the first
        imaplib session is `first_login`."""
        user, password = self.account.name, self.account.password
        first_login()
        self.imap.session(user, password)
        for _ in range(2):
            self.imap.curl(user, password)
        for _ in range(2):
            self.smtp.session(user, password)
        for _ in range(2):
            self.smtp.msmtp(user, password)

    def test_guide_register_command(self):
        """The guide's command names a permission URL, so the authorization code flow runs,
        as in the Python email-oauth2-proxy, whatever `--oauth2-flow` says: register says so,
        and the guide's "Please visit the following URL" step completes it."""
        proxy, account, warnings = self.register(with_permission_url=True)
        self.assertIn(GUIDE_FLOW_WARNING, warnings)
        # As the guide's sample file shows: the redirect goes to the appliance's web address,
        # which forwards to the proxy's listener (with the sample's spelling of the key).
        listener = free_port()
        vault = GuideVault(listener)
        self.addCleanup(vault.close)
        redirect_uri = f"http://127.0.0.1:{vault.port}/email-oauth2-proxy-authorize/"
        self.edit(proxy, r"server_port = \d+", [f"server_ca_file = {ENV['ca']}"])
        self.edit(proxy, r"permission_url = .*", [
            f"redirect_uri = {redirect_uri}",
            f"redirect_list_address = http://127.0.0.1:{listener}/"])
        check = run([ENV["mailgate"], "check", "--config-file", proxy.config])
        self.assertEqual(check.returncode, 0, check.stderr)
        said = check.stdout.decode() + check.stderr.decode()
        self.assertIn("account [@]: authorization_code flow", said)
        self.assertIn("[@] redirect_list_address: read as redirect_listen_address", said)
        catch_all = read_sections(proxy.config)["@"]
        grants = Grants(account.client_id)
        proxy.start(write_config=False)
        self.addCleanup(proxy.stop)

        def first_login() -> None:
            mark = proxy.mark()
            login = Background(lambda clients: self.imap.session(account.name, account.password,
                                                                 clients))
            url = proxy.wait_for_log(VISIT.format(re.escape(account.name)), 30,
                                     since=mark).group(1)
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
            self.assertEqual(query.get("redirect_uri"), [redirect_uri])
            self.assertEqual(query.get("scope"), [GUIDE_SCOPE])
            visit(self, url)
            login.wait()

        self.use(first_login)
        self.assertEqual((grants.new(), grants.new("authorization_code"), grants.authorizations()),
                         (1, 1, 1), "(token requests, authorization codes, authorize visits)")
        self.assert_file(proxy, account, catch_all, "refresh_token")

    def assert_file(self, proxy: Mailgate, account: Account, catch_all: dict[str, str],
                    *more: str) -> None:
        """After SIGTERM: the user's own section holds the encrypted tokens, `[@]` is as the
        user left it."""
        proxy.stop()
        self.assertEqual(proxy.process.returncode, 0)
        written = read_sections(proxy.config)
        self.assertEqual(written["@"], catch_all, "mailgate changed the [@] section")
        section = written.get(account.name, {})
        for key in ("access_token", *more):
            self.assertTrue(section.get(key, "").startswith("gAAAAA"), f"{key}: {section}")

    def test_guide_register_command_without_permission_url(self):
        """What register's warning advises for the client credentials grant: the same command
        without --oauth2-permission-url. No one visits anything; no edit but the test CA."""
        proxy, account, warnings = self.register(with_permission_url=False)
        self.assertEqual(warnings, "")
        self.edit(proxy, r"server_port = \d+", [f"server_ca_file = {ENV['ca']}"])
        catch_all = read_sections(proxy.config)["@"]
        grants = Grants(account.client_id)
        proxy.start(write_config=False)
        self.addCleanup(proxy.stop)
        self.use(lambda: self.imap.session(account.name, account.password))
        self.assertEqual((grants.new(), grants.new("client_credentials"), grants.authorizations()),
                         (1, 1, 0), "(token requests, client credentials grants, authorize visits)")
        self.assertEqual(grants.scopes(), {"token": {GUIDE_SCOPE: 1}})
        self.assert_file(proxy, account, catch_all)
        section = read_sections(proxy.config).get(account.name, {})
        self.assertTrue(section.get("access_token", "").startswith("gAAAAA"), section)
