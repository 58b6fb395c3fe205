"""Several mailgate processes sharing one token store in Redis (`--cache-store redis://...`):
one refresh per account across the instances, a refresh lock that outlives no killed holder
beyond its lease, and a Redis restart that loses no token.

Each test starts its own `redis-server` (no persistence, so a restart loses its data) on a free
loopback port and three mailgate processes on it.
"""

from __future__ import annotations

import concurrent.futures
import imaplib
import os
import shutil
import signal
import subprocess
import threading
import time
import unittest

from harness import (
    ENV,
    REQUIRE_PROXY,
    TIMEOUT,
    Account,
    Grants,
    Mailgate,
    OAuth,
    free_port,
    port_open,
    require_mailgate,
    unique,
)

# The refresh lock's lease in these tests (seconds): short, so a killed holder's lock ends soon.
LEASE = 3


class RedisServer:
    """A `redis-server` of one test, without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = os.path.join(ENV["dir"], "redis", str(self.port))
        os.makedirs(self.dir, exist_ok=True)
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        with open(ENV["pids_file"], "a", encoding="utf-8") as file:
            file.write(f"{self.process.pid}\n")
        deadline = time.monotonic() + TIMEOUT
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def cli(self, *args: str) -> str:
        result = subprocess.run(["redis-cli", "-p", str(self.port), "--raw", *args],
                                capture_output=True, timeout=10, check=True)
        return result.stdout.decode().strip()

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0?lock_lease={LEASE}"


class ProxySharedStoreTest(unittest.TestCase):
    """Three mailgate processes on one Redis store."""

    def setUp(self) -> None:
        require_mailgate(self, "--cache-store", "store")
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            reason = "redis-server is not installed (Debian package redis-server)"
            if REQUIRE_PROXY:
                self.fail(reason)
            self.skipTest(reason)
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.stop)

    def instances(self, account: Account, count: int = 3) -> list[tuple[Mailgate, int]]:
        """`count` mailgate processes on the test's store, each with its own IMAP port."""
        started = []
        for index in range(count):
            port = free_port()
            sections = {
                f"IMAP-{port}": {"server_address": ENV["dovecot_host"],
                                 "server_port": str(ENV["imaps_port"]),
                                 "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"},
                account.name: account.section(),
            }
            proxy = Mailgate(f"shared-{account.name.split('@')[0]}-{index}", sections,
                             ("--cache-store", self.redis.url())).start()
            self.addCleanup(proxy.stop)
            started.append((proxy, port))
        return started

    def account(self) -> Account:
        account = Account(unique("shared") + "@example.test", "shared-pass", flow="password")
        account.register()
        self.addCleanup(OAuth.control, action="set_delay", client_id=account.client_id, seconds=0)
        self.addCleanup(OAuth.control, action="set_expiry", client_id=account.client_id,
                        seconds=3600)
        return account

    def login(self, port: int, account: Account, timeout: float = TIMEOUT) -> str:
        with imaplib.IMAP4("127.0.0.1", port, timeout=timeout) as imap:
            typ, _ = imap.login(account.name, account.password)
            typ2, _ = imap.noop()
            return f"{typ}/{typ2}"

    def first_token_already_expired(self, account: Account, port: int) -> None:
        """The first login gets a token that is inside the refresh margin at once."""
        OAuth.control(action="set_expiry", client_id=account.client_id, seconds=1)
        self.assertEqual(self.login(port, account), "OK/OK")
        OAuth.control(action="set_expiry", client_id=account.client_id, seconds=3600)

    def test_sixty_logins_across_three_instances_make_one_token_request(self):
        account = self.account()
        proxies = self.instances(account)
        self.first_token_already_expired(account, proxies[0][1])
        grants = Grants(account.client_id)
        # A slow provider: every instance sees the expired token while the refresh runs.
        OAuth.control(action="set_delay", client_id=account.client_id, seconds=1.5)
        count = 60
        connections = []
        try:
            for i in range(count):
                connections.append(imaplib.IMAP4("127.0.0.1", proxies[i % 3][1], timeout=60))
            barrier = threading.Barrier(count, timeout=TIMEOUT)

            def one_login(imap: imaplib.IMAP4) -> str:
                barrier.wait()
                typ, _ = imap.login(account.name, account.password)
                typ2, _ = imap.noop()
                return f"{typ}/{typ2}"

            with concurrent.futures.ThreadPoolExecutor(count) as pool:
                results = list(pool.map(one_login, connections))
        finally:
            for imap in connections:
                try:
                    imap.logout()
                except (imaplib.IMAP4.error, OSError):
                    pass
        self.assertEqual(results, ["OK/OK"] * count)
        self.assertEqual(grants.new(), 1, "60 logins on three instances: one token request")
        self.assertEqual(grants.new("refresh_token"), 1)
        print(f"\n    {count} logins on 3 instances: {grants.new()} token request", end=" ",
              flush=True)

    def test_a_killed_lock_holder_delays_the_refresh_by_its_lease_only(self):
        account = self.account()
        proxies = self.instances(account, 2)
        self.first_token_already_expired(account, proxies[0][1])
        grants = Grants(account.client_id)
        lock = f"mailgate:lock:{account.name}"
        # The holder's token request takes longer than the lease.
        OAuth.control(action="set_delay", client_id=account.client_id, seconds=3 * LEASE)
        outcome: list = []

        def doomed_login() -> None:
            try:
                outcome.append(self.login(proxies[0][1], account, timeout=60))
            except (imaplib.IMAP4.error, OSError) as error:
                outcome.append(repr(error))

        thread = threading.Thread(target=doomed_login, daemon=True)
        thread.start()
        deadline = time.monotonic() + TIMEOUT
        while not self.redis.cli("EXISTS", lock) == "1":
            self.assertLess(time.monotonic(), deadline, "the first instance never took the lock")
            time.sleep(0.05)
        # The lease is renewed while the slow request runs ...
        holder = self.redis.cli("GET", lock)
        time.sleep(LEASE + 1)
        self.assertEqual(self.redis.cli("GET", lock), holder, "renewed while the request runs")
        # ... until the holder dies mid-request.
        os.killpg(proxies[0][0].process.pid, signal.SIGKILL)
        proxies[0][0].process.wait(10)
        thread.join(TIMEOUT)
        OAuth.control(action="set_delay", client_id=account.client_id, seconds=0)
        self.assertEqual(self.login(proxies[1][1], account, timeout=60), "OK/OK")
        self.assertEqual(grants.new("password"), 0, "no new authorisation")
        self.assertGreaterEqual(grants.new("refresh_token"), 1)
        self.assertNotEqual(self.redis.cli("GET", lock), holder)

    def test_a_redis_restart_loses_no_token(self):
        account = self.account()
        proxies = self.instances(account)
        for _, port in proxies:
            self.assertEqual(self.login(port, account), "OK/OK")
        grants = Grants(account.client_id)
        key = f"mailgate:account:{account.name}"
        stored = self.redis.cli("HGET", key, "access_token")
        self.assertTrue(stored.startswith("gAAAAA"), stored)

        self.redis.stop()
        # While Redis is down, logins with a known token keep working.
        for _, port in proxies:
            self.assertEqual(self.login(port, account), "OK/OK")
        self.redis.start()
        self.assertEqual(self.redis.cli("EXISTS", key), "0", "the restart lost the store's data")
        for _, port in proxies:
            self.assertEqual(self.login(port, account), "OK/OK")
        self.assertEqual(self.redis.cli("HGET", key, "access_token"), stored,
                         "the instances wrote back the tokens they hold")
        self.assertEqual(grants.new(), 0, "no token was lost, so none was requested")
