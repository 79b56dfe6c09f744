//! Integration tests of `ferrosocket-utf8`: the streaming validator and the
//! whole-buffer `validate` must agree with `core::str::from_utf8` on the
//! concatenation of the chunks, for any chunking, and must fail fast.

use ferrosocket_utf8::{Utf8Error, Utf8Validator, validate};
use proptest::prelude::*;

/// Verdict in comparable form: `Err((valid_up_to, error_len))`.
type Verdict = Result<(), (u64, Option<u8>)>;

fn std_verdict(bytes: &[u8]) -> Verdict {
    core::str::from_utf8(bytes)
        .map(|_| ())
        .map_err(|e| (e.valid_up_to() as u64, e.error_len().map(|n| n as u8)))
}

fn verdict(r: Result<(), Utf8Error>) -> Verdict {
    r.map_err(|e| (e.valid_up_to(), e.error_len()))
}

/// Where the streaming validator reported its first error.
#[derive(Debug, PartialEq, Eq)]
enum FailedAt {
    /// `feed` of the chunk with this index.
    Feed(usize),
    /// `finish`.
    Finish,
}

/// Feeds `chunks` then finishes; returns the first error and where it came
/// from. Checks on the way that the validator's counters are consistent.
fn run(chunks: &[&[u8]]) -> (Verdict, Option<FailedAt>) {
    let mut v = Utf8Validator::new();
    let mut fed = 0u64;
    for (i, chunk) in chunks.iter().enumerate() {
        if let Err(e) = v.feed(chunk) {
            assert!(e.error_len().is_some(), "feed returned an incomplete error");
            assert_eq!(v.error(), Some(e));
            // Sticky until reset.
            assert_eq!(v.feed(b"a"), Err(e));
            assert_eq!(v.finish(), Err(e));
            return (verdict(Err(e)), Some(FailedAt::Feed(i)));
        }
        fed += chunk.len() as u64;
        assert_eq!(
            v.validated_len() + v.pending_len() as u64,
            fed,
            "counters after chunk {i}"
        );
        assert!(v.pending_len() <= 3);
    }
    match v.finish() {
        Ok(()) => {
            assert_eq!(v.validated_len(), 0, "finish resets");
            assert!(!v.is_pending());
            (Ok(()), None)
        }
        Err(e) => {
            assert_eq!(e.error_len(), None, "finish found a non-incomplete error");
            (verdict(Err(e)), Some(FailedAt::Finish))
        }
    }
}

/// Index of the byte whose arrival makes the prefix impossible, for an error
/// `(valid_up_to, Some(n))` of std: the lead byte itself if it can lead no
/// sequence, else the byte after the `n` bytes of the maximal invalid prefix.
fn revealing_byte(bytes: &[u8], valid_up_to: usize, n: usize) -> usize {
    match bytes[valid_up_to] {
        0xC2..=0xF4 => valid_up_to + n,
        _ => valid_up_to,
    }
}

fn chunk_index_of(chunks: &[&[u8]], byte: usize) -> usize {
    let mut end = 0;
    for (i, c) in chunks.iter().enumerate() {
        end += c.len();
        if byte < end {
            return i;
        }
    }
    panic!("byte {byte} is past the end");
}

/// Full check of one chunking against std, including fail-fast.
fn check_chunks(chunks: &[&[u8]]) {
    let whole: Vec<u8> = chunks.concat();
    let want = std_verdict(&whole);
    assert_eq!(verdict(validate(&whole)), want, "validate {whole:x?}");
    let (got, at) = run(chunks);
    assert_eq!(got, want, "streaming {chunks:x?}");
    match want {
        Ok(()) => assert_eq!(at, None),
        Err((_, None)) => assert_eq!(at, Some(FailedAt::Finish), "{chunks:x?}"),
        Err((valid_up_to, Some(n))) => {
            let r = revealing_byte(&whole, valid_up_to as usize, usize::from(n));
            assert_eq!(
                at,
                Some(FailedAt::Feed(chunk_index_of(chunks, r))),
                "not failed fast: {chunks:x?} (revealing byte {r})"
            );
        }
    }
}

