//! Unit tests of the reader: each mode and each rule on small hand-made inputs.

use bytes::Bytes;

use super::*;
use crate::{LengthPrefixed, Prefix, RecordError, RecordFramer};

use DataKind::{Binary, Text};

/// An item in comparable form.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    T(String),
    B(Vec<u8>),
    Err(DelimitError),
    Other(String),
}

fn got(r: Result<Item, DelimitError>) -> Got {
    match r {
        Ok(Item::Text(s)) => Got::T(s),
        Ok(Item::Binary(b)) => Got::B(b.to_vec()),
        Ok(other) => Got::Other(format!("{other:?}")),
        Err(e) => Got::Err(e),
    }
}

/// Pulls until `None` or the first error (included).
fn drain(r: &mut ReadDelimiter) -> Vec<Got> {
    let mut out = Vec::new();
    while let Some(item) = r.next_item() {
        let g = got(item);
        let stop = matches!(g, Got::Err(_));
        out.push(g);
        if stop {
            break;
        }
    }
    out
}

fn t(s: &str) -> Got {
    Got::T(s.to_owned())
}

fn b(s: &[u8]) -> Got {
    Got::B(s.to_vec())
}

fn mixed(expected: DataKind, found: DataKind) -> Got {
    Got::Err(DelimitError::MixedTypes { expected, found })
}

fn reader(mode: Mode) -> ReadDelimiter {
    ReadDelimiter::with_mode(mode).expect("valid mode")
}

// EntireMessage.

#[test]
fn entire_message_assembles_fragments_and_keeps_types() {
    let mut r = ReadDelimiter::new();
    r.push(Text, "a€".as_bytes()[..2].as_ref(), false).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Text, &"a€".as_bytes()[2..], false).unwrap();
    r.push(Text, b"!", true).unwrap();
    r.push(Binary, b"\x00\xff", true).unwrap();
    assert_eq!(drain(&mut r), [t("a€!"), b(b"\x00\xff")]);
    assert!(r.is_empty());
}

#[test]
fn entire_message_hands_over_empty_messages_each() {
    let mut r = ReadDelimiter::new();
    r.push(Text, b"", true).unwrap();
    r.push(Binary, b"", true).unwrap();
    r.push(Binary, b"", false).unwrap(); // nothing: not even a message start
    r.push(Binary, b"x", true).unwrap();
    r.push(Text, b"", true).unwrap();
    assert_eq!(drain(&mut r), [t(""), b(b""), b(b"x"), t("")]);
    assert!(r.is_empty());
}

#[test]
fn entire_message_shares_the_pushed_memory() {
    let mut r = ReadDelimiter::new();
    let data = Bytes::from(vec![7u8; 1000]);
    let ptr = data.as_ptr();
    r.push_bytes(Binary, data, true).unwrap();
    let Some(Ok(Item::Binary(item))) = r.next_item() else {
        panic!("an item");
    };
    assert_eq!(item.as_ptr(), ptr);
    assert_eq!(item.len(), 1000);
}

#[test]
fn entire_message_refuses_an_interrupted_message() {
    let mut r = ReadDelimiter::new();
    r.push(Text, b"par", false).unwrap();
    r.push(Binary, b"bin", true).unwrap();
    let err = DelimitError::MixedTypes {
        expected: Text,
        found: Binary,
    };
    assert_eq!(err.close_code(), 1003);
    assert_eq!(drain(&mut r), [Got::Err(err.clone())]);
    // Sticky, nothing consumed.
    assert_eq!(drain(&mut r), [Got::Err(err)]);
    assert_eq!(r.buffered(), b"parbin");
}

#[test]
fn invalid_text_is_reported_and_kept() {
    let mut r = ReadDelimiter::new();
    r.push(Text, b"ok\xff", true).unwrap();
    let err = DelimitError::InvalidUtf8 { valid_up_to: 2 };
    assert_eq!(err.close_code(), 1007);
    assert_eq!(drain(&mut r), [Got::Err(err.clone())]);
    assert_eq!(drain(&mut r), [Got::Err(err)]);
    assert_eq!(r.buffered_len(), 3);
    // A text message ending inside a character is invalid too.
    let mut r = ReadDelimiter::new();
    r.push(Text, b"a\xe2\x82", true).unwrap();
    assert_eq!(
        drain(&mut r),
        [Got::Err(DelimitError::InvalidUtf8 { valid_up_to: 1 })]
    );
}

