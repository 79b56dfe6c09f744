//! The crate's error, [`Error`], by who is at fault ([`Fault`]): the peer
//! ([`ProtocolError`], with the close code sent to it), us ([`LocalError`]), or the
//! transport.

use core::fmt;

use ferrosocket_codec::{CloseCode, FrameError};
use ferrosocket_handshake::HandshakeError;
use ferrosocket_utf8::Utf8Error;

use crate::extension::{ExtensionError, Rsv};
use crate::time::Timer;

/// Every error of a [`Connection`](crate::Connection) or a
/// [`WsConnection`](crate::WsConnection): what went wrong and, by the variant (see
/// [`fault`](Error::fault)), who is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke RFC 6455 or one of our limits, or was too slow (a timer fired);
    /// the details say which, with the close code sent to it
    /// ([`close_code`](Error::close_code)).
    ///
    /// When [`next_event`](crate::Connection::next_event) returns it, the connection
    /// has already queued that close frame (unless it had sent one already) and is
    /// [`State::Closed`](crate::State::Closed): flush the output, then close the
    /// transport (RFC 6455 section 7.1.7, "Fail the WebSocket Connection"). No more
    /// events follow.
    Protocol(ProtocolError),
    /// The opening handshake failed. The peer's fault for a bad request (server:
    /// the HTTP error answer, [`HandshakeError::http_status`], is queued in the
    /// output) or a bad response (client); ours (HTTP status 500) when the request,
    /// the acceptance or the refusal we asked for cannot be written. Either way the
    /// connection is closed.
    Handshake(HandshakeError),
    /// We asked for something the protocol does not allow now (a send after the
    /// close, a message inside a message, ...): nothing was sent, and the connection
    /// is as it was.
    Local(LocalError),
    /// The transport ended before the opening handshake finished.
    EofDuringHandshake,
}

/// Who is at fault for an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The peer: it broke the protocol or a limit, or was too slow.
    Peer,
    /// This side: the application asked for something not allowed.
    Local,
    /// The transport: it ended (or failed) too early.
    Transport,
}

impl Error {
    /// Who is at fault.
    #[must_use]
    pub const fn fault(&self) -> Fault {
        match self {
            Self::Protocol(_) => Fault::Peer,
            Self::Handshake(e) if e.http_status() == 500 => Fault::Local,
            Self::Handshake(_) => Fault::Peer,
            Self::Local(_) => Fault::Local,
            Self::EofDuringHandshake => Fault::Transport,
        }
    }

