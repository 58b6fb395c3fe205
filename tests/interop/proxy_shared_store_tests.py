"""Several mailgate processes sharing one token store.

Redis (`--cache-store redis://...`): one refresh per account across the instances, a refresh
lock that outlives no killed holder beyond its lease, and a Redis restart that loses no token.
Each test starts its own `redis-server` (no persistence, so a restart loses its data) on a free
loopback port and three mailgate processes on it.

AWS Secrets Manager (`--cache-store aws:...`) against `moto_server`: two processes writing two
accounts of one secret lose neither, and a secret in the Python email-oauth2-proxy's format is
read, and written back in that format.
"""

from __future__ import annotations

import concurrent.futures
import configparser
import imaplib
import json
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
        # Each instance checks the store every 5 s and writes back what it holds.
        deadline = time.monotonic() + TIMEOUT
        while self.redis.cli("HGET", key, "access_token") != stored:
            self.assertLess(time.monotonic(), deadline,
                            "the instances never wrote back the tokens they hold")
            time.sleep(0.1)
        for _, port in proxies:
            self.assertEqual(self.login(port, account), "OK/OK")
        self.assertEqual(self.redis.cli("HGET", key, "access_token"), stored)
        self.assertEqual(grants.new(), 0, "no token was lost, so none was requested")


class ProxyAwsStoreTest(unittest.TestCase):
    """mailgate processes on one AWS Secrets Manager secret (moto_server)."""

    moto: subprocess.Popen | None = None
    port = 0

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.moto is not None and cls.moto.poll() is None:
            cls.moto.kill()
            cls.moto.wait(10)

    def setUp(self) -> None:
        require_mailgate(self, "--cache-store", "store")
        if not ENV.get("moto_server"):
            reason = "moto_server is not installed (PyPI moto[server])"
            if REQUIRE_PROXY:
                self.fail(reason)
            self.skipTest(reason)
        cls = type(self)
        if cls.moto is None:
            cls.port = free_port()
            cls.moto = subprocess.Popen(
                [ENV["moto_server"], "-H", "127.0.0.1", "-p", str(cls.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            with open(ENV["pids_file"], "a", encoding="utf-8") as file:
                file.write(f"{cls.moto.pid}\n")
            deadline = time.monotonic() + TIMEOUT
            while not port_open("127.0.0.1", cls.port):
                if time.monotonic() > deadline or cls.moto.poll() is not None:
                    raise AssertionError("moto_server did not start")
                time.sleep(0.05)

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def boto(self, script: str) -> str:
        """Python with boto3 against the emulator: the Python email-oauth2-proxy's calls."""
        result = subprocess.run([ENV["moto_python"], "-c", script], capture_output=True,
                                timeout=60, env=os.environ | self.environment())
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        return result.stdout.decode()

    def secret(self, name: str) -> dict:
        # The label named: moto's default version does not follow UpdateSecretVersionStage.
        return json.loads(self.boto(
            "import boto3\n"
            f"print(boto3.client('secretsmanager').get_secret_value(SecretId={name!r}, "
            "VersionStage='AWSCURRENT')['SecretString'])\n"))

    def proxy(self, name: str, accounts: list[Account], store: str) -> tuple[Mailgate, int]:
        port = free_port()
        sections = {
            f"IMAP-{port}": {"server_address": ENV["dovecot_host"],
                             "server_port": str(ENV["imaps_port"]),
                             "server_ca_file": ENV["ca"], "local_address": "127.0.0.1"},
        }
        for account in accounts:
            sections[account.name] = account.section()
        proxy = Mailgate(name, sections, ("--cache-store", store),
                         environment=self.environment()).start()
        self.addCleanup(proxy.stop)
        return proxy, port

    @staticmethod
    def login(port: int, account: Account) -> str:
        with imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT) as imap:
            typ, _ = imap.login(account.name, account.password)
            return typ

    def account(self, prefix: str) -> Account:
        account = Account(unique(prefix) + "@example.test", prefix + "-pass", flow="password")
        account.register()
        self.addCleanup(OAuth.control, action="set_expiry", client_id=account.client_id,
                        seconds=3600)
        return account

    def test_two_instances_writing_one_secret_lose_no_account(self):
        first, second = self.account("aws-first"), self.account("aws-second")
        store = "aws:" + unique("fleet-tokens")
        a = self.proxy(unique("aws-a"), [first, second], store)
        b = self.proxy(unique("aws-b"), [first, second], store)
        # Tokens inside the refresh margin: every login refreshes and writes the secret.
        for account in (first, second):
            OAuth.control(action="set_expiry", client_id=account.client_id, seconds=1)
        rounds = 10

        def logins(port: int, account: Account) -> list[str]:
            return [self.login(port, account) for _ in range(rounds)]

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(logins, (a[1], b[1]), (first, second)))
        self.assertEqual(results, [["OK"] * rounds] * 2)
        cache = self.secret(store[len("aws:"):])
        for account in (first, second):
            self.assertTrue(cache[account.name]["access_token"].startswith("gAAAAA"), cache)
            self.assertIn("refresh_token", cache[account.name])
        # Each instance finds the other's account in the secret: no new authorisation.
        for account in (first, second):
            OAuth.control(action="set_expiry", client_id=account.client_id, seconds=3600)
        grants = [Grants(first.client_id), Grants(second.client_id)]
        self.assertEqual(self.login(b[1], first), "OK")
        self.assertEqual(self.login(a[1], second), "OK")
        self.assertEqual([g.new("password") for g in grants], [0, 0])

    def test_a_secret_in_the_python_proxys_format_is_read_and_kept_in_it(self):
        account = self.account("aws-python")
        # Tokens encrypted with the account's password, as any proxy writes them: from a file;
        # the access token is already inside the refresh margin.
        OAuth.control(action="set_expiry", client_id=account.client_id, seconds=1)
        cache_file = os.path.join(ENV["dir"], unique("aws-python") + ".config")
        file_proxy = self.proxy(unique("aws-file"), [account], cache_file)
        self.assertEqual(self.login(file_proxy[1], account), "OK")
        file_proxy[0].stop()
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(cache_file)
        cached = {section: dict(parser.items(section)) for section in parser.sections()}
        self.assertIn(account.name, cached)
        # The Python email-oauth2-proxy's calls: create_secret, then put_secret_value(json.dumps).
        name = unique("python-tokens")
        self.boto(
            "import boto3, json\n"
            "c = boto3.client('secretsmanager')\n"
            f"c.create_secret(Name={name!r}, ForceOverwriteReplicaSecret=False)\n"
            f"c.put_secret_value(SecretId={name!r}, SecretString=json.dumps({cached!r}))\n")
        OAuth.control(action="set_expiry", client_id=account.client_id, seconds=3600)
        grants = Grants(account.client_id)
        proxy = self.proxy(unique("aws-reader"), [account], "aws:" + name)
        # The refresh token the secret held is decrypted and used; the new tokens are written.
        self.assertEqual(self.login(proxy[1], account), "OK")
        self.assertEqual(grants.new("password"), 0, "no new authorisation")
        self.assertEqual(grants.new("refresh_token"), 1)
        # The secret stays a JSON object of sections of text values.
        cache = self.secret(name)
        self.assertEqual(list(cache), [account.name])
        self.assertTrue(all(isinstance(v, str) for v in cache[account.name].values()), cache)
        self.assertNotEqual(cache[account.name]["access_token"],
                            cached[account.name]["access_token"])
