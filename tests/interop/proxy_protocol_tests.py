"""IMAP, POP3 and SMTP clients with password logins through the shared mailgate instance."""

from __future__ import annotations

import base64
import imaplib
import os
import poplib
import re
import smtplib
import subprocess
import time

from harness import (
    BEARER,
    ENV,
    MAILBOX,
    ProxyTestCase,
    RawImap,
    SEED,
    SENDER,
    TIMEOUT,
    TRICKY_BODY,
    assert_relayed,
    dovecot_logins,
    imap_quote,
    make_message,
    sasl_plain,
    seed_messages,
    tls_context,
    unique,
)


class ProxyImapTest(ProxyTestCase):
    """imaplib and raw IMAP through mailgate with password logins."""

    def test_login_select_fetch_seed_byte_exact(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
            self.assertNotIn("LOGINDISABLED", imap.capabilities)
            typ, _ = imap.login(SEED.name, SEED.password)
            self.assertEqual(typ, "OK")
            typ, data = imap.select("INBOX", readonly=True)
            seeds = seed_messages()
            self.assertEqual(int(data[0]), len(seeds))
            for number, expected in enumerate(seeds, 1):
                typ, data = imap.fetch(str(number), "(RFC822.SIZE BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                self.assertEqual(data[0][1], expected, f"message {number}")
                self.assertIn(f"RFC822.SIZE {len(expected)}".encode(), data[0][0])
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
            self.assertEqual(len(data), len(seeds))

    def test_search_and_partial_fetch(self):
        imap = self.imap()
        imap.select("INBOX", readonly=True)
        typ, data = imap.search(None, "SUBJECT", '"seed 6 large"')
        self.assertEqual((typ, data[0]), ("OK", b"6"))
        typ, data = imap.search(None, "SUBJECT", "8bit")
        self.assertEqual(data[0], b"4")
        typ, data = imap.fetch("6", "(BODY.PEEK[TEXT]<1000.500>)")
        self.assertEqual(data[0][1], seed_messages()[5].split(b"\r\n\r\n", 1)[1][1000:1500])

    def test_append_with_literals_then_fetch_back(self):
        imap = self.imap(account=MAILBOX)
        marker = unique("append")
        small = make_message(marker, TRICKY_BODY, MAILBOX.name, MAILBOX.name)
        large_marker = unique("append-large")
        large = make_message(large_marker, b"".join(b"%07d %s\r\n" % (i, b"x" * 70)
                                                      for i in range(30_000)),
                             MAILBOX.name, MAILBOX.name)
        for message in (small, large):
            typ, data = imap.append("INBOX", r"(\Seen)", None, message)
            self.assertEqual(typ, "OK", data)
        imap.select("INBOX")
        for text, message in ((marker, small), (large_marker, large)):
            typ, data = imap.uid("SEARCH", None, "HEADER", "Message-ID", text)
            uids = data[0].split()
            self.assertEqual(len(uids), 1, f"search for {text}: {data}")
            typ, data = imap.uid("FETCH", uids[0], "(FLAGS BODY.PEEK[])")
            self.assertEqual(data[0][1], message)
            self.assertIn(rb"\Seen", data[0][0])

    def test_literal_login_forms(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tag = raw.tag()
            user, password = SEED.name.encode(), SEED.password.encode()
            raw.send(tag + b" LOGIN {%d}\r\n" % len(user))
            raw.expect_continuation()
            raw.send(user + b" {%d}\r\n" % len(password))
            raw.expect_continuation()
            raw.send(password + b"\r\n")
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
            tagged, untagged = raw.command(b"EXAMINE INBOX")
            self.assertTrue(tagged.startswith(b"t2 OK"), tagged)
            self.assertIn(b"* %d EXISTS\r\n" % len(seed_messages()), untagged)
            raw.command(b"LOGOUT")
        finally:
            raw.close()

    def test_quoted_user_with_literal_password(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tag = raw.tag()
            password = SEED.password.encode()
            raw.send(tag + b" LOGIN " + imap_quote(SEED.name) + b" {%d}\r\n" % len(password))
            raw.expect_continuation()
            raw.send(password + b"\r\n")
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
        finally:
            raw.close()

    def test_non_synchronizing_literal_login_when_offered(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tagged, untagged = raw.command(b"CAPABILITY")
            capabilities = b" ".join(untagged).upper()
            if b"LITERAL+" not in capabilities and b"LITERAL-" not in capabilities:
                self.skipTest("mailgate does not offer LITERAL+/LITERAL- before login")
            tag = raw.tag()
            user, password = SEED.name.encode(), SEED.password.encode()
            raw.send(tag + b" LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(user), user,
                                                                  len(password), password))
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
        finally:
            raw.close()

    def test_authenticate_plain_with_continuation(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
            self.assertIn("AUTH=PLAIN", imap.capabilities)
            typ, _ = imap.authenticate("PLAIN", lambda _: sasl_plain(SEED.name, SEED.password))
            self.assertEqual(typ, "OK")
            self.assertEqual(imap.select("INBOX", readonly=True)[0], "OK")

    def test_authenticate_plain_with_initial_response(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            payload = base64.b64encode(sasl_plain(SEED.name, SEED.password))
            tagged, _ = raw.command(b"AUTHENTICATE PLAIN " + payload)
            self.assertTrue(tagged.startswith(b"t1 OK"), tagged)
        finally:
            raw.close()

    def test_authenticate_login(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tag = raw.tag()
            raw.send(tag + b" AUTHENTICATE LOGIN\r\n")
            raw.expect_continuation()
            raw.send(base64.b64encode(SEED.name.encode()) + b"\r\n")
            raw.expect_continuation()
            raw.send(base64.b64encode(SEED.password.encode()) + b"\r\n")
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
            tagged, _ = raw.command(b"EXAMINE INBOX")
            self.assertIn(b" OK", tagged)
        finally:
            raw.close()

    def test_unknown_account_is_refused(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=TIMEOUT) as imap:
            with self.assertRaises(imaplib.IMAP4.error) as raised:
                imap.login("nobody-configured@example.test", "whatever")
            self.assertIn("nobody-configured@example.test", str(raised.exception))
            self.assertEqual(imap.noop()[0], "OK")

    def test_idle_sees_a_message_appended_elsewhere(self):
        raw = RawImap("127.0.0.1", self.ports["imap"])
        try:
            tagged, _ = raw.command(b"LOGIN " + imap_quote(MAILBOX.name) + b" " +
                                    imap_quote(MAILBOX.password))
            self.assertIn(b" OK", tagged)
            tagged, untagged = raw.command(b"SELECT INBOX")
            self.assertIn(b" OK", tagged)
            exists = [int(m.group(1)) for line in untagged
                      if (m := re.match(rb"\* (\d+) EXISTS", line))]
            self.assertEqual(len(exists), 1, untagged)
            tag = raw.tag()
            raw.send(tag + b" IDLE\r\n")
            raw.expect_continuation()
            other = self.imap(account=MAILBOX)
            marker = unique("idle")
            other.append("INBOX", None, None, make_message(marker, b"idle test\r\n",
                                                           MAILBOX.name, MAILBOX.name))
            wanted = b"* %d EXISTS\r\n" % (exists[0] + 1)
            deadline = time.monotonic() + TIMEOUT
            seen = []
            while wanted not in seen:
                self.assertLess(time.monotonic(), deadline, f"no EXISTS during IDLE: {seen}")
                seen.append(raw.line(timeout=max(0.1, deadline - time.monotonic())))
            raw.send(b"DONE\r\n")
            tagged, _ = raw.until_tagged(tag)
            self.assertTrue(tagged.startswith(tag + b" OK"), tagged)
        finally:
            raw.close()

    def test_local_starttls(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap_starttls"], timeout=TIMEOUT) as imap:
            self.assertIn("STARTTLS", imap.capabilities)
            imap.starttls(tls_context())
            typ, _ = imap.login(SEED.name, SEED.password)
            self.assertEqual(typ, "OK")
            imap.select("INBOX", readonly=True)
            self.assertEqual(imap.fetch("1", "(BODY.PEEK[])")[1][0][1], seed_messages()[0])


    def test_local_starttls_refuses_logins_before_tls(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap_starttls"], timeout=TIMEOUT) as imap:
            self.assertIn("LOGINDISABLED", imap.capabilities)
            self.assertFalse([c for c in imap.capabilities if c.startswith("AUTH=")],
                             imap.capabilities)
            with self.assertRaises(imaplib.IMAP4.error) as raised:
                imap.login(SEED.name, SEED.password)
            self.assertIn("PRIVACYREQUIRED", str(raised.exception))
            imap.starttls(tls_context())
            self.assertNotIn("LOGINDISABLED", imap.capabilities)
            typ, _ = imap.login(SEED.name, SEED.password)
            self.assertEqual(typ, "OK")

    def test_local_implicit_tls(self):
        with imaplib.IMAP4_SSL("127.0.0.1", self.ports["imap_tls"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            typ, _ = imap.login(SEED.name, SEED.password)
            self.assertEqual(typ, "OK")
            imap.select("INBOX", readonly=True)
            self.assertEqual(imap.fetch("6", "(BODY.PEEK[])")[1][0][1], seed_messages()[5])

    def test_upstream_starttls(self):
        # Dovecot's plain IMAP port refuses authentication before STARTTLS, so this only works if
        # mailgate really upgrades the upstream connection.
        with imaplib.IMAP4("127.0.0.1", self.ports["imap_upstream_starttls"], timeout=TIMEOUT) as imap:
            self.assertEqual(imap.login(SEED.name, SEED.password)[0], "OK")
            imap.select("INBOX", readonly=True)
            self.assertEqual(imap.fetch("5", "(BODY.PEEK[])")[1][0][1], seed_messages()[4])

    def test_upstream_mechanisms(self):
        """XOAUTH2 upstream by default, OAUTHBEARER with `upstream_sasl = oauthbearer`, as
        Dovecot's log records them."""
        for account, mechanism in ((BEARER, "OAUTHBEARER"), (SEED, "XOAUTH2")):
            before = len(dovecot_logins(account.name))
            self.imap(account=account)
            deadline = time.monotonic() + TIMEOUT
            while len(dovecot_logins(account.name)) == before:
                self.assertLess(time.monotonic(), deadline, "Dovecot logged no login")
                time.sleep(0.05)
            line = dovecot_logins(account.name)[-1]
            self.assertIn(f"method={mechanism},", line)
            self.assertIn(", TLS", line)

    def test_curl_imap_fetch(self):
        for scheme, port, extra in (("imap", self.ports["imap"], []),
                                    ("imaps", self.ports["imap_tls"], ["--cacert", ENV["ca"]])):
            result = subprocess.run(
                ["curl", "-sS", "--max-time", str(TIMEOUT), *extra, "--user",
                 f"{SEED.name}:{SEED.password}", f"{scheme}://127.0.0.1:{port}/INBOX;UID=1"],
                capture_output=True, timeout=TIMEOUT + 5)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout, seed_messages()[0], scheme)


class ProxyPop3Test(ProxyTestCase):
    """poplib and raw POP3 through mailgate."""

    def test_user_pass_then_retrieve_byte_exact(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            self.assertTrue(pop.pass_(SEED.password).startswith(b"+OK"))
            seeds = seed_messages()
            self.assertEqual(pop.stat(), (len(seeds), sum(len(m) for m in seeds)))
            for number, expected in enumerate(seeds, 1):
                _, lines, _ = pop.retr(number)
                self.assertEqual(b"\r\n".join(lines) + b"\r\n", expected, f"message {number}")
            _, uidls, _ = pop.uidl()
            self.assertEqual(len(uidls), len(seeds))
            _, top, _ = pop.top(1, 0)
            self.assertIn(b"Subject: seed 1", top)
        finally:
            pop.quit()

    def test_auth_plain_with_initial_response(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            payload = base64.b64encode(sasl_plain(SEED.name, SEED.password)).decode()
            self.assertTrue(pop._shortcmd("AUTH PLAIN " + payload).startswith(b"+OK"))
            self.assertEqual(pop.stat()[0], len(seed_messages()))
        finally:
            pop.quit()

    def test_local_implicit_tls(self):
        pop = poplib.POP3_SSL("127.0.0.1", self.ports["pop_tls"], context=tls_context(),
                              timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            pop.pass_(SEED.password)
            _, lines, _ = pop.retr(6)
            self.assertEqual(b"\r\n".join(lines) + b"\r\n", seed_messages()[5])
        finally:
            pop.quit()


    def test_local_stls_refuses_logins_before_tls(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop_stls"], timeout=TIMEOUT)
        try:
            capabilities = pop.capa()
            self.assertIn("STLS", capabilities)
            self.assertNotIn("USER", capabilities)
            self.assertNotIn("SASL", capabilities)
            with self.assertRaises(poplib.error_proto) as raised:
                pop.user(SEED.name)
            self.assertTrue(raised.exception.args[0].startswith(b"-ERR [AUTH] Use STLS first"),
                            raised.exception.args[0])
            pop.stls(tls_context())
            pop.user(SEED.name)
            self.assertTrue(pop.pass_(SEED.password).startswith(b"+OK"))
            self.assertEqual(pop.stat()[0], len(seed_messages()))
        finally:
            pop.quit()

    def test_upstream_stls(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop_upstream_stls"], timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            pop.pass_(SEED.password)
            _, lines, _ = pop.retr(5)
            self.assertEqual(b"\r\n".join(lines) + b"\r\n", seed_messages()[4])
        finally:
            pop.quit()

    def test_wrong_password_gets_err(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            pop.pass_(SEED.password)
        finally:
            pop.quit()
        pop = poplib.POP3("127.0.0.1", self.ports["pop"], timeout=TIMEOUT)
        try:
            pop.user(SEED.name)
            with self.assertRaises(poplib.error_proto) as raised:
                pop.pass_("not the password")
            self.assertTrue(str(raised.exception).startswith("b'-ERR"), raised.exception)
        finally:
            pop.close()

    def test_local_stls(self):
        pop = poplib.POP3("127.0.0.1", self.ports["pop_stls"], timeout=TIMEOUT)
        try:
            pop.stls(tls_context())
            pop.user(SEED.name)
            pop.pass_(SEED.password)
            _, lines, _ = pop.retr(4)
            self.assertEqual(b"\r\n".join(lines) + b"\r\n", seed_messages()[3])
        finally:
            pop.quit()


class ProxySmtpTest(ProxyTestCase):
    """smtplib, msmtp and curl through mailgate to Dovecot submission (upstream STARTTLS)."""

    def send(self, port_name: str, mechanism: str, body: bytes, starttls: bool = False) -> None:
        marker = unique(f"smtp-{mechanism.lower()}")
        message = make_message(marker, body, SENDER.name, "rcpt@example.test")
        with smtplib.SMTP("127.0.0.1", self.ports[port_name], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            if starttls:
                smtp.starttls(context=tls_context())
                smtp.ehlo("client.test")
            self.assertIn(mechanism, smtp.esmtp_features.get("auth", "").upper().split())
            smtp.user, smtp.password = SENDER.name, SENDER.password
            authenticator = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
            code, _ = smtp.auth(mechanism, authenticator)
            self.assertEqual(code, 235)
            options = ["BODY=8BITMIME"] if "8bitmime" in smtp.esmtp_features else []
            refused = smtp.sendmail(SENDER.name, ["rcpt@example.test", "second@example.test"],
                                    message, mail_options=options)
            self.assertEqual(refused, {})
        meta = assert_relayed(self, message, marker)
        self.assertEqual(meta["mail_from"], SENDER.name)
        self.assertEqual(meta["rcpt_to"], ["rcpt@example.test", "second@example.test"])

    def test_auth_plain_dot_stuffed_8bit_body(self):
        self.send("smtp", "PLAIN", TRICKY_BODY)

    def test_auth_login_dot_stuffed_8bit_body(self):
        self.send("smtp", "LOGIN", TRICKY_BODY)

    def test_upstream_implicit_tls(self):
        self.send("smtp_upstream_tls", "PLAIN", b"implicit TLS upstream\r\n")

    def test_local_starttls(self):
        self.send("smtp_starttls", "PLAIN", TRICKY_BODY, starttls=True)


    def test_local_starttls_refuses_auth_before_tls(self):
        with smtplib.SMTP("127.0.0.1", self.ports["smtp_starttls"], timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            self.assertTrue(smtp.has_extn("starttls"))
            self.assertFalse(smtp.has_extn("auth"))
            payload = base64.b64encode(sasl_plain(SENDER.name, SENDER.password)).decode()
            code, text = smtp.docmd("AUTH", "PLAIN " + payload)
            self.assertEqual(code, 538, text)
            smtp.starttls(context=tls_context())
            smtp.ehlo()
            self.assertTrue(smtp.has_extn("auth"))
            code, _ = smtp.login(SENDER.name, SENDER.password)
            self.assertEqual(code, 235)

    def test_local_implicit_tls(self):
        marker = unique("smtp-implicit-tls")
        message = make_message(marker, TRICKY_BODY, SENDER.name, "rcpt@example.test")
        with smtplib.SMTP_SSL("127.0.0.1", self.ports["smtp_tls"], context=tls_context(),
                              timeout=TIMEOUT) as smtp:
            smtp.login(SENDER.name, SENDER.password)
            self.assertEqual(smtp.sendmail(SENDER.name, ["rcpt@example.test"], message), {})
        assert_relayed(self, message, marker)

    def test_oauthbearer_upstream(self):
        before = len(dovecot_logins(BEARER.name))
        marker = unique("smtp-bearer")
        message = make_message(marker, b"sent with OAUTHBEARER upstream\r\n", BEARER.name,
                               "rcpt@example.test")
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.login(BEARER.name, BEARER.password)
            self.assertEqual(smtp.sendmail(BEARER.name, ["rcpt@example.test"], message), {})
        assert_relayed(self, message, marker)
        logins = dovecot_logins(BEARER.name)[before:]
        self.assertTrue(any("submission-login" in line and "method=OAUTHBEARER," in line
                            for line in logins), logins)

    def test_several_messages_in_one_session(self):
        markers = [unique("multi") for _ in range(3)]
        messages = [make_message(m, (b"line %d .\r\n.dot\r\n" % i) * (20_000 if i == 2 else 3),
                                 SENDER.name, "rcpt@example.test") for i, m in enumerate(markers)]
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.login(SENDER.name, SENDER.password)
            for message in messages:
                self.assertEqual(smtp.sendmail(SENDER.name, ["rcpt@example.test"], message), {})
                smtp.rset()
        for marker, message in zip(markers, messages):
            assert_relayed(self, message, marker)

    def test_pipelined_transaction(self):
        """MAIL, both RCPTs and DATA in one write, as pipelining clients send them."""
        marker = unique("smtp-pipelining")
        message = make_message(marker, TRICKY_BODY, SENDER.name, "rcpt@example.test")
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            self.assertTrue(smtp.has_extn("pipelining"))
            smtp.login(SENDER.name, SENDER.password)
            smtp.send(f"MAIL FROM:<{SENDER.name}>\r\nRCPT TO:<rcpt@example.test>\r\n"
                      f"RCPT TO:<other@example.test>\r\nDATA\r\n".encode())
            replies = [smtp.getreply()[0] for _ in range(4)]
            self.assertEqual(replies, [250, 250, 250, 354])
            stuffed = re.sub(rb"(?m)^\.", b"..", message)
            smtp.send(stuffed + b".\r\n")
            self.assertEqual(smtp.getreply()[0], 250)
        meta = assert_relayed(self, message, marker)
        self.assertEqual(meta["rcpt_to"], ["rcpt@example.test", "other@example.test"])

    def test_wrong_password_gets_535(self):
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            smtp.login(SENDER.name, SENDER.password)  # caches the token under the right password
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            with self.assertRaises(smtplib.SMTPAuthenticationError) as raised:
                smtp.login(SENDER.name, "not-the-password")
            self.assertEqual(raised.exception.smtp_code, 535)

    def test_msmtp_with_local_starttls(self):
        marker = unique("msmtp")
        message = make_message(marker, TRICKY_BODY, SENDER.name, "rcpt@example.test")
        config = os.path.join(self.proxy.dir, "msmtprc")
        with open(config, "w", encoding="utf-8") as file:
            file.write(
                "defaults\n"
                f"logfile {os.path.join(self.proxy.dir, 'msmtp.log')}\n"
                "account proxy\n"
                "host 127.0.0.1\n"
                f"port {self.ports['smtp_starttls']}\n"
                "tls on\ntls_starttls on\n"
                f"tls_trust_file {ENV['ca']}\n"
                "auth plain\n"
                f"user {SENDER.name}\n"
                f"password {SENDER.password}\n"
                f"from {SENDER.name}\n"
                "timeout 20\n"
            )
        os.chmod(config, 0o600)
        result = subprocess.run(["msmtp", "-C", config, "-a", "proxy", "rcpt@example.test"],
                                input=message, capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr)
        assert_relayed(self, message, marker)

    def test_curl_smtp_send(self):
        marker = unique("curl-smtp")
        message = make_message(marker, TRICKY_BODY, SENDER.name, "rcpt@example.test")
        path = os.path.join(self.proxy.dir, marker + ".eml")
        with open(path, "wb") as file:
            file.write(message)
        result = subprocess.run(
            ["curl", "-sS", "--max-time", str(TIMEOUT), f"smtp://127.0.0.1:{self.ports['smtp']}",
             "--user", f"{SENDER.name}:{SENDER.password}", "--mail-from", SENDER.name,
             "--mail-rcpt", "rcpt@example.test", "--upload-file", path],
            capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr)
        assert_relayed(self, message, marker)
