//! The buffer cap: `Overflow` (1009) exactly when more than the cap is buffered
//! without an item, the automatic raise for known item sizes, and memory bounded by
//! the cap plus one chunk whatever the caller does.

use ferrosocket_delimit::{DataKind, DelimitError, Mode, Prefix, ReadDelimiter};
use proptest::prelude::*;

use DataKind::Binary;

/// Pushes `n` bytes that form no item in any of the modes used here, one at a time,
/// and returns the first error (with the bytes buffered then).
fn fill(reader: &mut ReadDelimiter, kind: DataKind, n: usize) -> Option<(usize, DelimitError)> {
    for _ in 0..n {
        reader.push(kind, b"-", false).unwrap();
        if let Some(item) = reader.next_item() {
            return Some((reader.buffered_len(), item.unwrap_err()));
        }
    }
    None
}

/// (`Bytes`, `Records` and `Variable` cannot overflow: any N bytes are an item, and
/// the cap is raised to the size they need; see the tests below.)
#[test]
fn every_mode_overflows_just_past_the_cap() {
    let cap = 100;
    #[cfg_attr(not(feature = "regex"), allow(unused_mut))]
    let mut modes: Vec<(&str, Mode, DataKind)> = vec![
        ("entire", Mode::EntireMessage, Binary),
        ("delimiter", Mode::delimiter("\n"), Binary),
        ("text delimiter", Mode::text_delimiter("\n"), DataKind::Text),
    ];
    #[cfg(feature = "regex")]
    modes.push((
        "regex",
        Mode::Regex(ferrosocket_delimit::RegexMode::binary_search("\n").unwrap()),
        Binary,
    ));
    for (name, mode, kind) in modes {
        let mut reader = ReadDelimiter::with_mode(mode).unwrap().buffer_size(cap);
        let limit = reader.effective_buffer_size();
        assert_eq!(limit, cap);
        let (buffered, err) = fill(&mut reader, kind, 1000).expect(name);
        assert_eq!(buffered, limit + 1, "{name}");
        assert_eq!(
            err,
            DelimitError::Overflow {
                buffered: limit + 1,
                cap: limit
            },
            "{name}"
        );
        assert_eq!(err.close_code(), 1009);
    }
}

#[test]
fn chunks_never_overflow() {
    let mut reader = ReadDelimiter::with_mode(Mode::Chunks)
        .unwrap()
        .buffer_size(0);
    for _ in 0..100 {
        reader.push(Binary, &[7; 50], false).unwrap();
        assert_eq!(
            reader.next_item().unwrap().unwrap().as_bytes(),
            Some(&[7; 50][..])
        );
        assert!(reader.next_item().is_none());
    }
}

#[test]
fn the_cap_is_raised_to_a_byte_count_or_record_size() {
    // Bytes(N) with N over the cap: N is the limit, not the cap.
    let mut reader = ReadDelimiter::with_mode(Mode::Bytes(300))
        .unwrap()
        .buffer_size(100);
    assert_eq!(reader.effective_buffer_size(), 300);
    reader.push(Binary, &[1; 299], false).unwrap();
    assert!(reader.next_item().is_none());
    reader.push(Binary, &[2; 2], false).unwrap();
    assert_eq!(
        reader
            .next_item()
            .unwrap()
            .unwrap()
            .as_bytes()
            .unwrap()
            .len(),
        300
    );
    // Under the cap, the cap stays.
    reader.set_mode(Mode::Bytes(10)).unwrap();
    assert_eq!(reader.effective_buffer_size(), 100);
    reader.set_mode(Mode::records::<[u8; 150]>()).unwrap();
    assert_eq!(reader.effective_buffer_size(), 150);
}

#[test]
fn the_cap_is_raised_to_an_announced_record_length_within_the_framer_limit() {
    let mut reader = ReadDelimiter::with_mode(Mode::length_prefixed(Prefix::U16))
        .unwrap()
        .buffer_size(16);
    reader.push(Binary, b"\x01\x00", false).unwrap(); // 256 bytes announced
    assert!(reader.next_item().is_none());
    assert_eq!(reader.effective_buffer_size(), 258);
    for _ in 0..255 {
        reader.push(Binary, b"x", false).unwrap();
        assert!(reader.next_item().is_none());
    }
    reader.push(Binary, b"x", true).unwrap();
    assert_eq!(
        reader
            .next_item()
            .unwrap()
            .unwrap()
            .as_bytes()
            .unwrap()
            .len(),
        256
    );
    assert_eq!(reader.effective_buffer_size(), 16);

    // The framer's own limit refuses a length before anything is buffered for it.
    let framer = ferrosocket_delimit::LengthPrefixed::new(Prefix::U32).max_len(1000);
    let mut reader = ReadDelimiter::with_mode(Mode::Variable(Box::new(framer)))
        .unwrap()
        .buffer_size(16);
    reader.push(Binary, b"\xff\xff\xff\xff", false).unwrap();
    let err = reader.next_item().unwrap().unwrap_err();
    assert_eq!(err.close_code(), 1009);
    assert_eq!(reader.effective_buffer_size(), 16);
}

