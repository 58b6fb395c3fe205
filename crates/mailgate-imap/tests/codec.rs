//! `ImapCodec` in `tokio_util::codec::Framed` over an in-memory duplex stream: both sides
//! of a login with a synchronising literal, responses with literals, and the bytes left
//! for the relay.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use futures_util::{SinkExt, StreamExt};
use mailgate_imap::codec::{ImapCodec, ImapFrame};
use mailgate_imap::response::{
    Continue, Data, RespText, Response, Status, StatusKind, Text, parse_response,
};
use mailgate_imap::{Command, CommandBody, ParserConfig, Secret, Tag};
use tokio_util::codec::Framed;

#[tokio::test]
async fn login_with_a_synchronising_literal() {
    let (a, b) = tokio::io::duplex(64);
    let mut client = Framed::new(a, ImapCodec::client(ParserConfig::lenient()));
    let mut server = Framed::new(b, ImapCodec::server(ParserConfig::strict()));

    let server_task = tokio::spawn(async move {
        // The literal announcement comes first: invite the data.
        let frame = server.next().await.unwrap().unwrap();
        assert!(matches!(frame, ImapFrame::ContinuationNeeded(h) if h.size == 10));
        let ready = Continue::text(RespText::new(Text::try_from("Ready").unwrap())).unwrap();
        server.send(Response::Continue(ready)).await.unwrap();
        let Some(Ok(ImapFrame::Message(message))) = server.next().await else {
            panic!("no message")
        };
        let (command, used) = Command::parse(&message, &ParserConfig::strict()).unwrap();
        assert_eq!(used, message.len());
        let CommandBody::Login { username, password } = command.body else {
            panic!("not a login")
        };
        assert_eq!(username.as_bytes(), b"joe");
        assert_eq!(password.expose().as_bytes(), b"two\r\nlines");
        let mut data = Vec::new();
        data.extend_from_slice(b"* 1 FETCH (BODY[] {5}\r\nhello)\r\n");
        data.extend_from_slice(b"a1 OK LOGIN completed\r\n");
        for chunk in data.chunks(7) {
            use tokio::io::AsyncWriteExt;
            server.get_mut().write_all(chunk).await.unwrap();
        }
        // The client pipelined a command after the login.
        let parts = server.into_parts();
        parts.read_buf.to_vec()
    });

    // The client side sends the command in two steps, as a real client does.
    let login = Command {
        tag: Tag::try_from("a1").unwrap(),
        body: CommandBody::Login {
            username: "joe".try_into().unwrap(),
            password: Secret::new(b"two\r\nlines".as_slice().try_into().unwrap()),
        },
    };
    let mut wire = Vec::new();
    mailgate_imap::Encode::encode(&login, &mut wire);
    assert_eq!(wire, b"a1 LOGIN joe {10}\r\ntwo\r\nlines\r\n");
    let split = wire.iter().position(|&b| b == b'\n').unwrap() + 1;
    {
        use tokio::io::AsyncWriteExt;
        client.get_mut().write_all(&wire[..split]).await.unwrap();
        let Some(Ok(ImapFrame::Message(plus))) = client.next().await else {
            panic!("no continuation")
        };
        assert!(matches!(
            parse_response(&plus, &ParserConfig::lenient()).unwrap().0,
            Response::Continue(_)
        ));
        let mut rest = wire[split..].to_vec();
        rest.extend_from_slice(b"a2 SELECT INBOX\r\n");
        // Raw bytes go through the codec too.
        client.send(rest.as_slice()).await.unwrap();
    }
    let Some(Ok(ImapFrame::Message(fetch))) = client.next().await else {
        panic!("no fetch")
    };
    assert_eq!(&fetch[..], b"* 1 FETCH (BODY[] {5}\r\nhello)\r\n");
    let Some(Ok(ImapFrame::Message(done))) = client.next().await else {
        panic!("no completion")
    };
    let (response, _) = parse_response(&done, &ParserConfig::lenient()).unwrap();
    assert!(matches!(
        response,
        Response::Status(Status::Tagged {
            kind: StatusKind::Ok,
            ..
        })
    ));
    assert_eq!(server_task.await.unwrap(), b"a2 SELECT INBOX\r\n");
}

#[tokio::test]
async fn oversized_messages_are_reported_and_skipped() {
    let (mut a, b) = tokio::io::duplex(1024);
    let mut config = ParserConfig::strict();
    config.max_line_length = 32;
    let mut server = Framed::new(b, ImapCodec::server(config));
    use tokio::io::AsyncWriteExt;
    a.write_all(b"a1 NOOP\r\n").await.unwrap();
    a.write_all(&[b'x'; 100]).await.unwrap();
    a.write_all(b"\r\na2 CAPABILITY\r\n").await.unwrap();
    a.shutdown().await.unwrap();
    let mut frames = Vec::new();
    while let Some(frame) = server.next().await {
        frames.push(frame.unwrap());
    }
    let [
        ImapFrame::Message(first),
        ImapFrame::Error { error, tag: None },
        ImapFrame::Message(last),
    ] = &frames[..]
    else {
        panic!("{frames:?}")
    };
    assert_eq!(&first[..], b"a1 NOOP\r\n");
    assert_eq!(error.to_string(), "line longer than 32 bytes at byte 32");
    assert_eq!(&last[..], b"a2 CAPABILITY\r\n");
    // Encoding any `Encode` value works too.
    server
        .send(Response::Data(Data::Capability(vec![
            "IMAP4rev1".try_into().unwrap(),
        ])))
        .await
        .unwrap();
}
