//! Binary records: fixed-size ([`Record`], Pants' `struct.Struct`) and
//! variable-size ([`RecordFramer`], Pants' `NetStruct`), with the built-in
//! [`LengthPrefixed`] framer.

use core::any::{Any, TypeId};
use core::fmt;

/// A fixed-size binary record (Pants' `struct.Struct`): exactly [`SIZE`](Record::SIZE)
/// bytes on the wire, decoded into a value and encoded back.
///
/// Select it with [`Mode::Records`](crate::Mode::Records)`(`[`Records::of::<T>()`](Records::of)`)`;
/// each item is then an [`AnyRecord`] holding a `T`, or pull it typed with
/// [`ReadDelimiter::next_record::<T>()`](crate::ReadDelimiter::next_record).
///
/// ```
/// use ferrosocket_delimit::{Record, RecordError};
///
/// /// A point: two big-endian `i16`.
/// #[derive(Debug, PartialEq)]
/// struct Point { x: i16, y: i16 }
///
/// impl Record for Point {
///     const SIZE: usize = 4;
///     fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
///         Ok(Point {
///             x: i16::from_be_bytes([bytes[0], bytes[1]]),
///             y: i16::from_be_bytes([bytes[2], bytes[3]]),
///         })
///     }
///     fn encode(&self, out: &mut Vec<u8>) {
///         out.extend_from_slice(&self.x.to_be_bytes());
///         out.extend_from_slice(&self.y.to_be_bytes());
///     }
/// }
///
/// let p = Point { x: -2, y: 300 };
/// assert_eq!(p.to_bytes(), [0xff, 0xfe, 0x01, 0x2c]);
/// assert_eq!(Point::decode(&p.to_bytes())?, p);
/// # Ok::<(), RecordError>(())
/// ```
pub trait Record: Sized + Send + 'static {
    /// The size of one record in bytes. A size of 0 is refused by
    /// [`ReadDelimiter::set_mode`](crate::ReadDelimiter::set_mode).
    const SIZE: usize;

    /// Decodes one record; `bytes` is exactly [`SIZE`](Record::SIZE) bytes long.
    ///
    /// # Errors
    ///
    /// [`RecordError`] when the bytes are not a valid record; the reader then
    /// reports [`DelimitError::Record`](crate::DelimitError::Record) and keeps the bytes.
    fn decode(bytes: &[u8]) -> Result<Self, RecordError>;

    /// Appends the record's [`SIZE`](Record::SIZE) bytes to `out` (the "pack" side,
    /// for sending).
    fn encode(&self, out: &mut Vec<u8>);

    /// The record's bytes in a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::SIZE);
        self.encode(&mut out);
        out
    }
}

/// Raw bytes are the simplest record: `[u8; N]` is `N` bytes as they are.
impl<const N: usize> Record for [u8; N] {
    const SIZE: usize = N;

    fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        bytes
            .try_into()
            .map_err(|_| RecordError::invalid("record of the wrong length"))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

/// Encodes records one after the other into a new vector (Pants' `pack` over many
/// values): what a `write_packed` sends.
pub fn encode_records<T: Record>(records: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len().saturating_mul(T::SIZE));
    for record in records {
        record.encode(&mut out);
    }
    out
}

/// The fixed-record mode for one [`Record`] type, built by [`Records::of`].
///
/// It erases `T` behind a plain function pointer (no allocation, `Copy`), so that
/// [`Mode`](crate::Mode) stays one non-generic type that can be switched at any
/// time; the value comes back typed through [`AnyRecord::downcast`] or
/// [`ReadDelimiter::next_record`](crate::ReadDelimiter::next_record).
#[derive(Clone, Copy)]
pub struct Records {
    size: usize,
    decode: fn(&[u8]) -> Result<AnyRecord, RecordError>,
    type_id: TypeId,
    type_name: &'static str,
}

impl Records {
    /// Records of type `T`, [`T::SIZE`](Record::SIZE) bytes each.
    #[must_use]
    pub fn of<T: Record>() -> Self {
        Self {
            size: T::SIZE,
            decode: decode_any::<T>,
            type_id: TypeId::of::<T>(),
            type_name: core::any::type_name::<T>(),
        }
    }

    /// The size of one record in bytes.
    #[must_use]
    pub const fn size(&self) -> usize {
        self.size
    }

