//! Load generator of mailgate's end-to-end benchmark (`benches/e2e/run`).
//!
//! Each subcommand drives one measurement against a proxy or a server on loopback and prints
//! `key=value` lines on standard output:
//!
//! - `fetch`: log in, select INBOX, `FETCH 1:* BODY.PEEK[]` and count the bytes (optionally
//!   stopping to read for a while in the middle: the backpressure measurement);
//! - `logins`: LOGIN (or AUTHENTICATE XOAUTH2) + LOGOUT cycles, sequential or in parallel;
//! - `hold`: open K sessions, log each in, NOOP each, keep them until a line arrives on
//!   standard input, then close them all;
//! - `smtp`: send N messages of a given size, in one session or one session per message;
//! - `upstream`: a minimal IMAP server over TLS that accepts any XOAUTH2/OAUTHBEARER login and
//!   answers every other command with OK (a light upstream for thousands of idle sessions).
//!
//! Options are `--name value` pairs; see `usage()`.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::rustls;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

/// Any byte stream: plain TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Stream = BufReader<Box<dyn Io>>;

/// Upper bound of any single wait for a peer.
const TIMEOUT: Duration = Duration::from_secs(60);

fn usage() -> &'static str {
    "usage: mailgate-e2e-client COMMAND [--option value]...
commands and options:
  fetch    --addr H:P [--ca FILE] --user U (--password P | --token T) [--parallel N]
           [--repeat N] [--stall-after BYTES --stall-seconds S]
  logins   --addr H:P [--ca FILE] --user U (--password P | --token T) --n N [--parallel N]
           [--max-seconds S]
  hold     --addr H:P --user U --password P --k K [--concurrency N] [--session-timeout S]
  smtp     --addr H:P [--ca FILE] --user U (--password P | --token T) --n N --size BYTES
           [--per-session 1] [--to ADDRESS]
  upstream --listen H:P --cert FILE --key FILE --port-file FILE
(--ca turns on TLS to the server, trusting that CA file)"
}

fn main() {
    let mut arguments = std::env::args().skip(1);
    let Some(command) = arguments.next() else {
        eprintln!("{}", usage());
        std::process::exit(2);
    };
    let rest: Vec<String> = arguments.collect();
    let options = match Options::parse(&rest) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}\n{}", usage());
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async move {
        match command.as_str() {
            "fetch" => fetch(&options).await,
            "logins" => logins(&options).await,
            "hold" => hold(&options).await,
            "smtp" => smtp(&options).await,
            "upstream" => upstream(&options).await,
            other => Err(format!("unknown command {other:?}").into()),
        }
    });
    if let Err(error) = result {
        eprintln!("mailgate-e2e-client: {error}");
        std::process::exit(1);
    }
}

// ---- options and connections ------------------------------------------------------------------

struct Options(HashMap<String, String>);

impl Options {
    fn parse(arguments: &[String]) -> Result<Self> {
        let mut map = HashMap::new();
        let mut iter = arguments.iter();
        while let Some(name) = iter.next() {
            let key = name
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --option, got {name:?}"))?;
            let value = iter
                .next()
                .ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_owned(), value.clone());
        }
        Ok(Self(map))
    }

    fn get(&self, name: &str) -> Result<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn opt(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn number(&self, name: &str, default: u64) -> Result<u64> {
        match self.opt(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("--{name}: not a number: {text:?}").into()),
        }
    }

    fn credential(&self) -> Result<Credential> {
        let user = self.get("user")?.to_owned();
        match (self.opt("password"), self.opt("token")) {
            (Some(password), None) => Ok(Credential::Password(user, password.to_owned())),
            (None, Some(token)) => Ok(Credential::Token(user, token.to_owned())),
            _ => Err("give exactly one of --password and --token".into()),
        }
    }

    fn target(&self) -> Result<Arc<Target>> {
        let addr = self.get("addr")?.to_owned();
        let tls = match self.opt("ca") {
            None => None,
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(ca)? {
                    roots.add(cert?)?;
                }
                let config = rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                let host = addr
                    .rsplit_once(':')
                    .map_or(addr.as_str(), |(host, _)| host);
                let name = ServerName::try_from(self.opt("sni").unwrap_or(host).to_owned())?;
                Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
            }
        };
        Ok(Arc::new(Target { addr, tls }))
    }
}