#[test]
fn entire_message_overflows_past_the_cap() {
    let mut r = ReadDelimiter::new().buffer_size(4);
    r.push(Binary, b"1234", false).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"5", false).unwrap();
    let err = DelimitError::Overflow {
        buffered: 5,
        cap: 4,
    };
    assert_eq!(err.close_code(), 1009);
    assert_eq!(drain(&mut r), [Got::Err(err.clone())]);
    // Another push while over the cap is refused, and stays refused until `clear`.
    assert_eq!(r.push(Binary, b"6", false), Err(err.clone()));
    assert_eq!(r.buffered_len(), 5);
    assert_eq!(drain(&mut r), [Got::Err(err)]);
    r.clear();
    assert!(r.is_empty());
    // The rest of the cleared message is dropped; the next message is fine.
    r.push(Binary, b"7", true).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"8", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"8")]);
}

#[test]
fn clear_after_a_refused_push_knows_whether_the_message_ended() {
    // The refused push ended the message: the next message is kept.
    let mut r = ReadDelimiter::new().buffer_size(2);
    r.push(Binary, b"123", false).unwrap();
    assert!(r.push(Binary, b"4", true).is_err());
    r.clear();
    r.push(Binary, b"next", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"next")]);
    // The refused push started a message that goes on: its rest is dropped.
    let mut r = reader(Mode::delimiter("\n")).buffer_size(2);
    r.push(Text, b"123", true).unwrap();
    assert!(r.push(Binary, b"4", false).is_err());
    assert!(r.push(Binary, b"", false).is_err());
    r.clear();
    r.push(Binary, b"5\n", true).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"6\n", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"6")]);
}

#[test]
fn an_item_completed_by_the_crossing_push_may_exceed_the_cap() {
    let mut r = ReadDelimiter::new().buffer_size(4);
    r.push(Binary, b"123", false).unwrap();
    r.push(Binary, b"456789", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"123456789")]);
}

#[test]
fn empty_messages_count_toward_the_cap() {
    let mut r = reader(Mode::delimiter("\n")).buffer_size(3);
    r.push(Text, b"a", true).unwrap();
    for _ in 0..2 {
        r.push(Text, b"", true).unwrap();
        assert_eq!(drain(&mut r), []);
    }
    r.push(Text, b"", true).unwrap();
    assert_eq!(
        drain(&mut r),
        [Got::Err(DelimitError::Overflow {
            buffered: 4,
            cap: 3
        })]
    );
}

// Chunks.

#[test]
fn chunks_hand_over_data_as_it_arrives_without_splitting_characters() {
    let mut r = reader(Mode::Chunks);
    let euro = "€".as_bytes();
    r.push(Text, &[b'a', euro[0]], false).unwrap();
    assert_eq!(drain(&mut r), [t("a")]);
    assert_eq!(r.buffered(), &euro[..1]);
    r.push(Text, &euro[1..2], false).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Text, &euro[2..], false).unwrap();
    assert_eq!(drain(&mut r), [t("€")]);
    r.push(Text, b"", true).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"\xe2", false).unwrap();
    assert_eq!(drain(&mut r), [b(b"\xe2")]);
    r.push(Binary, b"z", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"z")]);
    assert!(r.is_empty());
}

#[test]
fn chunks_never_cross_a_message_end() {
    let mut r = reader(Mode::Chunks);
    r.push(Text, b"one", true).unwrap();
    r.push(Text, b"two", true).unwrap();
    r.push(Binary, b"three", false).unwrap();
    assert_eq!(drain(&mut r), [t("one"), t("two"), b(b"three")]);
}

#[test]
fn chunks_report_a_message_ending_inside_a_character() {
    let mut r = reader(Mode::Chunks);
    r.push(Text, b"a\xe2\x82", false).unwrap();
    assert_eq!(drain(&mut r), [t("a")]);
    r.push(Text, b"", true).unwrap();
    assert_eq!(
        drain(&mut r),
        [Got::Err(DelimitError::InvalidUtf8 { valid_up_to: 0 })]
    );
}

// Delimiters.

#[test]
fn delimiter_cuts_and_drops_the_delimiter() {
    let mut r = reader(Mode::delimiter("\r\n"));
    r.push(Text, b"a\r\nbb\r\n\r\nccc\r", false).unwrap();
    assert_eq!(drain(&mut r), [t("a"), t("bb"), t("")]);
    r.push(Text, b"\n", true).unwrap();
    assert_eq!(drain(&mut r), [t("ccc")]);
    assert!(r.is_empty());
}

