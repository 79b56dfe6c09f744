//! Frame opcodes, RFC 6455 section 5.2.

use crate::FrameError;

/// The opcode of a frame: what its payload means.
///
/// Reserved opcodes (3-7 and 0xB-0xF) have no variant: parsing one is a
/// [`FrameError::ReservedOpCode`], so a value of this type is always legal on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `0x0`: a continuation of a fragmented message.
    Continuation = 0x0,
    /// `0x1`: the first frame of a text message (UTF-8).
    Text = 0x1,
    /// `0x2`: the first frame of a binary message.
    Binary = 0x2,
    /// `0x8`: a close frame, with an optional close code and reason.
    Close = 0x8,
    /// `0x9`: a ping.
    Ping = 0x9,
    /// `0xA`: a pong.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for the low four bits `value`, or an error for a reserved one.
    ///
    /// ```
    /// use ferrosocket_codec::{FrameError, OpCode};
    /// assert_eq!(OpCode::from_u8(0x9), Ok(OpCode::Ping));
    /// assert_eq!(OpCode::from_u8(0x3), Err(FrameError::ReservedOpCode(3)));
    /// ```
    #[inline]
    pub const fn from_u8(value: u8) -> Result<Self, FrameError> {
        Ok(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            other => return Err(FrameError::ReservedOpCode(other)),
        })
    }

    /// The four-bit wire value.
    #[inline]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether this is a control opcode (close, ping, pong): at most 125 bytes of
    /// payload, never fragmented.
    #[inline]
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }

    /// Whether this opcode starts a data message (text or binary).
    #[inline]
    pub const fn is_data(self) -> bool {
        matches!(self, Self::Text | Self::Binary)
    }
}

impl core::fmt::Display for OpCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Continuation => "continuation",
            Self::Text => "text",
            Self::Binary => "binary",
            Self::Close => "close",
            Self::Ping => "ping",
            Self::Pong => "pong",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_is_either_an_opcode_or_reserved() {
        for v in 0u8..16 {
            match OpCode::from_u8(v) {
                Ok(op) => {
                    assert_eq!(op.as_u8(), v);
                    assert_eq!(op.is_control(), v >= 8);
                }
                Err(e) => {
                    assert!(matches!(v, 3..=7 | 0xB..=0xF), "{v} rejected");
                    assert_eq!(e, FrameError::ReservedOpCode(v));
                }
            }
        }
    }
}
