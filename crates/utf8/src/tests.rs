//! Unit tests of the private helpers and of the validator's state.

extern crate std;

use std::format;
use std::string::ToString;
use std::vec::Vec;

use super::*;

/// What `core::str::from_utf8` says, in this crate's terms.
fn expected(bytes: &[u8]) -> Result<(), (u64, Option<u8>)> {
    core::str::from_utf8(bytes)
        .map(|_| ())
        .map_err(|e| (e.valid_up_to() as u64, e.error_len().map(|n| n as u8)))
}

fn parts(r: Result<(), Utf8Error>) -> Result<(), (u64, Option<u8>)> {
    r.map_err(|e| (e.valid_up_to(), e.error_len()))
}

#[test]
fn ascii_short_every_length_and_position() {
    for len in 0..=200usize {
        let mut buf = std::vec![b'a'; len];
        assert!(is_ascii_short(&buf), "len {len}");
        for pos in 0..len {
            for bad in [0x80u8, 0xC3, 0xFF] {
                buf[pos] = bad;
                assert!(!is_ascii_short(&buf), "len {len} pos {pos} byte {bad:#x}");
                buf[pos] = b'a';
            }
            // 0x7F is still ASCII.
            buf[pos] = 0x7F;
            assert!(is_ascii_short(&buf), "len {len} pos {pos} 0x7f");
            buf[pos] = b'a';
        }
    }
}

#[test]
fn is_valid_agrees_with_core_around_the_short_threshold() {
    for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 300] {
        let ascii = std::vec![b'x'; len];
        assert!(is_valid(&ascii));
        assert_eq!(parts(validate(&ascii)), Ok(()));
        if len >= 2 {
            let mut two = ascii.clone();
            two[len - 2..].copy_from_slice("é".as_bytes());
            assert!(is_valid(&two), "len {len}");
            let mut bad = ascii.clone();
            bad[len / 2] = 0xC0;
            assert!(!is_valid(&bad), "len {len}");
            assert_eq!(parts(validate(&bad)), expected(&bad), "len {len}");
            let mut cut = ascii.clone();
            cut[len - 1] = 0xE2;
            assert_eq!(parts(validate(&cut)), expected(&cut), "len {len}");
            assert_eq!(parts(validate(&cut)), Err(((len - 1) as u64, None)));
        }
    }
}

#[test]
fn sequence_len_of_leads() {
    assert_eq!(sequence_len(b'a'), 1);
    assert_eq!(sequence_len(0x80), 1);
    assert_eq!(sequence_len(0xC2), 2);
    assert_eq!(sequence_len(0xDF), 2);
    assert_eq!(sequence_len(0xE0), 3);
    assert_eq!(sequence_len(0xEF), 3);
    assert_eq!(sequence_len(0xF0), 4);
    assert_eq!(sequence_len(0xF4), 4);
    assert_eq!(sequence_len(0xFF), 4);
}

#[test]
fn incomplete_tail_start_cases() {
    let cases: &[(&[u8], usize)] = &[
        (b"", 0),
        (b"abc", 3),
        (b"ab\xc3", 2),
        (b"ab\xc3\xa9", 4),
        (b"ab\xe2", 2),
        (b"ab\xe2\x82", 2),
        (b"ab\xe2\x82\xac", 5),
        (b"\xf0", 0),
        (b"\xf0\x9f", 0),
        (b"\xf0\x9f\x98", 0),
        (b"\xf0\x9f\x98\x80", 4),
        (b"a\xf0\x9f\x98", 1),
        // Stray continuation bytes: left to the bulk check.
        (b"a\x80", 2),
        (b"a\x80\x80\x80", 4),
        // Invalid leads that announce more bytes: split (the tail check
        // rejects them at once).
        (b"a\xf8", 1),
        (b"a\xc0", 1),
        // Complete-length but invalid: left to the bulk check.
        (b"a\xc0\x80", 3),
    ];
    for &(bytes, want) in cases {
        assert_eq!(incomplete_tail_start(bytes), want, "{bytes:x?}");
    }
}

#[test]
fn carry_state_and_positions() {
    let mut v = Utf8Validator::new();
    assert_eq!(v.validated_len(), 0);
    assert!(!v.is_pending());
    v.feed(b"ab\xf0").unwrap();
    assert_eq!((v.validated_len(), v.pending_len()), (2, 1));
    v.feed(b"").unwrap();
    assert_eq!((v.validated_len(), v.pending_len()), (2, 1));
    v.feed(b"\x9f").unwrap();
    assert_eq!((v.validated_len(), v.pending_len()), (2, 2));
    v.feed(b"\x98").unwrap();
    assert_eq!((v.validated_len(), v.pending_len()), (2, 3));
    v.feed(b"\x80c\xe2").unwrap();
    assert_eq!((v.validated_len(), v.pending_len()), (7, 1));
    assert!(v.is_pending());
    v.feed(b"\x82\xac").unwrap();
    assert_eq!((v.validated_len(), v.pending_len()), (10, 0));
    assert_eq!(v.error(), None);
    v.finish().unwrap();
    // finish() resets: positions of the next message start at 0.
    assert_eq!(v.validated_len(), 0);
    let e = v.feed(b"x\xff").unwrap_err();
    assert_eq!((e.valid_up_to(), e.error_len()), (1, Some(1)));
}