#[test]
fn delimiter_spans_messages_of_one_type() {
    let mut r = reader(Mode::delimiter(b"--"));
    r.push(Binary, b"ab-", true).unwrap();
    r.push(Binary, b"", true).unwrap();
    r.push(Binary, b"-cd", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"ab")]);
    assert_eq!(r.buffered(), b"cd");
}

#[test]
fn byte_delimiter_on_text_must_be_utf8() {
    let mut r = reader(Mode::delimiter("€"));
    r.push(Text, "x€y€".as_bytes(), true).unwrap();
    assert_eq!(drain(&mut r), [t("x"), t("y")]);

    let mut r = reader(Mode::delimiter(b"\xac"));
    r.push(Binary, b"1\xac2", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"1")]);
    r.clear();
    r.push(Text, "€".as_bytes(), true).unwrap();
    assert_eq!(drain(&mut r), [mixed(Binary, Text)]);
}

#[test]
fn text_delimiter_is_for_text_only() {
    let mut r = reader(Mode::text_delimiter(";"));
    r.push(Text, b"a;b", true).unwrap();
    assert_eq!(drain(&mut r), [t("a")]);
    r.push(Binary, b"c;", true).unwrap();
    // "b" is a partial text item, then binary arrives.
    assert_eq!(drain(&mut r), [mixed(Text, Binary)]);
    r.set_mode(Mode::EntireMessage).unwrap();
    assert_eq!(drain(&mut r), [t("b"), b(b"c;")]);
    r.set_mode(Mode::text_delimiter(";")).unwrap();
    r.push(Binary, b"d;", true).unwrap();
    assert_eq!(drain(&mut r), [mixed(Text, Binary)]);
}

#[test]
fn a_type_change_at_an_item_boundary_is_fine() {
    let mut r = reader(Mode::delimiter("\n"));
    r.push(Text, b"t\n", true).unwrap();
    r.push(Binary, b"b\n", true).unwrap();
    r.push(Text, b"", true).unwrap();
    r.push(Text, b"u\n", true).unwrap();
    assert_eq!(drain(&mut r), [t("t"), b(b"b"), t("u")]);
}

#[test]
fn an_empty_message_of_the_other_type_interrupts_a_partial_item() {
    let mut r = reader(Mode::delimiter("\n"));
    r.push(Text, b"par", true).unwrap();
    r.push(Binary, b"", true).unwrap();
    assert_eq!(drain(&mut r), [mixed(Text, Binary)]);
}

#[test]
fn delimiter_scans_resume_where_they_stopped() {
    let mut r = reader(Mode::delimiter(b"END")).buffer_size(1 << 20);
    let n = 10_000;
    for _ in 0..n {
        r.push(Binary, b"x", false).unwrap();
        assert!(r.next_item().is_none());
    }
    // Each search looked at the new byte and the 2 before it.
    assert!(r.bytes_scanned() <= 3 * n, "{}", r.bytes_scanned());
    r.push(Binary, b"END", true).unwrap();
    assert_eq!(drain(&mut r), [Got::B(vec![b'x'; n as usize])]);
}

#[test]
fn invalid_modes_are_refused_and_the_mode_kept() {
    let mut r = reader(Mode::Chunks);
    for mode in [
        Mode::delimiter(""),
        Mode::text_delimiter(""),
        Mode::Bytes(0),
        Mode::records::<[u8; 0]>(),
    ] {
        let err = r.set_mode(mode).unwrap_err();
        assert!(matches!(err, DelimitError::InvalidMode(_)), "{err}");
        assert_eq!(err.close_code(), 1011);
    }
    assert!(matches!(r.mode(), Mode::Chunks));
}

// Bytes(N).

#[test]
fn bytes_hands_over_exact_counts_across_messages() {
    let mut r = reader(Mode::Bytes(3));
    r.push(Binary, b"12", true).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"3456", false).unwrap();
    r.push(Binary, b"7", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"123"), b(b"456")]);
    assert_eq!(r.buffered(), b"7");
}

#[test]
fn bytes_on_text_must_fall_between_characters() {
    let mut r = reader(Mode::Bytes(2));
    r.push(Text, "ab€".as_bytes(), true).unwrap();
    let err = DelimitError::SplitCodePoint { len: 2 };
    assert_eq!(err.close_code(), 1007);
    assert_eq!(drain(&mut r), [t("ab"), Got::Err(err)]);
    r.set_mode(Mode::Bytes(3)).unwrap();
    assert_eq!(drain(&mut r), [t("€")]);
}

