"""Upstream certificates as users make them, in front of the real Dovecot.

Each case puts a TLS front in front of Dovecot's implicit-TLS port that presents a certificate
made with the `openssl` command line the way hand-made server certificates are made
(`openssl req -x509 ...`, which OpenSSL 3 marks `CA:TRUE`), and points a mailgate listener at it
with the trust a user would configure: `server_ca_file`, `SSL_CERT_FILE`, or nothing. Accepted
certificates serve real logins through imaplib (and poplib and smtplib for the pinned
self-signed case); refused ones must tell the client and the log, in words, what to do.
"""

from __future__ import annotations

import imaplib
import os
import poplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import unittest

from harness import (
    ENV,
    TIMEOUT,
    Account,
    Grants,
    Mailgate,
    free_port,
    require_mailgate,
    unique,
)


def openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Certificates:
    """The certificates of the matrix, made once per run with the openssl command line."""

    _dir: str | None = None

    @classmethod
    def dir(cls) -> str:
        if cls._dir is None:
            path = os.path.join(ENV["dir"], "certificates")
            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(path)
            cls._make(path)
            cls._dir = path
        return cls._dir

    @staticmethod
    def _self_signed(path: str, name: str, san: str) -> None:
        # As most hand-made server certificates are made: OpenSSL 3 marks the result CA:TRUE.
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
                "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", "/CN=localhost",
                "-addext", f"subjectAltName={san}", cwd=path)

    @classmethod
    def _make(cls, path: str) -> None:
        cls._self_signed(path, "self_signed", "DNS:localhost,IP:127.0.0.1")
        cls._self_signed(path, "untrusted", "DNS:localhost,IP:127.0.0.1")
        cls._self_signed(path, "other_host", "DNS:mail.example.org")
        # Self-signed without CA:TRUE (as older OpenSSL and many appliances make them).
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
                "-keyout", "end_entity.key", "-out", "end_entity.pem", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext", "basicConstraints=critical,CA:FALSE", cwd=path)
        # Expired: valid in 2000 only (`openssl ca` takes explicit dates; `req` does not).
        os.makedirs(os.path.join(path, "issued"))
        with open(os.path.join(path, "index.txt"), "w", encoding="ascii"):
            pass
        with open(os.path.join(path, "serial"), "w", encoding="ascii") as file:
            file.write("01\n")
        with open(os.path.join(path, "backdated.cnf"), "w", encoding="ascii") as file:
            file.write("[ca]\ndefault_ca = backdated\n[backdated]\ndatabase = index.txt\n"
                       "new_certs_dir = issued\nserial = serial\ndefault_md = sha256\n"
                       "policy = anything\ncopy_extensions = copy\nunique_subject = no\n"
                       "[anything]\ncommonName = supplied\n")
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "expired.key",
                "-out", "expired.csr", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext", "basicConstraints=critical,CA:TRUE", cwd=path)
        openssl("ca", "-config", "backdated.cnf", "-selfsign", "-keyfile", "expired.key",
                "-in", "expired.csr", "-startdate", "20000101000000Z",
                "-enddate", "20001231000000Z", "-batch", "-out", "expired.pem", cwd=path)

    @classmethod
    def pem(cls, name: str) -> str:
        return os.path.join(cls.dir(), f"{name}.pem")

    @classmethod
    def key(cls, name: str) -> str:
        return os.path.join(cls.dir(), f"{name}.key")


class TlsFront:
    """A TLS server on 127.0.0.1 presenting `certificate` that relays every connection to one of
    Dovecot's implicit-TLS ports (verified against the suite's CA)."""

    def __init__(self, certificate: str, upstream_port: int) -> None:
        self.server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_context.load_cert_chain(Certificates.pem(certificate),
                                            Certificates.key(certificate))
        self.client_context = ssl.create_default_context(cafile=ENV["ca"])
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                tcp, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(tcp,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, tcp: socket.socket) -> None:
        tcp.settimeout(TIMEOUT)
        try:
            client = self.server_context.wrap_socket(tcp, server_side=True)
        except (ssl.SSLError, OSError):
            tcp.close()  # the proxy refused the certificate
            return
        try:
            upstream = self.client_context.wrap_socket(
                socket.create_connection((ENV["dovecot_host"], self.upstream_port), TIMEOUT),
                server_hostname="localhost")
        except OSError:
            client.close()
            return
        pump = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        pump.start()
        self._pump(client, upstream)
        pump.join(TIMEOUT)

    def _pump(self, source: ssl.SSLSocket, target: ssl.SSLSocket) -> None:
        try:
            while not self.stopping.is_set():
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(TIMEOUT)