enum Credential {
    Password(String, String),
    Token(String, String),
}

impl Credential {
    fn user(&self) -> &str {
        match self {
            Self::Password(user, _) | Self::Token(user, _) => user,
        }
    }

    fn xoauth2(user: &str, token: &str) -> String {
        BASE64.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
    }
}

struct Target {
    addr: String,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
}

async fn connect(target: &Target, buffer: usize) -> Result<Stream> {
    let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect(&target.addr)).await??;
    tcp.set_nodelay(true)?;
    let io: Box<dyn Io> = match &target.tls {
        None => Box::new(tcp),
        Some((connector, name)) => {
            Box::new(tokio::time::timeout(TIMEOUT, connector.connect(name.clone(), tcp)).await??)
        }
    };
    Ok(BufReader::with_capacity(buffer, io))
}

async fn line(stream: &mut Stream) -> Result<Vec<u8>> {
    let mut line = Vec::with_capacity(128);
    let read = tokio::time::timeout(TIMEOUT, stream.read_until(b'\n', &mut line)).await??;
    if read == 0 {
        return Err(format!(
            "connection closed (after {:?})",
            String::from_utf8_lossy(&line)
        )
        .into());
    }
    Ok(line)
}

async fn send(stream: &mut Stream, data: &[u8]) -> Result<()> {
    let io = stream.get_mut();
    tokio::time::timeout(TIMEOUT, async {
        io.write_all(data).await?;
        io.flush().await
    })
    .await??;
    Ok(())
}