    /// The name of the record type (for diagnostics).
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Whether these are records of type `T`.
    #[must_use]
    pub fn is<T: Record>(&self) -> bool {
        self.type_id == TypeId::of::<T>()
    }

    pub(crate) fn decode(&self, bytes: &[u8]) -> Result<AnyRecord, RecordError> {
        (self.decode)(bytes)
    }
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("type", &self.type_name)
            .field("size", &self.size)
            .finish()
    }
}

fn decode_any<T: Record>(bytes: &[u8]) -> Result<AnyRecord, RecordError> {
    T::decode(bytes).map(|value| AnyRecord {
        value: Box::new(value),
        type_name: core::any::type_name::<T>(),
    })
}

/// A decoded fixed-size record of a type known at run time: the item of
/// [`Mode::Records`](crate::Mode::Records). Get the value back with
/// [`downcast`](AnyRecord::downcast).
pub struct AnyRecord {
    value: Box<dyn Any + Send>,
    type_name: &'static str,
}

impl AnyRecord {
    /// Whether the record is a `T`.
    #[must_use]
    pub fn is<T: Record>(&self) -> bool {
        self.value.is::<T>()
    }

    /// The record as a `T`, or the record back if it is not a `T`.
    ///
    /// # Errors
    ///
    /// Gives `self` back when the record is of another type.
    pub fn downcast<T: Record>(self) -> Result<T, Self> {
        let type_name = self.type_name;
        match self.value.downcast::<T>() {
            Ok(value) => Ok(*value),
            Err(value) => Err(Self { value, type_name }),
        }
    }

    /// A reference to the record if it is a `T`.
    #[must_use]
    pub fn downcast_ref<T: Record>(&self) -> Option<&T> {
        self.value.downcast_ref::<T>()
    }

    /// The name of the record's type (for diagnostics).
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Debug for AnyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyRecord")
            .field("type", &self.type_name)
            .finish_non_exhaustive()
    }
}

/// What a [`RecordFramer`] says about the buffered bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The record is not complete: at least this many more bytes are needed
    /// (0 is taken as 1). The framer is not asked again until they have arrived.
    Need(usize),
    /// A record is complete: it occupies the first `skip + len` buffered bytes, and
    /// the item is the `len` bytes after the first `skip` (a header to drop, such as
    /// a length prefix; 0 to keep the whole record). `skip + len` must be at least 1
    /// and at most the number of bytes shown.
    Record {
        /// Leading bytes consumed but not handed over.
        skip: usize,
        /// Bytes handed over as the item.
        len: usize,
    },
}

/// Finds the boundaries of variable-size binary records (Pants' `NetStruct`).
///
/// [`frame`](RecordFramer::frame) sees the buffered bytes from the start of the next
/// record (all of them, possibly several records' worth) and says whether a record
/// is complete and how long it is, or how many more bytes it needs. The length it
/// announces in [`Framing::Need`] raises the buffer cap for that record (see
/// [`ReadDelimiter`](crate::ReadDelimiter)), so a framer must refuse lengths it does
/// not want to buffer, as [`LengthPrefixed`] does with its `max_len`.
pub trait RecordFramer: fmt::Debug + Send {
    /// Looks at the buffered bytes, which start at a record boundary.
    ///
    /// # Errors
    ///
    /// [`RecordError`] when the bytes cannot be a record (for example a length over
    /// the limit); the reader reports it as
    /// [`DelimitError::Record`](crate::DelimitError::Record) and keeps the bytes.
    fn frame(&mut self, buffered: &[u8]) -> Result<Framing, RecordError>;
}

/// The width of a [`LengthPrefixed`] length prefix (big-endian, network order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// One byte.
    U8,
    /// Two bytes, big-endian.
    U16,
    /// Four bytes, big-endian.
    U32,
}

impl Prefix {
    /// The prefix's size in bytes.
    #[must_use]
    pub const fn width(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::U16 => 2,
            Self::U32 => 4,
        }
    }

    /// The largest length the prefix can express.
    #[must_use]
    pub const fn max_value(self) -> u64 {
        match self {
            Self::U8 => u8::MAX as u64,
            Self::U16 => u16::MAX as u64,
            Self::U32 => u32::MAX as u64,
        }
    }
}

