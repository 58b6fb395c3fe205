"""Token requests through the network's proxies: an HTTP CONNECT proxy (HTTPS token URL) and a
SOCKS5 proxy, each a small loopback proxy run by the test, and a proxy variable mailgate cannot
use, which stops it at start-up.
"""

from __future__ import annotations

import imaplib
import os
import select
import socket
import ssl
import struct
import subprocess
import threading
import unittest
import urllib.parse

from harness import ENV, TIMEOUT, Account, Grants, Mailgate, free_port, require_mailgate

# A provider name that is not loopback (loopback is never proxied) and resolves nowhere: only
# the proxy, which sends every tunnel to the mock provider, can reach it.
PROVIDER_HOST = "oauth.interop.test"
HEAD_LIMIT = 64 * 1024


class TunnelProxy:
    """A loopback proxy, HTTP `CONNECT` or SOCKS5 (no authentication), that sends every tunnel to
    the mock provider whatever destination it names, and records the destinations. With a TLS
    context it also ends the TLS the client starts inside the tunnel (as the provider would),
    so an `https` token URL reaches the mock provider's plain HTTP. Bounded: every socket
    operation times out, heads are limited, and it serves until stopped."""

    def __init__(self, kind: str, tls: ssl.SSLContext | None = None) -> None:
        self.kind = kind
        self.tls = tls
        self.destinations: list[str] = []
        self.errors: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        scheme = "http" if self.kind == "connect" else "socks5h"
        return f"{scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(TIMEOUT)
        self.listener.close()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.tunnel, args=(client,), daemon=True).start()

    def tunnel(self, client: socket.socket) -> None:
        client.settimeout(TIMEOUT)
        try:
            destination = self.connect_request(client) if self.kind == "connect" else self.socks5(client)
            self.destinations.append(destination)
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            provider = urllib.parse.urlsplit(ENV["oauth_url"])
            with socket.create_connection((provider.hostname, provider.port), TIMEOUT) as upstream:
                relay(client, upstream)
        except (OSError, ValueError) as error:
            self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            client.close()

    @staticmethod
    def connect_request(client: socket.socket) -> str:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk or len(head) > HEAD_LIMIT:
                raise ValueError(f"incomplete CONNECT request: {head[:200]!r}")
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            raise ValueError(f"not a CONNECT request: {method} {target}")
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return target

    @staticmethod
    def socks5(client: socket.socket) -> str:
        def exact(size: int) -> bytes:
            data = b""
            while len(data) < size:
                chunk = client.recv(size - len(data))
                if not chunk:
                    raise ValueError("SOCKS5 client closed mid-request")
                data += chunk
            return data

        version, count = exact(2)
        methods = exact(count)
        if version != 5 or 0 not in methods:
            client.sendall(b"\x05\xff")
            raise ValueError(f"SOCKS version {version}, methods {methods!r}")
        client.sendall(b"\x05\x00")
        version, command, _, kind = exact(4)
        if (version, command) != (5, 1):
            raise ValueError(f"SOCKS request {version} {command}")
        if kind == 3:
            host = exact(exact(1)[0]).decode("idna")
        elif kind == 1:
            host = socket.inet_ntop(socket.AF_INET, exact(4))
        elif kind == 4:
            host = socket.inet_ntop(socket.AF_INET6, exact(16))
        else:
            raise ValueError(f"SOCKS address type {kind}")
        (port,) = struct.unpack("!H", exact(2))
        client.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")
        return f"{host}:{port}"


