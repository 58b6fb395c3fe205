"""Straight to Dovecot with XOAUTH2/OAUTHBEARER tokens from the mock provider: proves the
harness before anything goes through mailgate.
"""

from __future__ import annotations

import base64
import imaplib
import poplib
import smtplib
import unittest

from harness import (
    ENV,
    OAuth,
    TIMEOUT,
    TRICKY_BODY,
    assert_relayed,
    direct_token,
    make_message,
    oauthbearer,
    one_shot,
    seed_messages,
    tls_context,
    unique,
    xoauth2,
)


class DirectImapTest(unittest.TestCase):
    """imaplib straight to Dovecot with XOAUTH2 and OAUTHBEARER."""

    user = "seed@example.test"

    def test_plaintext_port_offers_auth_only_after_starttls(self):
        with imaplib.IMAP4(ENV["dovecot_host"], ENV["imap_port"], timeout=TIMEOUT) as imap:
            self.assertIn("LOGINDISABLED", imap.capabilities)
            self.assertIn("STARTTLS", imap.capabilities)
            self.assertNotIn("AUTH=XOAUTH2", imap.capabilities)
            imap.starttls(tls_context())
            self.assertIn("AUTH=XOAUTH2", imap.capabilities)
            self.assertIn("AUTH=OAUTHBEARER", imap.capabilities)

    def test_xoauth2_over_implicit_tls_fetches_the_seed(self):
        token = direct_token(self.user)
        with imaplib.IMAP4_SSL(ENV["dovecot_host"], ENV["imaps_port"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            typ, _ = imap.authenticate("XOAUTH2", one_shot(xoauth2(self.user, token)))
            self.assertEqual(typ, "OK")
            typ, data = imap.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")
            seeds = seed_messages()
            self.assertEqual(int(data[0]), len(seeds))
            for number, expected in enumerate(seeds, 1):
                typ, data = imap.fetch(str(number), "(BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                self.assertEqual(data[0][1], expected, f"message {number}")

    def test_oauthbearer_after_starttls(self):
        token = direct_token(self.user)
        with imaplib.IMAP4(ENV["dovecot_host"], ENV["imap_port"], timeout=TIMEOUT) as imap:
            imap.starttls(tls_context())
            typ, _ = imap.authenticate("OAUTHBEARER", one_shot(oauthbearer(self.user, token)))
            self.assertEqual(typ, "OK")
            typ, data = imap.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")

    def test_revoked_token_is_refused_after_the_error_challenge(self):
        token = direct_token(self.user)
        OAuth.control(action="revoke", token=token)
        with imaplib.IMAP4_SSL(ENV["dovecot_host"], ENV["imaps_port"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            answer = one_shot(xoauth2(self.user, token))
            with self.assertRaises(imaplib.IMAP4.error) as raised:
                imap.authenticate("XOAUTH2", answer)
            self.assertIn("AUTHENTICATIONFAILED", str(raised.exception))

    def test_token_of_another_user_is_refused(self):
        token = direct_token("someone-else@example.test")
        with imaplib.IMAP4_SSL(ENV["dovecot_host"], ENV["imaps_port"], ssl_context=tls_context(),
                               timeout=TIMEOUT) as imap:
            with self.assertRaises(imaplib.IMAP4.error):
                imap.authenticate("XOAUTH2", one_shot(xoauth2(self.user, token)))


class DirectPop3Test(unittest.TestCase):
    user = "seed@example.test"

    def authenticate(self, pop: poplib.POP3, payload: bytes) -> bytes:
        return pop._shortcmd("AUTH XOAUTH2 " + base64.b64encode(payload).decode())

    def test_xoauth2_over_implicit_tls_retrieves_the_seed(self):
        token = direct_token(self.user)
        pop = poplib.POP3_SSL(ENV["dovecot_host"], ENV["pop3s_port"], context=tls_context(),
                              timeout=TIMEOUT)
        try:
            self.assertTrue(self.authenticate(pop, xoauth2(self.user, token)).startswith(b"+OK"))
            seeds = seed_messages()
            count, _ = pop.stat()
            self.assertEqual(count, len(seeds))
            for number, expected in enumerate(seeds, 1):
                _, lines, _ = pop.retr(number)
                self.assertEqual(b"\r\n".join(lines) + b"\r\n", expected, f"message {number}")
        finally:
            pop.quit()

    def test_stls_then_xoauth2(self):
        token = direct_token(self.user)
        pop = poplib.POP3(ENV["dovecot_host"], ENV["pop3_port"], timeout=TIMEOUT)
        try:
            pop.stls(tls_context())
            self.assertTrue(self.authenticate(pop, xoauth2(self.user, token)).startswith(b"+OK"))
            self.assertEqual(pop.stat()[0], len(seed_messages()))
        finally:
            pop.quit()


class DirectSmtpTest(unittest.TestCase):
    user = "sender@example.test"

    def test_submission_starttls_xoauth2_relays_exact_bytes(self):
        token = direct_token(self.user)
        marker = unique("direct-smtp")
        message = make_message(marker, TRICKY_BODY, self.user, "rcpt@example.test")
        with smtplib.SMTP(ENV["dovecot_host"], ENV["submission_port"], timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            # Dovecot answers "AUTH" with no mechanism before TLS.
            self.assertEqual(smtp.esmtp_features.get("auth", "").strip(), "",
                             "mechanisms offered before STARTTLS")
            smtp.starttls(context=tls_context())
            smtp.ehlo("client.test")
            self.assertIn("XOAUTH2", smtp.esmtp_features.get("auth", ""))
            code, _ = smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(self.user, token).decode()
                                if challenge is None else "")
            self.assertEqual(code, 235)
            smtp.sendmail(self.user, ["rcpt@example.test"], message, mail_options=["BODY=8BITMIME"])
        meta = assert_relayed(self, message, marker)
        self.assertEqual(meta["mail_from"], self.user)
        self.assertEqual(meta["rcpt_to"], ["rcpt@example.test"])

    def test_implicit_tls_oauthbearer(self):
        token = direct_token(self.user)
        marker = unique("direct-smtps")
        message = make_message(marker, b"plain body\r\n", self.user, "rcpt@example.test")
        with smtplib.SMTP_SSL(ENV["dovecot_host"], ENV["submissions_port"], context=tls_context(),
                              timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            code, _ = smtp.auth("OAUTHBEARER", lambda challenge=None:
                                oauthbearer(self.user, token).decode() if challenge is None else "")
            self.assertEqual(code, 235)
            smtp.sendmail(self.user, ["rcpt@example.test"], message)
        assert_relayed(self, message, marker)

    def test_revoked_token_gets_535(self):
        token = direct_token(self.user)
        OAuth.control(action="revoke", token=token)
        with smtplib.SMTP_SSL(ENV["dovecot_host"], ENV["submissions_port"], context=tls_context(),
                              timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            with self.assertRaises(smtplib.SMTPAuthenticationError) as raised:
                smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(self.user, token).decode()
                          if challenge is None else "")
            self.assertEqual(raised.exception.smtp_code, 535)
