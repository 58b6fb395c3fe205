//! The POP3 codecs in `tokio_util::codec::Framed` over an in-memory duplex stream: a login
//! with pipelining, a multi-line `RETR` split across writes, and the bytes left for the
//! relay.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use futures_util::{SinkExt, StreamExt};
use mailgate_pop3::codec::{Pop3ClientCodec, Pop3Reply, Pop3ServerCodec};
use mailgate_pop3::{Command, Limits, Pop3Error, StatusLine};
use mailgate_sasl::SecretString;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::Framed;

#[tokio::test]
async fn login_and_retrieve() {
    let (a, b) = tokio::io::duplex(64);
    let mut client = Framed::new(a, Pop3ClientCodec::new(Limits::UPSTREAM));
    let mut server = Framed::new(b, Pop3ServerCodec::new(Limits::DEFAULT));

    let server_task = tokio::spawn(async move {
        server
            .send(Pop3Reply::Status(StatusLine::ok("POP3 ready")))
            .await
            .unwrap();
        let mut commands = Vec::new();
        for _ in 0..3 {
            let line = server.next().await.unwrap().unwrap().unwrap();
            commands.push(Command::parse(&line).unwrap());
        }
        assert_eq!(commands[0], Command::User("tim".to_owned()));
        assert_eq!(commands[2], Command::Retr(1));
        server
            .send(Pop3Reply::Status(StatusLine::ok("")))
            .await
            .unwrap();
        server
            .send(Pop3Reply::Status(StatusLine::ok("Logged in.")))
            .await
            .unwrap();
        // A body written in small pieces, with a line that needs dot-stuffing.
        let mut body = Vec::new();
        StatusLine::ok("120 octets").encode(&mut body);
        mailgate_pop3::dot_stuff(b"Subject: x\r\n\r\n.signature\r\n", &mut body);
        for chunk in body.chunks(5) {
            server.get_mut().write_all(chunk).await.unwrap();
        }
        // An over-long line is one error item, then the stream goes on.
        let line = server.next().await.unwrap().unwrap();
        assert_eq!(line, Err(Pop3Error::LineTooLong { max: 16 * 1024 }));
        let line = server.next().await.unwrap().unwrap();
        assert_eq!(line, Ok(b"QUIT".to_vec()));
        server.into_parts().read_buf.to_vec()
    });

    let greeting = client.next().await.unwrap().unwrap();
    assert_eq!(greeting, Pop3Reply::Status(StatusLine::ok("POP3 ready")));
    client.feed(Command::User("tim".to_owned())).await.unwrap();
    client
        .feed(Command::Pass(SecretString::from("secret")))
        .await
        .unwrap();
    client.send(Command::Retr(1)).await.unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Pop3Reply::Status(StatusLine::ok(""))
    );
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Pop3Reply::Status(StatusLine::ok("Logged in."))
    );
    let Pop3Reply::Multiline { status, body } = client.next().await.unwrap().unwrap() else {
        panic!("not a multi-line reply")
    };
    assert_eq!(status, StatusLine::ok("120 octets"));
    assert_eq!(body, b"Subject: x\r\n\r\n.signature\r\n");
    let mut long = vec![b'x'; 20_000];
    long.extend_from_slice(b"\r\nQUIT\r\nSTAT");
    client.get_mut().write_all(&long).await.unwrap();
    assert_eq!(server_task.await.unwrap(), b"STAT");
}

#[tokio::test]
async fn a_broken_server_ends_the_client_stream() {
    let (mut a, b) = tokio::io::duplex(64);
    let mut client = Framed::new(b, Pop3ClientCodec::new(Limits::UPSTREAM));
    a.write_all(b"HELLO\r\n").await.unwrap();
    let error = client.next().await.unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        "protocol error from server: invalid response status indicator"
    );
}
