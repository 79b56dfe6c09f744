//! What goes in (the type of message data) and what comes out (items).

use core::fmt;

use bytes::Bytes;

use crate::AnyRecord;

/// The type of WebSocket message data: text (opcode 1) or binary (opcode 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// Text: UTF-8.
    Text,
    /// Binary: any bytes.
    Binary,
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Binary => "binary",
        })
    }
}

/// One item handed to the application; which variant depends on the
/// [`Mode`](crate::Mode) and on the type of the data it came from.
#[derive(Debug)]
#[non_exhaustive]
pub enum Item {
    /// Text: a whole message, a chunk, the data before a delimiter or match, or a
    /// byte count; always valid UTF-8 on its own.
    Text(String),
    /// Binary: a whole message, a chunk, the data before a delimiter or match, a byte
    /// count, or a variable record's payload.
    Binary(Bytes),
    /// Regex match mode on text: the capture groups, group 0 being the whole match;
    /// `None` for a group that did not take part.
    TextMatch(Vec<Option<String>>),
    /// Regex match mode on binary data: the capture groups, group 0 being the whole
    /// match; `None` for a group that did not take part.
    BinaryMatch(Vec<Option<Bytes>>),
    /// A decoded fixed-size record.
    Record(AnyRecord),
}

impl Item {
    /// The type of data the item came from.
    #[must_use]
    pub const fn kind(&self) -> DataKind {
        match self {
            Self::Text(_) | Self::TextMatch(_) => DataKind::Text,
            Self::Binary(_) | Self::BinaryMatch(_) | Self::Record(_) => DataKind::Binary,
        }
    }

    /// The text, if the item is [`Item::Text`].
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes of a [`Text`](Item::Text) or [`Binary`](Item::Binary) item.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Text(s) => Some(s.as_bytes()),
            Self::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The record as a `T`, if the item is a record of that type.
    #[must_use]
    pub fn into_record<T: crate::Record>(self) -> Option<T> {
        match self {
            Self::Record(r) => r.downcast().ok(),
            _ => None,
        }
    }
}

/// A piece of buffered data given back by
/// [`ReadDelimiter::take_buffered`](crate::ReadDelimiter::take_buffered): what is
/// left of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffered {
    /// The message's type.
    pub kind: DataKind,
    /// The bytes not yet handed over.
    pub data: Bytes,
    /// Whether the message's end had been received.
    pub message_finished: bool,
}
