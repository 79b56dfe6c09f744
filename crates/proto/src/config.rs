//! Roles and configuration.

use core::time::Duration;

use crate::time::Keepalive;

/// Which end of the connection we are: it decides who masks (RFC 6455 section 5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The client: masks every frame it sends, refuses masked frames.
    Client,
    /// The server: sends unmasked frames, refuses unmasked ones (unless
    /// [`Config::accept_unmasked_frames`]).
    Server,
}

/// How data messages are handed to the application: [`Config::delivery`] at first,
/// switched between messages with
/// [`Connection::set_delivery`](crate::Connection::set_delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Delivery {
    /// One [`Event::Text`](crate::Event::Text) or [`Event::Binary`](crate::Event::Binary)
    /// per whole message (both `*_finished` flags true). A message held in one frame is
    /// handed over without a copy; a fragmented one is assembled (one copy).
    #[default]
    Assembled,
    /// Payload is handed over as it arrives, even part of a frame, each piece without a
    /// copy (text pieces always end on a code point boundary, see
    /// [`Utf8Bytes`](crate::Utf8Bytes)). `frame_finished` and `message_finished` say
    /// where frames and messages end.
    ///
    /// Memory does not follow the message size: a piece is what of the payload is in
    /// the read buffer, which is never asked to make room for a whole frame
    /// ([`Connection::frame_bytes_wanted`](crate::Connection::frame_bytes_wanted) is
    /// 0), so it holds what the last read brought. Through an extension
    /// (permessage-deflate) a piece holds at most 64 KiB of decoded bytes, and no
    /// more than about 256 KiB are decoded ahead, whatever the compression ratio:
    /// the rest waits (as input in the read buffer) for the next
    /// [`next_event`](crate::Connection::next_event)s, which make the next pieces
    /// without reading.
    Streaming,
}

/// Limits and behaviour of a [`Connection`](crate::Connection).
///
/// The defaults are meant for a public server: every limit is finite and checked
/// from frame headers before any payload is buffered.
///
/// | setting | default |
/// |---|---|
/// | [`max_frame_size`](Config::max_frame_size) | 16 MiB |
/// | [`max_message_size`](Config::max_message_size) | 64 MiB |
/// | [`max_fragments_per_message`](Config::max_fragments_per_message) | `Some(1 << 20)` |
/// | [`auto_pong`](Config::auto_pong) | `true` |
/// | [`auto_close_reply`](Config::auto_close_reply) | `true` |
/// | [`delivery`](Config::delivery) | [`Delivery::Assembled`] |
/// | [`accept_unmasked_frames`](Config::accept_unmasked_frames) | `false` |
/// | [`handshake_timeout`](Config::handshake_timeout) | 10 s |
/// | [`close_timeout`](Config::close_timeout) | 5 s |
/// | [`keepalive`](Config::keepalive) | a ping every 20 s, answered within 20 s |
/// | [`idle_timeout`](Config::idle_timeout) | `None` (keepalive finds dead peers) |
/// | [`message_timeout`](Config::message_timeout) | 60 s |
///
/// The timeouts run only where the driver gives the connection the time
/// ([`Connection::handle_timeout`](crate::Connection::handle_timeout); the engine's
/// streams do); see [`Timer`](crate::Timer) for what each one does when it fires.
///
/// ```
/// use ferrosocket_proto::{Config, Delivery};
/// let config = Config::default().max_message_size(1 << 20).delivery(Delivery::Streaming);
/// assert_eq!(config.max_frame_size, 16 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Config {
    /// Largest payload of one frame, in bytes (default 16 MiB). A frame announcing
    /// more is refused from its header (close 1009). This also bounds what the read
    /// buffer holds for one frame in [`Delivery::Assembled`] mode.
    pub max_frame_size: usize,
    /// Largest message, in bytes, summed over its frames and, with an extension,
    /// also after decoding (default 64 MiB). A frame header announcing more than what
    /// is left of it is refused before its payload is read (close 1009).
    pub max_message_size: usize,
    /// Most frames in one message, first frame included (default `Some(1 << 20)`,
    /// `None`: unlimited). Empty continuation frames cost no memory but an event each
    /// in streaming mode and parsing time; this caps them. Exceeding it closes with
    /// 1009 (message too big), the same code as the byte limits.
    pub max_fragments_per_message: Option<u64>,
    /// Answer every ping with a pong carrying the same payload (default `true`). The
    /// [`Event::Ping`](crate::Event::Ping) is reported either way.
    pub auto_pong: bool,
    /// Answer the peer's close frame at once by echoing its code (default `true`);
    /// the state then goes straight to [`State::Closed`](crate::State::Closed). When
    /// `false`, the state stays [`State::RemoteClosing`](crate::State::RemoteClosing)
    /// until the application calls [`Connection::close`](crate::Connection::close).
    pub auto_close_reply: bool,
    /// Whole messages or pieces as they arrive (default [`Delivery::Assembled`]); a
    /// connection can switch between messages
    /// ([`Connection::set_delivery`](crate::Connection::set_delivery)).
    pub delivery: Delivery,
    /// Server only: accept unmasked frames from the client (default `false`; RFC 6455
    /// requires closing with 1002). Only for peers known to be broken.
    pub accept_unmasked_frames: bool,
    /// How long the opening handshake may take, from the first time given to a
    /// [`WsConnection`](crate::WsConnection) (default 10 s): a peer that trickles
    /// its request or answer is dropped.
    pub handshake_timeout: Option<Duration>,
    /// How long to wait for the peer's close after sending ours (default 5 s).
    pub close_timeout: Option<Duration>,
    /// Keepalive pings and their timeout (default: every 20 s, answered within
    /// 20 s, as Python websockets); `None` sends none.
    pub keepalive: Option<Keepalive>,
    /// Fail the connection (close 1001) when nothing at all arrives for this long
    /// (default `None`: with keepalive on, a live peer's pongs would keep it busy
    /// anyway, and a dead one fails the keepalive).
    pub idle_timeout: Option<Duration>,
    /// How long one data message may take from its first frame header to its last
    /// byte (default 60 s): a peer that trickles a message, fragmented or not, is
    /// closed with 1008 (policy violation) instead of holding a buffer forever.
    pub message_timeout: Option<Duration>,
}

