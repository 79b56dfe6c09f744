//! The engine of ferrosocket: what every runtime binding shares, above the sans-IO
//! [`ferrosocket_proto`] core. Whole [`Message`]s, the [`StreamConfig`], the
//! bindings' [`Error`], and [`StreamCore`], the runtime-neutral half of a message
//! stream.
//!
//! Messages come whole by default. A stream switched to
//! [`Delivery::Streaming`] ([`StreamCore::set_delivery`],
//! `WebSocketStream::set_delivery`; the switch is made at a message boundary) hands
//! data messages out piece by piece as they arrive ([`Incoming`], from
//! [`StreamCore::next_incoming`] and `WebSocketStream::recv_incoming`), in memory
//! bounded by a read ([`StreamConfig::read_chunk_max`]), whatever the message size.
//!
//! A binding (tokio, futures-io, blocking std::io) owns the socket and the timers and
//! does only I/O: it reads into [`StreamCore::read_buf`] when
//! [`StreamCore::next_message`] needs data, and writes [`StreamCore::output`] out.
//! Everything else (events to messages, close handling, the write-buffer limit, buffer
//! sizing and release) lives here once, so protocol code written against these types
//! runs unchanged on any runtime.
//!
//! Also shared: the opening handshake over any byte transport ([`ServerHandshake`],
//! [`ClientHandshake`], [`ClientOptions`], [`Decision`], [`Response`]), the rustls
//! client configuration (`tls`, feature `tls`) and, for the poll-based bindings
//! (tokio, futures-io), the whole connection driver in [`poll`], generic over
//! [`PollIo`](poll::PollIo) and a [`AsyncTimer`](poll::AsyncTimer).
//!
//! # Example
//!
//! A server's half of a stream, fed by hand (a binding does this from its socket):
//!
//! ```
//! use ferrosocket_io::{Message, StreamConfig, StreamCore};
//! use ferrosocket_io::proto::{Config, Connection, Role};
//!
//! let mut core = StreamCore::new(Connection::new(Role::Server, Config::default()), StreamConfig::default());
//! // A masked text frame "hi" (mask key 0), as a client sends it.
//! core.read_buf().extend_from_slice(b"\x81\x82\0\0\0\0hi");
//! assert_eq!(core.next_message().unwrap().unwrap(), Message::text("hi"));
//! core.send(Message::text("hi back")).unwrap();
//! assert_eq!(core.output(), b"\x81\x07hi back");
//! ```
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

extern crate alloc;

pub use ferrosocket_proto as proto;

use alloc::string::String;
use core::fmt;
use core::task::Poll;
use core::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrosocket_proto::handshake::HandshakeError;
use ferrosocket_proto::{CloseCode, CloseFrame, OpCode};
use std::io::IoSlice;

#[cfg(feature = "futures-io")]
pub use adapters::FuturesIo;
#[cfg(feature = "tokio")]
pub use adapters::TokioIo;
pub use connect::{ClientTls, Runtime, accept, client, connect};
use ferrosocket_proto::{Config, Connection, Event, LocalError, ProtocolError, State, Utf8Bytes};
pub use ferrosocket_proto::{Delivery, Keepalive, Timer};
pub use stream::{ReadHalf, ReuniteError, WebSocketStream, WriteHalf};
pub use transport::{MaybeTlsStream, NoSocket, Sockets};

mod adapters;
mod connect;
mod handshake;
pub mod poll;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
#[cfg(feature = "http")]
pub mod upgrade;

pub use handshake::{
    ClientHandshake, ClientOptions, Decision, HandshakeIo, Refusal, Response, ServerHandshake,
    parse_url,
};

/// A whole WebSocket message, as the stream adapters receive and send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message; valid UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes). Received pings are answered automatically unless
    /// auto-pong is off.
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A close frame: `None` carries no status code (received as 1005; sent as 1000).
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// Whether this is a text or binary message (not a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_))
    }

    /// The payload bytes (for a close: none).
    pub fn as_payload(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(_) => &[],
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text.into())
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::Text(text.into())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Self::Binary(data)
    }
}

impl From<alloc::vec::Vec<u8>> for Message {
    fn from(data: alloc::vec::Vec<u8>) -> Self {
        Self::Binary(data.into())
    }
}

/// The kind of a data message, for [`Incoming::Data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// Text: every piece is valid UTF-8 on its own (pieces end on code point
    /// boundaries).
    Text,
    /// Binary.
    Binary,
}

/// What [`StreamCore::next_incoming`] (and the streams' `recv_incoming`) yields:
/// pieces of data messages with [`Delivery::Streaming`], whole messages otherwise.
///
/// With [`Delivery::Streaming`] a data message comes as `Data` pieces in order, the
/// last with `fin`; pings, pongs and the close still come whole, as `Message`, also
/// between the pieces of a fragmented message. With [`Delivery::Assembled`] every
/// message comes whole, as `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A piece of a data message: what of its payload arrived (decoded, with
    /// permessage-deflate), never empty unless it is an empty message's end.
    Data {
        /// Text or binary, the same for every piece of a message.
        kind: DataKind,
        /// The bytes; for text, valid UTF-8 (see [`Utf8Bytes`] to keep that in the
        /// type: `Utf8Bytes::try_from(data)`).
        data: Bytes,
        /// This piece ends the message.
        fin: bool,
    },
    /// A whole message: a ping, a pong, the close, or with
    /// [`Delivery::Assembled`] a data message.
    Message(Message),
}

impl Incoming {
    /// Whether this is the peer's close ([`Message::Close`]).
    pub fn is_close(&self) -> bool {
        matches!(self, Self::Message(Message::Close(_)))
    }
}

