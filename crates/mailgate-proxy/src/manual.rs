//! The manual: how mailgate protects the mailboxes behind it, and why its defaults are what
//! they are. This module contains documentation only.
//!
//! # Threat model
//!
//! mailgate sits between local programs that only know passwords and mail providers that
//! only accept OAuth 2.0. It holds access and refresh tokens that open whole mailboxes, and it
//! sits on the path of every notification a system sends. It defends against:
//!
//! * **the network**: a peer on the path to the provider (no plain text, no unverified TLS,
//!   no STARTTLS stripping), and anyone who can reach a listener (loopback by default);
//! * **hostile or broken clients**: over-long lines, huge literals, garbage, slow clients,
//!   connection floods, password floods;
//! * **hostile or broken upstreams**: data injected around STARTTLS, endless responses, a
//!   peer that stops reading;
//! * **the logs**: nothing a log reader sees lets them log in.
//!
//! It does not defend against a local attacker who can read the process memory or the
//! configuration file *and* knows the login password, nor against a compromised provider.
//!
//! # Defaults
//!
//! ## Loopback bind
//!
//! `local_address` defaults to `127.0.0.1`. The Python proxy listens on all interfaces by
//! default, which exposes a password-to-token gateway to the whole network on many hosts.
//! Listening elsewhere is one explicit line (`local_address = 0.0.0.0` or `::`); do it only
//! with local TLS (`local_certificate_path`) and a firewall.
//!
//! ## Verified TLS upstream, no downgrade
//!
//! Every upstream connection is TLS, verified against the operating system's roots (through
//! `rustls-native-certs`, so `SSL_CERT_FILE` and `SSL_CERT_DIR` work) and the optional
//! `server_ca_file`; the host name is checked. There is no option to turn verification off.
//! A self-signed server certificate is trusted by putting exactly that certificate in
//! `server_ca_file` (or a bundle `SSL_CERT_FILE` names outside the system's certificate
//! directories such as `/etc/ssl` and `/etc/pki`): a server presenting it is accepted
//! even though `openssl req -x509` marks it as a certificate authority, which WebPKI alone
//! refuses as a server certificate. Its dates, its host name and the handshake signature are
//! still checked, and no certificate of the operating system's own root store is ever taken
//! as a server certificate this way. A refused certificate is explained in words that say
//! what to do (which file to trust it in, which `server_address` it is valid for, that it has
//! expired).
//! With `server_starttls` the proxy requires the server to accept STARTTLS/STLS and fails the
//! login otherwise: a server (or an attacker) that does not offer STARTTLS never receives a
//! token in plain text.
//!
//! ## STARTTLS command injection
//!
//! Bytes that arrive after a STARTTLS/STLS command and before the TLS handshake were sent in
//! plain text and could have been injected by anyone on the path (CVE-2011-0411 and its many
//! successors). mailgate never acts on them: plain text a client pipelines after `STARTTLS`
//! is discarded (POP3, SMTP) or ends the connection (IMAP), and a server that sends data after
//! accepting STARTTLS fails the login. After the handshake the dialogue starts over (capabilities are asked again).
//!
//! ## Literal and line limits
//!
//! Before login every client line is bounded (16 KiB for IMAP; the RFC limits of POP3 and
//! SMTP) and an IMAP literal may hold at most 64 KiB (a user name or password needs far less).
//! Synchronising literals are only invited with `+` after their size was checked, so a client
//! announcing `{4294967296}` is refused before it sends a byte. Upstream responses before
//! login are framed with the tolerant limits of `mailgate-imap`. After login the proxy parses
//! nothing; each direction holds at most one relay buffer.
//!
//! ## Backpressure
//!
//! The relay writes each chunk completely before reading the next one, so a client that
//! stops reading stops the proxy reading from the server, and TCP flow control reaches the
//! server. Memory per session is bounded by the relay buffers (see
//! [`RelayConfig`](crate::RelayConfig)); nothing polls in a loop. Relay buffers and the
//! read-ahead buffers of TLS connections come from a per-thread pool and are held only while
//! bytes are in flight: an idle or stalled-and-drained session holds none, so thousands of
//! idle IMAP sessions cost about 11 KB each (sockets, TLS state, the session's own state).
//!
//! ## Timeouts and limits
//!
//! A client has `pre_auth_timeout` (600 s, the time a user may take to authorise in a
//! browser) to log in, and `client_idle_timeout` (IMAP 180 s, POP3 600 s, SMTP 300 s, after
//! RFC 9051, RFC 1939 and RFC 5321) for each command before login, counted from the proxy's
//! last reply so that a client sending one byte at a time is closed too; `max_connections` and
//! `max_connections_per_address` bound the connections of a listener; `idle_timeout` closes
//! silent sessions after login.
//!
//! The connection to the server is set up when a client connects, and each of its steps is
//! bounded: `server_connect_timeout` (10 s), `server_tls_timeout` (10 s) and
//! `server_greeting_timeout` (15 s, the greeting and each reply before the client is greeted).
//! At most `max_connection_attempts` (100) such connections of a listener are under way; a
//! client above the bound, or whose attempt times out, gets the protocol's refusal at once with
//! the reason. While the proxy waits for the server or for a token it keeps reading the client,
//! so a client that disconnects ends its session, connection attempt and TLS handshake at once;
//! the token request of a login runs in a task of its own and goes on for the other logins of
//! the account that wait for it. A token request that fails for a temporary reason (the
//! endpoint unreachable or too slow, a 5xx answer) is reported as such: IMAP
//! `NO [UNAVAILABLE]`, POP3 `-ERR [SYS/TEMP]`, SMTP `454 4.7.0`. When the
//! process runs out of file descriptors, every listener (the proxy's, the redirect listener
//! and the control socket) retries `accept` every 100 ms, logs when such a run of failures
//! starts (then at most every 10 s) and when it ends, and serves the waiting connections once
//! descriptors are free; it never spins. The `mailgate` binary raises its soft limit on open
//! files to the hard limit (at most 1,048,576) when it starts serving: each session holds two
//! descriptors, and the common soft limit of 1024 would run out at about 500 sessions.
//!
//! ## Local TLS
//!
//! A listener with `local_certificate_path` and `local_key_path` speaks TLS from the first
//! byte, or with `local_starttls` offers STARTTLS (STLS for POP3). A STARTTLS listener takes
//! no password before the client has started TLS: IMAP advertises `LOGINDISABLED` and answers
//! `LOGIN`/`AUTHENTICATE` with `NO [PRIVACYREQUIRED]`, POP3 leaves `USER` and `SASL` out of
//! `CAPA` and answers `-ERR [AUTH]`, SMTP offers no `AUTH` and answers `538 5.7.11`. (The Python
//! email-oauth2-proxy accepts passwords before STARTTLS.)
//!
//! ## Encrypted tokens and trust on first use
//!
//! Tokens are stored in the configuration file (or the `--cache-store` file) encrypted with a
//! key derived from the client's login password (PBKDF2-HMAC-SHA256, Fernet), byte-compatible
//! with the Python proxy. The first password used for an account protects its tokens. With
//! `delete_account_token_on_password_error` (the default) a login with another password
//! starts a new authorisation, and only if it succeeds do its tokens replace the stored ones:
//! nothing is deleted on a wrong password (the Python email-oauth2-proxy deletes the tokens at once), so the
//! right password keeps working, and anyone who can reach the listener can at most make a
//! new authorisation prompt appear (and never obtain the old tokens); accounts using client
//! credentials or a service account are exempt. A per-account back-off slows password floods
//! and the CPU cost of key derivation. Deployers who need more: keep the default loopback
//! bind, set `delete_account_token_on_password_error = False`, and restrict who may run
//! programs on the host.
//!
//! ## Redirects of the authorization code flow
//!
//! The redirect listener accepts a redirect only with the `state` of a pending request of this
//! process; the token store then checks the path, `state` and `code` again. The listener binds
//! exactly where `redirect_listen_address` (or `redirect_uri`) says. The control socket of
//! `mailgate authorize` is created with mode 0600.
//!
//! ## Logs
//!
//! Debug logs show the dialogue before login rendered from parsed messages: `LOGIN` shows the
//! user name and a placeholder for the password, SASL responses and the proxy's own
//! credentials are never shown, and after login only byte counts are logged. Secrets are held
//! in redacting types whose `Debug` and `Display` print a placeholder in every build.
