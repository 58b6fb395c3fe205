//! The secret scan shared by the secrets tests: fake IMAP, POP3 and SMTP upstreams that accept
//! the mock provider's tokens, clients for every login form, and a search for secrets in plain
//! text, in base64 at every alignment, in hex and as a `Debug` byte list.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    dead_code,
    unreachable_pub
)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use mailgate_test_support::{MockOAuthServer, MockReply};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// Mail content relayed after login, in each direction.
pub const CLIENT_CONTENT: &str = "MAIL-ZQX-client-content-0a9b";
pub const SERVER_CONTENT: &str = "MAIL-ZQX-server-content-8c7d";

/// The access and refresh tokens of the mock provider's `n`th token response.
pub fn access_token(n: usize) -> String {
    format!("AT-ZQX-access-token-{n}-a1b2")
}
pub fn refresh_token(n: usize) -> String {
    format!("RT-ZQX-refresh-token-{n}-c3d4")
}

/// A token response with the distinctive tokens of its request number.
pub fn token_reply(expires_in: u64) -> MockReply {
    MockReply::Token {
        access_token: Some(access_token(0).replace("-0-", "-{n}-")),
        expires_in: Some(expires_in),
        refresh_token: Some(refresh_token(0).replace("-0-", "-{n}-")),
    }
}

// ---------------------------------------------------------------------------------------------
// The scan.

/// One searchable form of a secret.
pub struct Needle {
    pub secret: String,
    pub form: String,
    pub needle: String,
}

/// The substrings of the base64 (standard and URL-safe) encodings of `secret` that appear
/// whatever bytes surround it, for each of the three alignments.
pub fn base64_fragments(secret: &[u8]) -> Vec<(String, String)> {
    let mut fragments = Vec::new();
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret);
        let skip = (offset * 8).div_ceil(6);
        let end = bytes.len() * 8 / 6;
        for (alphabet, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
            let encoded = engine.encode(&bytes);
            let fragment = encoded.get(skip..end).unwrap_or_default().to_owned();
            fragments.push((format!("{alphabet} at offset {offset}"), fragment));
        }
    }
    fragments
}