/// Splits `bytes` at the given cut points (sorted, may repeat: empty chunks).
fn split_at_cuts<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for c in cuts {
        out.push(&bytes[start..c]);
        start = c;
    }
    out.push(&bytes[start..]);
    out
}

/// Every split in two, byte by byte, and (for short inputs) every split in
/// three.
fn check_all_splits(bytes: &[u8]) {
    check_chunks(&[bytes]);
    for i in 0..=bytes.len() {
        check_chunks(&[&bytes[..i], &bytes[i..]]);
        if bytes.len() <= 24 {
            for j in i..=bytes.len() {
                check_chunks(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
            }
        }
    }
    let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
    check_chunks(&bytewise);
}

// ---------------------------------------------------------------------------
// Strategies

/// A char of the given UTF-8 width (1 to 4 bytes).
fn char_of_width() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::char::range('\0', '\x7f'),
        1 => proptest::char::range('\u{80}', '\u{7ff}'),
        1 => prop_oneof![
            proptest::char::range('\u{800}', '\u{d7ff}'),
            proptest::char::range('\u{e000}', '\u{ffff}'),
        ],
        1 => proptest::char::range('\u{10000}', '\u{10ffff}'),
    ]
}

fn valid_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(char_of_width(), 0..200).prop_map(|cs| cs.into_iter().collect())
}

/// A byte, biased towards the interesting ones (continuation, leads, invalid).
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        2 => 0x80..=0xBFu8,
        1 => 0xC0..=0xC1u8,
        1 => 0xC2..=0xDFu8,
        1 => 0xE0..=0xEFu8,
        1 => 0xF0..=0xF4u8,
        1 => 0xF5..=0xFFu8,
        1 => any::<u8>(),
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        match *m {
            Mutation::Replace(i, b) if !bytes.is_empty() => {
                let i = i % bytes.len();
                bytes[i] = b;
            }
            Mutation::Insert(i, b) => {
                let i = i % (bytes.len() + 1);
                bytes.insert(i, b);
            }
            Mutation::Remove(i) if !bytes.is_empty() => {
                let i = i % bytes.len();
                bytes.remove(i);
            }
            Mutation::Truncate(i) => {
                let i = i % (bytes.len() + 1);
                bytes.truncate(i);
            }
            _ => {}
        }
    }
    bytes
}

/// Probably-invalid byte vectors: mutated valid strings, or arbitrary bytes.
fn mostly_invalid_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (valid_string(), proptest::collection::vec(mutation(), 1..4))
            .prop_map(|(s, muts)| apply(s.into_bytes(), &muts)),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => proptest::collection::vec(interesting_byte(), 0..16),
    ]
}

/// Cut points: many small (1-byte chunks, empty chunks when repeated), some
/// anywhere.
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(prop_oneof![0..8usize, 0..1000usize], 0..12)
}

/// Cut points that chop the input into many consecutive chunks of 0 to 4
/// bytes (lots of 1-byte and empty chunks, code points split everywhere).
fn small_steps() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..5usize, 0..300).prop_map(|steps| {
        steps
            .into_iter()
            .scan(0usize, |at, s| {
                *at += s;
                Some(*at)
            })
            .collect()
    })
}