/// Settings of a message stream, the same for every runtime adapter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamConfig {
    /// The protocol settings: limits, auto-pong, delivery (the streams start with
    /// [`Delivery::Assembled`]; switch with [`StreamCore::set_delivery`]).
    pub protocol: Config,
    /// Bytes of queued output at which `send` waits for the socket before queueing
    /// more: a slow peer cannot grow memory without bound. Default 1 MiB.
    pub write_buffer_limit: usize,
    /// Spare room asked for before each read; the buffer grows beyond it only while a
    /// frame needs more, or while the peer keeps it busy (see
    /// [`read_chunk_max`](Self::read_chunk_max)). Default 8 KiB.
    pub read_chunk: usize,
    /// While reads keep filling the room they were given, the next read is offered
    /// twice as much, up to this (default 64 KiB); a read that comes back short
    /// returns to [`read_chunk`](Self::read_chunk). A pipelining peer is thus read in
    /// batches of several messages, whose replies go out in one write, and an idle
    /// or slow one costs one small buffer.
    ///
    /// With [`Delivery::Streaming`] it is also the most a read is offered, however
    /// large a frame or the last message: the size of the pieces handed out and,
    /// about, of the read buffer.
    pub read_chunk_max: usize,
    /// The largest read (and write) buffer kept while the connection waits for input
    /// once the messages in it were handed out (or written) (default 2 MiB): a peer
    /// exchanging messages up to this size is served from the same memory each time
    /// instead of fresh pages. A larger buffer is freed as soon as the connection
    /// waits; 0 frees every emptied one.
    pub read_buffer_retain: usize,
    /// permessage-deflate (RFC 7692): a client offers it, a server accepts the
    /// first offer it can honour; `None` turns it off. Default: on with
    /// [`DeflateConfig::default`](ferrosocket_proto::deflate::DeflateConfig), so it is used
    /// wherever the peer wants it too (browsers always offer it).
    #[cfg(feature = "deflate")]
    pub compression: Option<ferrosocket_proto::deflate::DeflateConfig>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            protocol: Config::default(),
            write_buffer_limit: 1 << 20,
            read_chunk: 8 * 1024,
            read_chunk_max: 64 * 1024,
            read_buffer_retain: 2 << 20,
            #[cfg(feature = "deflate")]
            compression: Some(ferrosocket_proto::deflate::DeflateConfig::new()),
        }
    }
}

impl StreamConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the protocol settings.
    pub fn protocol(mut self, protocol: Config) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets [`write_buffer_limit`](Self::write_buffer_limit).
    pub fn write_buffer_limit(mut self, bytes: usize) -> Self {
        self.write_buffer_limit = bytes.max(1);
        self
    }

    /// Sets [`read_chunk`](Self::read_chunk).
    pub fn read_chunk(mut self, bytes: usize) -> Self {
        self.read_chunk = bytes.max(64);
        self
    }

    /// Sets [`read_buffer_retain`](Self::read_buffer_retain).
    pub fn read_buffer_retain(mut self, bytes: usize) -> Self {
        self.read_buffer_retain = bytes;
        self
    }

    /// Sets [`compression`](Self::compression).
    #[cfg(feature = "deflate")]
    pub fn compression(
        mut self,
        compression: Option<ferrosocket_proto::deflate::DeflateConfig>,
    ) -> Self {
        self.compression = compression;
        self
    }

    /// Sets [`read_chunk_max`](Self::read_chunk_max) (at least `read_chunk` in
    /// effect; equal to it turns the growth off).
    pub fn read_chunk_max(mut self, bytes: usize) -> Self {
        self.read_chunk_max = bytes;
        self
    }

    /// How long the opening handshake may take, the user's decision included (a
    /// peer that trickles its request is dropped): [`Error::Timeout`] with
    /// [`Timer::Handshake`]. Default 10 s; `None` turns it off. Sets
    /// [`Config::handshake_timeout`] of [`protocol`](Self::protocol).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.protocol = self.protocol.handshake_timeout(timeout);
        self
    }

    /// How long to wait for the peer's close after sending ours (and for the last
    /// writes after the closing handshake) before dropping the socket:
    /// [`Timer::Close`]. Default 5 s. Sets [`Config::close_timeout`].
    pub fn close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.protocol = self.protocol.close_timeout(timeout);
        self
    }

    /// Keepalive pings (Python websockets' `ping_interval` / `ping_timeout`): a ping
    /// every `interval`; a peer that does not answer one within `timeout` is
    /// closed with 1011 ([`Timer::Keepalive`]). Default every 20 s, answered within
    /// 20 s; `None` turns it off. Sets [`Config::keepalive`].
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.protocol = self.protocol.keepalive(keepalive);
        self
    }

    /// How long the peer may send nothing at all before it is closed with 1001
    /// ([`Timer::Idle`]). Default `None`. Sets [`Config::idle_timeout`].
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.protocol = self.protocol.idle_timeout(timeout);
        self
    }

    /// How long a data message may take from its first byte to its last (a peer
    /// trickling a message is closed with 1008, [`Timer::Message`]). Default 60 s.
    /// Sets [`Config::message_timeout`].
    pub fn message_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.protocol = self.protocol.message_timeout(timeout);
        self
    }

    /// Turns every timer off (handshake, close, keepalive, idle, message).
    pub fn without_timers(mut self) -> Self {
        self.protocol = self.protocol.without_timers();
        self
    }

    /// This configuration with whole-message delivery
    /// ([`Delivery::Assembled`]), which the adapters' message streams start with
    /// (a stream switches with [`StreamCore::set_delivery`]).
    #[must_use]
    pub fn assembled(mut self) -> Self {
        self.protocol = self.protocol.delivery(Delivery::Assembled);
        self
    }
}

/// What a read returned, for [`read_into_spare`]: how many bytes it read.
pub trait ReadOutcome {
    /// Bytes read (0 for an error or a pending read).
    fn bytes_read(&self) -> usize;
}

impl<E> ReadOutcome for Result<usize, E> {
    fn bytes_read(&self) -> usize {
        *self.as_ref().unwrap_or(&0)
    }
}

impl<T: ReadOutcome> ReadOutcome for Poll<T> {
    fn bytes_read(&self) -> usize {
        match self {
            Poll::Ready(outcome) => outcome.bytes_read(),
            Poll::Pending => 0,
        }
    }
}

/// Reads into the spare capacity of `buf`, at most `chunk` bytes, with a reader
/// that needs an initialized slice (`std::io::Read`, futures-io's `AsyncRead`).
///
/// The region handed to `read` is zeroed first: at most `chunk`
/// ([`StreamConfig::read_chunk`], 8 KiB by default) bytes per call, never the
/// whole (possibly large) spare capacity; room for `chunk` is reserved if needed.
/// A larger `read_chunk` means fewer reads for big messages but more bytes zeroed
/// per read (also for a poll that finds nothing). Returns what `read` returned.
pub fn read_into_spare<R: ReadOutcome>(
    buf: &mut BytesMut,
    chunk: usize,
    read: impl FnOnce(&mut [u8]) -> R,
) -> R {
    let len = buf.len();
    if buf.capacity() - len < chunk {
        buf.reserve(chunk);
    }
    let room = (buf.capacity() - len).min(chunk);
    buf.resize(len + room, 0);
    let result = read(&mut buf[len..]);
    buf.truncate(len + result.bytes_read().min(room));
    result
}

