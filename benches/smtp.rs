//! SMTP codec throughput: command parsing, reply parsing and DATA end-of-message
//! scanning, in bytes per second.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use mailgate_smtp::{Command, DataScanner, DataStatus, Limits, Reply, ReplyStatus};

const COMMANDS: &[&[u8]] = &[
    b"EHLO client.example.com",
    b"MAIL FROM:<sender@example.com> SIZE=123456 BODY=8BITMIME SMTPUTF8",
    b"RCPT TO:<recipient@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;recipient@example.org",
    b"DATA",
    b"BDAT 65536 LAST",
    b"AUTH PLAIN AHVzZXJAZXhhbXBsZS5jb20Ac2VjcmV0",
    b"NOOP",
    b"QUIT",
];

const EHLO: &[u8] = b"250-smtp.example.com at your service, [203.0.113.5]\r\n250-SIZE 35882577\r\n\
250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n\
250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";

/// A message of roughly `size` octets: 76-character lines, some starting with a dot.
fn message(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 80);
    let mut n = 0u32;
    while out.len() < size {
        if n.is_multiple_of(50) {
            out.extend_from_slice(b"..a dot-stuffed line\r\n");
        }
        out.extend_from_slice(
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempo\r\n",
        );
        n += 1;
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn commands(c: &mut Criterion) {
    let total: usize = COMMANDS.iter().map(|l| l.len() + 2).sum();
    let mut g = c.benchmark_group("smtp_command_parse");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("mixed", |b| {
        b.iter(|| {
            for line in COMMANDS {
                black_box(Command::parse(black_box(line)).unwrap());
            }
        })
    });
    g.finish();
}

fn replies(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("smtp_reply_parse");
    g.throughput(Throughput::Bytes(EHLO.len() as u64));
    g.bench_function("ehlo_multiline", |b| {
        b.iter(|| match Reply::parse(black_box(EHLO), &limits).unwrap() {
            ReplyStatus::Complete(r, n) => black_box((r, n)),
            ReplyStatus::Partial => unreachable!(),
        })
    });
    let single = b"250 2.1.0 Sender <sender@example.com> OK\r\n";
    g.throughput(Throughput::Bytes(single.len() as u64));
    g.bench_function("single_line", |b| {
        b.iter(|| black_box(Reply::parse(black_box(single), &limits).unwrap()))
    });
    g.finish();
}

fn data(c: &mut Criterion) {
    let mut g = c.benchmark_group("smtp_data_scan");
    for size in [64 * 1024, 4 * 1024 * 1024] {
        let msg = message(size);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        for chunk in [16 * 1024, msg.len()] {
            let id = BenchmarkId::new(format!("{}KiB", size / 1024), format!("chunk{chunk}"));
            g.bench_with_input(id, &msg, |b, msg| {
                b.iter(|| {
                    let mut s = DataScanner::new(u64::MAX);
                    for part in msg.chunks(chunk) {
                        if let DataStatus::Complete { end, .. } = s.scan(black_box(part)).unwrap() {
                            return black_box(end);
                        }
                    }
                    unreachable!()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, commands, replies, data);
criterion_main!(benches);