/// Plain text and base64 forms of each named secret, plus whole encoded SASL strings.
pub fn search_forms(secrets: &[(String, String)], encoded: &[(String, String)]) -> Vec<Needle> {
    let mut forms = Vec::new();
    for (name, secret) in secrets {
        assert!(secret.len() >= 16, "{name} is too short to search for");
        let name = format!("{name} {secret:?}");
        forms.push(Needle {
            secret: name.clone(),
            form: "plain text".to_owned(),
            needle: secret.clone(),
        });
        let bytes = secret.as_bytes();
        let mut other_forms = base64_fragments(bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        other_forms.push(("hex".to_owned(), hex.clone()));
        other_forms.push(("HEX".to_owned(), hex.to_ascii_uppercase()));
        let debug = format!("{bytes:?}");
        let debug = debug.trim_start_matches('[').trim_end_matches(']');
        other_forms.push(("byte list".to_owned(), debug.to_owned()));
        for (form, needle) in other_forms {
            forms.push(Needle {
                secret: name.clone(),
                form,
                needle,
            });
        }
    }
    for (name, string) in encoded {
        forms.push(Needle {
            secret: format!("{name} {string:?}"),
            form: "encoded SASL string".to_owned(),
            needle: string.clone(),
        });
    }
    forms
}

/// Every occurrence of a form in a named output, described with the line it is on.
pub fn scan(outputs: &[(String, String)], forms: &[Needle]) -> Vec<String> {
    let mut leaks = Vec::new();
    for (output, content) in outputs {
        for form in forms {
            for line in content.lines().filter(|line| line.contains(&form.needle)) {
                leaks.push(format!(
                    "{} ({}) in {output}: {line}",
                    form.secret, form.form
                ));
            }
        }
    }
    leaks
}

/// The secrets to look for, by name.
#[derive(Default)]
pub struct SecretList {
    secrets: Vec<(String, String)>,
    encoded: Vec<(String, String)>,
}

impl SecretList {
    /// `value`, searched in plain text and base64.
    pub fn add(&mut self, name: &str, value: &str) {
        self.secrets.push((name.to_owned(), value.to_owned()));
    }

    /// An encoded string searched as it is.
    pub fn add_encoded(&mut self, name: &str, value: &str) {
        self.encoded
            .push((name.to_owned(), value.trim().to_owned()));
    }

    /// The passwords, and the PLAIN and LOGIN strings of each user with each password.
    pub fn add_logins(&mut self, users: &[&str], passwords: &[&str]) {
        for password in passwords {
            self.add("client password", password);
            for user in users {
                self.add_encoded("PLAIN response", &plain(user, password));
            }
            self.add_encoded("LOGIN password", &STANDARD.encode(password));
        }
    }

    /// Every token the mock provider issued, and the secret parameters of the requests it
    /// received: client secrets, codes, PKCE verifiers, assertions, refresh tokens, passwords.
    pub fn add_token_requests(&mut self, oauth: &MockOAuthServer) {
        for n in 1..=oauth.token_requests() {
            self.add(&format!("access token {n}"), &access_token(n));
            self.add(&format!("refresh token {n}"), &refresh_token(n));
        }
        for request in oauth.requests() {
            for (param, value) in &request.params {
                if matches!(
                    param.as_str(),
                    "client_secret"
                        | "code"
                        | "code_verifier"
                        | "client_assertion"
                        | "assertion"
                        | "refresh_token"
                        | "password"
                        | "device_code"
                ) {
                    self.add(&format!("{param} sent to the provider"), value);
                }
            }
        }
    }

    /// The SASL initial responses the fake upstreams received.
    pub fn add_upstream(&mut self, upstream: &UpstreamState) {
        for response in upstream.responses.lock().unwrap().iter() {
            self.add_encoded("upstream SASL response", response);
        }
    }

    /// The first `lines` base64 lines of a PEM private key.
    pub fn add_key_file(&mut self, name: &str, path: &Path, lines: usize) {
        let key = std::fs::read_to_string(path).unwrap();
        for line in key
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .take(lines)
        {
            self.add(name, line);
        }
    }

    /// Everything to search for, private key PEM markers included.
    pub fn needles(&self) -> Vec<Needle> {
        let mut needles = search_forms(&self.secrets, &self.encoded);
        for marker in ["PRIVATE KEY-----", "BEGIN RSA", "BEGIN EC"] {
            needles.push(Needle {
                secret: "private key PEM marker".into(),
                form: "plain text".into(),
                needle: marker.into(),
            });
        }
        needles
    }
}

/// Fails with every occurrence of a secret in `outputs`.
pub fn assert_no_leaks(outputs: &[(String, String)], needles: &[Needle]) {
    let leaks = scan(outputs, needles);
    assert!(
        leaks.is_empty(),
        "{} secret occurrence(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// Every file under `directory`, by path, as text.
pub fn files_under(directory: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut directories = vec![directory.to_path_buf()];
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                directories.push(path);
                continue;
            }
            if !path.is_file() {
                continue; // e.g. the control socket
            }
            let content = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            files.push((path.display().to_string(), content));
        }
    }
    files
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------------------------------------
// Fake upstream servers accepting `AT-ZQX-…` tokens unless revoked.

#[derive(Default)]
pub struct UpstreamState {
    /// Tokens the servers refuse.
    pub revoked: Mutex<HashSet<String>>,
    /// Every SASL initial response received, as sent.
    pub responses: Mutex<Vec<String>>,
}

impl UpstreamState {
    pub fn accepts(&self, response: &str) -> bool {
        self.responses.lock().unwrap().push(response.to_owned());
        let Ok(decoded) = STANDARD.decode(response.trim()) else {
            return false;
        };
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        let Some(token) = decoded
            .split('\u{1}')
            .find_map(|part| part.strip_prefix("auth=Bearer "))
        else {
            return false;
        };
        token.starts_with("AT-ZQX-") && !self.revoked.lock().unwrap().contains(token)
    }
}

/// The next line from the proxy; empty at the end of the stream or on an error.
pub async fn next_line<S: AsyncRead + AsyncWrite + Unpin>(lines: &mut Lines<S>) -> String {
    let mut line = String::new();
    match lines.inner.read_line(&mut line).await {
        Ok(_) => line,
        Err(_) => String::new(),
    }
}

pub async fn imap_upstream(pki: &Pki, state: Arc<UpstreamState>) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let state = state.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut lines = Lines::new(stream);
            lines.send("* OK Fake IMAP ready\r\n").await;
            loop {
                let line = next_line(&mut lines).await;
                if line.is_empty() {
                    return;
                }
                let mut words = line.trim_end().splitn(3, ' ');
                let tag = words.next().unwrap_or_default().to_owned();
                let command = words.next().unwrap_or_default().to_ascii_uppercase();
                let rest = words.next().unwrap_or_default().to_owned();
                let reply = match command.as_str() {
                    "CAPABILITY" => format!(
                        "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\n{tag} OK done\r\n"
                    ),
                    "AUTHENTICATE" => {
                        let ir = match rest.split(' ').nth(1) {
                            Some(ir) => ir.to_owned(),
                            None => {
                                lines.send("+ \r\n").await;
                                next_line(&mut lines).await
                            }
                        };
                        if state.accepts(&ir) {
                            format!("{tag} OK Logged in\r\n")
                        } else {
                            lines.send(&format!("+ {ERROR_CHALLENGE}\r\n")).await;
                            let _ = next_line(&mut lines).await;
                            format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
                        }
                    }
                    "FETCH" => format!("* 1 FETCH (BODY[TEXT] \"{SERVER_CONTENT}\")\r\n{tag} OK\r\n"),
                    "LOGOUT" => {
                        lines.send(&format!("* BYE bye\r\n{tag} OK\r\n")).await;
                        let _ = lines.inner.get_mut().shutdown().await;
                        return;
                    }
                    _ => format!("{tag} OK done\r\n"),
                };
                lines.send(&reply).await;
            }
        }
    })
    .await
}