#[test]
fn fail_fast_on_impossible_prefixes() {
    // Each of these is already impossible, whatever follows.
    let bad: &[&[u8]] = &[
        b"\xf4\x90",
        b"\xe0\x80",
        b"\xed\xa0",
        b"\xc0",
        b"\xc1",
        b"\xf5",
        b"\xff",
        b"\x80",
        b"\xf0\x80",
        b"\xe2\x82\x41",
    ];
    for &b in bad {
        let mut v = Utf8Validator::new();
        let mut with_ctx = b"ok".to_vec();
        with_ctx.extend_from_slice(b);
        let e = v.feed(&with_ctx).unwrap_err();
        let want = core::str::from_utf8(&with_ctx).unwrap_err();
        assert_eq!(e.valid_up_to(), want.valid_up_to() as u64, "{b:x?}");
        assert_eq!(e.error_len(), want.error_len().map(|n| n as u8), "{b:x?}");
        // Same when the last byte arrives alone, after a carried lead.
        if b.len() == 2 {
            let mut v = Utf8Validator::new();
            v.feed(&with_ctx[..3]).unwrap();
            assert!(v.is_pending());
            let e2 = v.feed(&with_ctx[3..]).unwrap_err();
            assert_eq!(e2, e, "{b:x?}");
        }
    }
    // Valid but unfinished beginnings are not errors.
    let ok: &[&[u8]] = &[
        b"\xe2\x82",
        b"\xf4\x8f",
        b"\xf0\x90\x80",
        b"\xc2",
        b"\xed\x9f",
    ];
    for &b in ok {
        let mut v = Utf8Validator::new();
        v.feed(b).unwrap();
        assert_eq!(v.pending_len(), b.len(), "{b:x?}");
        let e = v.finish().unwrap_err();
        assert_eq!((e.valid_up_to(), e.error_len()), (0, None));
    }
}

#[test]
fn failure_is_sticky_until_reset() {
    let mut v = Utf8Validator::new();
    v.feed(b"abc").unwrap();
    let e = v.feed(b"d\xc3\x28").unwrap_err();
    assert_eq!((e.valid_up_to(), e.error_len()), (4, Some(1)));
    assert_eq!(v.error(), Some(e));
    assert_eq!(v.validated_len(), 4);
    assert_eq!(v.pending_len(), 0);
    assert_eq!(v.feed(b"fine"), Err(e));
    assert_eq!(v.feed(b""), Err(e));
    assert_eq!(v.finish(), Err(e));
    assert_eq!(v.finish(), Err(e));
    v.reset();
    assert_eq!(v.error(), None);
    v.feed(b"fine").unwrap();
    v.finish().unwrap();

    // An incomplete end is sticky too.
    v.feed(b"\xe2").unwrap();
    let e = v.finish().unwrap_err();
    assert_eq!((e.valid_up_to(), e.error_len()), (0, None));
    assert!(e.is_incomplete());
    assert_eq!(v.feed(b"\x82\xac"), Err(e));
    assert_eq!(v.finish(), Err(e));
    v.reset();
    v.feed(b"\x82").unwrap_err();
}

#[test]
fn clone_and_default() {
    let mut a = Utf8Validator::default();
    a.feed(b"x\xe2\x82").unwrap();
    let mut b = a.clone();
    a.feed(b"\xac").unwrap();
    a.finish().unwrap();
    // The clone kept its own carry.
    let e = b.feed(b"\x41").unwrap_err();
    assert_eq!((e.valid_up_to(), e.error_len()), (1, Some(2)));
    assert!(!format!("{a:?}").is_empty());
}

#[test]
fn display_matches_core() {
    for bytes in [&b"ab\xc3\x28"[..], b"ab\xe2\x82", b"\xff", b"a\xe2\x82\x41"] {
        let ours = validate(bytes).unwrap_err();
        let core = core::str::from_utf8(bytes).unwrap_err();
        assert_eq!(ours.to_string(), core.to_string());
    }
}

#[test]
fn every_split_of_every_short_byte_string() {
    // All 1- and 2-byte strings, and 3-byte ones over an interesting alphabet,
    // after an ASCII prefix; every split into two chunks, and byte by byte.
    let alphabet: Vec<u8> = (0x00..=0xFFu8)
        .filter(|b| {
            matches!(
                b,
                0x41 | 0x7F
                    | 0x80
                    | 0x8F
                    | 0x90
                    | 0x9F
                    | 0xA0
                    | 0xBF
                    | 0xC0
                    | 0xC1
                    | 0xC2
                    | 0xDF
                    | 0xE0
                    | 0xE1
                    | 0xED
                    | 0xEF
                    | 0xF0
                    | 0xF1
                    | 0xF4
                    | 0xF5
                    | 0xFF
            )
        })
        .collect();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for a in 0..=0xFFu8 {
        inputs.push(std::vec![a]);
        for b in 0..=0xFFu8 {
            inputs.push(std::vec![a, b]);
        }
    }
    for &a in &alphabet {
        for &b in &alphabet {
            for &c in &alphabet {
                for &d in &alphabet {
                    inputs.push(std::vec![a, b, c, d]);
                }
            }
        }
    }
    for tail in inputs {
        let mut msg = b"xy".to_vec();
        msg.extend_from_slice(&tail);
        let want = expected(&msg);
        assert_eq!(parts(validate(&msg)), want, "{msg:x?}");
        for cut in 0..=msg.len() {
            let mut v = Utf8Validator::new();
            let got = v
                .feed(&msg[..cut])
                .and_then(|()| v.feed(&msg[cut..]))
                .and_then(|()| v.finish());
            assert_eq!(parts(got), want, "{msg:x?} cut {cut}");
        }
        let mut v = Utf8Validator::new();
        let got = msg
            .iter()
            .try_for_each(|b| v.feed(core::slice::from_ref(b)))
            .and_then(|()| v.finish());
        assert_eq!(parts(got), want, "{msg:x?} bytewise");
    }
}
