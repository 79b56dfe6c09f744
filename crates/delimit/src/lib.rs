//! Read delimiters over received WebSocket message data: Python Pants'
//! `read_delimiter`, as a buffer between the connection and the application.
//!
//! A connection driver pushes the data of received messages into a
//! [`ReadDelimiter`] as it arrives, whole messages or pieces of them
//! ([`push`](ReadDelimiter::push)); the application pulls items
//! ([`next_item`](ReadDelimiter::next_item)) cut according to the [`Mode`], which
//! it can switch at any time, also between two items:
//!
//! * [`Mode::EntireMessage`] (the default): each message, however fragmented.
//! * [`Mode::Chunks`]: the data as it arrives (text never split inside a character).
//! * [`Mode::Delimiter`] / [`Mode::TextDelimiter`]: the data before each delimiter,
//!   found with `memchr`'s `memmem`, resuming where the last search stopped.
//! * [`Mode::Bytes`]: exactly N bytes at a time.
//! * [`Mode::Regex`] (feature `regex`, on by default): the data before a match, or
//!   the captures of a match at the start; [`RegexMode`] says when a match on data
//!   still arriving counts.
//! * [`Mode::Records`]: fixed-size binary records decoded into a user type
//!   ([`Record`], Pants' `struct.Struct`), with an encode side for sending.
//! * [`Mode::Variable`]: variable-size binary records found by a [`RecordFramer`]
//!   (Pants' `NetStruct`), such as the built-in big-endian [`LengthPrefixed`].
//!
//! Two rules hold in every mode. **Text and binary are never mixed silently**:
//! an item never spans a change of type, text-only modes refuse binary data and
//! binary-only ones text, with [`DelimitError::MixedTypes`] (close code 1003).
//! **Memory is capped**: data that forms no item beyond the cap (64 KiB by default,
//! raised automatically for a known item size) is [`DelimitError::Overflow`] (close
//! code 1009), and the buffer never holds more than the cap plus one pushed chunk.
//! Every error has a [`close_code`](DelimitError::close_code), and none consumes
//! data: switching modes, [`clear`](ReadDelimiter::clear) or
//! [`take_buffered`](ReadDelimiter::take_buffered) decide what happens next.
//!
//! Where it sits: a leaf of the ferrosocket workspace, like the codec. It knows
//! nothing of frames, sockets or runtimes; the protocol core (`ferrosocket-proto`)
//! produces the message data, already UTF-8-checked for text, and the facade feeds
//! it here for handlers that use `read_delimiter`. Nothing here sends anything:
//! closing the connection with the error's code is the caller's job.
//!
//! # Example
//!
//! ```
//! use ferrosocket_delimit::{DataKind, DelimitError, Item, Mode, Prefix, ReadDelimiter};
//!
//! let mut reader = ReadDelimiter::with_mode(Mode::delimiter("\r\n"))?;
//!
//! // A text message streamed in three pieces; "€" and the delimiter are both split.
//! reader.push(DataKind::Text, b"GET /a\r\nHost: \xe2\x82", false)?;
//! reader.push(DataKind::Text, b"\xac\r", false)?;
//! reader.push(DataKind::Text, b"\n\r\nbody", true)?;
//!
//! let mut lines = Vec::new();
//! while let Some(item) = reader.next_item() {
//!     match item? {
//!         Item::Text(line) if line.is_empty() => break, // end of the header block
//!         Item::Text(line) => lines.push(line),
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! assert_eq!(lines, ["GET /a", "Host: €"]);
//!
//! // Switch modes between two items: the rest of the buffered data, "body", is kept.
//! reader.set_mode(Mode::Bytes(2))?;
//! assert_eq!(reader.next_item().unwrap()?.as_text(), Some("bo"));
//! reader.set_mode(Mode::EntireMessage)?;
//! assert_eq!(reader.next_item().unwrap()?.as_text(), Some("dy")); // the rest of the message
//! assert!(reader.next_item().is_none());
//!
//! // Binary records with a 2-byte big-endian length prefix.
//! reader.set_mode(Mode::length_prefixed(Prefix::U16))?;
//! reader.push(DataKind::Binary, b"\x00\x03abc\x00", true)?;
//! assert_eq!(reader.next_item().unwrap()?.as_bytes(), Some(&b"abc"[..]));
//! assert!(reader.next_item().is_none()); // half a prefix: wait for more
//!
//! // Text arriving while a partial binary record is buffered: close with 1003.
//! reader.push(DataKind::Text, b"hi", true)?;
//! let err = reader.next_item().unwrap().unwrap_err();
//! assert!(matches!(err, DelimitError::MixedTypes { .. }));
//! assert_eq!(err.close_code(), 1003);
//! # Ok::<(), DelimitError>(())
//! ```
#![forbid(unsafe_code)]
// The docs link the regex mode, which only exists with the feature.
#![cfg_attr(not(feature = "regex"), allow(rustdoc::broken_intra_doc_links))]
#![doc(test(attr(deny(warnings))))]

mod error;
mod item;
mod mode;
mod reader;
mod record;
mod utf8;

pub use crate::error::DelimitError;
pub use crate::item::{Buffered, DataKind, Item};
pub use crate::mode::Mode;
#[cfg(feature = "regex")]
pub use crate::mode::RegexMode;
pub use crate::reader::{DEFAULT_BUFFER_SIZE, ReadDelimiter};
pub use crate::record::{
    AnyRecord, Framing, LengthPrefixed, Prefix, Record, RecordError, RecordFramer, Records,
    encode_records,
};