/// Whether to free a buffer's allocation: it holds no bytes, unless it is a
/// `BytesMut` of capacity 0 still sharing an `allocation` of at most `retain` bytes
/// (whose bytes were all split off or consumed): the next use takes that memory
/// back. Resets `allocation` when it says yes.
fn should_release(empty: bool, capacity: usize, allocation: &mut usize, retain: usize) -> bool {
    let release = empty && (capacity > 0 || *allocation > retain);
    if release {
        *allocation = 0;
    }
    release
}

/// The error of a message stream, whatever the runtime.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed, or the peer went away without a close frame
    /// (`UnexpectedEof`).
    Io(std::io::Error),
    /// The peer broke the protocol; the close frame with
    /// [`close_code`](ProtocolError::close_code) was sent.
    Protocol(ProtocolError),
    /// This side asked for something the protocol does not allow (e.g. sending after
    /// close).
    Local(LocalError),
    /// The opening handshake failed; [`HandshakeError::http_status`] says the HTTP
    /// answer a server sent.
    Handshake(HandshakeError),
    /// The server answered the client's handshake with something other than 101.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The response body (as much as arrived, bounded by the header limit).
        body: Bytes,
    },
    /// A timer of [`StreamConfig`] fired: which one says what happened and, for
    /// those that close the connection, the close code the peer was sent
    /// ([`Timer::close_code`]).
    Timeout(Timer),
    /// Client: the server's answer agreed to an extension in a way we did not
    /// offer (RFC 7692 section 7.1: the client fails the connection; the socket is
    /// dropped). [`close_code`](ferrosocket_proto::deflate::ConfirmError::close_code) is 1010.
    #[cfg(feature = "deflate")]
    Extension(ferrosocket_proto::deflate::ConfirmError),
    /// The URL is not one this adapter can connect to.
    InvalidUrl(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Local(e) => write!(f, "{e}"),
            Self::Handshake(e) => write!(f, "handshake failed: {e}"),
            Self::Rejected { status, .. } => {
                write!(f, "the server rejected the upgrade with HTTP {status}")
            }
            Self::Timeout(timer) => write!(f, "timed out: {timer}"),
            #[cfg(feature = "deflate")]
            Self::Extension(e) => write!(f, "handshake failed: {e}"),
            Self::InvalidUrl(u) => write!(f, "invalid WebSocket URL: {u}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Local(e) => Some(e),
            Self::Handshake(e) => Some(e),
            #[cfg(feature = "deflate")]
            Self::Extension(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::Timeout(timer) => Self::Timeout(timer),
            e => Self::Protocol(e),
        }
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

impl From<ferrosocket_proto::Error> for Error {
    fn from(e: ferrosocket_proto::Error) -> Self {
        use ferrosocket_proto::Error as Proto;
        match e {
            Proto::Handshake(h) => Self::Handshake(h),
            Proto::Protocol(p) => p.into(),
            Proto::Local(l) => Self::Local(l),
            Proto::EofDuringHandshake => Self::Io(std::io::ErrorKind::UnexpectedEof.into()),
            other => Self::Io(std::io::Error::other(other)),
        }
    }
}

/// The runtime-neutral half of a message stream over an open [`Connection`].
///
/// The adapter loop, the same on every runtime:
/// 1. [`next_message`](Self::next_message); on `Some`, deliver it; on `None`, write
///    any [`output`](Self::output), then read into [`read_buf`](Self::read_buf)
///    (after [`prepare_read`](Self::prepare_read)); a read of 0 bytes is
///    [`receive_eof`](Self::receive_eof).
/// 2. To send: wait (writing output) while [`write_buffer_full`](Self::write_buffer_full),
///    then [`send`](Self::send); flush [`output`](Self::output) and
///    [`consume`](Self::consume) what was written.
/// 3. When [`is_closed`](Self::is_closed) and the output is written, close the socket.
///
/// Reads happen only when the application asks for a message, so a peer cannot make
/// a slow consumer buffer without bound beyond the protocol limits.
#[derive(Debug)]
pub struct StreamCore {
    conn: Connection,
    config: StreamConfig,
    /// The message stream ended (close received and answered, or an error).
    finished: bool,
    /// Room offered to the next read (between `read_chunk` and `read_chunk_max`).
    read_size: usize,
    /// Input bytes consumed since the last data message was handed out.
    message_wire_len: usize,
    /// Input bytes the last data message took (a hint for the next read's size).
    last_message_wire_len: usize,
    /// The largest capacity the read buffer had since it was last freed: the size
    /// of the allocation an emptied buffer may still hold.
    read_allocation: usize,
    /// The same for the output buffer.
    write_allocation: usize,
    /// The read buffer's spare room, lent to the adapter by
    /// [`prepare_read`](Self::prepare_read) (or [`read_buf`](Self::read_buf)) and
    /// given back to the connection by the next call that needs the input.
    lent: BytesMut,
}

impl StreamCore {
    /// Wraps an open connection.
    pub fn new(conn: Connection, config: StreamConfig) -> Self {
        Self {
            conn,
            read_size: config.read_chunk,
            message_wire_len: 0,
            last_message_wire_len: 0,
            read_allocation: 0,
            write_allocation: 0,
            lent: BytesMut::new(),
            config,
            finished: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// The connection, for anything this type does not wrap.
    pub fn connection_mut(&mut self) -> &mut Connection {
        self.take_back_read_buf();
        &mut self.conn
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// Whether the closing handshake is over (or the connection failed): write the
    /// remaining output, then close the socket.
    pub fn is_closed(&self) -> bool {
        self.conn.state() == State::Closed
    }

    /// Whether we sent a close and wait for the peer's (the adapter bounds this wait
    /// with [`StreamConfig::close_timeout`]).
    pub fn is_closing(&self) -> bool {
        self.conn.state() == State::LocalClosing
    }

    /// The next message, or `None` when more input is needed (or the stream ended:
    /// see [`is_finished`](Self::is_finished)).
    ///
    /// A received close is delivered as [`Message::Close`] once, after which the stream
    /// is finished; the echo was queued in the output. A peer that vanishes without a
    /// close gives `Err(Error::Io(UnexpectedEof))`. A protocol error gives
    /// `Err(Error::Protocol)` with the close frame queued.
    ///
    /// With [`Delivery::Streaming`] (see [`set_delivery`](Self::set_delivery)) each
    /// piece of a data message comes as a message of its own; use
    /// [`next_incoming`](Self::next_incoming) to see where messages end.
    pub fn next_message(&mut self) -> Option<Result<Message, Error>> {
        let event = match self.next_event()? {
            Ok(event) => event,
            Err(e) => return Some(Err(e)),
        };
        match event {
            Event::Text { data, .. } => Some(Ok(Message::Text(data))),
            Event::Binary { data, .. } => Some(Ok(Message::Binary(data))),
            event => match self.control_message(event) {
                Some(message) => Some(message),
                // Handshake events never come from an open connection.
                None => self.next_message(),
            },
        }
    }

    /// The next piece of a data message, or the next whole message (see
    /// [`Incoming`]), or `None` when more input is needed (or the stream ended: see
    /// [`is_finished`](Self::is_finished)); closes and errors as
    /// [`next_message`](Self::next_message).
    ///
    /// With [`Delivery::Streaming`] a piece is what of the payload arrived: at most
    /// a read's worth (reads are offered at most [`StreamConfig::read_chunk_max`]
    /// then, see [`prepare_read`](Self::prepare_read)), or at most 64 KiB of decoded
    /// bytes with permessage-deflate (which decodes at most about 256 KiB ahead), so
    /// memory does not follow the message size (the message and frame size limits
    /// of [`Config`] still apply). With
    /// [`Delivery::Assembled`] it yields whole messages, as `next_message`.
    pub fn next_incoming(&mut self) -> Option<Result<Incoming, Error>> {
        loop {
            // The event comes in the delivery in effect now: a switch asked for
            // during a message is made when its last event is made.
            let streaming = self.conn.delivery() == Delivery::Streaming;
            let event = match self.next_event()? {
                Ok(event) => event,
                Err(e) => return Some(Err(e)),
            };
            let (kind, data, fin) = match event {
                Event::Text {
                    data,
                    message_finished,
                    ..
                } if streaming => (DataKind::Text, data.into_bytes(), message_finished),
                Event::Binary {
                    data,
                    message_finished,
                    ..
                } if streaming => (DataKind::Binary, data, message_finished),
                Event::Text { data, .. } => {
                    return Some(Ok(Incoming::Message(Message::Text(data))));
                }
                Event::Binary { data, .. } => {
                    return Some(Ok(Incoming::Message(Message::Binary(data))));
                }
                event => match self.control_message(event) {
                    Some(message) => return Some(message.map(Incoming::Message)),
                    None => continue,
                },
            };
            // Frame ends that bring no payload say nothing to the application.
            if data.is_empty() && !fin {
                continue;
            }
            return Some(Ok(Incoming::Data { kind, data, fin }));
        }
    }

    /// The next event of the connection, with the bookkeeping of
    /// [`next_message`](Self::next_message): errors end the stream.
    #[inline]
    fn next_event(&mut self) -> Option<Result<Event, Error>> {
        self.take_back_read_buf();
        if self.finished {
            return None;
        }
        let buffered = self.conn.buffered_input_len();
        // The allocation behind the read buffer, before messages split it up.
        self.read_allocation = self.read_allocation.max(self.conn.read_buffer_capacity());
        let event = self.conn.next_event();
        self.message_wire_len += buffered - self.conn.buffered_input_len();
        let event = match event? {
            Ok(event) => event,
            Err(e) => {
                self.finished = true;
                return Some(Err(e.into()));
            }
        };
        if matches!(event, Event::Text { .. } | Event::Binary { .. }) {
            // What the last message took on the wire: the next read is offered at
            // least that much, so that a peer sending messages of one size has each
            // read in one go instead of a read of `read_chunk` and then the rest.
            self.last_message_wire_len = core::mem::take(&mut self.message_wire_len);
        }
        Some(Ok(event))
    }

    /// A control event as a message (the close ends the stream); `None` for the
    /// events an open connection never makes.
    fn control_message(&mut self, event: Event) -> Option<Result<Message, Error>> {
        Some(Ok(match event {
            Event::Ping(data) => Message::Ping(data),
            Event::Pong(data) => Message::Pong(data),
            Event::Close { code, reason, .. } => {
                self.finished = true;
                if code == CloseCode::ABNORMAL {
                    return Some(Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into())));
                }
                Message::Close(CloseFrame::new(code, reason).ok())
            }
            _ => return None,
        }))
    }

    /// How data messages are delivered now (see [`set_delivery`](Self::set_delivery)).
    pub fn delivery(&self) -> Delivery {
        self.conn.delivery()
    }

    /// Switches how data messages are delivered, at the next message boundary: at
    /// once between messages, else when the message being received ends (see
    /// [`Connection::set_delivery`]). Streams start with [`Delivery::Assembled`];
    /// with [`Delivery::Streaming`] read data with
    /// [`next_incoming`](Self::next_incoming), which then yields pieces, and reads
    /// are offered at most [`StreamConfig::read_chunk_max`].
    pub fn set_delivery(&mut self, delivery: Delivery) {
        self.take_back_read_buf();
        self.conn.set_delivery(delivery);
    }

    /// Whether the stream has delivered its close or error: nothing more will come.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The transport failed (an I/O error was reported to the application): the
    /// stream is finished, [`next_message`](Self::next_message) gives `None`.
    pub fn fail(&mut self) {
        self.finished = true;
    }

    /// Input: the time is now `now` (since an origin the driver picked); fires the
    /// timers that are due (see [`Connection::handle_timeout`]).
    pub fn handle_timeout(&mut self, now: ferrosocket_proto::Instant) {
        self.take_back_read_buf();
        self.conn.handle_timeout(now);
    }

    /// See [`Connection::timers_settled`]: `handle_timeout` may wait for the sleep.
    pub fn timers_settled(&self) -> bool {
        self.conn.timers_settled()
    }

    /// Output: when [`handle_timeout`](Self::handle_timeout) is next due (`None`: no
    /// timer runs).
    pub fn poll_timeout(&self) -> Option<ferrosocket_proto::Instant> {
        let deadline = self.conn.poll_timeout();
        if self.lent.is_empty() {
            deadline
        } else {
            // Bytes read but not given back yet: activity to stamp at once.
            deadline.map(|_| ferrosocket_proto::Instant::ZERO)
        }
    }

    /// Whether the closing phase began: our close frame is queued (or sent), or the
    /// connection is over. From this moment the adapter bounds what is left (the
    /// peer's close, the last writes) with [`StreamConfig::close_timeout`].
    pub fn close_deadline_needed(&self) -> bool {
        matches!(self.conn.state(), State::LocalClosing | State::Closed)
    }

    /// Makes room for the next read and returns the buffer to read into: at least
    /// [`StreamConfig::read_chunk`] bytes of spare capacity, and while a frame
    /// header announced a payload not yet received, room for all of it at once
    /// (its length was checked against the limits; the eager reserve is capped at
    /// [`Config::max_frame_size`]), so a big message does not grow the buffer by
    /// doubling, plus a read's worth past it, so the read that brings the frame's
    /// end and the next frame's start does not move the frame; and at least what
    /// the last data message took on the wire (up to
    /// [`StreamConfig::read_chunk_max`]), so messages of a steady size each come in
    /// one read. The room is only reserved: an idle connection gives it back
    /// ([`release_idle_buffers`](Self::release_idle_buffers)).
    ///
    /// With [`Delivery::Streaming`] the room is [`read_size`](Self::read_size) (at
    /// most [`StreamConfig::read_chunk_max`]) and no more, whatever a frame or the
    /// last message announced: a reader filling all the spare capacity brings no
    /// more than that, so a piece of [`next_incoming`](Self::next_incoming) and the
    /// read buffer stay about that size; an emptied buffer grown larger (for whole
    /// messages, before a switch) is freed first.
    pub fn prepare_read(&mut self) -> &mut BytesMut {
        self.take_back_read_buf();
        if self.conn.delivery() == Delivery::Streaming {
            return self.prepare_streaming_read();
        }
        let wanted = self
            .conn
            .frame_bytes_wanted()
            .min(self.config.protocol.max_frame_size);
        let hint = self.last_message_wire_len.min(self.read_size_max());
        // The rest of a pending frame, and a read's worth past its end: the read
        // that brings the end (and the next frame's start) then fits without the
        // buffer moving the whole frame to grow.
        let want = wanted + self.read_size.max(hint);
        self.lent = self.conn.lend_read_buf(want);
        &mut self.lent
    }

    /// [`prepare_read`](Self::prepare_read) with [`Delivery::Streaming`].
    fn prepare_streaming_read(&mut self) -> &mut BytesMut {
        let max = self.read_size_max();
        if self.conn.buffered_input_len() == 0
            && self.read_allocation.max(self.conn.read_buffer_capacity()) > self.read_retain()
        {
            self.conn.release_read_buf();
            self.read_allocation = 0;
        }
        let want = self.read_size.min(max);
        let mut lent = self.conn.lend_read_buf(want);
        if lent.capacity() > max {
            // More room than a read may bring (an allocation that grew by doubling):
            // lend only the start of it.
            drop(lent.split_off(want));
        }
        self.lent = lent;
        &mut self.lent
    }

    /// The largest emptied read buffer kept for the next read:
    /// [`StreamConfig::read_buffer_retain`], and with [`Delivery::Streaming`] no
    /// more than two reads' worth.
    fn read_retain(&self) -> usize {
        let retain = self.config.read_buffer_retain;
        if self.conn.delivery() == Delivery::Streaming {
            retain.min(2 * self.read_size_max())
        } else {
            retain
        }
    }

    /// Gives the connection what was read into the buffer
    /// [`prepare_read`](Self::prepare_read) lent (without a copy), and the room
    /// left.
    fn take_back_read_buf(&mut self) {
        if self.lent.capacity() != 0 {
            self.conn.receive_buf(core::mem::take(&mut self.lent));
        }
    }

    /// How many bytes the next read should bring at most, for readers that must
    /// zero the slice they read into: [`StreamConfig::read_chunk`], doubled after
    /// each read that filled it, up to [`StreamConfig::read_chunk_max`]. (Readers
    /// into spare capacity may take all that [`prepare_read`](Self::prepare_read)
    /// reserved.)
    pub fn read_size(&self) -> usize {
        self.read_size
    }

    /// The most a read is offered beyond a pending frame: `read_chunk_max`, never
    /// below `read_chunk`.
    fn read_size_max(&self) -> usize {
        self.config.read_chunk_max.max(self.config.read_chunk)
    }

    /// Reports how many bytes the read after [`prepare_read`](Self::prepare_read)
    /// brought: one that brought at least [`read_size`](Self::read_size) makes the
    /// next one larger, a short one resets it.
    pub fn read_done(&mut self, n: usize) {
        self.take_back_read_buf();
        self.read_size = if n >= self.read_size {
            (self.read_size * 2).min(self.read_size_max())
        } else {
            self.config.read_chunk
        };
    }

    /// [`prepare_read`](Self::prepare_read), then `read` into the spare capacity
    /// with [`read_into_spare`] (at most [`StreamConfig::read_chunk`] bytes zeroed),
    /// for readers that need an initialized slice. Returns what `read` returned; a
    /// read of 0 bytes should be followed by [`receive_eof`](Self::receive_eof).
    pub fn read_with<R: ReadOutcome>(&mut self, read: impl FnOnce(&mut [u8]) -> R) -> R {
        let chunk = self.read_size;
        let result = read_into_spare(self.prepare_read(), chunk, read);
        self.read_done(result.bytes_read());
        result
    }

    /// Bytes the read buffer holds allocated (0 for an idle connection).
    pub fn read_buffer_capacity(&self) -> usize {
        self.conn.read_buffer_capacity() + self.lent.capacity()
    }

    /// An empty buffer to append what the socket read to, without the sizing of
    /// [`prepare_read`](Self::prepare_read): taken in by the next call that needs
    /// the input (see [`Connection::lend_read_buf`]; the bytes received before are
    /// not in it).
    pub fn read_buf(&mut self) -> &mut BytesMut {
        self.take_back_read_buf();
        self.lent = self.conn.lend_read_buf(0);
        &mut self.lent
    }

    /// The socket reached EOF.
    pub fn receive_eof(&mut self) {
        self.take_back_read_buf();
        self.conn.receive_eof();
    }

    /// Queues a message (or a control frame). Fails with [`Error::Local`] after a
    /// close was sent. A server's large payloads are queued without a copy (see
    /// [`Connection::send_binary_bytes`]).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.conn.send_text_bytes(text)?,
            Message::Binary(data) => self.conn.send_binary_bytes(data)?,
            Message::Ping(data) => self.conn.ping(&data)?,
            Message::Pong(data) => self.conn.pong(&data)?,
            Message::Close(frame) => match frame {
                Some(frame) => self.conn.close(frame.code(), frame.reason())?,
                None => self.conn.close(CloseCode::NORMAL, "")?,
            },
        }
        Ok(())
    }

    /// Queues one frame of a fragmented message: `opcode` Text or Binary for the
    /// first, Continuation for the rest, `fin` on the last.
    pub fn send_fragment(&mut self, opcode: OpCode, data: &[u8], fin: bool) -> Result<(), Error> {
        Ok(self.conn.send_frame(opcode, data, fin)?)
    }

    /// Whether queued output reached [`StreamConfig::write_buffer_limit`]: write before
    /// sending more.
    pub fn write_buffer_full(&self) -> bool {
        self.output_len() >= self.config.write_buffer_limit
    }

    /// Bytes queued to be written, in all.
    pub fn output_len(&self) -> usize {
        self.conn.output_len()
    }

    /// Fills `dst` with the queued output in order (for a vectored write) and
    /// returns how many slices it used: [`output`](Self::output) first.
    pub fn output_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut used = 0;
        for (slot, piece) in dst.iter_mut().zip(self.conn.output_chunks()) {
            *slot = IoSlice::new(piece);
            used += 1;
        }
        used
    }

    /// Whether the output is in more than one piece (a vectored write pays off).
    pub fn output_is_segmented(&self) -> bool {
        self.conn.output_is_segmented()
    }

    /// The next bytes to write: all that is queued, or its first piece when large
    /// payloads wait without a copy ([`output_slices`](Self::output_slices) has them
    /// all; [`output_len`](Self::output_len) counts them).
    pub fn output(&self) -> &[u8] {
        self.conn.output()
    }

    /// Marks `n` bytes of [`output`](Self::output) as written.
    pub fn consume(&mut self, n: usize) {
        // The allocation behind the output, before consuming advances past it.
        let capacity = self.conn.output_capacity();
        self.write_allocation = self.write_allocation.max(capacity);
        self.conn.consume(n);
    }

    /// Releases the read and write buffers' memory where they hold nothing: call
    /// when the connection goes idle, so an idle connection costs little.
    ///
    /// An emptied buffer whose allocation is at most
    /// [`StreamConfig::read_buffer_retain`] is kept for the next message: a
    /// `BytesMut` whose every byte was split off (the messages handed out) or
    /// written still shares its allocation, and the next use takes it back (once the
    /// messages are dropped) without the page faults of a fresh one. A larger one is
    /// freed here. With [`Delivery::Streaming`] the read buffer is kept only up to
    /// twice [`StreamConfig::read_chunk_max`].
    ///
    /// It also lets the extension free what it can rebuild
    /// ([`release_idle_extension`](Self::release_idle_extension)).
    pub fn release_idle_buffers(&mut self) {
        self.take_back_read_buf();
        self.conn.release_idle_memory();
        let read_retain = self.read_retain();
        if should_release(
            self.conn.buffered_input_len() == 0,
            self.conn.read_buffer_capacity(),
            &mut self.read_allocation,
            read_retain,
        ) {
            self.conn.release_read_buf();
        }
        let output = &self.conn;
        if should_release(
            !output.has_output(),
            output.output_capacity(),
            &mut self.write_allocation,
            self.config.read_buffer_retain,
        ) {
            self.conn.release_output();
        }
    }

    /// Lets the extension free what it can rebuild for the next message
    /// ([`Connection::release_idle_memory`]), buffers untouched: for an adapter
    /// that cannot tell whether its next read will wait (blocking `std::io`), to
    /// call before each read.
    pub fn release_idle_extension(&mut self) {
        self.conn.release_idle_memory();
    }

    /// Whether a whole frame is already buffered, so the next
    /// [`next_message`](Self::next_message) needs no read (see
    /// [`Connection::has_whole_frame`]).
    pub fn input_ready(&self) -> bool {
        self.conn.has_whole_frame()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use ferrosocket_proto::{Role, SeededRandom};

    fn pair() -> (StreamCore, StreamCore) {
        let client = Connection::with_random(Role::Client, Config::default(), SeededRandom::new(1));
        let server = Connection::with_random(Role::Server, Config::default(), SeededRandom::new(2));
        (
            StreamCore::new(client, StreamConfig::default()),
            StreamCore::new(server, StreamConfig::default()),
        )
    }

    fn pump(from: &mut StreamCore, to: &mut StreamCore) {
        let out = from.output().to_vec();
        from.consume(out.len());
        to.read_buf().extend_from_slice(&out);
    }

    #[test]
    fn messages_close_and_limits() {
        let (mut client, mut server) = pair();
        client.send(Message::text("héllo")).unwrap();
        client
            .send(Message::binary(Vec::from(&b"\x00\x01"[..])))
            .unwrap();
        client
            .send(Message::Ping(Bytes::from_static(b"p")))
            .unwrap();
        pump(&mut client, &mut server);
        assert_eq!(
            server.next_message().unwrap().unwrap(),
            Message::text("héllo")
        );
        assert_eq!(
            server.next_message().unwrap().unwrap(),
            Message::binary(Vec::from(&b"\x00\x01"[..]))
        );
        assert_eq!(
            server.next_message().unwrap().unwrap(),
            Message::Ping(Bytes::from_static(b"p"))
        );
        assert!(server.next_message().is_none());
        // The auto-pong is queued; the client sees it.
        pump(&mut server, &mut client);
        assert_eq!(
            client.next_message().unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"p"))
        );

        // Close from the client: the server gets it once, echoes, and finishes.
        let bye = CloseFrame::new(CloseCode::GOING_AWAY, "bye").unwrap();
        client.send(Message::Close(Some(bye.clone()))).unwrap();
        assert!(client.is_closing());
        assert!(matches!(
            client.send(Message::text("late")),
            Err(Error::Local(LocalError::Closed))
        ));
        pump(&mut client, &mut server);
        assert_eq!(
            server.next_message().unwrap().unwrap(),
            Message::Close(Some(bye))
        );
        assert!(server.is_finished() && server.is_closed());
        assert!(server.next_message().is_none());
        pump(&mut server, &mut client);
        assert!(matches!(
            client.next_message(),
            Some(Ok(Message::Close(Some(_))))
        ));
        assert!(client.is_closed());
    }

    #[test]
    fn eof_without_close_is_an_io_error() {
        let (_, mut server) = pair();
        server.receive_eof();
        match server.next_message() {
            Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
            other => panic!("{other:?}"),
        }
        assert!(server.next_message().is_none());
    }

    #[test]
    fn protocol_error_is_reported_and_close_queued() {
        let (_, mut server) = pair();
        server.read_buf().extend_from_slice(b"\x81\x00"); // unmasked frame at a server
        assert!(matches!(
            server.next_message(),
            Some(Err(Error::Protocol(_)))
        ));
        assert_eq!(server.output(), b"\x88\x02\x03\xea");
        assert!(server.is_closed());
    }

    #[test]
    fn write_limit_and_buffer_release() {
        let mut client = StreamCore::new(
            Connection::with_random(Role::Client, Config::default(), SeededRandom::new(3)),
            StreamConfig::default().write_buffer_limit(100),
        );
        client
            .send(Message::binary(Vec::from(&[0u8; 50][..])))
            .unwrap();
        assert!(!client.write_buffer_full());
        client
            .send(Message::binary(Vec::from(&[0u8; 50][..])))
            .unwrap();
        assert!(client.write_buffer_full());
        client.consume(client.output().len());
        assert!(!client.write_buffer_full());

        let buf = client.prepare_read();
        assert!(buf.capacity() >= 8 * 1024);
        client.release_idle_buffers();
        assert_eq!(client.read_buffer_capacity(), 0);
    }

    #[test]
    fn prepare_read_reserves_the_announced_frame() {
        let (_, mut server) = pair();
        // A masked binary frame header announcing 100 000 bytes, and 10 of them.
        let mut frame = Vec::from(&b"\x82\xff"[..]);
        frame.extend_from_slice(&100_000u64.to_be_bytes());
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(&[7; 10]);
        server.read_buf().extend_from_slice(&frame);
        assert!(server.next_message().is_none());
        let buf = server.prepare_read();
        assert!(buf.capacity() - buf.len() >= 100_000 - 10);
        // Capped at the maximum frame size.
        let mut small = StreamCore::new(
            Connection::new(Role::Server, Config::default().max_frame_size(200_000)),
            StreamConfig::default(),
        );
        small.read_buf().extend_from_slice(&frame[..14]);
        assert!(small.next_message().is_none());
        assert!(small.prepare_read().capacity() < 200_000 + 64 * 1024);
    }

    #[test]
    fn large_payloads_are_queued_without_a_copy_and_in_order() {
        let (mut client, mut server) = pair();
        let big = Bytes::from(alloc::vec![7u8; 20_000]);
        let text = "é".repeat(5_000);
        server.send(Message::binary(&b"small"[..])).unwrap();
        server.send(Message::Binary(big.clone())).unwrap();
        server.send(Message::text(text.clone())).unwrap();
        server
            .send(Message::Ping(Bytes::from_static(b"p")))
            .unwrap();
        server.send(Message::Binary(big.clone())).unwrap();
        assert!(server.output_is_segmented());
        let total = server.output_len();
        // The payload segment is the message's own memory.
        let mut slices = [IoSlice::new(&[]); 16];
        let used = server.output_slices(&mut slices);
        assert!(slices[..used].iter().any(|s| s.as_ptr() == big.as_ptr()));
        // Written in odd pieces, it is the same byte stream, in order.
        let mut wire = Vec::new();
        while server.output_len() > 0 {
            let piece = server.output();
            let n = piece.len().min(777);
            wire.extend_from_slice(&piece[..n]);
            server.consume(n);
        }
        assert_eq!(wire.len(), total);
        assert!(!server.output_is_segmented());
        client.read_buf().extend_from_slice(&wire);
        let mut got = Vec::new();
        while let Some(m) = client.next_message() {
            got.push(m.unwrap());
        }
        assert_eq!(
            got,
            [
                Message::binary(&b"small"[..]),
                Message::Binary(big.clone()),
                Message::text(text),
                Message::Ping(Bytes::from_static(b"p")),
                Message::Binary(big),
            ]
        );
        // A client masks: its payloads are copied as before.
        client
            .send(Message::binary(alloc::vec![1u8; 20_000]))
            .unwrap();
        assert!(!client.output_is_segmented());
    }

    #[test]
    fn next_read_is_offered_what_the_last_message_took() {
        let (mut client, mut server) = pair();
        client
            .send(Message::binary(alloc::vec![5u8; 20_000]))
            .unwrap();
        pump(&mut client, &mut server);
        assert!(matches!(server.next_message(), Some(Ok(Message::Binary(b))) if b.len() == 20_000));
        server.release_idle_buffers();
        let buf = server.prepare_read();
        assert!(buf.capacity() >= 20_000 + 8, "{}", buf.capacity());
        // Within read_buffer_retain (default 2 MiB), the emptied allocation is kept
        // and taken back by the next read.
        client
            .send(Message::binary(alloc::vec![5u8; 1 << 20]))
            .unwrap();
        pump(&mut client, &mut server);
        assert!(server.next_message().is_some());
        server.release_idle_buffers();
        assert!(server.prepare_read().capacity() >= 1 << 20);
        // Above it, the buffer is freed, and the next read's room is capped at
        // read_chunk_max.
        let mut small = StreamCore::new(
            Connection::new(Role::Server, Config::default()),
            StreamConfig::default().read_buffer_retain(64 << 10),
        );
        client
            .send(Message::binary(alloc::vec![5u8; 1 << 20]))
            .unwrap();
        pump(&mut client, &mut small);
        assert!(small.next_message().is_some());
        small.release_idle_buffers();
        let capacity = small.prepare_read().capacity();
        assert!(capacity < 1 << 20, "{capacity}");
    }

    #[test]
    fn big_frame_read_in_pieces_stays_in_place_and_ends_in_a_full_read() {
        // A 1 MiB message and a small one, read 64 KiB at a time into the room
        // prepare_read offers: the room covers the big frame and a read past it,
        // so the buffer never moves and the read that brings the big frame's end
        // brings the next message too (it is not cut short at the frame's end).
        let (mut client, mut server) = pair();
        client
            .send(Message::binary(alloc::vec![3u8; 1 << 20]))
            .unwrap();
        client.send(Message::binary(&b"next"[..])).unwrap();
        let wire = client.output().to_vec();
        client.consume(wire.len());
        let mut starts = Vec::new();
        let mut delivered = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let buf = server.prepare_read();
            let n = (buf.capacity() - buf.len())
                .min(64 << 10)
                .min(wire.len() - at);
            buf.extend_from_slice(&wire[at..at + n]);
            at += n;
            // Where the buffered input starts: the room lent next begins right
            // after it.
            let buffered = server.connection_mut().buffered_input_len();
            starts.push(server.read_buf().as_ptr() as usize - buffered);
            let mut count = 0;
            while let Some(message) = server.next_message() {
                message.unwrap();
                count += 1;
            }
            delivered.push(count);
        }
        assert_eq!(delivered.iter().sum::<usize>(), 2);
        assert_eq!(
            delivered.last(),
            Some(&2),
            "reads delivering: {delivered:?}"
        );
        // From the read after the header's on, one place.
        assert!(
            starts[1..].windows(2).all(|w| w[0] == w[1]),
            "the buffer moved while the frame arrived"
        );
    }

    #[test]
    fn read_size_grows_while_reads_fill_and_resets_when_short() {
        let (_, mut server) = pair();
        let config = StreamConfig::default();
        assert_eq!(server.read_size(), config.read_chunk);
        let mut sizes = Vec::new();
        for _ in 0..5 {
            let n = server.read_size();
            server.read_done(n);
            sizes.push(server.read_size());
        }
        assert_eq!(sizes, [16 << 10, 32 << 10, 64 << 10, 64 << 10, 64 << 10]);
        assert!(server.prepare_read().capacity() >= 64 << 10);
        server.read_done(100);
        assert_eq!(server.read_size(), config.read_chunk);
        // Equal bounds: no growth.
        let mut fixed = StreamCore::new(
            Connection::new(Role::Server, Config::default()),
            StreamConfig::default().read_chunk_max(0),
        );
        fixed.read_done(1 << 20);
        assert_eq!(fixed.read_size(), config.read_chunk);
    }

    #[test]
    fn read_into_spare_zeroes_at_most_a_chunk() {
        let mut buf = BytesMut::with_capacity(1 << 20);
        buf.extend_from_slice(b"ab");
        let got: Result<usize, ()> = read_into_spare(&mut buf, 64, |slice| {
            assert_eq!(slice.len(), 64);
            slice[..3].copy_from_slice(b"cde");
            Ok(3)
        });
        assert_eq!(got, Ok(3));
        assert_eq!(&buf[..], b"abcde");
        let pending: Poll<Result<usize, ()>> = read_into_spare(&mut buf, 64, |_| Poll::Pending);
        assert!(pending.is_pending());
        assert_eq!(&buf[..], b"abcde");
    }

    #[test]
    fn close_deadline_and_failure() {
        let (mut client, _) = pair();
        assert!(!client.close_deadline_needed());
        client.send(Message::Close(None)).unwrap();
        assert!(client.close_deadline_needed());
        client.fail();
        assert!(client.is_finished() && client.next_message().is_none());
    }

    /// Feeds `wire` to `server` the way a reader into spare capacity does (tokio's
    /// `read_buf`: all the room lent), pulling `next_incoming` after each read.
    /// Returns the pieces (kind, data, fin), the whole messages, and the largest
    /// room a read was offered.
    #[allow(clippy::type_complexity)]
    fn read_incoming(
        server: &mut StreamCore,
        wire: &[u8],
    ) -> (Vec<(DataKind, Bytes, bool)>, Vec<Message>, usize) {
        let (mut pieces, mut messages, mut room) = (Vec::new(), Vec::new(), 0);
        let mut at = 0;
        while at < wire.len() {
            let buf = server.prepare_read();
            let spare = buf.capacity() - buf.len();
            room = room.max(spare);
            let n = spare.min(wire.len() - at);
            buf.extend_from_slice(&wire[at..at + n]);
            at += n;
            server.read_done(n);
            while let Some(incoming) = server.next_incoming() {
                match incoming.unwrap() {
                    Incoming::Data { kind, data, fin } => pieces.push((kind, data, fin)),
                    Incoming::Message(m) => messages.push(m),
                }
            }
        }
        (pieces, messages, room)
    }

    #[test]
    fn streaming_reads_are_capped_at_read_chunk_max() {
        let (mut client, mut server) = pair();
        server.set_delivery(Delivery::Streaming);
        assert_eq!(server.delivery(), Delivery::Streaming);
        let big: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
        client.send(Message::binary(big.clone())).unwrap();
        client.send(Message::text("after")).unwrap();
        let wire = client.output().to_vec();
        client.consume(wire.len());
        let (pieces, messages, room) = read_incoming(&mut server, &wire);
        // Reads are offered read_chunk_max at most (not the frame's 4 MiB), so no
        // piece and no buffer is larger.
        let max = StreamConfig::default().read_chunk_max;
        assert!(room <= max, "{room}");
        assert!(pieces.iter().all(|(_, data, _)| data.len() <= max));
        assert!(server.read_buffer_capacity() <= 2 * max);
        assert!(messages.is_empty());
        let binary: Vec<u8> = pieces[..pieces.len() - 1]
            .iter()
            .flat_map(|(kind, data, _)| {
                assert_eq!(*kind, DataKind::Binary);
                data.iter().copied()
            })
            .collect();
        assert_eq!(binary, big);
        assert_eq!(
            pieces.last().unwrap(),
            &(DataKind::Text, Bytes::from_static(b"after"), true)
        );
        assert_eq!(pieces.iter().filter(|p| p.2).count(), 2);
    }

    #[test]
    fn switching_to_streaming_frees_a_large_buffer_and_assembled_is_as_before() {
        let (mut client, mut server) = pair();
        // Assembled: a 1 MiB message makes the next read's room at least that.
        client
            .send(Message::binary(alloc::vec![5u8; 1 << 20]))
            .unwrap();
        pump(&mut client, &mut server);
        assert!(matches!(
            server.next_incoming(),
            Some(Ok(Incoming::Message(Message::Binary(b)))) if b.len() == 1 << 20
        ));
        assert!(server.prepare_read().capacity() >= 1 << 20);
        // Streaming: that buffer is dropped for one of a read's size.
        server.set_delivery(Delivery::Streaming);
        let capacity = server.prepare_read().capacity();
        assert!(capacity <= 64 << 10, "{capacity}");
        server.release_idle_buffers();
        assert_eq!(server.read_buffer_capacity(), 0);
        // next_message still works, piece by piece.
        client.send(Message::binary(&b"abc"[..])).unwrap();
        pump(&mut client, &mut server);
        assert_eq!(
            server.next_message().unwrap().unwrap(),
            Message::binary(&b"abc"[..])
        );
        // Back to whole messages.
        server.set_delivery(Delivery::Assembled);
        client.send_fragment(OpCode::Binary, b"ab", false).unwrap();
        client
            .send_fragment(OpCode::Continuation, b"cd", true)
            .unwrap();
        pump(&mut client, &mut server);
        assert_eq!(
            server.next_incoming().unwrap().unwrap(),
            Incoming::Message(Message::binary(&b"abcd"[..]))
        );
    }
}
