//! How buffered data is cut into items.

use crate::{DataKind, LengthPrefixed, Prefix, RecordFramer, Records};

/// How [`ReadDelimiter`](crate::ReadDelimiter) cuts the buffered data into items
/// (Pants' `read_delimiter` values). Switch with
/// [`set_mode`](crate::ReadDelimiter::set_mode) at any time; the new mode applies to
/// the data already buffered.
///
/// Which data each mode applies to (anything else is
/// [`DelimitError::MixedTypes`](crate::DelimitError::MixedTypes), close code 1003):
///
/// | mode | text | binary | item |
/// |---|---|---|---|
/// | [`EntireMessage`](Mode::EntireMessage) | yes | yes | the rest of each message |
/// | [`Chunks`](Mode::Chunks) | yes | yes | what has arrived of the current message |
/// | [`Delimiter`](Mode::Delimiter) | if the delimiter is UTF-8 | yes | the data before the delimiter |
/// | [`TextDelimiter`](Mode::TextDelimiter) | yes | no | the data before the delimiter |
/// | [`Bytes`](Mode::Bytes) | yes, if the cut falls between characters | yes | exactly N bytes |
/// | [`Regex`](Mode::Regex) | text regex | binary regex | the data before the match, or the captures |
/// | [`Records`](Mode::Records) | no | yes | a decoded [`Record`](crate::Record) |
/// | [`Variable`](Mode::Variable) | no | yes | a record's payload |
///
/// Items keep the type of their data: text gives [`Item::Text`](crate::Item::Text),
/// binary [`Item::Binary`](crate::Item::Binary). Every mode but `EntireMessage` and
/// `Chunks` treats consecutive messages of one type as one stream, so an item may
/// span messages; it may never span a change of type.
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Each message whole, however it was fragmented (the default). After another
    /// mode has consumed part of a message, the rest of that message.
    #[default]
    EntireMessage,
    /// Data as it arrives (Pants' `None`): everything buffered of the current
    /// message. Text holds back a character split at the end of a chunk until the
    /// rest of it arrives.
    Chunks,
    /// The data before each occurrence of this byte string, which is dropped. On text
    /// it must be valid UTF-8 (then it can only match between characters).
    Delimiter(Vec<u8>),
    /// The data before each occurrence of this string, which is dropped; text only.
    TextDelimiter(String),
    /// Exactly this many bytes at a time. The cap is raised to it if it is larger.
    Bytes(usize),
    /// A regular expression: see [`RegexMode`] for what is handed over and when a
    /// match counts on data that is still arriving.
    #[cfg(feature = "regex")]
    Regex(RegexMode),
    /// Fixed-size binary records of one type, decoded.
    Records(Records),
    /// Variable-size binary records found by a [`RecordFramer`], such as
    /// [`LengthPrefixed`] (see [`Mode::length_prefixed`]).
    Variable(Box<dyn RecordFramer>),
}

impl Mode {
    /// [`Mode::Delimiter`] from anything byte-like (`b"\r\n"`, `"\n"`, a `Vec<u8>`).
    #[must_use]
    pub fn delimiter(delimiter: impl AsRef<[u8]>) -> Self {
        Self::Delimiter(delimiter.as_ref().to_vec())
    }

    /// [`Mode::TextDelimiter`] from a string.
    #[must_use]
    pub fn text_delimiter(delimiter: impl Into<String>) -> Self {
        Self::TextDelimiter(delimiter.into())
    }

    /// [`Mode::Records`] of type `T`.
    #[must_use]
    pub fn records<T: crate::Record>() -> Self {
        Self::Records(Records::of::<T>())
    }

    /// [`Mode::Variable`] with the built-in big-endian [`LengthPrefixed`] framer and
    /// its default limit.
    #[must_use]
    pub fn length_prefixed(prefix: Prefix) -> Self {
        Self::Variable(Box::new(LengthPrefixed::new(prefix)))
    }

    /// The only type of data the mode applies to, if it is limited to one (see the
    /// table above).
    #[must_use]
    pub fn only_for(&self) -> Option<DataKind> {
        match self {
            Self::EntireMessage | Self::Chunks | Self::Bytes(_) => None,
            Self::Delimiter(d) => match core::str::from_utf8(d) {
                Ok(_) => None,
                Err(_) => Some(DataKind::Binary),
            },
            Self::TextDelimiter(_) => Some(DataKind::Text),
            #[cfg(feature = "regex")]
            Self::Regex(r) => Some(r.kind),
            Self::Records(_) | Self::Variable(_) => Some(DataKind::Binary),
        }
    }
}

