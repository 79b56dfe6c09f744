//! Arbitrary sequences of pushes (text or binary, any bytes, finished or not), pulls,
//! mode switches, cap changes, `clear` and `take_buffered` on a `ReadDelimiter`:
//! never panics; a push is accepted only within the cap in force and adds at most
//! its own length (memory stays within the cap plus one chunk); a pull loop ends
//! (every item consumes a byte or an empty message); an error is reported again,
//! unchanged, when asked again, and consumes nothing.
#![no_main]

use std::sync::LazyLock;

use bytes::Bytes;
use ferrosocket_delimit::{
    DataKind, Framing, LengthPrefixed, Mode, Prefix, ReadDelimiter, Record, RecordError,
    RecordFramer, RegexMode,
};
use libfuzzer_sys::fuzz_target;

/// Reads the input a byte or a slice at a time.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }
}

/// A record that refuses some bytes, so decode errors happen.
#[derive(Debug)]
struct Picky([u8; 3]);

impl Record for Picky {
    const SIZE: usize = 3;
    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        match bytes {
            [0xee, ..] => Err(RecordError::invalid("0xee")),
            [a, b, c] => Ok(Self([*a, *b, *c])),
            _ => Err(RecordError::invalid("length")),
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

/// A user framer that answers whatever the first buffered byte says, including
/// nonsense (empty records, more than it was shown, errors).
#[derive(Debug)]
struct Wild;

impl RecordFramer for Wild {
    fn frame(&mut self, buffered: &[u8]) -> Result<Framing, RecordError> {
        let Some(&b) = buffered.first() else {
            return Ok(Framing::Need(0));
        };
        Ok(match b % 4 {
            0 => Framing::Need(usize::from(b >> 2)),
            1 => Framing::Record {
                skip: usize::from(b >> 5),
                len: usize::from((b >> 2) & 7),
            },
            2 => return Err(RecordError::invalid("wild")),
            _ => Framing::Record {
                skip: 0,
                len: buffered.len(),
            },
        })
    }
}

/// The regex modes, compiled once (compiling per input would dominate the run).
static REGEXES: LazyLock<[RegexMode; 4]> = LazyLock::new(|| {
    [
        RegexMode::text_search(r"\s*[,;]\s*").expect("pattern"),
        RegexMode::binary_search("a+|(?-u:\\xff)").expect("pattern"),
        RegexMode::text_match(r"(\w+)=(\d*)?;|x*").expect("pattern"),
        RegexMode::binary_match(r"(?-u:(\x00+)(\x01)?)").expect("pattern"),
    ]
});

fn mode(input: &mut Input<'_>) -> Mode {
    let choice = input.byte().unwrap_or(0);
    let arg = input.byte().unwrap_or(0);
    match choice % 14 {
        0 => Mode::EntireMessage,
        1 => Mode::Chunks,
        2 => Mode::Delimiter(input.bytes(usize::from(arg % 4)).to_vec()),
        3 => Mode::TextDelimiter(
            String::from_utf8_lossy(input.bytes(usize::from(arg % 4))).into_owned(),
        ),
        4 => Mode::Bytes(usize::from(arg)),
        5 => Mode::records::<Picky>(),
        6 => Mode::records::<[u8; 0]>(),
        7 => Mode::Variable(Box::new(
            LengthPrefixed::new(Prefix::U16).max_len(u64::from(arg) * 4),
        )),
        8 => Mode::length_prefixed(Prefix::U8),
        9 => Mode::Variable(Box::new(Wild)),
        n => Mode::Regex(REGEXES[usize::from(n - 10)].clone()),
    }
}

/// Pulls until `None` or an error; checks the loop ends and errors are sticky.
fn pull(reader: &mut ReadDelimiter, pushes: usize) {
    let bound = reader.buffered_len() + pushes + 1;
    for _ in 0..=bound {
        match reader.next_item() {
            None => return,
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let before = reader.buffered().to_vec();
                match reader.next_item() {
                    Some(Err(again)) => assert_eq!(again, e, "errors are sticky"),
                    other => panic!("{e} then {other:?}"),
                }
                assert_eq!(reader.buffered(), before, "an error consumes nothing");
                return;
            }
        }
    }
    panic!("more items than buffered bytes and messages");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut reader = ReadDelimiter::new().buffer_size(256);
    // Pushes since the buffer was last emptied: each may add one empty message.
    let mut pushes = 0;
    while let Some(op) = input.byte() {
        match op % 9 {
            0..=2 => {
                let kind = if op & 0x10 == 0 {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                let fin = op & 0x20 != 0;
                let len = usize::from(input.byte().unwrap_or(0) % 64);
                let chunk = input.bytes(len);
                let (limit, before) = (reader.effective_buffer_size(), reader.buffered_len());
                let result = if op & 0x40 == 0 {
                    reader.push(kind, chunk, fin)
                } else {
                    reader.push_bytes(kind, Bytes::copy_from_slice(chunk), fin)
                };
                match result {
                    Ok(()) => {
                        assert!(before <= limit, "accepted over the cap");
                        assert!(reader.buffered_len() <= before + chunk.len());
                    }
                    Err(e) => {
                        assert_eq!(e.close_code(), 1009);
                        assert_eq!(reader.buffered_len(), before, "a refused push adds nothing");
                    }
                }
                pushes += 1;
            }
            3 | 4 => pull(&mut reader, pushes),
            5 => {
                let _ = reader.set_mode(mode(&mut input));
            }
            6 => reader.set_buffer_size(usize::from(input.byte().unwrap_or(0)) * 4),
            7 => {
                if op & 0x80 == 0 {
                    reader.clear();
                    assert!(reader.is_empty());
                } else {
                    let before = reader.buffered().to_vec();
                    let mut joined: Vec<u8> = reader
                        .take_buffered()
                        .iter()
                        .flat_map(|p| p.data.to_vec())
                        .collect();
                    joined.extend_from_slice(reader.buffered());
                    assert_eq!(joined, before, "take_buffered gives back everything");
                    assert!(reader.buffered_len() <= 3);
                }
                pushes = 0;
            }
            _ => {
                let _ = reader.next_record::<Picky>();
            }
        }
    }
    pull(&mut reader, pushes);
});