#[test]
fn bytes_raises_the_cap_to_its_count() {
    let mut r = reader(Mode::Bytes(10)).buffer_size(4);
    assert_eq!(r.effective_buffer_size(), 10);
    r.push(Binary, b"123456789", false).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"0ab", false).unwrap();
    assert_eq!(drain(&mut r), [b(b"1234567890")]);
    r.set_mode(Mode::Bytes(2)).unwrap();
    assert_eq!(r.effective_buffer_size(), 4);
}

// Records.

#[derive(Debug, PartialEq)]
struct Pair(u8, u8);

impl Record for Pair {
    const SIZE: usize = 2;
    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes[0] == 0xff {
            return Err(RecordError::invalid("reserved tag"));
        }
        Ok(Self(bytes[0], bytes[1]))
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.0, self.1]);
    }
}

#[test]
fn records_are_decoded_and_typed() {
    let mut r = reader(Mode::records::<Pair>());
    r.push(Binary, b"\x01\x02\x03", false).unwrap();
    assert_eq!(r.next_record::<Pair>().unwrap().unwrap(), Pair(1, 2));
    assert!(r.next_record::<Pair>().is_none());
    r.push(Binary, b"\x04", true).unwrap();
    let Some(Ok(Item::Record(any))) = r.next_item() else {
        panic!("a record");
    };
    assert!(any.is::<Pair>());
    assert_eq!(any.downcast_ref::<Pair>(), Some(&Pair(3, 4)));
    let any = any.downcast::<[u8; 2]>().unwrap_err();
    assert_eq!(any.downcast::<Pair>().unwrap(), Pair(3, 4));
    // The wrong type for the mode: nothing consumed.
    r.push(Binary, b"\x05\x06", true).unwrap();
    assert!(matches!(
        r.next_record::<[u8; 2]>(),
        Some(Err(DelimitError::InvalidMode(_)))
    ));
    assert_eq!(r.next_record::<Pair>().unwrap().unwrap(), Pair(5, 6));
}

#[test]
fn record_errors_keep_the_bytes() {
    let mut r = reader(Mode::records::<Pair>());
    r.push(Binary, b"\xff\x00", true).unwrap();
    let err = DelimitError::Record(RecordError::invalid("reserved tag"));
    assert_eq!(err.close_code(), 1007);
    assert_eq!(drain(&mut r), [Got::Err(err)]);
    assert_eq!(r.buffered_len(), 2);
    // Skip it as raw bytes.
    r.set_mode(Mode::Bytes(2)).unwrap();
    assert_eq!(drain(&mut r), [b(b"\xff\x00")]);
}

#[test]
fn records_are_binary_only_and_raise_the_cap() {
    let mut r = reader(Mode::records::<[u8; 8]>()).buffer_size(2);
    r.push(Text, b"12345678", true).unwrap();
    assert_eq!(drain(&mut r), [mixed(Binary, Text)]);
    r.clear();
    assert_eq!(r.effective_buffer_size(), 8);
    r.push(Binary, b"1234567", false).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"8", true).unwrap();
    assert_eq!(r.next_record::<[u8; 8]>().unwrap().unwrap(), *b"12345678");
}

// Variable records.

#[test]
fn length_prefixed_records_arrive_in_pieces() {
    for prefix in [Prefix::U8, Prefix::U16, Prefix::U32] {
        let framer = LengthPrefixed::new(prefix);
        let long = vec![9; 300.min(prefix.max_value() as usize)];
        let mut wire = Vec::new();
        framer.encode(b"hello", &mut wire).unwrap();
        framer.encode(b"", &mut wire).unwrap();
        framer.encode(&long, &mut wire).unwrap();
        let mut r = reader(Mode::Variable(Box::new(framer)));
        let mut items = Vec::new();
        for byte in &wire {
            r.push(Binary, &[*byte], false).unwrap();
            items.extend(drain(&mut r));
        }
        assert_eq!(items, [b(b"hello"), b(b""), Got::B(long)], "{prefix:?}");
        assert!(r.is_empty());
    }
}

#[test]
fn a_length_over_the_limit_is_refused_at_once() {
    let mut r = reader(Mode::Variable(Box::new(
        LengthPrefixed::new(Prefix::U32).max_len(10),
    )));
    r.push(Binary, b"\x00\x00\x00\x0b", false).unwrap();
    let err = DelimitError::Record(RecordError::TooLong { len: 11, max: 10 });
    assert_eq!(err.close_code(), 1009);
    assert_eq!(drain(&mut r), [Got::Err(err)]);
}