/// The built-in [`RecordFramer`]: a big-endian length prefix of 1, 2 or 4 bytes
/// followed by that many bytes of payload; the item is the payload.
///
/// Lengths above [`max_len`](LengthPrefixed::max_len) are refused with
/// [`RecordError::TooLong`] (close code 1009) before anything is buffered for them.
/// The default limit is what the prefix can express for `U8` and `U16`, and 16 MiB
/// for `U32` (the default frame size limit of `ferrosocket-proto`).
///
/// ```
/// use ferrosocket_delimit::{LengthPrefixed, Prefix};
///
/// let framer = LengthPrefixed::new(Prefix::U16);
/// let mut wire = Vec::new();
/// framer.encode(b"hello", &mut wire)?;
/// assert_eq!(wire, b"\x00\x05hello");
/// # Ok::<(), ferrosocket_delimit::RecordError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthPrefixed {
    prefix: Prefix,
    max_len: u64,
}

/// Default limit of a 4-byte prefix: 16 MiB.
const DEFAULT_U32_MAX: u64 = 16 << 20;

impl LengthPrefixed {
    /// A framer for `prefix`, with the default limit.
    #[must_use]
    pub const fn new(prefix: Prefix) -> Self {
        let max_len = match prefix {
            Prefix::U32 => DEFAULT_U32_MAX,
            _ => prefix.max_value(),
        };
        Self { prefix, max_len }
    }

    /// Sets the largest payload accepted (capped at what the prefix can express).
    #[must_use]
    pub const fn max_len(mut self, max_len: u64) -> Self {
        let max = self.prefix.max_value();
        self.max_len = if max_len < max { max_len } else { max };
        self
    }

    /// The prefix width.
    #[must_use]
    pub const fn prefix(&self) -> Prefix {
        self.prefix
    }

    /// The largest payload accepted.
    #[must_use]
    pub const fn limit(&self) -> u64 {
        self.max_len
    }

    /// Appends `payload` with its prefix to `out` (the sending side).
    ///
    /// # Errors
    ///
    /// [`RecordError::TooLong`] when `payload` is longer than the limit; nothing is
    /// appended then.
    pub fn encode(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
        let len = payload.len() as u64;
        if len > self.max_len {
            return Err(RecordError::TooLong {
                len,
                max: self.max_len,
            });
        }
        // The casts cannot truncate: `len <= max_len <= prefix.max_value()`.
        match self.prefix {
            Prefix::U8 => out.push(len as u8),
            Prefix::U16 => out.extend_from_slice(&(len as u16).to_be_bytes()),
            Prefix::U32 => out.extend_from_slice(&(len as u32).to_be_bytes()),
        }
        out.extend_from_slice(payload);
        Ok(())
    }
}

impl RecordFramer for LengthPrefixed {
    fn frame(&mut self, buffered: &[u8]) -> Result<Framing, RecordError> {
        let width = self.prefix.width();
        let Some(header) = buffered.get(..width) else {
            return Ok(Framing::Need(width - buffered.len()));
        };
        let len = header
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if len > self.max_len {
            return Err(RecordError::TooLong {
                len,
                max: self.max_len,
            });
        }
        // `len <= max_len`, which fits in usize on every target we build for (16 MiB
        // default; a larger explicit limit saturates rather than wraps).
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let total = width.saturating_add(len);
        if buffered.len() < total {
            Ok(Framing::Need(total - buffered.len()))
        } else {
            Ok(Framing::Record { skip: width, len })
        }
    }
}

/// Why a record could not be decoded or framed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The bytes are not a valid record (close code 1007, invalid payload data).
    Invalid(String),
    /// The record announces a length over the limit (close code 1009, too big).
    TooLong {
        /// The announced length.
        len: u64,
        /// The limit.
        max: u64,
    },
}

impl RecordError {
    /// An [`Invalid`](RecordError::Invalid) error with this explanation.
    #[must_use]
    pub fn invalid(why: impl Into<String>) -> Self {
        Self::Invalid(why.into())
    }

    /// The WebSocket close code to send the peer: 1007 for an invalid record, 1009
    /// for one that is too long.
    #[must_use]
    pub const fn close_code(&self) -> u16 {
        match self {
            Self::Invalid(_) => 1007,
            Self::TooLong { .. } => 1009,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(why) => write!(f, "invalid record: {why}"),
            Self::TooLong { len, max } => {
                write!(f, "record of {len} bytes is over the limit of {max}")
            }
        }
    }
}

impl std::error::Error for RecordError {}

#[cfg(test)]
mod tests;
