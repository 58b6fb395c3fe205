//! IMAP codec throughput on a realistic corpus, mailgate-imap against imap-codec on
//! the same bytes, plus framing alone. See `benches/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imap_codec::decode::Decoder;
use imap_codec::{CommandCodec, ResponseCodec};
use mailgate_imap::ParserConfig;
use mailgate_imap::command::Command;
use mailgate_imap::framer::{Direction, Framer, FramerEvent};
use mailgate_imap::response::parse_response;
use std::hint::black_box;

const COMMANDS: &[u8] = include_bytes!("corpus/imap-commands.txt");
const RESPONSES: &[u8] = include_bytes!("corpus/imap-responses.txt");

/// Splits a stream into complete messages with the mailgate framer.
fn frame(stream: &[u8], direction: Direction) -> Vec<Vec<u8>> {
    let mut framer = Framer::new(direction, ParserConfig::lenient());
    framer.push(stream);
    let mut out = Vec::new();
    while let Some(event) = framer.next_event() {
        match event {
            FramerEvent::Message(m) => out.push(m.to_vec()),
            FramerEvent::ContinuationNeeded(_) => {}
            other => panic!("corpus does not frame: {other:?}"),
        }
    }
    assert_eq!(framer.buffered(), 0, "corpus ends inside a message");
    out
}

/// Frames the whole stream, counting messages.
fn frame_count(stream: &[u8], direction: Direction) -> usize {
    let mut framer = Framer::new(direction, ParserConfig::lenient());
    framer.push(stream);
    let mut n = 0;
    while let Some(event) = framer.next_event() {
        if let FramerEvent::Message(m) = event {
            n += m.len();
        }
    }
    n
}

fn check_corpus(commands: &[Vec<u8>], responses: &[Vec<u8>]) {
    let strict = ParserConfig::strict();
    for m in commands {
        let show = String::from_utf8_lossy(m);
        let (_, n) =
            Command::parse(m, &strict).unwrap_or_else(|e| panic!("mailgate: {show:?}: {e}"));
        assert_eq!(n, m.len());
        let (rest, _) = CommandCodec::new()
            .decode(m)
            .unwrap_or_else(|e| panic!("imap-codec: {show:?}: {e:?}"));
        assert!(rest.is_empty());
    }
    for m in responses {
        let show = String::from_utf8_lossy(m);
        let (_, n) =
            parse_response(m, &strict).unwrap_or_else(|e| panic!("mailgate: {show:?}: {e}"));
        assert_eq!(n, m.len());
        let (rest, _) = ResponseCodec::new()
            .decode(m)
            .unwrap_or_else(|e| panic!("imap-codec: {show:?}: {e:?}"));
        assert!(rest.is_empty());
    }
}

fn bench(c: &mut Criterion) {
    let commands = frame(COMMANDS, Direction::ClientToServer);
    let responses = frame(RESPONSES, Direction::ServerToClient);
    check_corpus(&commands, &responses);
    let strict = ParserConfig::strict();
    let lenient = ParserConfig::lenient();

    let mut g = c.benchmark_group("imap-commands");
    g.throughput(Throughput::Bytes(COMMANDS.len() as u64));
    g.bench_function("mailgate-imap", |b| {
        b.iter(|| {
            for m in &commands {
                black_box(Command::parse(black_box(m), &strict).unwrap());
            }
        })
    });
    g.bench_function("imap-codec", |b| {
        let codec = CommandCodec::new();
        b.iter(|| {
            for m in &commands {
                black_box(codec.decode(black_box(m)).unwrap());
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("imap-responses");
    g.throughput(Throughput::Bytes(RESPONSES.len() as u64));
    g.bench_function("mailgate-imap", |b| {
        b.iter(|| {
            for m in &responses {
                black_box(parse_response(black_box(m), &strict).unwrap());
            }
        })
    });
    g.bench_function("mailgate-imap-lenient", |b| {
        b.iter(|| {
            for m in &responses {
                black_box(parse_response(black_box(m), &lenient).unwrap());
            }
        })
    });
    g.bench_function("imap-codec", |b| {
        let codec = ResponseCodec::new();
        b.iter(|| {
            for m in &responses {
                black_box(codec.decode(black_box(m)).unwrap());
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("imap-framing");
    g.throughput(Throughput::Bytes(RESPONSES.len() as u64));
    g.bench_function("responses", |b| {
        b.iter(|| black_box(frame_count(black_box(RESPONSES), Direction::ServerToClient)))
    });
    g.throughput(Throughput::Bytes(COMMANDS.len() as u64));
    g.bench_function("commands", |b| {
        b.iter(|| black_box(frame_count(black_box(COMMANDS), Direction::ClientToServer)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