#[test]
fn a_variable_record_raises_the_cap_to_its_announced_length() {
    let mut r = reader(Mode::length_prefixed(Prefix::U16)).buffer_size(4);
    r.push(Binary, b"\x00", false).unwrap();
    assert_eq!(drain(&mut r), []);
    assert_eq!(r.effective_buffer_size(), 4);
    r.push(Binary, b"\x64abc", false).unwrap(); // 100 bytes announced
    assert_eq!(drain(&mut r), []);
    assert_eq!(r.effective_buffer_size(), 102);
    r.push(Binary, &[b'x'; 90], false).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, &[b'y'; 7], false).unwrap();
    let items = drain(&mut r);
    assert_eq!(items.len(), 1);
    assert_eq!(r.effective_buffer_size(), 4);
    // Without a prefix in view, the configured cap applies again.
    r.push(Binary, b"\x00\x09", false).unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"1234567", false).unwrap();
    assert_eq!(
        drain(&mut r),
        [],
        "9 of the 11 bytes the record needs: within the raised cap"
    );
}

/// A framer that counts its calls: records end at a `;` it finds by scanning.
#[derive(Debug, Default)]
struct Counting {
    calls: usize,
}

impl RecordFramer for Counting {
    fn frame(&mut self, buffered: &[u8]) -> Result<Framing, RecordError> {
        self.calls += 1;
        match buffered.first() {
            Some(&n) if buffered.len() > usize::from(n) => Ok(Framing::Record {
                skip: 1,
                len: usize::from(n),
            }),
            Some(&n) => Ok(Framing::Need(usize::from(n) + 1 - buffered.len())),
            None => Ok(Framing::Need(1)),
        }
    }
}

#[test]
fn the_framer_is_not_asked_again_before_the_bytes_it_needs_arrive() {
    let mut r = reader(Mode::Variable(Box::new(Counting::default())));
    r.push(Binary, &[200], false).unwrap();
    for _ in 0..200 {
        assert_eq!(drain(&mut r), []);
        r.push(Binary, b"z", false).unwrap();
    }
    assert_eq!(drain(&mut r), [Got::B(vec![b'z'; 200])]);
    let Mode::Variable(framer) = r.mode() else {
        panic!("variable");
    };
    assert!(format!("{framer:?}").contains("calls: 2"), "{framer:?}");
}

/// A framer that misbehaves in the ways a user's could.
#[derive(Debug)]
struct Broken(Framing);

impl RecordFramer for Broken {
    fn frame(&mut self, _: &[u8]) -> Result<Framing, RecordError> {
        Ok(self.0)
    }
}

#[test]
fn misbehaving_framers_do_not_loop_or_panic() {
    let mut r = reader(Mode::Variable(Box::new(Broken(Framing::Record {
        skip: 0,
        len: 0,
    }))));
    r.push(Binary, b"ab", true).unwrap();
    assert!(matches!(
        drain(&mut r)[..],
        [Got::Err(DelimitError::InvalidMode(_))]
    ));
    // Claims more than it was shown: waits for it.
    r.set_mode(Mode::Variable(Box::new(Broken(Framing::Record {
        skip: 1,
        len: 5,
    }))))
    .unwrap();
    assert_eq!(drain(&mut r), []);
    r.push(Binary, b"cdef", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"bcdef")]);
    // Needs 0 more: taken as 1.
    r.set_mode(Mode::Variable(Box::new(Broken(Framing::Need(0)))))
        .unwrap();
    r.push(Binary, b"x", true).unwrap();
    assert_eq!(drain(&mut r), []);
}

#[test]
fn variable_records_are_binary_only() {
    let mut r = reader(Mode::length_prefixed(Prefix::U8));
    r.push(Text, b"\x01a", true).unwrap();
    assert_eq!(drain(&mut r), [mixed(Binary, Text)]);
}

// Mode switches.