/// Reads up to the line tagged `tag` (no literals expected); fails unless it says OK. An
/// error challenge (`+ ...`) is answered with an empty line.
async fn tagged_ok(stream: &mut Stream, tag: &str) -> Result<()> {
    let prefix = format!("{tag} ");
    loop {
        let line = line(stream).await?;
        if line.starts_with(b"+") {
            send(stream, b"\r\n").await?;
        } else if line.starts_with(prefix.as_bytes()) {
            if line[prefix.len()..].starts_with(b"OK") {
                return Ok(());
            }
            return Err(String::from_utf8_lossy(&line).trim_end().to_owned().into());
        }
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Greeting, then LOGIN or AUTHENTICATE XOAUTH2.
async fn imap_open(target: &Target, credential: &Credential, buffer: usize) -> Result<Stream> {
    let mut stream = connect(target, buffer).await?;
    let greeting = line(&mut stream).await?;
    if !greeting.starts_with(b"* OK") {
        return Err(format!(
            "greeting: {}",
            String::from_utf8_lossy(&greeting).trim_end()
        )
        .into());
    }
    let command = match credential {
        Credential::Password(user, password) => {
            format!("l LOGIN {} {}\r\n", quote(user), quote(password))
        }
        Credential::Token(user, token) => {
            format!(
                "l AUTHENTICATE XOAUTH2 {}\r\n",
                Credential::xoauth2(user, token)
            )
        }
    };
    send(&mut stream, command.as_bytes()).await?;
    tagged_ok(&mut stream, "l").await?;
    Ok(stream)
}

fn report(key: &str, value: impl std::fmt::Display) {
    println!("{key}={value}");
}

// ---- fetch ------------------------------------------------------------------------------------

async fn fetch(options: &Options) -> Result<()> {
    let target = options.target()?;
    let credential = Arc::new(options.credential()?);
    let parallel = options.number("parallel", 1)?.max(1);
    let stall_after = options.number("stall-after", 0)?;
    let stall = Duration::from_secs(options.number("stall-seconds", 0)?);
    let repeat = options.number("repeat", 1)?.max(1);
    let mut sessions = Vec::new();
    for _ in 0..parallel {
        let mut stream = imap_open(&target, &credential, 256 * 1024).await?;
        send(&mut stream, b"s SELECT INBOX\r\n").await?;
        tagged_ok(&mut stream, "s").await?;
        sessions.push(stream);
    }
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for mut stream in sessions {
        tasks.spawn(async move {
            let mut bytes = 0;
            for _ in 0..repeat {
                bytes += fetch_all(&mut stream, stall_after, stall).await?;
            }
            Ok::<_, Error>(bytes)
        });
    }
    let mut bytes = 0;
    while let Some(result) = tasks.join_next().await {
        bytes += result??;
    }
    let seconds = start.elapsed().as_secs_f64();
    report("bytes", bytes);
    report("seconds", format!("{seconds:.4}"));
    report("mb_per_s", format!("{:.2}", bytes as f64 / seconds / 1e6));
    Ok(())
}

/// Sends `FETCH 1:* BODY.PEEK[]` and reads up to its tagged OK; returns the bytes read. With
/// `stall_after` > 0, stops reading for `stall` once that many bytes have arrived.
async fn fetch_all(stream: &mut Stream, stall_after: u64, stall: Duration) -> Result<u64> {
    const TAG: &[u8] = b"\r\nf ";
    send(stream, b"f FETCH 1:* BODY.PEEK[]\r\n").await?;
    let mut total: u64 = 0;
    let mut tail: Vec<u8> = Vec::with_capacity(8);
    let mut stalled = stall_after == 0;
    loop {
        let chunk = tokio::time::timeout(TIMEOUT, stream.fill_buf()).await??;
        if chunk.is_empty() {
            return Err("connection closed during FETCH".into());
        }
        let size = chunk.len();
        // The tagged response: "\r\nf " may straddle two reads.
        let mut window = std::mem::take(&mut tail);
        window.extend_from_slice(&chunk[..size.min(64)]);
        let mut found = find(&window, TAG).map(|at| (window[at + 2..].to_vec(), true));
        if found.is_none() && size > 64 {
            found = find(&chunk[size.saturating_sub(4096)..], TAG).map(|at| {
                let from = size.saturating_sub(4096) + at + 2;
                (chunk[from..].to_vec(), true)
            });
        }
        tail = chunk[size.saturating_sub(3)..].to_vec();
        stream.consume(size);
        total += size as u64;
        if let Some((mut rest, _)) = found {
            while !rest.ends_with(b"\n") {
                rest.extend(line(stream).await?);
            }
            if !rest.starts_with(b"f OK") {
                return Err(format!("FETCH: {}", String::from_utf8_lossy(&rest).trim_end()).into());
            }
            return Ok(total);
        }
        if !stalled && total >= stall_after {
            stalled = true;
            println!("stall-begin");
            std::io::stdout().flush()?;
            tokio::time::sleep(stall).await;
            println!("stall-end");
            std::io::stdout().flush()?;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

// ---- logins -----------------------------------------------------------------------------------

async fn logins(options: &Options) -> Result<()> {
    let target = options.target()?;
    let credential = Arc::new(options.credential()?);
    let n = options.number("n", 100)? as usize;
    let parallel = options.number("parallel", 1)?.max(1);
    let deadline = Instant::now() + Duration::from_secs(options.number("max-seconds", 120)?);
    let started = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..parallel {
        let (target, credential, started) = (target.clone(), credential.clone(), started.clone());
        tasks.spawn(async move {
            let (mut done, mut failed, mut first_error) = (0usize, 0usize, None);
            while started.fetch_add(1, Ordering::Relaxed) < n && Instant::now() < deadline {
                match login_cycle(&target, &credential).await {
                    Ok(()) => done += 1,
                    Err(error) => {
                        failed += 1;
                        first_error.get_or_insert(error.to_string());
                    }
                }
            }
            (done, failed, first_error)
        });
    }
    let (mut done, mut failed) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        let (ok, bad, error) = result?;
        done += ok;
        failed += bad;
        if let Some(error) = error {
            eprintln!("login failed: {error}");
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    report("cycles", done);
    report("failures", failed);
    report("seconds", format!("{seconds:.4}"));
    report("per_s", format!("{:.2}", done as f64 / seconds));
    Ok(())
}

async fn login_cycle(target: &Target, credential: &Credential) -> Result<()> {
    let mut stream = imap_open(target, credential, 4096).await?;
    send(&mut stream, b"o LOGOUT\r\n").await?;
    tagged_ok(&mut stream, "o").await?;
    Ok(())
}

// ---- hold -------------------------------------------------------------------------------------

async fn hold(options: &Options) -> Result<()> {
    let target = options.target()?;
    let credential = Arc::new(options.credential()?);
    let k = options.number("k", 100)? as usize;
    let gate = Arc::new(Semaphore::new(
        options.number("concurrency", 200)?.max(1) as usize
    ));
    let limit = Duration::from_secs(options.number("session-timeout", 20)?);
    let mut tasks = JoinSet::new();
    for _ in 0..k {
        let (target, credential, gate) = (target.clone(), credential.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            tokio::time::timeout(limit, async {
                let mut stream = imap_open(&target, &credential, 1024).await?;
                send(&mut stream, b"n NOOP\r\n").await?;
                tagged_ok(&mut stream, "n").await?;
                Ok::<_, Error>(stream)
            })
            .await
            .map_err(|_| Error::from(format!("no session within {limit:?}")))?
        });
    }
    let (mut held, mut first_error, mut failed) = (Vec::with_capacity(k), None, 0usize);
    while let Some(result) = tasks.join_next().await {
        match result? {
            Ok(stream) => held.push(stream),
            Err(error) => {
                failed += 1;
                first_error.get_or_insert(error.to_string());
            }
        }
    }
    report("logged_in", held.len());
    report("failed", failed);
    if let Some(error) = first_error {
        eprintln!("first failure: {error}");
    }
    // Every held session answers NOOP again, all at once.
    let mut tasks = JoinSet::new();
    for mut stream in held {
        tasks.spawn(async move {
            tokio::time::timeout(limit, async {
                send(&mut stream, b"m NOOP\r\n").await?;
                tagged_ok(&mut stream, "m").await
            })
            .await
            .map_err(|_| Error::from("NOOP timed out"))??;
            Ok::<_, Error>(stream)
        });
    }
    let mut held = Vec::with_capacity(k);
    while let Some(result) = tasks.join_next().await {
        if let Ok(stream) = result? {
            held.push(stream);
        }
    }
    report("noop_ok", held.len());
    println!("held");
    std::io::stdout().flush()?;
    let mut input = String::new();
    let mut stdin = BufReader::new(tokio::io::stdin());
    let _ = tokio::time::timeout(Duration::from_secs(900), stdin.read_line(&mut input)).await;
    drop(held);
    println!("closed");
    Ok(())
}

// ---- smtp -------------------------------------------------------------------------------------

async fn smtp(options: &Options) -> Result<()> {
    let target = options.target()?;
    let credential = options.credential()?;
    let n = options.number("n", 10)?;
    let size = options.number("size", 100_000)? as usize;
    let per_session = options.number("per-session", 0)? != 0;
    let to = options.opt("to").unwrap_or("sink@example.test").to_owned();
    let message = message(credential.user(), &to, size);
    let start = Instant::now();
    let mut session = None;
    for _ in 0..n {
        if session.is_none() {
            session = Some(smtp_open(&target, &credential).await?);
        }
        let Some(stream) = session.as_mut() else {
            continue;
        };
        smtp_command(
            stream,
            format!("MAIL FROM:<{}>\r\n", credential.user()).as_bytes(),
            250,
        )
        .await?;
        smtp_command(stream, format!("RCPT TO:<{to}>\r\n").as_bytes(), 250).await?;
        smtp_command(stream, b"DATA\r\n", 354).await?;
        smtp_command(stream, &message, 250).await?;
        if per_session && let Some(mut stream) = session.take() {
            smtp_command(&mut stream, b"QUIT\r\n", 221).await?;
        }
    }
    if let Some(mut stream) = session.take() {
        smtp_command(&mut stream, b"QUIT\r\n", 221).await?;
    }
    let seconds = start.elapsed().as_secs_f64();
    report("messages", n);
    report("seconds", format!("{seconds:.4}"));
    report("per_s", format!("{:.2}", n as f64 / seconds));
    Ok(())
}

/// A message of about `size` bytes ending with the DATA terminator; no line starts with a dot.
fn message(from: &str, to: &str, size: usize) -> Vec<u8> {
    let mut message = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: benchmark\r\n\
         Date: Mon, 2 Mar 2026 12:00:00 +0000\r\nMessage-ID: <bench@example.test>\r\n\r\n"
    )
    .into_bytes();
    let text = b"The quick brown fox jumps over the lazy dog while the proxy relays it all. ";
    while message.len() < size {
        message.extend_from_slice(&text[..text.len().min(size - message.len()).max(1)]);
        message.extend_from_slice(b"\r\n");
    }
    message.extend_from_slice(b".\r\n");
    message
}

async fn smtp_reply(stream: &mut Stream) -> Result<(u16, String)> {
    loop {
        let line = line(stream).await?;
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        if line.len() < 4 || line[3] == b' ' {
            let code = text
                .get(..3)
                .and_then(|code| code.parse().ok())
                .unwrap_or(0);
            return Ok((code, text));
        }
    }
}

async fn smtp_command(stream: &mut Stream, data: &[u8], expect: u16) -> Result<()> {
    send(stream, data).await?;
    let (code, text) = smtp_reply(stream).await?;
    if code != expect {
        return Err(format!("expected {expect}, got {text:?}").into());
    }
    Ok(())
}

async fn smtp_open(target: &Target, credential: &Credential) -> Result<Stream> {
    let mut stream = connect(target, 16 * 1024).await?;
    let (code, text) = smtp_reply(&mut stream).await?;
    if code != 220 {
        return Err(format!("greeting: {text}").into());
    }
    smtp_command(&mut stream, b"EHLO bench.example.test\r\n", 250).await?;
    let auth = match credential {
        Credential::Password(user, password) => {
            format!(
                "AUTH PLAIN {}\r\n",
                BASE64.encode(format!("\0{user}\0{password}"))
            )
        }
        Credential::Token(user, token) => {
            format!("AUTH XOAUTH2 {}\r\n", Credential::xoauth2(user, token))
        }
    };
    send(&mut stream, auth.as_bytes()).await?;
    let (mut code, mut text) = smtp_reply(&mut stream).await?;
    if code == 334 {
        send(&mut stream, b"\r\n").await?;
        (code, text) = smtp_reply(&mut stream).await?;
    }
    if code != 235 {
        return Err(format!("AUTH: {text}").into());
    }
    Ok(stream)
}

// ---- upstream ---------------------------------------------------------------------------------

async fn upstream(options: &Options) -> Result<()> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(options.get("cert")?)?
        .collect::<std::result::Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(options.get("key")?)?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(options.get("listen")?).await?;
    std::fs::write(
        options.get("port-file")?,
        listener.local_addr()?.port().to_string(),
    )?;
    loop {
        let (tcp, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Ok(Ok(tls)) = tokio::time::timeout(TIMEOUT, acceptor.accept(tcp)).await {
                let io: Box<dyn Io> = Box::new(tls);
                let _ = serve_imap(BufReader::with_capacity(1024, io)).await;
            }
        });
    }
}

async fn serve_imap(mut stream: Stream) -> Result<()> {
    const CAPABILITY: &str = "IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER IDLE";
    send(
        &mut stream,
        format!("* OK [CAPABILITY {CAPABILITY}] bench upstream\r\n").as_bytes(),
    )
    .await?;
    loop {
        let mut request = Vec::with_capacity(256);
        if stream.read_until(b'\n', &mut request).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&request);
        let mut words = text.split_whitespace();
        let tag = words.next().unwrap_or("*").to_owned();
        let command = words.next().unwrap_or("").to_ascii_uppercase();
        let reply = match command.as_str() {
            "CAPABILITY" => format!("* CAPABILITY {CAPABILITY}\r\n{tag} OK done\r\n"),
            "AUTHENTICATE" => {
                if words.nth(1).is_none() {
                    send(&mut stream, b"+ \r\n").await?;
                    let mut response = Vec::new();
                    stream.read_until(b'\n', &mut response).await?;
                }
                format!("{tag} OK [CAPABILITY {CAPABILITY}] logged in\r\n")
            }
            "LOGOUT" => {
                send(
                    &mut stream,
                    format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes(),
                )
                .await?;
                return Ok(());
            }
            _ => format!("{tag} OK done\r\n"),
        };
        send(&mut stream, reply.as_bytes()).await?;
    }
}