/// A regular-expression mode (feature `regex`): a pattern for text or for binary
/// data, searched (Pants' `regex_search = True`, the default there) or matched at the
/// start (`regex_search = False`).
///
/// * **Search** ([`text_search`](RegexMode::text_search),
///   [`binary_search`](RegexMode::binary_search)): the item is the data before the
///   first match; the match is dropped, like a delimiter.
/// * **Match** ([`text_match`](RegexMode::text_match),
///   [`binary_match`](RegexMode::binary_match)): the pattern must match at the start
///   of the buffered data; the item is the captures
///   ([`Item::TextMatch`](crate::Item::TextMatch) /
///   [`Item::BinaryMatch`](crate::Item::BinaryMatch), group 0 the whole match) and the
///   matched data is consumed. Until the data at the start matches, the reader waits
///   (and eventually overflows).
///
/// # Matches on data that is still arriving
///
/// A match found in the buffer may not be the one the complete stream would give
/// (`a+` on `"xa"` could grow into `"xaa"`). The reader therefore only accepts a match
/// that is *settled*:
///
/// 1. **Message ends are settle points.** The reader searches the buffered data up
///    to the end of the first message, then (if nothing matched) up to the end of the
///    next one, and so on: the first non-empty match in the data up to a message end
///    counts, even if the next message could have extended it. A match may still
///    span messages (`\r\n` over `"a\r"` + `"\nb"`).
/// 2. **In a message still arriving**, a match counts only when at least one byte
///    (on text: one whole character) follows it; otherwise the reader waits.
///
/// Empty matches never count (they would give endless empty items).
///
/// So for every pattern whose match is decided by the byte after it (literals,
/// `\r?\n`, classes and greedy repetitions such as `\s+` or `[0-9]+;`, alternations
/// of those) the items depend only on the messages: not on how they were cut into
/// chunks, nor on when items were pulled. A pattern that needs more look-ahead to
/// prefer a longer or earlier-starting alternative, such as `ab*c|a` on `"abb"` +
/// `"c"` within one message, can match differently depending on where a chunk ended;
/// with messages delivered whole (the usual assembled delivery) no pattern can.
///
/// # Cost
///
/// A regex cannot resume a search the way a delimiter can, so each push that brings
/// new data searches the buffered data again: O(buffered) per push or message, at
/// most the cap. Keep the cap small for regex modes if peers can send many small
/// frames.
#[cfg(feature = "regex")]
#[derive(Debug, Clone)]
pub struct RegexMode {
    pub(crate) regex: regex::bytes::Regex,
    pub(crate) kind: DataKind,
    pub(crate) search: bool,
}

#[cfg(feature = "regex")]
impl RegexMode {
    /// A text pattern, searched: the item is the text before the match.
    ///
    /// # Errors
    ///
    /// The pattern does not compile, or could match invalid UTF-8.
    pub fn text_search(pattern: &str) -> Result<Self, regex::Error> {
        Self::text(pattern, true)
    }

    /// A text pattern, matched at the start: the item is the captures.
    ///
    /// # Errors
    ///
    /// The pattern does not compile, or could match invalid UTF-8.
    pub fn text_match(pattern: &str) -> Result<Self, regex::Error> {
        Self::text(pattern, false)
    }

    /// A binary pattern ([`regex::bytes`] syntax), searched: the item is the data
    /// before the match.
    ///
    /// # Errors
    ///
    /// The pattern does not compile.
    pub fn binary_search(pattern: &str) -> Result<Self, regex::Error> {
        Self::binary(pattern, true)
    }

    /// A binary pattern ([`regex::bytes`] syntax), matched at the start: the item is
    /// the captures.
    ///
    /// # Errors
    ///
    /// The pattern does not compile.
    pub fn binary_match(pattern: &str) -> Result<Self, regex::Error> {
        Self::binary(pattern, false)
    }

    /// An already built binary regex, searched (`search = true`) or matched at the
    /// start.
    #[must_use]
    pub fn from_binary_regex(regex: regex::bytes::Regex, search: bool) -> Self {
        Self {
            regex,
            kind: DataKind::Binary,
            search,
        }
    }

    fn text(pattern: &str, search: bool) -> Result<Self, regex::Error> {
        // The `str` regex refuses patterns that could match invalid UTF-8; its bytes
        // twin (the same pattern, Unicode on) then only finds non-empty matches that
        // are whole characters, so the data around them stays valid UTF-8, and it can
        // search the buffer without validating it again on every scan.
        regex::Regex::new(pattern)?;
        Ok(Self {
            regex: regex::bytes::Regex::new(pattern)?,
            kind: DataKind::Text,
            search,
        })
    }

    fn binary(pattern: &str, search: bool) -> Result<Self, regex::Error> {
        Ok(Self::from_binary_regex(
            regex::bytes::Regex::new(pattern)?,
            search,
        ))
    }

    /// The pattern.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// The type of data the pattern applies to.
    #[must_use]
    pub const fn kind(&self) -> DataKind {
        self.kind
    }

    /// Whether it is searched (`true`) or matched at the start (`false`).
    #[must_use]
    pub const fn is_search(&self) -> bool {
        self.search
    }
}