impl Config {
    /// The defaults (see the table above).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments_per_message: Some(1 << 20),
            auto_pong: true,
            auto_close_reply: true,
            delivery: Delivery::Assembled,
            accept_unmasked_frames: false,
            handshake_timeout: Some(Duration::from_secs(10)),
            close_timeout: Some(Duration::from_secs(5)),
            keepalive: Some(Keepalive::new(
                Duration::from_secs(20),
                Duration::from_secs(20),
            )),
            idle_timeout: None,
            message_timeout: Some(Duration::from_secs(60)),
        }
    }

    /// No timers at all: no handshake, close, idle or message timeout, no
    /// keepalive.
    #[must_use]
    pub const fn without_timers(mut self) -> Self {
        self.handshake_timeout = None;
        self.close_timeout = None;
        self.keepalive = None;
        self.idle_timeout = None;
        self.message_timeout = None;
        self
    }

    /// Sets [`handshake_timeout`](Config::handshake_timeout).
    #[must_use]
    pub const fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`close_timeout`](Config::close_timeout).
    #[must_use]
    pub const fn close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`keepalive`](Config::keepalive).
    #[must_use]
    pub const fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets [`idle_timeout`](Config::idle_timeout).
    #[must_use]
    pub const fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`message_timeout`](Config::message_timeout).
    #[must_use]
    pub const fn message_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.message_timeout = timeout;
        self
    }

    /// Sets [`max_frame_size`](Config::max_frame_size).
    #[must_use]
    pub const fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`max_message_size`](Config::max_message_size).
    #[must_use]
    pub const fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_fragments_per_message`](Config::max_fragments_per_message).
    #[must_use]
    pub const fn max_fragments_per_message(mut self, frames: Option<u64>) -> Self {
        self.max_fragments_per_message = frames;
        self
    }

    /// Sets [`auto_pong`](Config::auto_pong).
    #[must_use]
    pub const fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// Sets [`auto_close_reply`](Config::auto_close_reply).
    #[must_use]
    pub const fn auto_close_reply(mut self, on: bool) -> Self {
        self.auto_close_reply = on;
        self
    }

    /// Sets [`delivery`](Config::delivery).
    #[must_use]
    pub const fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// Sets [`accept_unmasked_frames`](Config::accept_unmasked_frames).
    #[must_use]
    pub const fn accept_unmasked_frames(mut self, on: bool) -> Self {
        self.accept_unmasked_frames = on;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}
