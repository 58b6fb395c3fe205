//! Email OAuth 2.0 proxy library: password IMAP/POP3/SMTP logins in, XOAUTH2/OAUTHBEARER upstream.
#![forbid(unsafe_code)]