/// Cut points that chop the input into chunks of 16 to 80 bytes: around the
/// sizes (24 to 64 bytes, carried bytes included) checked as one padded SIMD
/// block.
fn medium_steps() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(16..81usize, 0..40).prop_map(|steps| {
        steps
            .into_iter()
            .scan(0usize, |at, s| {
                *at += s;
                Some(*at)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_strings_medium_chunks(
        s in proptest::collection::vec(char_of_width(), 0..600)
            .prop_map(|cs| cs.into_iter().collect::<String>()),
        cuts in medium_steps(),
    ) {
        let chunks = split_at_cuts(s.as_bytes(), &cuts);
        check_chunks(&chunks);
        prop_assert_eq!(run(&chunks).0, Ok(()));
    }

    #[test]
    fn invalid_bytes_medium_chunks(
        s in proptest::collection::vec(char_of_width(), 0..600)
            .prop_map(|cs| cs.into_iter().collect::<String>()),
        muts in proptest::collection::vec(mutation(), 1..4),
        cuts in medium_steps(),
    ) {
        let bytes = apply(s.into_bytes(), &muts);
        check_chunks(&split_at_cuts(&bytes, &cuts));
    }

    #[test]
    fn valid_strings_any_chunking(s in valid_string(), cuts in cuts()) {
        let bytes = s.as_bytes();
        let chunks = split_at_cuts(bytes, &cuts);
        check_chunks(&chunks);
        prop_assert_eq!(run(&chunks).0, Ok(()));
    }

    #[test]
    fn valid_strings_small_chunks(s in valid_string(), cuts in small_steps()) {
        let chunks = split_at_cuts(s.as_bytes(), &cuts);
        check_chunks(&chunks);
    }

    #[test]
    fn invalid_bytes_any_chunking(bytes in mostly_invalid_bytes(), cuts in cuts()) {
        check_chunks(&split_at_cuts(&bytes, &cuts));
    }

    #[test]
    fn invalid_bytes_small_chunks(bytes in mostly_invalid_bytes(), cuts in small_steps()) {
        check_chunks(&split_at_cuts(&bytes, &cuts));
    }

    #[test]
    fn long_inputs_bulk_path(
        s in proptest::collection::vec(char_of_width(), 100..2000)
            .prop_map(|cs| cs.into_iter().collect::<String>()),
        muts in proptest::collection::vec(mutation(), 0..3),
        cuts in proptest::collection::vec(0..5000usize, 0..6),
    ) {
        // Long enough for simdutf8's SIMD path (>= 64 bytes per chunk).
        let bytes = apply(s.into_bytes(), &muts);
        check_chunks(&split_at_cuts(&bytes, &cuts));
    }

    #[test]
    fn reuse_after_finish(a in valid_string(), b in mostly_invalid_bytes(), cut in 0..300usize) {
        // A validator reused for a second message counts from 0 again.
        let mut v = Utf8Validator::new();
        v.feed(a.as_bytes()).unwrap();
        v.finish().unwrap();
        let cut = cut.min(b.len());
        let got = v.feed(&b[..cut]).and_then(|()| v.feed(&b[cut..])).and_then(|()| v.finish());
        prop_assert_eq!(verdict(got), std_verdict(&b));
    }
}

// ---------------------------------------------------------------------------
// Classic edge cases (Markus Kuhn's UTF-8 decoder stress test, in spirit)

/// `(name, bytes, valid)`; `valid` is checked against std, and every split
/// of each case in context must give std's verdict.
const EDGE_CASES: &[(&str, &[u8], bool)] = &[
    // Boundaries that are valid.
    ("U+0000", b"\x00", true),
    ("U+007F", b"\x7f", true),
    ("U+0080", b"\xc2\x80", true),
    ("U+07FF", b"\xdf\xbf", true),
    ("U+0800", b"\xe0\xa0\x80", true),
    ("U+D7FF", b"\xed\x9f\xbf", true),
    ("U+E000", b"\xee\x80\x80", true),
    ("U+FFFD", b"\xef\xbf\xbd", true),
    ("U+FFFF", b"\xef\xbf\xbf", true),
    ("U+10000", b"\xf0\x90\x80\x80", true),
    ("U+10FFFF", b"\xf4\x8f\xbf\xbf", true),
    ("kosme", KOSME, true),
    ("euro", "€".as_bytes(), true),
    ("emoji", "😀".as_bytes(), true),
    // Overlong forms.
    ("overlong NUL 2", b"\xc0\x80", false),
    ("overlong NUL 3", b"\xe0\x80\x80", false),
    ("overlong NUL 4", b"\xf0\x80\x80\x80", false),
    ("overlong U+007F 2", b"\xc1\xbf", false),
    ("overlong U+07FF 3", b"\xe0\x9f\xbf", false),
    ("overlong U+FFFF 4", b"\xf0\x8f\xbf\xbf", false),
    ("overlong slash 2", b"\xc0\xaf", false),
    ("overlong slash 3", b"\xe0\x80\xaf", false),
    ("overlong slash 4", b"\xf0\x80\x80\xaf", false),
    ("5-byte form", b"\xf8\x88\x80\x80\x80", false),
    ("6-byte form", b"\xfc\x84\x80\x80\x80\x80", false),
    // Surrogates.
    ("U+D800", b"\xed\xa0\x80", false),
    ("U+DB7F", b"\xed\xad\xbf", false),
    ("U+DC00", b"\xed\xb0\x80", false),
    ("U+DFFF", b"\xed\xbf\xbf", false),
    ("surrogate pair", b"\xed\xa0\x80\xed\xb0\x80", false),
    // Above U+10FFFF.
    ("U+110000", b"\xf4\x90\x80\x80", false),
    ("U+13FFFF", b"\xf4\xbf\xbf\xbf", false),
    ("F5 lead", b"\xf5\x80\x80\x80", false),
    ("F7 lead", b"\xf7\xbf\xbf\xbf", false),
    ("FE", b"\xfe", false),
    ("FF", b"\xff", false),
    ("FE FE FF FF", b"\xfe\xfe\xff\xff", false),
    // Lone and extra continuation bytes.
    ("lone 80", b"\x80", false),
    ("lone BF", b"\xbf", false),
    ("two continuations", b"\x80\xbf", false),
    ("extra continuation", b"\xc3\xa9\xa9", false),
    ("continuations 80..BF", &CONTINUATIONS, false),
    // Leads followed by a space.
    ("C2 space", b"\xc2 ", false),
    ("E1 space", b"\xe1 ", false),
    ("E1 80 space", b"\xe1\x80 ", false),
    ("F1 space", b"\xf1 ", false),
    ("F1 80 80 space", b"\xf1\x80\x80 ", false),
    // Truncated sequences at the end.
    ("truncated 2 of 2", b"\xc3", false),
    ("truncated 1 of 3", b"\xe2", false),
    ("truncated 2 of 3", b"\xe2\x82", false),
    ("truncated 1 of 4", b"\xf0", false),
    ("truncated 2 of 4", b"\xf0\x9f", false),
    ("truncated 3 of 4", b"\xf0\x9f\x98", false),
    ("truncated U+10FFFF", b"\xf4\x8f\xbf", false),
    (
        "truncated concatenation",
        b"\xc3\xe2\x82\xf0\x9f\x98",
        false,
    ),
];

const CONTINUATIONS: [u8; 64] = {
    let mut out = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        out[i] = 0x80 + i as u8;
        i += 1;
    }
    out
};

#[test]
fn edge_cases_every_split_in_context() {
    let contexts: &[(&[u8], &[u8])] = &[
        (b"", b""),
        (b"abc", b""),
        (b"", b"xyz"),
        (b"ab", b"cd"),
        ("κό".as_bytes(), "σμε".as_bytes()),
    ];
    for &(name, case, valid) in EDGE_CASES {
        assert_eq!(std_verdict(case).is_ok(), valid, "table entry {name}");
        for &(before, after) in contexts {
            let msg = [before, case, after].concat();
            check_all_splits(&msg);
            // Long context too, so that simdutf8's SIMD path sees the case.
            let long = [&[b'L'; 70][..], &msg, &[b'T'; 70][..]].concat();
            check_chunks(&[&long]);
            for i in 60..=long.len() - 60 {
                check_chunks(&[&long[..i], &long[i..]]);
            }
        }
    }
}

#[test]
fn edge_cases_verdicts() {
    // A few exact verdicts, to not only compare with std.
    let cases: &[(&[u8], Verdict)] = &[
        (b"ab\xc0\x80", Err((2, Some(1)))),
        (b"ab\xe0\x80\x80", Err((2, Some(1)))),
        (b"ab\xed\xa0\x80", Err((2, Some(1)))),
        (b"ab\xf4\x90\x80\x80", Err((2, Some(1)))),
        (b"ab\xf0\x9f\x98 ", Err((2, Some(3)))),
        (b"ab\xe2\x82 ", Err((2, Some(2)))),
        (b"ab\xe2\x82", Err((2, None))),
        (b"ab\xf0\x9f\x98", Err((2, None))),
        (b"\xf4\x8f\xbf\xbf", Ok(())),
    ];
    for &(bytes, want) in cases {
        assert_eq!(std_verdict(bytes), want, "{bytes:x?}");
        check_all_splits(bytes);
    }
}

// ---------------------------------------------------------------------------
// Autobahn-style (cases 6.3 and 6.4): fail in the fragment that brings F4 90.

const KOSME: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
const EDITED: &[u8] = b"\x65\x64\x69\x74\x65\x64";

fn fails_at(chunks: &[&[u8]], index: usize, valid_up_to: u64) {
    let mut v = Utf8Validator::new();
    for (i, c) in chunks.iter().enumerate() {
        let r = v.feed(c);
        if i < index {
            assert_eq!(r, Ok(()), "chunk {i} of {chunks:x?}");
        } else {
            let e = r.expect_err("must fail in this chunk");
            assert_eq!((e.valid_up_to(), e.error_len()), (valid_up_to, Some(1)));
            return;
        }
    }
    panic!("no error");
}

#[test]
fn autobahn_kosme() {
    // Autobahn's "κόσμε" spells the ό as U+1F79 (GREEK SMALL LETTER OMICRON
    // WITH OXIA, 3 bytes).
    assert_eq!(KOSME, "\u{3ba}\u{1f79}\u{3c3}\u{3bc}\u{3b5}".as_bytes());
    check_all_splits(KOSME);
    let mut v = Utf8Validator::new();
    for frag in [&KOSME[..1], &KOSME[1..4], &KOSME[4..], b""] {
        v.feed(frag).unwrap();
    }
    v.finish().unwrap();
}

#[test]
fn autobahn_6_4_fail_fast() {
    let whole = [KOSME, b"\xf4\x90\x80\x80", EDITED].concat();
    check_all_splits(&whole);
    // 6.4.1: three fragments; the second (F4 90 80 80) fails.
    fails_at(&[KOSME, b"\xf4\x90\x80\x80", EDITED], 1, 11);
    // 6.4.2: κόσμε F4 | 90 | 80 80 edited: fails at the fragment bringing 90.
    fails_at(
        &[
            &[KOSME, b"\xf4"].concat(),
            b"\x90",
            &[b"\x80\x80", EDITED].concat(),
        ],
        1,
        11,
    );
    // 6.4.3: κόσμε | F4 | 90 80 80 edited (F4 alone could still be valid).
    fails_at(
        &[KOSME, b"\xf4", &[b"\x90\x80\x80", EDITED].concat()],
        2,
        11,
    );
    // 6.4.4: byte by byte: fails exactly at the 90 byte (index 12).
    let bytes: Vec<&[u8]> = whole.chunks(1).collect();
    fails_at(&bytes, 12, 11);
    // The 6.3 variant: the whole invalid payload in one fragment.
    fails_at(&[&whole], 0, 11);
}