class ProxyCertificateTest(unittest.TestCase):
    """The certificate matrix: what is accepted, what is refused and what the user is told."""

    @classmethod
    def setUpClass(cls) -> None:
        Certificates.dir()

    def setUp(self) -> None:
        require_mailgate(self)
        self.fronts: list[TlsFront] = []
        self.proxies: list[Mailgate] = []
        self.account = Account(unique("cert") + "@example.test", "cert-pass")
        self.account.register()
        self.grants = Grants(self.account.client_id)

    def tearDown(self) -> None:
        for proxy in self.proxies:
            proxy.stop()
        for front in self.fronts:
            front.stop()

    def front(self, certificate: str, port_key: str = "imaps_port") -> TlsFront:
        front = TlsFront(certificate, ENV[port_key])
        self.fronts.append(front)
        return front

    def proxy(self, name: str, listeners: dict[str, dict[str, str]],
              ssl_cert_file: str | None = None) -> Mailgate:
        sections = dict(listeners)
        sections[self.account.name] = self.account.section()
        proxy = Mailgate(f"cert-{name}", sections)
        saved = os.environ.get("SSL_CERT_FILE")
        try:
            if ssl_cert_file is not None:
                os.environ["SSL_CERT_FILE"] = ssl_cert_file
            proxy.start()
        finally:
            if saved is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = saved
        self.proxies.append(proxy)
        return proxy

    @staticmethod
    def upstream(port: int, ca_file: str | None = None) -> dict[str, str]:
        values = {"server_address": "localhost", "server_port": str(port)}
        if ca_file is not None:
            values["server_ca_file"] = ca_file
        return values

    def imap_logins(self, port: int, times: int = 2) -> None:
        for _ in range(times):
            imap = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT)
            try:
                imap.login(self.account.name, self.account.password)
                status, _ = imap.select("INBOX")
                self.assertEqual(status, "OK")
            finally:
                imap.logout()

    def accepted(self, name: str, certificate: str, ca_file: str | None,
                 ssl_cert_file: str | None = None) -> None:
        front = self.front(certificate)
        port = free_port()
        self.proxy(name, {f"IMAP-{port}": self.upstream(front.port, ca_file)}, ssl_cert_file)
        self.imap_logins(port)
        self.assertEqual(self.grants.new("client_credentials"), 1)

    def refused(self, name: str, certificate: str, ca_file: str | None) -> str:
        """The `* BYE` line every client gets (the same on each connection), also in the log."""
        front = self.front(certificate)
        port = free_port()
        proxy = self.proxy(name, {f"IMAP-{port}": self.upstream(front.port, ca_file)})
        replies = []
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", port), TIMEOUT) as sock:
                replies.append(sock.makefile("rb").readline().decode())
        self.assertEqual(replies[0], replies[1])
        reply = replies[0]
        self.assertTrue(reply.startswith(f"* BYE Secure connection to the server localhost:"
                                         f"{front.port} failed: "), reply)
        for debug in ("Other(", "CaUsedAsEndEntity", "UnknownIssuer", "DnsName(", "Context {"):
            self.assertNotIn(debug, reply)
        reason = reply.split(" failed: ", 1)[1].strip()
        proxy.wait_for_log(f"TLS connection to localhost:{front.port} failed: ")
        self.assertIn(reason, proxy.logs())
        self.assertEqual(self.grants.new("client_credentials"), 0)
        return reason

    # --- accepted --------------------------------------------------------------------------

    def test_ca_signed_certificate_with_server_ca_file(self):
        # Dovecot's own certificate, signed by the suite's CA.
        port = free_port()
        self.proxy("ca", {f"IMAP-{port}": {"server_address": ENV["dovecot_host"],
                                           "server_port": str(ENV["imaps_port"]),
                                           "server_ca_file": ENV["ca"]}})
        self.imap_logins(port)
        self.assertEqual(self.grants.new("client_credentials"), 1)

    def test_self_signed_ca_certificate_pinned_by_server_ca_file(self):
        self.accepted("pinned", "self_signed", Certificates.pem("self_signed"))

    def test_self_signed_ca_certificate_pinned_by_ssl_cert_file(self):
        self.accepted("ssl-cert-file", "self_signed", None,
                      ssl_cert_file=Certificates.pem("self_signed"))

    def test_self_signed_end_entity_certificate_in_server_ca_file(self):
        self.accepted("end-entity", "end_entity", Certificates.pem("end_entity"))

    def test_pinned_self_signed_certificate_serves_pop3_and_smtp(self):
        pop_front = self.front("self_signed", "pop3s_port")
        smtp_front = self.front("self_signed", "submissions_port")
        pop_port, smtp_port = free_port(), free_port()
        pinned = Certificates.pem("self_signed")
        self.proxy("pinned-pop-smtp", {
            f"POP-{pop_port}": self.upstream(pop_front.port, pinned),
            f"SMTP-{smtp_port}": self.upstream(smtp_front.port, pinned),
        })
        pop = poplib.POP3("127.0.0.1", pop_port, timeout=TIMEOUT)
        try:
            pop.user(self.account.name)
            self.assertTrue(pop.pass_(self.account.password).startswith(b"+OK"))
            pop.stat()
        finally:
            pop.quit()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=TIMEOUT) as smtp:
            smtp.login(self.account.name, self.account.password)
            self.assertEqual(smtp.noop()[0], 250)
        self.assertEqual(self.grants.new("client_credentials"), 1)

    # --- refused ---------------------------------------------------------------------------

    def test_untrusted_self_signed_certificate_is_refused(self):
        reason = self.refused("untrusted", "untrusted", ENV["ca"])
        self.assertIn("presents a certificate authority's certificate as its own", reason)
        self.assertIn(f"add it to {ENV['ca']} (server_ca_file of [IMAP-", reason)

    def test_certificate_of_an_unknown_authority_is_refused(self):
        # Dovecot's certificate (signed by the suite's CA) trusted through nothing but a
        # self-signed certificate of another server.
        port = free_port()
        proxy = self.proxy("unknown-ca", {f"IMAP-{port}": {
            "server_address": ENV["dovecot_host"], "server_port": str(ENV["imaps_port"]),
            "server_ca_file": Certificates.pem("self_signed")}})
        with socket.create_connection(("127.0.0.1", port), TIMEOUT) as sock:
            reply = sock.makefile("rb").readline().decode()
        self.assertIn("is not signed by a certificate authority mailgate trusts", reply)
        self.assertIn(f"add it to {Certificates.pem('self_signed')} (server_ca_file of [IMAP-{port}])",
                      reply)
        proxy.wait_for_log("is not signed by a certificate authority mailgate trusts")

    def test_pinned_certificate_for_another_host_is_refused(self):
        reason = self.refused("wrong-host", "other_host", Certificates.pem("other_host"))
        self.assertIn("is for mail.example.org, not for localhost: set server_address in [IMAP-",
                      reason)

    def test_expired_pinned_certificate_is_refused(self):
        reason = self.refused("expired", "expired", Certificates.pem("expired"))
        self.assertRegex(reason, r"expired \d+ days ago: the server needs a new certificate")

    # --- mailgate check --connect ----------------------------------------------------------

    def test_check_connect_shows_what_each_upstream_negotiated(self):
        """One test connection per server section (implicit TLS and STARTTLS, IMAP, POP3 and
        SMTP against Dovecot): the TLS version, cipher suite and key exchange group; a server
        whose certificate is not trusted is named with the advice, and the exit status is 1."""
        upstream = {"server_address": ENV["dovecot_host"], "server_ca_file": ENV["ca"]}
        ports = {name: free_port() for name in ("imaps", "imap", "pop3s", "pop3", "smtps", "smtp")}
        sections = {
            f"IMAP-{ports['imaps']}": upstream | {"server_port": str(ENV["imaps_port"])},
            f"IMAP-{ports['imap']}": upstream | {"server_port": str(ENV["imap_port"]),
                                                 "server_starttls": "True"},
            f"POP-{ports['pop3s']}": upstream | {"server_port": str(ENV["pop3s_port"])},
            f"POP-{ports['pop3']}": upstream | {"server_port": str(ENV["pop3_port"]),
                                                "server_starttls": "True"},
            f"SMTP-{ports['smtps']}": upstream | {"server_port": str(ENV["submissions_port"])},
            f"SMTP-{ports['smtp']}": upstream | {"server_port": str(ENV["submission_port"]),
                                                 "server_starttls": "True"},
        }
        proxy = Mailgate("cert-check-connect", sections)
        proxy.write_config()
        result = subprocess.run([ENV["mailgate"], "--config-file", proxy.config, "check",
                                 "--connect"], capture_output=True, timeout=120)
        output = result.stdout.decode()
        self.assertEqual(result.returncode, 0, output + result.stderr.decode())
        negotiated = re.findall(r"^    upstream: (TLS 1\.[23]), (TLS\w+), (\w+)$", output, re.M)
        self.assertEqual(len(negotiated), 6, output)
        for version, suite, group in negotiated:
            # Dovecot's OpenSSL 3.0 has no ML-KEM: the classical fallback is agreed.
            self.assertIn(group, ("X25519", "secp256r1", "secp384r1"), output)
        # The same servers through a file that trusts only another server's certificate.
        for values in sections.values():
            values["server_ca_file"] = Certificates.pem("self_signed")
        proxy.write_config()
        result = subprocess.run([ENV["mailgate"], "--config-file", proxy.config, "check",
                                 "--connect"], capture_output=True, timeout=120)
        output = result.stdout.decode()
        self.assertEqual(result.returncode, 1, output)
        refused = re.findall(r"^    upstream error: secure connection to .* failed: the certificate "
                             r"of .* is not signed by a certificate authority mailgate trusts", output,
                             re.M)
        self.assertEqual(len(refused), 6, output)
