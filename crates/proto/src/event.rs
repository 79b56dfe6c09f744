//! Events, states and the UTF-8 checked byte type.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
use ferrosocket_codec::CloseCode;
use ferrosocket_handshake::{Accepted, Rejected, Request};

/// Which side started something (here: the close handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// This endpoint.
    Local,
    /// The peer.
    Remote,
}

/// Where a connection is in its life (RFC 6455 section 4 and 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The opening handshake is under way (only [`WsConnection`](crate::WsConnection)).
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's; incoming messages are still
    /// delivered, nothing more can be sent.
    LocalClosing,
    /// The peer sent a close frame and we have not answered yet (only with
    /// [`Config::auto_close_reply`](crate::Config::auto_close_reply) off): we may still
    /// send, then must [`close`](crate::Connection::close).
    RemoteClosing,
    /// Done: no more events will come and nothing can be sent. Flush the output, then
    /// close the transport (a server at once, RFC 6455 section 7.1.1; a client may
    /// first wait a little for the server to close it).
    Closed,
}

/// Something that happened on the connection, from
/// [`Connection::next_event`](crate::Connection::next_event) or
/// [`WsConnection::next_event`](crate::WsConnection::next_event).
///
/// The handshake variants are boxed to keep the frequent ones small.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server: a valid opening request; answer it with
    /// [`WsConnection::accept`](crate::WsConnection::accept) or
    /// [`WsConnection::reject`](crate::WsConnection::reject).
    Request(Box<Request>),
    /// Client: the server accepted; the connection is open.
    Accept(Box<Accepted>),
    /// Client: the server refused; its body follows as [`Event::RejectData`].
    Reject(Box<Rejected>),
    /// Client: a piece of the refusal's body (bounded by `Content-Length`, else until
    /// end of file). The last piece has `body_finished`, possibly with empty `data`.
    RejectData {
        /// The bytes.
        data: Bytes,
        /// This is the end of the body.
        body_finished: bool,
    },
    /// Text: a whole message, or with [`Delivery::Streaming`](crate::Delivery) a piece.
    Text {
        /// The text, valid UTF-8 on its own.
        data: Utf8Bytes,
        /// This piece ends a frame.
        frame_finished: bool,
        /// This piece ends the message.
        message_finished: bool,
    },
    /// Binary: a whole message, or with [`Delivery::Streaming`](crate::Delivery) a piece.
    Binary {
        /// The bytes.
        data: Bytes,
        /// This piece ends a frame.
        frame_finished: bool,
        /// This piece ends the message.
        message_finished: bool,
    },
    /// A ping (already answered if [`Config::auto_pong`](crate::Config::auto_pong)).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The close handshake finished (or the transport ended without one: code 1006).
    Close {
        /// The peer's code; 1005 ([`CloseCode::NO_STATUS`]) for a close frame without
        /// one, 1006 ([`CloseCode::ABNORMAL`]) for end of file without a close frame.
        code: CloseCode,
        /// The peer's reason, possibly empty.
        reason: String,
        /// Who sent the first close frame ([`Side::Remote`] for end of file).
        initiated_by: Side,
    },
}

/// Immutable bytes guaranteed to be valid UTF-8, sharing memory like [`Bytes`].
///
/// Received text is validated once, as it arrives. Since this crate has no `unsafe`,
/// [`as_str`](Utf8Bytes::as_str) checks again (with SIMD, `simdutf8`) on every call:
/// about a memory pass, cheap but not free, so call it once per message, or use
/// [`into_string`](Utf8Bytes::into_string) (one check, no copy when the buffer is not
/// shared) or [`as_bytes`](Utf8Bytes::as_bytes) (free).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// An empty string.
    #[must_use]
    pub const fn new() -> Self {
        Self(Bytes::new())
    }

    /// From a static string, without a copy.
    #[must_use]
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// Checks `bytes` and wraps them (no copy).
    ///
    /// # Errors
    ///
    /// Gives `bytes` back if it is not valid UTF-8.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, Bytes> {
        match simdutf8::basic::from_utf8(&bytes) {
            Ok(_) => Ok(Self(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// Wraps bytes the caller has validated.
    pub(crate) const fn from_validated(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The text. Re-validates (SIMD) on each call, see the type documentation.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match simdutf8::basic::from_utf8(&self.0) {
            Ok(s) => s,
            // Not taken: every constructor validates and the bytes are immutable
            // (received text is split off a read buffer no caller can reach). Without
            // `unsafe` the check cannot be skipped, so rather than a panic the
            // fallback is the valid prefix.
            Err(_) => valid_prefix(&self.0),
        }
    }

    /// The bytes (free).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying bytes.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// A `String` (no copy if the bytes are not shared; one validation).
    #[must_use]
    pub fn into_string(self) -> String {
        let vec = Vec::from(self.0);
        // The error is not possible (see `as_str`); lossy rather than a panic.
        String::from_utf8(vec)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// The longest valid UTF-8 prefix of `bytes`.
#[cold]
fn valid_prefix(bytes: &[u8]) -> &str {
    let end = core::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), str::len);
    core::str::from_utf8(&bytes[..end]).unwrap_or_default()
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = Bytes;
    fn try_from(bytes: Bytes) -> Result<Self, Bytes> {
        Self::try_from_bytes(bytes)
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bytes_round_trips() {
        let s = Utf8Bytes::from("héllo €");
        assert_eq!(s.as_str(), "héllo €");
        assert_eq!(s, "héllo €");
        assert_eq!(s.len(), 10);
        assert_eq!(s.clone().into_string(), "héllo €");
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
        assert_eq!(alloc::format!("{s:?}"), "\"héllo €\"");
        assert!(Utf8Bytes::new().is_empty());
    }

    #[test]
    fn frequent_events_stay_small() {
        assert!(
            core::mem::size_of::<Event>() <= 48,
            "{}",
            core::mem::size_of::<Event>()
        );
    }
}
