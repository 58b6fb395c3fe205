//! The two machines driven against each other in simulated time: a `ClientSession` logs in
//! to a `ServerSession` with PLAIN or LOGIN, through STARTTLS, SASL-IR or continuations,
//! a rejection and a retry, and both hand off with the bytes that followed the login.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use mailgate_imap::session::{
    ClientConfig, ClientEvent, ClientSession, ServerConfig, ServerEvent, ServerSession,
};
use mailgate_sasl::{ClientExchange, Credentials, SecretString};

/// A client and a server connected by two in-memory pipes.
struct Pair {
    client: ClientSession,
    server: ServerSession,
    now: Instant,
    /// Everything each side wrote, for the assertions.
    client_wire: Vec<u8>,
    server_wire: Vec<u8>,
    /// Non-I/O events in order.
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    /// TLS handshakes pending on each side (both must be asked before it "runs").
    client_tls: bool,
    server_tls: bool,
    /// The password the verifier accepts.
    password: &'static str,
    /// Credentials to log in with, in order; each rejection takes the next.
    attempts: Vec<ClientExchange>,
}

impl Pair {
    fn new(client: ClientConfig, server: ServerConfig, password: &'static str) -> Self {
        let now = Instant::now();
        Pair {
            client: ClientSession::new(client, now),
            server: ServerSession::new(server, now),
            now,
            client_wire: Vec::new(),
            server_wire: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_tls: false,
            server_tls: false,
            password,
            attempts: Vec::new(),
        }
    }

    /// Moves bytes and acts on events until neither side has anything to do.
    fn run(&mut self) {
        loop {
            let mut progress = false;
            while let Some(event) = self.server.poll_event() {
                progress = true;
                match event {
                    ServerEvent::Send(bytes) => {
                        self.server_wire.extend(&bytes);
                        self.client.receive(&bytes, self.now);
                    }
                    ServerEvent::StartTls => self.server_tls = true,
                    ServerEvent::Login { credentials, .. } => self.verify(&credentials),
                    other => self.server_events.push(other),
                }
            }
            while let Some(event) = self.client.poll_event() {
                progress = true;
                match event {
                    ClientEvent::Send(bytes) => {
                        self.client_wire.extend(&bytes);
                        self.server.receive(&bytes, self.now);
                    }
                    ClientEvent::SendSecret(bytes) => {
                        self.client_wire.extend(bytes.expose());
                        self.server.receive(bytes.expose(), self.now);
                    }
                    ClientEvent::StartTls => self.client_tls = true,
                    ClientEvent::NeedCredentials | ClientEvent::Rejected(_) => {
                        if let Some(exchange) = self.attempts.pop() {
                            self.client.authenticate(exchange, None, self.now);
                        }
                        if let ClientEvent::Rejected(failure) = event {
                            self.client_events.push(ClientEvent::Rejected(failure));
                        }
                    }
                    other => self.client_events.push(other),
                }
            }
            if self.client_tls && self.server_tls {
                self.client_tls = false;
                self.server_tls = false;
                self.now += Duration::from_millis(20);
                self.server.tls_established(self.now);
                self.client.tls_established(self.now);
                progress = true;
            }
            if !progress {
                return;
            }
        }
    }

    fn verify(&mut self, credentials: &Credentials) {
        self.now += Duration::from_millis(5);
        if credentials.username == "joe" && credentials.password.expose() == self.password {
            self.server.accept_login();
        } else {
            self.server.reject_login("Invalid credentials", self.now);
        }
    }
}

fn plain(password: &str) -> ClientExchange {
    ClientExchange::plain(None, "joe", SecretString::from(password))
}

#[test]
fn plain_with_sasl_ir() {
    let mut pair = Pair::new(ClientConfig::default(), ServerConfig::default(), "secret");
    pair.attempts = vec![plain("secret")];
    pair.run();
    assert_eq!(
        String::from_utf8(pair.client_wire).unwrap(),
        "mg1 AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n"
    );
    assert_eq!(
        String::from_utf8(pair.server_wire).unwrap(),
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN SASL-IR] mailgate ready\r\nmg1 OK LOGIN completed\r\n"
    );
    assert_eq!(
        pair.client_events,
        [ClientEvent::Authenticated {
            response: b"mg1 OK LOGIN completed\r\n".to_vec(),
            buffered: Vec::new()
        }]
    );
    assert_eq!(
        pair.server_events,
        [ServerEvent::Authenticated {
            pipelined: Vec::new()
        }]
    );
    assert!(pair.client.is_done() && pair.server.is_done());
}

