//! Shared helpers: comparable items, feeding strategies, the modes under test.

use ferrosocket_delimit::{DataKind, DelimitError, Item, Mode, Prefix, ReadDelimiter};
use proptest::prelude::*;

/// An item (or the error that ended the run) in comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Got {
    Text(String),
    Binary(Vec<u8>),
    Match(DataKind, Vec<Option<Vec<u8>>>),
    Record(Vec<u8>),
    Err(DelimitError),
}

pub(crate) fn got(item: Result<Item, DelimitError>) -> Got {
    match item {
        Ok(Item::Text(s)) => Got::Text(s),
        Ok(Item::Binary(b)) => Got::Binary(b.to_vec()),
        Ok(Item::TextMatch(groups)) => Got::Match(
            DataKind::Text,
            groups
                .into_iter()
                .map(|g| g.map(String::into_bytes))
                .collect(),
        ),
        Ok(Item::BinaryMatch(groups)) => Got::Match(
            DataKind::Binary,
            groups.into_iter().map(|g| g.map(|b| b.to_vec())).collect(),
        ),
        Ok(Item::Record(r)) => match r.downcast::<[u8; 2]>() {
            Ok(bytes) => Got::Record(bytes.to_vec()),
            Err(r) => panic!("unexpected record type {}", r.type_name()),
        },
        Ok(other) => panic!("unexpected item {other:?}"),
        Err(e) => Got::Err(e),
    }
}

/// One run: the items pulled, up to the first error (included).
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) items: Vec<Got>,
    pub(crate) failed: bool,
}

impl Log {
    /// Pulls until `None` or an error; once failed, pulls nothing more.
    pub(crate) fn drain(&mut self, reader: &mut ReadDelimiter) {
        while !self.failed {
            let Some(item) = reader.next_item() else {
                return;
            };
            let g = got(item);
            self.failed = matches!(g, Got::Err(_));
            self.items.push(g);
        }
    }
}

/// A message of the logical stream.
pub(crate) type Message = (DataKind, Vec<u8>);

/// Text made of a few characters that matter to the modes: delimiters, spaces,
/// letters, digits and multi-byte characters.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let chars = prop::sample::select(vec![
        "a", "b", "x", "1", ",", ";", " ", "\r", "\n", "\r\n", "é", "€", "𝄞",
    ]);
    prop::collection::vec(chars, 0..24).prop_map(|parts| parts.concat().into_bytes())
}

/// Binary data from a few byte values that matter.
fn binary() -> impl Strategy<Value = Vec<u8>> {
    let bytes = prop::sample::select(vec![0u8, 1, 2, 3, b'a', b',', b'\r', b'\n', 0xe2, 0xff]);
    prop::collection::vec(bytes, 0..24)
}

fn message(kind: DataKind) -> BoxedStrategy<Message> {
    match kind {
        DataKind::Text => text().prop_map(|t| (DataKind::Text, t)).boxed(),
        DataKind::Binary => binary().prop_map(|b| (DataKind::Binary, b)).boxed(),
    }
}

/// Streams of one type (most of the time) or of both.
pub(crate) fn stream() -> impl Strategy<Value = Vec<Message>> {
    prop_oneof![
        3 => prop::collection::vec(message(DataKind::Text), 0..8),
        3 => prop::collection::vec(message(DataKind::Binary), 0..8),
        2 => prop::collection::vec(
            prop_oneof![message(DataKind::Text), message(DataKind::Binary)],
            0..8
        ),
    ]
}

/// Chunk sizes, used in turn (0 is an empty, unfinished chunk; at least one is not
/// 0).
pub(crate) fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..7, 1..16).prop_map(|mut cuts| {
        if cuts.iter().all(|&c| c == 0) {
            cuts.push(1);
        }
        cuts
    })
}

/// A large cap, so that overflow never depends on the chunking.
pub(crate) const BIG: usize = 1 << 20;

/// The modes under test (all but `Chunks`, whose items depend on the chunking by
/// definition). Built anew for each run.
pub(crate) type NamedMode = (&'static str, fn() -> Mode);

pub(crate) fn modes() -> Vec<NamedMode> {
    #[cfg_attr(not(feature = "regex"), allow(unused_mut))]
    let mut modes: Vec<NamedMode> = vec![
        ("entire", || Mode::EntireMessage),
        ("delim ,", || Mode::delimiter(",")),
        ("delim crlf", || Mode::delimiter("\r\n")),
        ("delim 0xff", || Mode::delimiter(b"\xff")),
        ("text delim ;", || Mode::text_delimiter(";")),
        ("text delim euro", || Mode::text_delimiter("€")),
        ("bytes 1", || Mode::Bytes(1)),
        ("bytes 3", || Mode::Bytes(3)),
        ("records", Mode::records::<[u8; 2]>),
        ("u8 prefix", || Mode::length_prefixed(Prefix::U8)),
    ];
    #[cfg(feature = "regex")]
    {
        use ferrosocket_delimit::RegexMode;
        modes.extend::<[NamedMode; 5]>([
            ("re text sep", || {
                Mode::Regex(RegexMode::text_search(r"\s*[,;]\s*").unwrap())
            }),
            ("re text line", || {
                Mode::Regex(RegexMode::text_search(r"\r?\n").unwrap())
            }),
            ("re binary a+", || {
                Mode::Regex(RegexMode::binary_search("a+").unwrap())
            }),
            ("re text match", || {
                Mode::Regex(RegexMode::text_match(r"([a-zé€𝄞]+)([,;])?\s").unwrap())
            }),
            ("re binary match", || {
                Mode::Regex(RegexMode::binary_match(r"(?-u:(\x00+)|(\x01))").unwrap())
            }),
        ]);
    }
    modes
}

/// Feeds each message whole, pulling after each.
pub(crate) fn feed_whole(mode: Mode, messages: &[Message]) -> (Log, Vec<u8>) {
    let mut reader = ReadDelimiter::with_mode(mode).unwrap().buffer_size(BIG);
    let mut log = Log::default();
    for (kind, data) in messages {
        reader.push(*kind, data, true).unwrap();
        log.drain(&mut reader);
    }
    (log, reader.buffered().to_vec())
}

/// Cuts each message into chunks of the sizes in `cuts` (in turn); pulls after
/// each push if `eager`, else only once at the end. Now and then the end of a
/// message comes as an empty push of its own, as it can from the protocol layer.
pub(crate) fn feed_chunked(
    mode: Mode,
    messages: &[Message],
    cuts: &[usize],
    eager: bool,
) -> (Log, Vec<u8>) {
    let mut reader = ReadDelimiter::with_mode(mode).unwrap().buffer_size(BIG);
    let mut log = Log::default();
    let mut sizes = cuts.iter().copied().cycle();
    let pull = |reader: &mut ReadDelimiter, log: &mut Log| {
        if eager {
            log.drain(reader);
        }
    };
    for (kind, data) in messages {
        let separate_end = data.len() % 3 == 1;
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(1).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            reader
                .push(*kind, chunk, rest.is_empty() && !separate_end)
                .unwrap();
            pull(&mut reader, &mut log);
        }
        if data.is_empty() || separate_end {
            reader.push(*kind, b"", true).unwrap();
            pull(&mut reader, &mut log);
        }
    }
    log.drain(&mut reader);
    (log, reader.buffered().to_vec())
}