#[test]
fn a_switch_between_items_applies_to_the_buffered_data() {
    let mut r = reader(Mode::delimiter(","));
    r.push(Text, b"a,bcdef,gh", false).unwrap();
    assert_eq!(r.next_item().map(got), Some(t("a")));
    r.set_mode(Mode::Bytes(2)).unwrap();
    assert_eq!(r.next_item().map(got), Some(t("bc")));
    r.set_mode(Mode::delimiter(",")).unwrap();
    assert_eq!(drain(&mut r), [t("def")]);
    r.set_mode(Mode::Chunks).unwrap();
    assert_eq!(drain(&mut r), [t("gh")]);
    r.set_mode(Mode::EntireMessage).unwrap();
    r.push(Text, b"ij", true).unwrap();
    assert_eq!(drain(&mut r), [t("ij")]);
}

#[test]
fn entire_message_after_a_stream_mode_gives_the_rest_of_each_message() {
    let mut r = reader(Mode::delimiter("\n"));
    r.push(Text, b"one\n", true).unwrap();
    r.push(Text, b"", true).unwrap();
    r.push(Text, b"two\nrest", true).unwrap();
    r.push(Binary, b"bin", true).unwrap();
    assert_eq!(r.next_item().map(got), Some(t("one")));
    r.set_mode(Mode::EntireMessage).unwrap();
    // "one\n" was consumed to its end: no empty item for it; the empty message that
    // followed is a real one.
    assert_eq!(r.next_item().map(got), Some(t("")));
    assert_eq!(r.next_item().map(got), Some(t("two\nrest")));
    r.set_mode(Mode::Bytes(1)).unwrap();
    assert_eq!(r.next_item().map(got), Some(b(b"b")));
    r.set_mode(Mode::EntireMessage).unwrap();
    assert_eq!(drain(&mut r), [b(b"in")]);
}

#[test]
fn a_new_delimiter_rescans_the_buffer_once() {
    let mut r = reader(Mode::delimiter("|"));
    r.push(Binary, b"a;b;c", false).unwrap();
    assert_eq!(drain(&mut r), []);
    r.set_mode(Mode::delimiter(";")).unwrap();
    assert_eq!(drain(&mut r), [b(b"a"), b(b"b")]);
}

// take_buffered and clear.

#[test]
fn take_buffered_gives_every_message_and_keeps_a_split_character() {
    let mut r = reader(Mode::delimiter("\n"));
    r.push(Text, b"a", true).unwrap();
    r.push(Text, b"", true).unwrap();
    r.push(Binary, b"b", true).unwrap();
    r.push(Text, b"c\xe2\x82", false).unwrap();
    let pieces = r.take_buffered();
    let summary: Vec<_> = pieces
        .iter()
        .map(|p| (p.kind, p.data.to_vec(), p.message_finished))
        .collect();
    assert_eq!(
        summary,
        [
            (Text, b"a".to_vec(), true),
            (Text, Vec::new(), true),
            (Binary, b"b".to_vec(), true),
            (Text, b"c".to_vec(), false),
        ]
    );
    assert_eq!(r.buffered(), b"\xe2\x82");
    r.push(Text, b"\xac\n", true).unwrap();
    assert_eq!(drain(&mut r), [t("€")]);
    assert!(r.take_buffered().is_empty());
}

#[test]
fn clear_drops_the_rest_of_the_message_in_progress() {
    let mut r = ReadDelimiter::new();
    r.push(Text, b"abc", false).unwrap();
    r.clear();
    r.push(Text, b"def", false).unwrap();
    r.push(Text, b"", true).unwrap();
    assert!(r.is_empty());
    r.push(Text, b"next", true).unwrap();
    assert_eq!(drain(&mut r), [t("next")]);
    // A message of the other type ends the discarding too.
    r.push(Text, b"x", false).unwrap();
    r.clear();
    r.push(Binary, b"y", true).unwrap();
    assert_eq!(drain(&mut r), [b(b"y")]);
}

// Regex.

#[cfg(feature = "regex")]
mod regex_mode {
    use super::*;
    use crate::RegexMode;

    fn search(kind: DataKind, pattern: &str) -> ReadDelimiter {
        reader(Mode::Regex(match kind {
            Text => RegexMode::text_search(pattern).unwrap(),
            Binary => RegexMode::binary_search(pattern).unwrap(),
        }))
    }

    #[test]
    fn search_hands_over_the_data_before_the_match() {
        let mut r = search(Text, r"\s*[,;]\s*");
        r.push(Text, b"a , b;c ,d", true).unwrap();
        assert_eq!(drain(&mut r), [t("a"), t("b"), t("c")]);
        assert_eq!(r.buffered(), b"d");
    }