pub async fn pop3_upstream(pki: &Pki, state: Arc<UpstreamState>) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let state = state.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut lines = Lines::new(stream);
            lines.send("+OK Fake POP3 ready\r\n").await;
            loop {
                let line = next_line(&mut lines).await;
                if line.is_empty() {
                    return;
                }
                let upper = line.to_ascii_uppercase();
                let reply = if upper.starts_with("CAPA") {
                    "+OK\r\nUIDL\r\nSASL XOAUTH2 OAUTHBEARER\r\n.\r\n".to_owned()
                } else if upper.starts_with("AUTH ") {
                    let ir = match line.split_whitespace().nth(2) {
                        Some(ir) => ir.to_owned(),
                        None => {
                            lines.send("+ \r\n").await;
                            next_line(&mut lines).await
                        }
                    };
                    if state.accepts(&ir) {
                        "+OK Logged in.\r\n".to_owned()
                    } else {
                        lines.send(&format!("+ {ERROR_CHALLENGE}\r\n")).await;
                        let _ = next_line(&mut lines).await;
                        "-ERR [AUTH] Authentication failed.\r\n".to_owned()
                    }
                } else if upper.starts_with("RETR") {
                    format!("+OK\r\nSubject: x\r\n\r\n{SERVER_CONTENT}\r\n.\r\n")
                } else if upper.starts_with("QUIT") {
                    lines.send("+OK bye\r\n").await;
                    let _ = lines.inner.get_mut().shutdown().await;
                    return;
                } else {
                    "+OK\r\n".to_owned()
                };
                lines.send(&reply).await;
            }
        }
    })
    .await
}

pub async fn smtp_upstream(pki: &Pki, state: Arc<UpstreamState>) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let state = state.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut lines = Lines::new(stream);
            lines.send("220 fake.upstream ESMTP ready\r\n").await;
            loop {
                let line = next_line(&mut lines).await;
                if line.is_empty() {
                    return;
                }
                let upper = line.to_ascii_uppercase();
                let reply = if upper.starts_with("EHLO") {
                    "250-fake.upstream\r\n250-8BITMIME\r\n250 AUTH XOAUTH2 OAUTHBEARER\r\n"
                        .to_owned()
                } else if upper.starts_with("AUTH ") {
                    let ir = match line.split_whitespace().nth(2) {
                        Some(ir) => ir.to_owned(),
                        None => {
                            lines.send("334 \r\n").await;
                            next_line(&mut lines).await
                        }
                    };
                    if state.accepts(&ir) {
                        "235 2.7.0 Authentication successful\r\n".to_owned()
                    } else {
                        lines.send(&format!("334 {ERROR_CHALLENGE}\r\n")).await;
                        let _ = next_line(&mut lines).await;
                        "535 5.7.8 Username and Password not accepted\r\n".to_owned()
                    }
                } else if upper.starts_with("DATA") {
                    lines.send("354 go ahead\r\n").await;
                    while !matches!(next_line(&mut lines).await.as_str(), ".\r\n" | "") {}
                    format!("250 2.0.0 queued as {SERVER_CONTENT}\r\n")
                } else if upper.starts_with("QUIT") {
                    lines.send("221 2.0.0 bye\r\n").await;
                    let _ = lines.inner.get_mut().shutdown().await;
                    return;
                } else {
                    "250 2.1.0 OK\r\n".to_owned()
                };
                lines.send(&reply).await;
            }
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Clients. Each returns the reply to its login and, when it succeeded, relays some traffic.