def relay(a: socket.socket, b: socket.socket) -> None:
    """Copies both ways until either side closes or nothing moves for TIMEOUT seconds."""
    sockets = [a, b]
    while True:
        # Bytes TLS already decrypted are not visible to select.
        ready = [s for s in sockets if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select(sockets, [], [], TIMEOUT)
        if not ready:
            return
        for source in ready:
            data = source.recv(65536)
            if not data:
                return
            (b if source is a else a).sendall(data)


class ProxyNetworkTest(unittest.TestCase):
    """Token requests through an HTTP CONNECT proxy and a SOCKS5 proxy; an unusable proxy
    variable stops start-up."""

    def setUp(self) -> None:
        require_mailgate(self)
        self.proxies: list[TunnelProxy] = []
        self.mailgates: list[Mailgate] = []

    def tearDown(self) -> None:
        for mailgate in self.mailgates:
            mailgate.stop()
        for proxy in self.proxies:
            proxy.stop()

    def provider_tls(self) -> ssl.SSLContext:
        """A server context with a certificate for PROVIDER_HOST from the run's test CA."""
        tls_dir = os.path.join(ENV["dir"], "tls")
        key, csr, cert = (os.path.join(tls_dir, f"provider.{ext}") for ext in ("key", "csr", "pem"))
        ext = os.path.join(tls_dir, "provider.ext")
        if not os.path.exists(cert):
            with open(ext, "w", encoding="utf-8") as file:
                file.write(f"subjectAltName=DNS:{PROVIDER_HOST}\nextendedKeyUsage=serverAuth\n")
            for command in (
                ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={PROVIDER_HOST}"],
                ["openssl", "x509", "-req", "-in", csr, "-CA", ENV["ca"],
                 "-CAkey", os.path.join(tls_dir, "ca.key"), "-CAcreateserial", "-days", "3",
                 "-extfile", ext, "-out", cert],
            ):
                subprocess.run(command, check=True, capture_output=True, timeout=TIMEOUT)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    def start(self, name: str, account: Account, environment: dict[str, str]) -> int:
        account.register()
        port = free_port()
        sections = {
            f"IMAP-{port}": {"server_address": ENV["dovecot_host"],
                             "server_port": str(ENV["imaps_port"]),
                             "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"},
            account.name: account.section(),
        }
        self.mailgates.append(Mailgate(name, sections, environment=environment).start())
        return port

    def login_ok(self, port: int, account: Account) -> None:
        with imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT) as imap:
            self.assertEqual(imap.login(account.name, account.password)[0], "OK")
            self.assertEqual(imap.select("INBOX")[0], "OK")

    def test_token_request_through_an_http_connect_proxy(self):
        proxy = TunnelProxy("connect", tls=self.provider_tls())
        self.proxies.append(proxy)
        account = Account("connect@example.test", "connect-pass")
        account.options["token_url"] = f"https://{PROVIDER_HOST}/token"
        grants = Grants(account.client_id)
        port = self.start("connect-proxy", account,
                          {"HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": ENV["ca"]})
        self.login_ok(port, account)
        self.assertEqual(grants.new(), 1)
        self.assertEqual(proxy.destinations, [f"{PROVIDER_HOST}:443"], proxy.errors)

    def test_token_request_through_a_socks5_proxy(self):
        proxy = TunnelProxy("socks5")
        self.proxies.append(proxy)
        account = Account("socks@example.test", "socks-pass")
        account.options["token_url"] = f"http://{PROVIDER_HOST}:8080/token"
        grants = Grants(account.client_id)
        port = self.start("socks-proxy", account, {"ALL_PROXY": proxy.url})
        self.login_ok(port, account)
        self.assertEqual(grants.new(), 1)
        self.assertEqual(proxy.destinations, [f"{PROVIDER_HOST}:8080"], proxy.errors)

    def test_an_unusable_https_proxy_stops_start_up_naming_it(self):
        account = Account("badproxy@example.test", "badproxy-pass")
        mailgate = Mailgate("bad-proxy", {
            f"IMAP-{free_port()}": {"server_address": ENV["dovecot_host"],
                                    "server_port": str(ENV["imaps_port"]),
                                    "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"},
            account.name: account.section(),
        })
        mailgate.write_config()
        environment = os.environ | {"HTTPS_PROXY": "socks4://127.0.0.1:1080"}
        result = subprocess.run(
            [ENV["mailgate"], "--config-file", mailgate.config, "--no-gui"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT,
            env=environment)
        output = result.stdout + result.stderr
        self.assertNotEqual(result.returncode, 0, output)
        self.assertIn("HTTPS_PROXY", output)
        self.assertIn("socks4://127.0.0.1:1080", output)


if __name__ == "__main__":
    unittest.main()
