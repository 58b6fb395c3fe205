//! Fuzzes the IMAP framer: arbitrary chunking gives the same events as one push,
//! memory stays bounded, and complete command messages round-trip. One mode bit makes
//! the driver refuse every synchronising literal (as the proxy does before STARTTLS).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailgate_imap::framer::{Direction, Framer, FramerEvent};
use mailgate_imap::{Command, Encode, ParserConfig};

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Message(Vec<u8>),
    Continuation(u64),
    Error(String, Option<String>),
}

fn run(
    direction: Direction,
    config: &ParserConfig,
    refuse: bool,
    data: &[u8],
    chunks: &[usize],
) -> Vec<Event> {
    let mut framer = Framer::new(direction, config.clone());
    let mut events = Vec::new();
    let mut rest = data;
    let mut n = 0;
    while !rest.is_empty() {
        let size = chunks
            .get(n % chunks.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        n += 1;
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        framer.push(chunk);
        while let Some(event) = framer.next_event() {
            let event = match event {
                FramerEvent::Message(m) => Event::Message(m.to_vec()),
                FramerEvent::ContinuationNeeded(h) => Event::Continuation(h.size),
                FramerEvent::Error { error, tag } => {
                    Event::Error(error.to_string(), tag.map(|t| t.as_str().to_owned()))
                }
                _ => Event::Error("unknown event".into(), None),
            };
            if refuse && matches!(event, Event::Continuation(_)) {
                framer.refuse_literal();
                // The refused message is gone: what stays buffered came after the literal's
                // header, which this chunk completed.
                assert!(framer.buffered() < chunk.len());
            }
            events.push(event);
        }
        // Memory bound: what is buffered never exceeds one message plus one chunk.
        let bound = config.max_line_length as u64 + config.max_message_size + chunk.len() as u64;
        assert!((framer.buffered() as u64) <= bound);
    }
    events
}

fuzz_target!(|input: &[u8]| {
    let Some((&[mode, line, literal, message], data)) = input.split_first_chunk::<4>() else {
        return;
    };
    let direction = if mode & 1 == 0 {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    };
    let mut config = if mode & 2 == 0 {
        ParserConfig::strict()
    } else {
        ParserConfig::lenient()
    };
    // Small limits so that every violation path is reached.
    config.max_line_length = usize::from(line).max(1) * 4;
    config.max_literal_size = u64::from(literal) * 2;
    config.max_message_size = u64::from(message) * 8;
    let refuse = mode & 4 != 0;
    let one_shot = run(direction, &config, refuse, data, &[data.len()]);
    let chunks: Vec<usize> = data
        .iter()
        .take(8)
        .map(|&b| usize::from(b % 17) + 1)
        .collect();
    let chunked = run(direction, &config, refuse, data, &chunks);
    assert_eq!(one_shot, chunked);
    let bytewise = run(direction, &config, refuse, data, &[1]);
    assert_eq!(one_shot, bytewise);
    for event in &one_shot {
        if let Event::Message(m) = event {
            assert!(m.ends_with(b"\n"));
            if direction == Direction::ClientToServer
                && let Ok((command, used)) = Command::parse(m, &config)
            {
                assert_eq!(used, m.len());
                let wire = command.to_vec();
                assert!(Command::parse(&wire, &config).is_ok());
            }
        }
    }
});