#[test]
fn after_an_overflow_the_application_may_drain_and_go_on() {
    let mut reader = ReadDelimiter::with_mode(Mode::delimiter("\n"))
        .unwrap()
        .buffer_size(8);
    reader.push(Binary, b"0123456789", false).unwrap();
    assert!(matches!(
        reader.next_item(),
        Some(Err(DelimitError::Overflow {
            buffered: 10,
            cap: 8
        }))
    ));
    // An on_overflow_error that keeps the connection: take the data as it is.
    reader.set_mode(Mode::Chunks).unwrap();
    assert_eq!(
        reader.next_item().unwrap().unwrap().as_bytes(),
        Some(&b"0123456789"[..])
    );
    reader.set_mode(Mode::delimiter("\n")).unwrap();
    reader.push(Binary, b"ab\ncd", true).unwrap();
    assert_eq!(
        reader.next_item().unwrap().unwrap().as_bytes(),
        Some(&b"ab"[..])
    );
}

#[test]
fn a_refused_push_stays_refused_until_clear() {
    let mut reader = ReadDelimiter::with_mode(Mode::delimiter("\n"))
        .unwrap()
        .buffer_size(4);
    reader.push(Binary, b"12345", false).unwrap();
    let overflow = DelimitError::Overflow {
        buffered: 5,
        cap: 4,
    };
    // The caller did not pull and pushes on: refused, data dropped.
    assert_eq!(reader.push(Binary, b"6\n", false), Err(overflow.clone()));
    reader.set_mode(Mode::Chunks).unwrap();
    // Even a mode that could drain cannot hide the hole in the stream.
    assert_eq!(reader.next_item().unwrap().unwrap_err(), overflow);
    assert_eq!(reader.push(Binary, b"7", false), Err(overflow));
    reader.clear();
    // The message in progress was cut: its rest is dropped.
    reader.push(Binary, b"8", true).unwrap();
    assert!(reader.next_item().is_none());
    reader.push(Binary, b"9", true).unwrap();
    assert_eq!(
        reader.next_item().unwrap().unwrap().as_bytes(),
        Some(&b"9"[..])
    );
}

proptest! {
    /// Whatever the caller does (pushing without pulling, ignoring errors, switching
    /// modes), the buffer never holds more than the cap in force plus one chunk.
    #[test]
    fn memory_never_exceeds_the_cap_plus_one_chunk(
        cap in 0usize..200,
        ops in prop::collection::vec((0u8..8, 0usize..120, any::<bool>()), 1..60),
    ) {
        let mut reader = ReadDelimiter::with_mode(Mode::delimiter("\n"))
            .unwrap()
            .buffer_size(cap);
        let mut highest = 0;
        for (op, n, fin) in ops {
            let limit = reader.effective_buffer_size();
            highest = highest.max(limit);
            match op {
                0..=3 => {
                    let before = reader.buffered_len();
                    match reader.push(Binary, &vec![b'x'; n], fin) {
                        // Accepted only while within the cap: at most one chunk over.
                        Ok(()) => {
                            prop_assert!(before <= limit);
                            prop_assert!(reader.buffered_len() <= limit + n);
                        }
                        Err(e) => {
                            prop_assert_eq!(e.close_code(), 1009);
                            prop_assert_eq!(reader.buffered_len(), before);
                        }
                    }
                }
                4 => {
                    let _ = reader.next_item();
                }
                5 => reader.set_mode(Mode::Bytes(n.max(1))).unwrap(),
                6 => reader.set_mode(Mode::length_prefixed(Prefix::U8)).unwrap(),
                _ => reader.set_mode(Mode::delimiter("\n")).unwrap(),
            }
            // A switch to a mode with a lower cap cannot shrink what was accepted.
            prop_assert!(reader.buffered_len() <= highest + 119);
        }
    }
}