    /// The close code sent to the peer (see [`ProtocolError::close_code`]); `None`
    /// for the errors that do not fail an open connection.
    #[must_use]
    pub const fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) => Some(e.close_code()),
            _ => None,
        }
    }

    /// The HTTP status for a handshake error, `None` otherwise.
    #[must_use]
    pub const fn http_status(&self) -> Option<u16> {
        match self {
            Self::Handshake(e) => Some(e.http_status()),
            _ => None,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Self {
        Self::Local(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => fmt::Display::fmt(e, f),
            Self::Handshake(e) => write!(f, "handshake: {e}"),
            Self::Local(e) => fmt::Display::fmt(e, f),
            Self::EofDuringHandshake => f.write_str("connection closed during the handshake"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Protocol(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Local(e) => Some(e),
            Self::EofDuringHandshake => None,
        }
    }
}

/// The former name of [`Error`] (it was [`WsConnection`](crate::WsConnection)'s
/// only), kept for code not moved over yet.
#[doc(hidden)]
pub type WsError = Error;

/// What the peer did wrong: the [`Error::Protocol`] details, with the close code
/// sent to it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A malformed or oversized frame header: reserved opcode, fragmented or long
    /// control frame, bad length encoding (1002), or a frame over
    /// [`Config::max_frame_size`](crate::Config::max_frame_size) (1009).
    Frame(FrameError),
    /// A continuation frame with no fragmented message in progress (1002).
    UnexpectedContinuation,
    /// A text or binary frame while a fragmented message waits for its
    /// continuation (1002).
    ExpectedContinuation,
    /// RSV bits set that no negotiated extension claims, or set on a continuation or
    /// control frame (1002). The bits seen are given.
    ReservedBits(Rsv),
    /// A server got an unmasked frame (1002).
    UnmaskedFrame,
    /// A client got a masked frame (1002).
    MaskedFrame,
    /// A close frame with a one-byte payload or a code that may not be sent (1002),
    /// or a reason that is not UTF-8 (1007).
    InvalidClose(FrameError),
    /// A text message (or piece of it) that is not UTF-8 (1007); reported as soon as
    /// the bytes seen cannot start valid UTF-8.
    InvalidUtf8(Utf8Error),
    /// A message longer than [`Config::max_message_size`](crate::Config::max_message_size),
    /// detected from the frame header or the extension's output (1009).
    MessageTooLarge {
        /// The configured maximum.
        max: usize,
    },
    /// A message with more frames than
    /// [`Config::max_fragments_per_message`](crate::Config::max_fragments_per_message) (1009).
    TooManyFragments {
        /// The configured maximum.
        max: u64,
    },
    /// The extension refused the payload (its code, e.g. 1002 or 1009).
    Extension(ExtensionError),
    /// A timer fired ([`Timer::close_code`] says what was sent): the peer took too
    /// long to finish the handshake, answer our close or keepalive ping, send
    /// anything, or finish a message.
    Timeout(Timer),
}

impl ProtocolError {
    /// The close code sent to the peer for this error.
    #[must_use]
    pub const fn close_code(&self) -> CloseCode {
        match self {
            Self::Frame(e) | Self::InvalidClose(e) => e.close_code(),
            Self::InvalidUtf8(_) => CloseCode::INVALID_PAYLOAD,
            Self::MessageTooLarge { .. } | Self::TooManyFragments { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            Self::Extension(e) => e.close_code(),
            Self::Timeout(timer) => timer.close_code(),
            Self::UnexpectedContinuation
            | Self::ExpectedContinuation
            | Self::ReservedBits(_)
            | Self::UnmaskedFrame
            | Self::MaskedFrame => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(e) => write!(f, "invalid frame: {e}"),
            Self::UnexpectedContinuation => f.write_str("continuation frame outside a message"),
            Self::ExpectedContinuation => f.write_str("new data frame inside a fragmented message"),
            Self::ReservedBits(rsv) => write!(f, "reserved bits {rsv:?} set"),
            Self::UnmaskedFrame => f.write_str("unmasked frame from a client"),
            Self::MaskedFrame => f.write_str("masked frame from a server"),
            Self::InvalidClose(e) => write!(f, "invalid close frame: {e}"),
            Self::InvalidUtf8(e) => write!(f, "text message is not UTF-8: {e}"),
            Self::MessageTooLarge { max } => write!(f, "message larger than {max} bytes"),
            Self::TooManyFragments { max } => write!(f, "message of more than {max} frames"),
            Self::Extension(e) => write!(f, "extension: {e}"),
            Self::Timeout(timer) => write!(f, "{timer}"),
        }
    }
}

impl core::error::Error for ProtocolError {}

/// What we asked for that is not allowed: the [`Error::Local`] details. Nothing
/// was written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalError {
    /// A close frame was sent already (or the connection is closed): nothing more can
    /// be sent.
    Closed,
    /// The opening handshake is not over ([`WsConnection`](crate::WsConnection)).
    NotOpen,
    /// A whole message or a new fragmented one while a fragmented message is in
    /// progress: finish it first (fin = true).
    MessageInProgress,
    /// A continuation frame with no fragmented message in progress.
    NoMessageInProgress,
    /// [`send_frame`](crate::Connection::send_frame) with a control opcode: use
    /// `ping`, `pong` or `close`.
    ControlOpCode,
    /// A ping or pong payload over 125 bytes (its length is given).
    ControlPayloadTooLong(usize),
    /// A close code that may not be sent, or a reason over 123 bytes.
    InvalidClose(FrameError),
    /// Text fragments that are not UTF-8 (a code point may be split between
    /// fragments, but the message must be valid when it ends).
    InvalidUtf8(Utf8Error),
    /// The extension failed to encode.
    Extension(ExtensionError),
    /// Not possible in the current state, e.g. [`WsConnection::accept`](crate::WsConnection::accept)
    /// without a request waiting for an answer.
    InvalidState,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the connection is closing or closed"),
            Self::NotOpen => f.write_str("the opening handshake is not finished"),
            Self::MessageInProgress => f.write_str("a fragmented message is in progress"),
            Self::NoMessageInProgress => f.write_str("no fragmented message in progress"),
            Self::ControlOpCode => f.write_str("control frames are sent with ping, pong, close"),
            Self::ControlPayloadTooLong(n) => {
                write!(f, "control frame payload of {n} bytes exceeds 125")
            }
            Self::InvalidClose(e) => write!(f, "{e}"),
            Self::InvalidUtf8(e) => write!(f, "text is not UTF-8: {e}"),
            Self::Extension(e) => write!(f, "extension: {e}"),
            Self::InvalidState => f.write_str("not possible in the current state"),
        }
    }
}

impl core::error::Error for LocalError {}
