//! The SMTP codecs in `tokio_util::codec::Framed` over an in-memory duplex stream: EHLO
//! with a multi-line reply, AUTH with a continuation, and the start of a message left in
//! the read buffer after DATA for the `DataScanner`.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use futures_util::{SinkExt, StreamExt};
use mailgate_smtp::codec::{CommandLine, SmtpClientCodec, SmtpServerCodec};
use mailgate_smtp::{Command, DataScanner, DataStatus, EnhancedStatus, Limits, Reply};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::Framed;

async fn line(server: &mut Framed<tokio::io::DuplexStream, SmtpServerCodec>) -> Vec<u8> {
    match server.next().await.unwrap().unwrap() {
        CommandLine::Line(line) => line.to_vec(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ehlo_auth_and_data() {
    let (a, b) = tokio::io::duplex(64);
    let mut client = Framed::new(a, SmtpClientCodec::new(Limits::default()));
    let mut server = Framed::new(b, SmtpServerCodec::new(Limits::default()));

    let server_task = tokio::spawn(async move {
        server
            .send(Reply::new(220, None, "mx.example.org ESMTP"))
            .await
            .unwrap();
        assert_eq!(line(&mut server).await, b"EHLO client.example");
        server
            .send(Reply::multiline(
                250,
                None,
                ["mx.example.org", "PIPELINING", "AUTH LOGIN"],
            ))
            .await
            .unwrap();
        assert_eq!(line(&mut server).await, b"AUTH LOGIN");
        server
            .send(Reply::new(334, None, "VXNlcm5hbWU6"))
            .await
            .unwrap();
        assert_eq!(line(&mut server).await, b"dXNlcg==");
        server
            .send(Reply::new(
                235,
                EnhancedStatus::new(2, 7, 0),
                "Authentication successful",
            ))
            .await
            .unwrap();
        assert_eq!(line(&mut server).await, b"DATA");
        server
            .send(Reply::new(354, None, "End data with <CR><LF>.<CR><LF>"))
            .await
            .unwrap();
        // The message is not lines: hand the buffer to the DataScanner.
        let mut parts = server.into_parts();
        let mut scanner = DataScanner::new(1024);
        let mut message = Vec::new();
        loop {
            match scanner.scan(&parts.read_buf).unwrap() {
                DataStatus::Complete { end, .. } => {
                    message.extend_from_slice(&parts.read_buf[..end]);
                    return (message, parts.read_buf.split_off(end).to_vec());
                }
                DataStatus::Partial => {
                    message.extend_from_slice(&parts.read_buf);
                    parts.read_buf.clear();
                    let mut buf = [0u8; 16];
                    let n = tokio::io::AsyncReadExt::read(&mut parts.io, &mut buf)
                        .await
                        .unwrap();
                    parts.read_buf.extend_from_slice(&buf[..n]);
                }
            }
        }
    });

    assert_eq!(client.next().await.unwrap().unwrap().code, 220);
    client
        .send(Command::Ehlo {
            domain: "client.example",
        })
        .await
        .unwrap();
    let ehlo = client.next().await.unwrap().unwrap();
    assert_eq!(ehlo.lines, ["mx.example.org", "PIPELINING", "AUTH LOGIN"]);
    client
        .send(Command::Auth {
            mechanism: "LOGIN",
            initial_response: None,
        })
        .await
        .unwrap();
    assert_eq!(client.next().await.unwrap().unwrap().code, 334);
    client.send(&b"dXNlcg==\r\n"[..]).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap().code, 235);
    client.send(Command::Data).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap().code, 354);
    client
        .get_mut()
        .write_all(b"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n")
        .await
        .unwrap();
    let (message, after) = server_task.await.unwrap();
    assert_eq!(message, b"Subject: hi\r\n\r\nHello\r\n.\r\n");
    assert_eq!(after, b"QUIT\r\n");
}

#[tokio::test]
async fn overlong_lines_and_malformed_replies() {
    // Room for the whole over-long line: this test writes before it reads.
    let (mut a, b) = tokio::io::duplex(64 * 1024);
    let mut server = Framed::new(b, SmtpServerCodec::new(Limits::default()));
    let mut long = vec![b'x'; 13_000];
    long.extend_from_slice(b"\r\nRSET\r\n");
    a.write_all(&long).await.unwrap();
    assert_eq!(server.next().await.unwrap().unwrap(), CommandLine::TooLong);
    assert!(
        matches!(server.next().await.unwrap().unwrap(), CommandLine::Line(l) if &l[..] == b"RSET")
    );

    let (mut a, b) = tokio::io::duplex(1024);
    let mut client = Framed::new(b, SmtpClientCodec::new(Limits::default()));
    a.write_all(b"hello\r\n").await.unwrap();
    assert!(client.next().await.unwrap().is_err());
}