    #[test]
    fn a_match_at_the_end_of_a_message_still_arriving_waits() {
        let mut r = search(Binary, "a+");
        r.push(Binary, b"xa", false).unwrap();
        assert_eq!(drain(&mut r), []);
        r.push(Binary, b"a", false).unwrap();
        assert_eq!(drain(&mut r), []);
        r.push(Binary, b"b", false).unwrap();
        assert_eq!(drain(&mut r), [b(b"x")]);
        assert_eq!(r.buffered(), b"b");
        // The end of the message settles a match that reaches it.
        r.push(Binary, b"aa", true).unwrap();
        assert_eq!(drain(&mut r), [b(b"b")]);
        assert!(r.is_empty());
    }

    #[test]
    fn message_ends_settle_matches_whenever_items_are_pulled() {
        let messages: [&[u8]; 3] = [b"xaa", b"ab", b"a"];
        // Pulled after each message.
        let mut eager = search(Binary, "a+");
        let mut got_eager = Vec::new();
        for m in messages {
            eager.push(Binary, m, true).unwrap();
            got_eager.extend(drain(&mut eager));
        }
        // Pulled once at the end.
        let mut late = search(Binary, "a+");
        for m in messages {
            late.push(Binary, m, true).unwrap();
        }
        let got_late = drain(&mut late);
        assert_eq!(got_eager, [b(b"x"), b(b""), b(b"b")]);
        assert_eq!(got_eager, got_late);
    }

    #[test]
    fn a_match_may_span_messages() {
        let mut r = search(Text, r"\r\n");
        r.push(Text, b"a\r", true).unwrap();
        assert_eq!(drain(&mut r), []);
        r.push(Text, b"\nb", true).unwrap();
        assert_eq!(drain(&mut r), [t("a")]);
    }

    #[test]
    fn text_matches_wait_for_a_whole_character_after_them() {
        let mut r = search(Text, "b€?");
        r.push(Text, b"ab\xe2\x82", false).unwrap();
        assert_eq!(drain(&mut r), []);
        r.push(Text, b"\xacc", false).unwrap();
        assert_eq!(drain(&mut r), [t("a")]);
        assert_eq!(r.buffered(), b"c");
    }

    #[test]
    fn empty_matches_never_count() {
        let mut r = search(Binary, "x*");
        r.push(Binary, b"abxxc", true).unwrap();
        assert_eq!(drain(&mut r), [b(b"ab")]);
        let mut r = reader(Mode::Regex(RegexMode::binary_match("x*").unwrap()));
        r.push(Binary, b"abc", true).unwrap();
        assert_eq!(drain(&mut r), []);
    }

    #[test]
    fn match_mode_hands_over_captures_at_the_start() {
        let mut r = reader(Mode::Regex(
            RegexMode::text_match(r"(\w+)=(\d+)?;").unwrap(),
        ));
        r.push(Text, b"k=12;v=;", true).unwrap();
        let items: Vec<_> = std::iter::from_fn(|| r.next_item()).collect();
        let caps: Vec<_> = items
            .into_iter()
            .map(|i| match i.unwrap() {
                Item::TextMatch(c) => c,
                other => panic!("{other:?}"),
            })
            .collect();
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            caps,
            [
                vec![s("k=12;"), s("k"), s("12")],
                vec![s("v=;"), s("v"), None]
            ]
        );
        // No match at the start: wait, even though one follows.
        r.push(Text, b"!a=1;", true).unwrap();
        assert!(r.next_item().is_none());
    }

    #[test]
    fn binary_match_mode_shares_memory() {
        let mut r = reader(Mode::Regex(
            RegexMode::binary_match(r"(?-u:\x00(.)(.))").unwrap(),
        ));
        r.push(Binary, b"\x00\xff\x01tail", false).unwrap();
        let Some(Ok(Item::BinaryMatch(groups))) = r.next_item() else {
            panic!("a match");
        };
        let groups: Vec<_> = groups.into_iter().map(|g| g.unwrap().to_vec()).collect();
        assert_eq!(groups, [b"\x00\xff\x01".to_vec(), vec![0xff], vec![1]]);
        assert_eq!(r.buffered(), b"tail");
    }

    #[test]
    fn regex_modes_keep_to_their_type() {
        let mut r = search(Text, ";");
        r.push(Binary, b"a;", true).unwrap();
        assert_eq!(drain(&mut r), [mixed(Text, Binary)]);
        let mut r = search(Binary, ";");
        r.push(Text, b"a;", true).unwrap();
        assert_eq!(drain(&mut r), [mixed(Binary, Text)]);
        // A text pattern must not be able to match invalid UTF-8.
        assert!(RegexMode::text_search(r"(?-u:\xff)").is_err());
        assert!(RegexMode::binary_search(r"(?-u:\xff)").is_ok());
    }

    #[test]
    fn a_search_is_not_repeated_without_new_data() {
        let mut r = search(Binary, "z");
        r.push(Binary, b"0123456789", false).unwrap();
        assert_eq!(drain(&mut r), []);
        let scanned = r.bytes_scanned();
        for _ in 0..10 {
            assert_eq!(drain(&mut r), []);
        }
        assert_eq!(r.bytes_scanned(), scanned);
    }
}

