//! The extension hook (RFC 6455 section 9), e.g. for permessage-deflate.

use core::fmt;
use core::ops::{BitAnd, BitOr};

use bytes::BytesMut;
use ferrosocket_codec::{CloseCode, FrameHeader, OpCode};

/// A set of RSV bits, as in the first header byte (RSV1 = `0x40`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rsv(u8);

impl Rsv {
    /// No bits.
    pub const NONE: Self = Self(0);
    /// RSV1 (permessage-deflate's "compressed" flag).
    pub const RSV1: Self = Self(0x40);
    /// RSV2.
    pub const RSV2: Self = Self(0x20);
    /// RSV3.
    pub const RSV3: Self = Self(0x10);

    /// The bits of a header.
    #[must_use]
    pub const fn of(header: &FrameHeader) -> Self {
        Self(((header.rsv1 as u8) << 6) | ((header.rsv2 as u8) << 5) | ((header.rsv3 as u8) << 4))
    }

    /// The bits as they sit in the first header byte.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether no bit is set.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `other` is set here.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits not in `other`.
    #[must_use]
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    pub(crate) const fn apply(self, header: FrameHeader) -> FrameHeader {
        FrameHeader {
            rsv1: self.0 & 0x40 != 0,
            rsv2: self.0 & 0x20 != 0,
            rsv3: self.0 & 0x10 != 0,
            ..header
        }
    }
}

impl BitOr for Rsv {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitAnd for Rsv {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl fmt::Debug for Rsv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (bit, name) in [(0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")] {
            if self.0 & bit != 0 {
                f.write_str(if first { "" } else { "|" })?;
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("NONE")?;
        }
        Ok(())
    }
}

/// An extension failed: the close code to send and a short description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionError {
    code: CloseCode,
    message: &'static str,
}

impl ExtensionError {
    /// An error closing with `code`.
    #[must_use]
    pub const fn new(code: CloseCode, message: &'static str) -> Self {
        Self { code, message }
    }

    /// The decoded message would exceed the budget given to
    /// [`Extension::decode`] (1009).
    #[must_use]
    pub const fn too_big() -> Self {
        Self::new(CloseCode::MESSAGE_TOO_BIG, "decoded message too big")
    }

    /// The payload is not valid for the extension (1002).
    #[must_use]
    pub const fn invalid(message: &'static str) -> Self {
        Self::new(CloseCode::PROTOCOL_ERROR, message)
    }

    /// The close code.
    #[must_use]
    pub const fn close_code(&self) -> CloseCode {
        self.code
    }

    /// The description.
    #[must_use]
    pub const fn message(&self) -> &'static str {
        self.message
    }
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl core::error::Error for ExtensionError {}

/// A negotiated extension that transforms data messages (never control frames),
/// message by message, in a streaming-friendly way.
///
/// A [`Connection`](crate::Connection) holds at most one (RFC 7692 permessage-deflate
/// is the one in use in practice); it is installed at construction, after the
/// handshake agreed on it.
///
/// **Receiving.** The extension claims RSV bits ([`rsv`](Extension::rsv)). A message
/// whose first frame sets none of them is passed through untouched; one whose first
/// frame sets some (all claimed) has its payload fed to [`decode`](Extension::decode)
/// piece by piece as it arrives. RSV bits not claimed, or any RSV bit on a
/// continuation or control frame, fail the connection with 1002.
///
/// **Sending.** Each data message's payload goes through [`encode`](Extension::encode)
/// (per fragment when sent with [`send_frame`](crate::Connection::send_frame)); the
/// bits it returns for the first piece are set on the message's first frame.
pub trait Extension: fmt::Debug {
    /// The RSV bits this extension may set on a message's first frame.
    fn rsv(&self) -> Rsv;

    /// Appends the wire form of the next piece of a message to `out` and returns the
    /// RSV bits for the message's first frame (ignored for later pieces). To leave a
    /// message untransformed, copy `input` and return [`Rsv::NONE`].
    ///
    /// # Errors
    ///
    /// Failing fails the send with [`LocalError::Extension`](crate::LocalError).
    fn encode(
        &mut self,
        opcode: OpCode,
        input: &[u8],
        message_finished: bool,
        out: &mut BytesMut,
    ) -> Result<Rsv, ExtensionError>;

    /// Appends the decoded form of the next piece of a transformed message to `out`.
    ///
    /// `rsv` are the bits of the message's first frame; `message_finished` is true
    /// with the last piece (which may be empty). It must never append more than
    /// `max_len` bytes in this call: that is what is left of the message size limit.
    ///
    /// # Errors
    ///
    /// [`ExtensionError::too_big`] when the budget is exceeded, or any error for an
    /// invalid payload; the connection fails with its close code.
    fn decode(
        &mut self,
        rsv: Rsv,
        input: &[u8],
        message_finished: bool,
        out: &mut BytesMut,
        max_len: usize,
    ) -> Result<(), ExtensionError>;

    /// The connection is idle: free memory the extension can rebuild for the next
    /// message (permessage-deflate: the contexts of directions without context
    /// takeover, with `release_idle_contexts`). Called by
    /// [`Connection::release_idle_memory`](crate::Connection::release_idle_memory).
    /// Default: nothing.
    fn release_idle(&mut self) {}
}
