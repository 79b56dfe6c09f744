//! The codec's error type.

use core::fmt;

use crate::CloseCode;

/// A frame that breaks RFC 6455 section 5, or a limit of ours.
///
/// Every variant is the peer's fault when it comes from parsing, and
/// [`close_code`](FrameError::close_code) says what to close the connection with.
/// Only [`CloseReasonTooLong`](FrameError::CloseReasonTooLong) and
/// [`UnsendableCloseCode`](FrameError::UnsendableCloseCode) also arise when *building* a
/// close frame, from the local caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The opcode (the value given) is reserved: 3-7 or 0xB-0xF.
    ReservedOpCode(u8),
    /// A control frame (close, ping, pong) without FIN: control frames cannot be
    /// fragmented.
    FragmentedControlFrame,
    /// A control frame announcing more than 125 bytes of payload (the announced
    /// 7-bit length code, 126 or 127, is given).
    ControlFrameTooLong(u8),
    /// A 64-bit payload length with its most significant bit set.
    InvalidPayloadLength,
    /// A payload length not written in the fewest bytes (e.g. 5 in the 16-bit
    /// form); the RFC requires the minimal encoding.
    NonMinimalLength,
    /// The frame announces more payload than the configured maximum.
    FrameTooLarge {
        /// The announced payload length.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A close frame with a one-byte payload: a close code needs two.
    TruncatedCloseCode,
    /// A close frame carrying a code that may not appear on the wire (RFC 6455
    /// section 7.4: below 1000, 1004-1006, 1015-2999, 5000 and up).
    InvalidCloseCode(u16),
    /// A close frame whose reason is not valid UTF-8; the byte offset into the
    /// reason where validity ends is given.
    InvalidCloseReason(usize),
    /// Building a close frame: the reason is longer than the 123 bytes that fit in a
    /// control frame (its length is given).
    CloseReasonTooLong(usize),
    /// Building a close frame: the code (given) may not be sent.
    UnsendableCloseCode(u16),
}

impl FrameError {
    /// The close code to send the peer for this error: 1009 (message too big) for
    /// [`FrameTooLarge`](FrameError::FrameTooLarge), 1007 (invalid payload data)
    /// for a close reason that is not UTF-8, 1002 (protocol error) otherwise.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            Self::FrameTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::InvalidCloseReason(_) => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedOpCode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::FragmentedControlFrame => f.write_str("fragmented control frame"),
            Self::ControlFrameTooLong(code) => {
                write!(
                    f,
                    "control frame payload over 125 bytes (length code {code})"
                )
            }
            Self::InvalidPayloadLength => {
                f.write_str("64-bit payload length with the most significant bit set")
            }
            Self::NonMinimalLength => f.write_str("payload length not minimally encoded"),
            Self::FrameTooLarge { len, max } => {
                write!(
                    f,
                    "frame payload of {len} bytes exceeds the maximum of {max}"
                )
            }
            Self::TruncatedCloseCode => f.write_str("close frame payload of one byte"),
            Self::InvalidCloseCode(code) => {
                write!(f, "close code {code} is not allowed on the wire")
            }
            Self::InvalidCloseReason(at) => {
                write!(f, "close reason is not valid UTF-8 (valid up to byte {at})")
            }
            Self::CloseReasonTooLong(len) => {
                write!(f, "close reason of {len} bytes exceeds 123 bytes")
            }
            Self::UnsendableCloseCode(code) => write!(f, "close code {code} may not be sent"),
        }
    }
}

impl core::error::Error for FrameError {}
