use super::*;
use crate::core::{Mailbox, SeqItem, SeqNumber};

fn parse(input: &[u8]) -> Command<'_> {
    let (cmd, used) = Command::parse(input, &ParserConfig::strict()).unwrap();
    assert_eq!(used, input.len());
    cmd
}

#[test]
fn structure_of_a_fetch() {
    let cmd = parse(b"a1 UID FETCH 1:*,7 (FLAGS BODY.PEEK[1.2.HEADER]<5.10>) (CHANGEDSINCE 9)\r\n");
    assert_eq!(cmd.tag.as_str(), "a1");
    let CommandBody::Fetch {
        uid,
        sequence_set,
        items,
        modifiers,
    } = cmd.body
    else {
        panic!("not a fetch");
    };
    assert!(uid);
    assert_eq!(sequence_set.items().len(), 2);
    assert!(matches!(
        sequence_set.items()[0],
        SeqItem::Range(_, SeqNumber::Largest)
    ));
    let FetchItems::Attributes(atts) = items else {
        panic!("macro")
    };
    assert_eq!(atts[0], FetchAttribute::Flags);
    let FetchAttribute::BodySection {
        peek,
        section,
        partial,
    } = &atts[1]
    else {
        panic!("section")
    };
    assert!(*peek);
    assert_eq!(section.part.len(), 2);
    assert_eq!(section.text, Some(SectionText::Header));
    assert_eq!(partial.map(|p| (p.offset, p.length.get())), Some((5, 10)));
    assert_eq!(modifiers, vec![FetchModifier::ChangedSince(9)]);
}

#[test]
fn literals_borrow_from_the_input() {
    let input = b"a APPEND INBOX {5}\r\nhello\r\n";
    let cmd = parse(input);
    let CommandBody::Append { mailbox, messages } = &cmd.body else {
        panic!("append")
    };
    assert_eq!(mailbox, &Mailbox::Inbox);
    let AppendData::Literal(data) = &messages[0].data else {
        panic!("literal")
    };
    assert_eq!(data.as_bytes(), b"hello");
    assert!(std::ptr::eq(data.as_bytes().as_ptr(), input[20..].as_ptr()));
}

#[test]
fn multiappend_and_binary() {
    let cmd = parse(b"a APPEND x (\\Seen) {1}\r\na ~{2}\r\n\0b\r\n");
    let CommandBody::Append { messages, .. } = &cmd.body else {
        panic!("append")
    };
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].flags, vec![crate::core::Flag::Seen]);
    assert!(matches!(&messages[1].data, AppendData::Binary(b) if b.as_bytes() == b"\0b"));
    assert_eq!(
        cmd.to_vec(),
        b"a APPEND x (\\Seen) {1}\r\na ~{2}\r\n\0b\r\n"
    );
}

#[test]
fn search_structure() {
    let cmd = parse(b"a SEARCH RETURN (SAVE) CHARSET UTF-8 OR (SEEN FLAGGED) NOT UID 5 $\r\n");
    let CommandBody::Search {
        uid,
        return_options,
        charset,
        criteria,
    } = cmd.body
    else {
        panic!()
    };
    assert!(!uid);
    assert_eq!(return_options, Some(vec![SearchReturnOption::Save]));
    assert_eq!(charset.map(|c| c.as_str().to_owned()), Some("UTF-8".into()));
    assert_eq!(criteria.len(), 2);
    assert!(matches!(&criteria[0], SearchKey::Or(a, _) if matches!(**a, SearchKey::And(_))));
    assert!(matches!(&criteria[1], SearchKey::SequenceSet(s) if s.is_saved()));
}

#[test]
fn refine_names_problems() {
    let cfg = ParserConfig::strict();
    let e = Command::parse(b"a NOOP", &cfg).unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::Incomplete);
    let e = Command::parse(b"a NOOP\0\r\n", &cfg).unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::Nul);
}