#[test]
fn login_mechanism_through_starttls_after_a_rejection() {
    let mut client = ClientConfig::default();
    client.starttls = true;
    let mut server = ServerConfig::default();
    server.offer_starttls = true;
    let mut pair = Pair::new(client, server, "secret");
    // Popped from the end: first the wrong password with PLAIN, then LOGIN.
    pair.attempts = vec![
        ClientExchange::login("joe", SecretString::from("secret")),
        plain("wrong"),
    ];
    pair.run();
    let client_wire = String::from_utf8(pair.client_wire).unwrap();
    let server_wire = String::from_utf8(pair.server_wire).unwrap();
    assert_eq!(
        client_wire,
        "mg1 STARTTLS\r\nmg2 CAPABILITY\r\nmg3 AUTHENTICATE PLAIN AGpvZQB3cm9uZw==\r\n\
         mg4 AUTHENTICATE LOGIN\r\nam9l\r\nc2VjcmV0\r\n"
    );
    assert_eq!(
        server_wire,
        "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] mailgate ready\r\n\
         mg1 OK Begin TLS negotiation now\r\n\
         * CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN SASL-IR\r\nmg2 OK CAPABILITY completed\r\n\
         mg3 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n\
         + VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\nmg4 OK LOGIN completed\r\n"
    );
    assert!(matches!(
        &pair.client_events[..],
        [ClientEvent::Rejected(_), ClientEvent::Authenticated { .. }]
    ));
    assert!(pair.server.is_tls());
}

#[test]
fn continuation_without_sasl_ir_and_pipelined_bytes() {
    let mut client = ClientConfig::default();
    client.use_sasl_ir = false;
    let mut pair = Pair::new(client, ServerConfig::default(), "secret");
    pair.attempts = vec![plain("secret")];
    pair.run();
    assert_eq!(
        String::from_utf8(pair.client_wire.clone()).unwrap(),
        "mg1 AUTHENTICATE PLAIN\r\nAGpvZQBzZWNyZXQ=\r\n"
    );
    assert!(matches!(
        pair.client_events[..],
        [ClientEvent::Authenticated { .. }]
    ));

    // A client that pipelines after its login, answered with the upstream's own response:
    // the server session hands the pipelined bytes on.
    let now = Instant::now();
    let mut server = ServerSession::new(ServerConfig::default(), now);
    server.receive(b"t1 LOGIN joe secret\r\nt2 SELECT INBOX\r\n", now);
    let mut handed_off = false;
    while let Some(event) = server.poll_event() {
        match event {
            ServerEvent::Login { .. } => server
                .accept_login_with(b"* CAPABILITY IMAP4rev1 IDLE\r\nt1 OK Logged in\r\n".to_vec()),
            ServerEvent::Authenticated { pipelined } => {
                assert_eq!(pipelined, b"t2 SELECT INBOX\r\n");
                handed_off = true;
            }
            ServerEvent::Send(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(handed_off);
}

#[test]
fn gives_up_after_three_rejections() {
    let mut pair = Pair::new(ClientConfig::default(), ServerConfig::default(), "secret");
    pair.attempts = vec![plain("a"), plain("b"), plain("c")];
    pair.run();
    let server_wire = String::from_utf8(pair.server_wire).unwrap();
    assert!(
        server_wire.ends_with("* BYE Too many failed logins\r\n"),
        "{server_wire}"
    );
    let [
        ClientEvent::Rejected(_),
        ClientEvent::Rejected(_),
        ClientEvent::Rejected(_),
        ClientEvent::Failed(error),
    ] = &pair.client_events[..]
    else {
        panic!("{:?}", pair.client_events)
    };
    assert_eq!(
        error.to_string(),
        "server closed the connection: Too many failed logins"
    );
}