pub fn plain(user: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{password}"))
}

pub async fn connect(address: SocketAddr) -> Lines<TcpStream> {
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    let greeting = client.line().await;
    assert!(!greeting.is_empty(), "no greeting from {address}");
    client
}

/// Reads lines up to and including the one starting with `prefix`.
pub async fn until<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Lines<S>,
    prefix: &str,
) -> String {
    loop {
        let line = client.line().await;
        if line.is_empty() || line.starts_with(prefix) {
            return line;
        }
    }
}

/// Reads an SMTP reply, returning its last line.
pub async fn smtp_reply<S: AsyncRead + AsyncWrite + Unpin>(client: &mut Lines<S>) -> String {
    loop {
        let line = client.line().await;
        if line.as_bytes().get(3) != Some(&b'-') {
            return line;
        }
    }
}

/// Answers a `+`/`334` prompt with `text` in base64.
pub async fn answer_prompt<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Lines<S>,
    prompt: &str,
    text: &str,
) {
    let line = client.line().await;
    assert!(line.starts_with(prompt), "{line}");
    client.send(&format!("{}\r\n", STANDARD.encode(text))).await;
}

/// How a client logs in (every protocol offers PLAIN and LOGIN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// IMAP LOGIN with quoted strings, POP3 USER/PASS.
    Password,
    /// IMAP LOGIN with the password as a synchronising literal.
    PasswordLiteral,
    /// AUTHENTICATE/AUTH PLAIN with an initial response.
    PlainInitial,
    /// AUTHENTICATE/AUTH PLAIN, the response after the prompt.
    Plain,
    /// AUTHENTICATE/AUTH LOGIN, user name and password after prompts.
    Login,
    /// AUTH LOGIN with the user name as initial response.
    LoginInitial,
}

pub async fn imap(address: SocketAddr, form: Form, user: &str, password: &str) -> String {
    let mut client = connect(address).await;
    client.send("c1 CAPABILITY\r\n").await;
    until(&mut client, "c1 ").await;
    match form {
        Form::Password => {
            client
                .send(&format!("a1 LOGIN \"{user}\" \"{password}\"\r\n"))
                .await;
        }
        Form::PasswordLiteral => {
            client
                .send(&format!("a1 LOGIN \"{user}\" {{{}}}\r\n", password.len()))
                .await;
            let go_ahead = client.line().await;
            assert!(go_ahead.starts_with('+'), "{go_ahead}");
            client.send(&format!("{password}\r\n")).await;
        }
        Form::PlainInitial => {
            client
                .send(&format!(
                    "a1 AUTHENTICATE PLAIN {}\r\n",
                    plain(user, password)
                ))
                .await;
        }
        Form::Plain => {
            client.send("a1 AUTHENTICATE PLAIN\r\n").await;
            let go_ahead = client.line().await;
            assert!(go_ahead.starts_with('+'), "{go_ahead}");
            client.send(&format!("{}\r\n", plain(user, password))).await;
        }
        Form::Login | Form::LoginInitial => {
            client.send("a1 AUTHENTICATE LOGIN\r\n").await;
            answer_prompt(&mut client, "+", user).await;
            answer_prompt(&mut client, "+", password).await;
        }
    }
    let reply = until(&mut client, "a1 ").await;
    if reply.starts_with("a1 OK") {
        client
            .send(&format!("s1 SEARCH TEXT \"{CLIENT_CONTENT}\"\r\n"))
            .await;
        until(&mut client, "s1 ").await;
        client.send("f1 FETCH 1 BODY[TEXT]\r\n").await;
        let fetched = client.line().await;
        assert!(fetched.contains(SERVER_CONTENT), "{fetched}");
        until(&mut client, "f1 ").await;
        client.send("z1 LOGOUT\r\n").await;
        until(&mut client, "z1 ").await;
    }
    reply
}

/// An IMAP LOGIN the parser refuses (unterminated password string), then LOGOUT.
pub async fn imap_malformed(address: SocketAddr, user: &str, password: &str) -> String {
    let mut client = connect(address).await;
    client
        .send(&format!("m1 LOGIN \"{user}\" \"{password}\r\n"))
        .await;
    let reply = until(&mut client, "m1 ").await;
    client.send("z1 LOGOUT\r\n").await;
    until(&mut client, "z1 ").await;
    reply
}