// Errors.

#[test]
fn errors_say_what_happened() {
    let cases = [
        (
            DelimitError::MixedTypes {
                expected: Text,
                found: Binary,
            },
            "binary data where text data is needed",
        ),
        (
            DelimitError::Overflow {
                buffered: 9,
                cap: 8,
            },
            "9 bytes buffered without an item, over the cap of 8",
        ),
        (
            DelimitError::InvalidUtf8 { valid_up_to: 3 },
            "text is not valid UTF-8 after 3 bytes",
        ),
        (
            DelimitError::SplitCodePoint { len: 2 },
            "a text item of 2 bytes would end inside a character",
        ),
        (
            DelimitError::Record(RecordError::TooLong { len: 5, max: 4 }),
            "record of 5 bytes is over the limit of 4",
        ),
        (
            DelimitError::InvalidMode("byte count of 0"),
            "invalid mode: byte count of 0",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
    let err = DelimitError::from(RecordError::invalid("x"));
    assert!(std::error::Error::source(&err).is_some());
    fn assert_traits<T: Send + Sync + 'static + std::error::Error>() {}
    assert_traits::<DelimitError>();
    fn assert_send<T: Send>() {}
    assert_send::<ReadDelimiter>();
}

// Accessors.

#[test]
fn accessors_say_what_the_reader_and_modes_are() {
    let mut r = ReadDelimiter::default();
    assert_eq!(r.cap(), DEFAULT_BUFFER_SIZE);
    assert_eq!(DEFAULT_BUFFER_SIZE, 64 * 1024);
    r.set_buffer_size(10);
    assert_eq!((r.cap(), r.effective_buffer_size()), (10, 10));
    assert!(matches!(r.mode(), Mode::EntireMessage));

    let only = |m: Mode| m.only_for();
    assert_eq!(only(Mode::EntireMessage), None);
    assert_eq!(only(Mode::Chunks), None);
    assert_eq!(only(Mode::Bytes(1)), None);
    assert_eq!(only(Mode::delimiter("\n")), None);
    assert_eq!(only(Mode::delimiter(b"\xff")), Some(Binary));
    assert_eq!(only(Mode::text_delimiter("\n")), Some(Text));
    assert_eq!(only(Mode::records::<Pair>()), Some(Binary));
    assert_eq!(only(Mode::length_prefixed(Prefix::U8)), Some(Binary));

    r.push(Text, b"t", true).unwrap();
    r.push(Binary, b"\x01\x02", true).unwrap();
    let text = r.next_item().unwrap().unwrap();
    assert_eq!((text.kind(), text.as_text()), (Text, Some("t")));
    assert!(text.into_record::<Pair>().is_none());
    r.set_mode(Mode::records::<Pair>()).unwrap();
    let record = r.next_item().unwrap().unwrap();
    assert_eq!(record.kind(), Binary);
    assert_eq!((record.as_text(), record.as_bytes()), (None, None));
    assert_eq!(record.into_record::<Pair>(), Some(Pair(1, 2)));
}

#[cfg(feature = "regex")]
#[test]
fn regex_modes_say_what_they_are() {
    use crate::RegexMode;
    let m = RegexMode::text_match("a(b)").unwrap();
    assert_eq!((m.as_str(), m.kind(), m.is_search()), ("a(b)", Text, false));
    assert_eq!(Mode::Regex(m).only_for(), Some(Text));
    let m = RegexMode::from_binary_regex(regex::bytes::Regex::new("z").unwrap(), true);
    assert_eq!((m.kind(), m.is_search()), (Binary, true));
    let mut r = reader(Mode::Regex(m));
    r.push(Binary, b"yzy", true).unwrap();
    let item = r.next_item().unwrap().unwrap();
    assert_eq!(item.kind(), Binary);
    assert_eq!(item.as_bytes(), Some(&b"y"[..]));
}
