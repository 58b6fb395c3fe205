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

import os
import sys
import unittest

from direct_tests import DirectImapTest, DirectPop3Test, DirectSmtpTest  # noqa: F401
from harness import CountingResult, MainProxy, load_env
from proxy_burst_tests import ProxyBoundedWaitTest, ProxyBurstTest, ProxySlowProviderTest  # noqa: F401
from proxy_certificate_tests import ProxyCertificateTest  # noqa: F401
from proxy_deployment_tests import ProxyDeploymentTest, ProxyGuideRegisterTest  # noqa: F401
from proxy_flood_tests import ProxyIdleFloodTest, ProxyWrongPasswordFloodTest  # noqa: F401
from proxy_network_tests import ProxyNetworkTest  # noqa: F401
from proxy_operation_tests import (  # noqa: F401
    ProxyLifecycleTest,
    ProxyLogHygieneTest,
    ProxyMeasureTest,
    ProxyMigrationTest,
)
from proxy_protocol_tests import ProxyImapTest, ProxyPop3Test, ProxySmtpTest  # noqa: F401
from proxy_shared_store_tests import ProxyAwsStoreTest, ProxySharedStoreTest  # noqa: F401
from proxy_status_tests import (  # noqa: F401
    ProxyStatusAccessTest,
    ProxyStatusReloadTest,
    ProxyStatusTest,
)
from proxy_token_tests import ProxyInteractiveTest, ProxyRefresherTest, ProxyTokenTest  # noqa: F401


def main() -> None:
    load_env()
    runner = unittest.TextTestRunner(resultclass=CountingResult, verbosity=2, stream=sys.stdout)
    try:
        program = unittest.main(module=__name__, testRunner=runner, exit=False)
    finally:
        MainProxy.stop()
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