pub async fn pop3(address: SocketAddr, form: Form, user: &str, password: &str) -> String {
    let mut client = connect(address).await;
    client.send("CAPA\r\n").await;
    until(&mut client, ".").await;
    match form {
        Form::Password | Form::PasswordLiteral => {
            client.send(&format!("USER {user}\r\n")).await;
            let ok = client.line().await;
            assert!(ok.starts_with("+OK"), "{ok}");
            client.send(&format!("PASS {password}\r\n")).await;
        }
        Form::PlainInitial => {
            client
                .send(&format!("AUTH PLAIN {}\r\n", plain(user, password)))
                .await;
        }
        Form::Plain => {
            client.send("AUTH PLAIN\r\n").await;
            let go_ahead = client.line().await;
            assert!(go_ahead.starts_with('+'), "{go_ahead}");
            client.send(&format!("{}\r\n", plain(user, password))).await;
        }
        Form::Login | Form::LoginInitial => {
            client.send("AUTH LOGIN\r\n").await;
            answer_prompt(&mut client, "+", user).await;
            answer_prompt(&mut client, "+", password).await;
        }
    }
    let reply = client.line().await;
    if reply.starts_with("+OK") {
        client.send(&format!("NOOP {CLIENT_CONTENT}\r\n")).await;
        client.line().await;
        client.send("RETR 1\r\n").await;
        let retrieved = until(&mut client, ".").await;
        assert_eq!(retrieved, ".\r\n");
        client.send("QUIT\r\n").await;
        client.line().await;
    }
    reply
}

pub async fn smtp(address: SocketAddr, form: Form, user: &str, password: &str) -> String {
    let mut client = connect(address).await;
    client.send("EHLO client.example\r\n").await;
    smtp_reply(&mut client).await;
    match form {
        Form::Password | Form::PasswordLiteral | Form::PlainInitial => {
            client
                .send(&format!("AUTH PLAIN {}\r\n", plain(user, password)))
                .await;
        }
        Form::Plain => {
            client.send("AUTH PLAIN\r\n").await;
            let go_ahead = client.line().await;
            assert!(go_ahead.starts_with("334"), "{go_ahead}");
            client.send(&format!("{}\r\n", plain(user, password))).await;
        }
        Form::Login => {
            client.send("AUTH LOGIN\r\n").await;
            answer_prompt(&mut client, "334 ", user).await;
            answer_prompt(&mut client, "334 ", password).await;
        }
        Form::LoginInitial => {
            client
                .send(&format!("AUTH LOGIN {}\r\n", STANDARD.encode(user)))
                .await;
            answer_prompt(&mut client, "334 ", password).await;
        }
    }
    let reply = smtp_reply(&mut client).await;
    if reply.starts_with("235") {
        client.send(&format!("MAIL FROM:<{user}>\r\n")).await;
        smtp_reply(&mut client).await;
        client.send("RCPT TO:<rcpt@example.com>\r\n").await;
        smtp_reply(&mut client).await;
        client.send("DATA\r\n").await;
        smtp_reply(&mut client).await;
        client
            .send(&format!("Subject: test\r\n\r\n{CLIENT_CONTENT}\r\n.\r\n"))
            .await;
        let queued = smtp_reply(&mut client).await;
        assert!(queued.contains(SERVER_CONTENT), "{queued}");
        client.send("QUIT\r\n").await;
        smtp_reply(&mut client).await;
    }
    reply
}

/// One HTTP GET to the redirect listener on 127.0.0.1:`port` (retried while it starts).
pub async fn http_get(port: u16, target: &str) -> String {
    let mut stream = None;
    for _ in 0..500 {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let mut stream = stream.expect("the redirect listener accepts connections");
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: vault.example\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// The local addresses listening on TCP `port` (from `/proc/net/tcp` and `tcp6`).
#[cfg(target_os = "linux")]
pub fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(content) = std::fs::read_to_string(table) else {
            continue;
        };
        for row in content.lines().skip(1) {
            let columns: Vec<&str> = row.split_whitespace().collect();
            let (Some(local), Some(state)) = (columns.get(1), columns.get(3)) else {
                continue;
            };
            let Some((address, hex_port)) = local.split_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                found.push(address.to_owned());
            }
        }
    }
    found
}
