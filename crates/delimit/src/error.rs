//! The crate's one error type.

use core::fmt;

use crate::{DataKind, RecordError};

/// Why [`ReadDelimiter`](crate::ReadDelimiter) cannot hand over the next item.
///
/// No error consumes data: asking again gives the same error until something
/// changes it ([`set_mode`](crate::ReadDelimiter::set_mode),
/// [`clear`](crate::ReadDelimiter::clear),
/// [`take_buffered`](crate::ReadDelimiter::take_buffered), more data). A connection
/// usually closes with [`close_code`](DelimitError::close_code).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DelimitError {
    /// Text and binary data would be mixed (peer's fault, close code 1003, unsupported
    /// data): a message of one type arrived while a partial item of the other type
    /// was buffered, or the mode only applies to the other type (a text delimiter or
    /// text regex on binary data; records, a binary regex or a non-UTF-8 byte
    /// delimiter on text data).
    MixedTypes {
        /// The type the item needs: that of the partial item, or the mode's.
        expected: DataKind,
        /// The type of the data that was found instead.
        found: DataKind,
    },
    /// More data is buffered without forming an item than the cap allows (peer's
    /// fault, close code 1009, message too big). A push made while over the cap is
    /// refused with this error, and so is every push after it until
    /// [`clear`](crate::ReadDelimiter::clear).
    Overflow {
        /// Bytes buffered (an empty message buffered counts as one).
        buffered: usize,
        /// The cap in force, after any automatic raise.
        cap: usize,
    },
    /// Text data that is not valid UTF-8 (close code 1007, invalid payload data): the
    /// caller pushed unvalidated text, or a text message ended inside a character.
    InvalidUtf8 {
        /// Bytes of the would-be item that are valid.
        valid_up_to: usize,
    },
    /// A [`Mode::Bytes`](crate::Mode::Bytes) item of text would end inside a
    /// character (peer's data does not fit the application's byte count; close code
    /// 1007).
    SplitCodePoint {
        /// The item's length in bytes.
        len: usize,
    },
    /// A record could not be decoded or framed ([`RecordError::close_code`]: 1007 or
    /// 1009).
    Record(RecordError),
    /// The mode given to [`set_mode`](crate::ReadDelimiter::set_mode) cannot work,
    /// such as an empty delimiter or a zero byte count (local user's fault; close
    /// code 1011 if one must be sent).
    InvalidMode(&'static str),
}

impl DelimitError {
    /// The WebSocket close code (RFC 6455 §7.4.1) that fits the error.
    #[must_use]
    pub const fn close_code(&self) -> u16 {
        match self {
            Self::MixedTypes { .. } => 1003,
            Self::Overflow { .. } => 1009,
            Self::InvalidUtf8 { .. } | Self::SplitCodePoint { .. } => 1007,
            Self::Record(e) => e.close_code(),
            Self::InvalidMode(_) => 1011,
        }
    }
}

impl fmt::Display for DelimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MixedTypes { expected, found } => {
                write!(f, "{found} data where {expected} data is needed")
            }
            Self::Overflow { buffered, cap } => {
                write!(
                    f,
                    "{buffered} bytes buffered without an item, over the cap of {cap}"
                )
            }
            Self::InvalidUtf8 { valid_up_to } => {
                write!(f, "text is not valid UTF-8 after {valid_up_to} bytes")
            }
            Self::SplitCodePoint { len } => {
                write!(f, "a text item of {len} bytes would end inside a character")
            }
            Self::Record(e) => e.fmt(f),
            Self::InvalidMode(why) => write!(f, "invalid mode: {why}"),
        }
    }
}

impl std::error::Error for DelimitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Record(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RecordError> for DelimitError {
    fn from(e: RecordError) -> Self {
        Self::Record(e)
    }
}
