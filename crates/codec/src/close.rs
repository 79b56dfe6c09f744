//! Close codes and close frame payloads, RFC 6455 sections 5.5.1 and 7.4.

use alloc::string::String;
use core::fmt;

use bytes::BufMut;

use crate::FrameError;

/// The most bytes a close reason may have: 125 bytes of control payload less the
/// two-byte code.
pub const MAX_CLOSE_REASON_LEN: usize = 123;

/// A close status code (RFC 6455 section 7.4).
///
/// An open code space, so a newtype with named constants rather than an enum: any
/// `u16` can be represented, and [`is_sendable`](CloseCode::is_sendable) says whether
/// it may appear in a close frame on the wire.
///
/// ```
/// use ferrosocket_codec::CloseCode;
/// assert!(CloseCode::NORMAL.is_sendable());
/// assert!(CloseCode::from(4000).is_sendable()); // private use
/// assert!(!CloseCode::ABNORMAL.is_sendable()); // 1006 is for reporting only
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: normal closure; the purpose of the connection was fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: an endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary where only text is).
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: no status code was present. Never sent; reported for an empty close frame.
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: the connection closed without a close frame. Never sent; reported locally.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: message data inconsistent with its type (e.g. a text message that is not
    /// UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message that violates the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected the server to negotiate an extension it did not.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: a gateway or proxy got an invalid response upstream.
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: the TLS handshake failed. Never sent; reported locally.
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// The numeric code.
    #[inline]
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this code may appear in a close frame on the wire: 1000-1003,
    /// 1007-1014 (defined by the RFC and IANA) and 3000-4999 (registered and private
    /// use). Never 1004-1006, 1015, below 1000, 1016-2999 or 5000 and above.
    #[inline]
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    #[inline]
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    #[inline]
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The payload of a close frame that carries a code: the code and a UTF-8 reason.
///
/// An empty close payload (no code at all) is represented by the absence of this
/// type: [`CloseFrame::parse`] returns `Ok(None)` for it, which a connection reports
/// as [`CloseCode::NO_STATUS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    code: CloseCode,
    reason: String,
}

impl CloseFrame {
    /// A close payload to send: the code must be sendable and the reason at most
    /// [`MAX_CLOSE_REASON_LEN`] bytes.
    ///
    /// ```
    /// use ferrosocket_codec::{CloseCode, CloseFrame, FrameError};
    /// let frame = CloseFrame::new(CloseCode::GOING_AWAY, "restarting").unwrap();
    /// assert_eq!(frame.reason(), "restarting");
    /// assert_eq!(
    ///     CloseFrame::new(CloseCode::ABNORMAL, ""),
    ///     Err(FrameError::UnsendableCloseCode(1006))
    /// );
    /// ```
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Result<Self, FrameError> {
        let reason = reason.into();
        if !code.is_sendable() {
            return Err(FrameError::UnsendableCloseCode(code.0));
        }
        if reason.len() > MAX_CLOSE_REASON_LEN {
            return Err(FrameError::CloseReasonTooLong(reason.len()));
        }
        Ok(Self { code, reason })
    }

    /// Parses a received close payload (already unmasked).
    ///
    /// Returns `Ok(None)` for an empty payload, an error for a one-byte payload
    /// ([`FrameError::TruncatedCloseCode`]), a code that may not be on the wire
    /// ([`FrameError::InvalidCloseCode`]) or a reason that is not UTF-8
    /// ([`FrameError::InvalidCloseReason`], close code 1007).
    ///
    /// ```
    /// use ferrosocket_codec::{CloseCode, CloseFrame};
    /// let frame = CloseFrame::parse(b"\x03\xe8bye").unwrap().unwrap();
    /// assert_eq!((frame.code(), frame.reason()), (CloseCode::NORMAL, "bye"));
    /// assert_eq!(CloseFrame::parse(b""), Ok(None));
    /// ```
    pub fn parse(payload: &[u8]) -> Result<Option<Self>, FrameError> {
        let (code, reason) = match payload {
            [] => return Ok(None),
            [_] => return Err(FrameError::TruncatedCloseCode),
            [hi, lo, reason @ ..] => (CloseCode(u16::from_be_bytes([*hi, *lo])), reason),
        };
        if !code.is_sendable() {
            return Err(FrameError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_CLOSE_REASON_LEN {
            return Err(FrameError::ControlFrameTooLong(126));
        }
        let reason = core::str::from_utf8(reason)
            .map_err(|e| FrameError::InvalidCloseReason(e.valid_up_to()))?;
        Ok(Some(Self {
            code,
            reason: String::from(reason),
        }))
    }

    /// The close code.
    #[inline]
    pub fn code(&self) -> CloseCode {
        self.code
    }

    /// The reason, possibly empty.
    #[inline]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The payload length: 2 plus the reason's bytes.
    #[inline]
    pub fn payload_len(&self) -> usize {
        2 + self.reason.len()
    }

    /// Appends the close payload (code, big-endian, then the reason) to `dst`.
    pub fn write_payload(&self, dst: &mut impl BufMut) {
        dst.put_u16(self.code.0);
        dst.put_slice(self.reason.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn sendable_codes_follow_rfc_7_4() {
        for code in 0u16..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode::from(code).is_sendable(), expected, "{code}");
        }
        for never in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!CloseCode::from(never).is_sendable());
        }
    }

    #[test]
    fn parse_rejects_what_the_rfc_forbids() {
        assert_eq!(
            CloseFrame::parse(b"\x03"),
            Err(FrameError::TruncatedCloseCode)
        );
        assert_eq!(
            CloseFrame::parse(b"\x03\xed"),
            Err(FrameError::InvalidCloseCode(1005))
        );
        assert_eq!(
            CloseFrame::parse(b"\x00\x00"),
            Err(FrameError::InvalidCloseCode(0))
        );
        let bad = CloseFrame::parse(b"\x03\xe8ok\xff");
        assert_eq!(bad, Err(FrameError::InvalidCloseReason(2)));
        assert_eq!(bad.unwrap_err().close_code(), CloseCode::INVALID_PAYLOAD);
        assert_eq!(
            FrameError::InvalidCloseCode(1005).close_code(),
            CloseCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn round_trip_and_reason_limit() {
        let reason = "é".repeat(61); // 122 bytes
        let frame = CloseFrame::new(CloseCode::from(4999), reason.clone()).unwrap();
        let mut buf = Vec::new();
        frame.write_payload(&mut buf);
        assert_eq!(buf.len(), frame.payload_len());
        assert_eq!(CloseFrame::parse(&buf).unwrap(), Some(frame));
        let long = "x".repeat(124);
        assert_eq!(
            CloseFrame::new(CloseCode::NORMAL, long),
            Err(FrameError::CloseReasonTooLong(124))
        );
        assert!(CloseFrame::new(CloseCode::NORMAL, "x".repeat(123)).is_ok());
    }
}
