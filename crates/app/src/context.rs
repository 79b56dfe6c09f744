//! The [`Context`] a handler acts through: queued writes, close, the read
//! delimiter, what is known about the connection.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use ferrosocket_delimit::{DataKind, DelimitError, Mode, ReadDelimiter, Record, encode_records};

use crate::{CloseCode, CloseFrame, Headers, Message, Request};

use super::manager::close_frame;
use super::{Captures, ConnectionId, Manager};

/// Why a [`Context`] method could not queue anything.
#[derive(Debug)]
#[non_exhaustive]
pub enum WriteError {
    /// The connection is closing or closed: [`close`](Context::close) or
    /// [`close_now`](Context::close_now) was called, the peer closed, or the
    /// connection ended.
    Closed,
    /// A ping payload over 125 bytes.
    PayloadTooLong,
    /// The queued writes would exceed the backpressure limit (see
    /// [`Context::write`]).
    Backpressure,
    /// [`write_file`](Context::write_file) could not open, measure or seek the file.
    Io(io::Error),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the connection is closed"),
            Self::PayloadTooLong => f.write_str("control frame payload over 125 bytes"),
            Self::Backpressure => f.write_str("too much queued: the peer reads too slowly"),
            Self::Io(e) => write!(f, "cannot send the file: {e}"),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Something queued for the connection's task to send, in order.
pub(crate) enum Outgoing {
    /// A whole message or a control frame.
    Message(Message),
    /// A ping; the send time is recorded when it is written out.
    Ping(Bytes),
    /// One message, one frame per item, pulled as room allows.
    Fragments {
        kind: DataKind,
        iter: Box<dyn Iterator<Item = Bytes> + Send>,
        started: bool,
        peeked: Option<Bytes>,
    },
    /// A file region, streamed as a fragmented binary message.
    File { file: File, len: u64 },
    /// Our close frame.
    Close(CloseFrame),
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Message(m) => f.debug_tuple("Message").field(m).finish(),
            Self::Ping(p) => f.debug_tuple("Ping").field(p).finish(),
            Self::Fragments { kind, started, .. } => f
                .debug_struct("Fragments")
                .field("kind", kind)
                .field("started", started)
                .finish_non_exhaustive(),
            Self::File { len, .. } => f.debug_struct("File").field("len", len).finish(),
            Self::Close(c) => f.debug_tuple("Close").field(c).finish(),
        }
    }
}

/// Where the connection is, as the context sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Writes are queued.
    Open,
    /// A close was asked for, or the peer's close arrived.
    Closing,
    /// [`Context::close_now`]: drop the socket.
    Abort,
    /// Over ([`Handler::on_close`](super::Handler::on_close) runs in this phase).
    Closed,
}

/// What a handler acts through: every write is queued here and sent by the
/// connection's task, in order, as soon as the callback returns (waiting for the
/// socket, so a slow peer makes the queue wait, not the process). Also what is
/// known about the connection (addresses, request, captures), its read
/// delimiter, and the [`Manager`].
///
/// Writing on a connection that is closing or closed gives
/// [`WriteError::Closed`]; nothing panics.
pub struct Context {
    pub(crate) id: ConnectionId,
    pub(crate) manager: Manager,
    pub(crate) reader: ReadDelimiter,
    pub(crate) outbox: VecDeque<Outgoing>,
    pub(crate) phase: Phase,
    /// Pings written and not answered yet: payload, send time (oldest first).
    pub(crate) pings: VecDeque<(Bytes, Instant)>,
    ping_counter: u64,
    pub(crate) request: Option<Box<Request>>,
    pub(crate) response_headers: Option<Headers>,
    pub(crate) path: String,
    pub(crate) captures: Captures,
    pub(crate) facts: Facts,
    /// Size of the file chunks of [`write_file`](Self::write_file).
    pub(crate) file_chunk: usize,
    /// Bytes the socket had not taken yet when the callback began.
    pub(crate) unsent: usize,
    /// Payload bytes of the messages in `outbox`.
    pub(crate) outbox_bytes: usize,
}

/// What a connection knows of its socket, for its [`Context`] and, on a server,
/// the [`HandshakeRequest`](super::HandshakeRequest) before it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Facts {
    /// The local address (TCP).
    pub(crate) local: Option<SocketAddr>,
    /// The peer's address (TCP).
    pub(crate) remote: Option<SocketAddr>,
    /// Encrypted (TLS).
    pub(crate) secure: bool,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.id)
            .field("phase", &self.phase)
            .field("path", &self.path)
            .field("queued", &self.outbox.len())
            .field("remote_addr", &self.facts.remote)
            .finish_non_exhaustive()
    }
}

/// The most pings remembered for RTT; older ones are forgotten.
const MAX_PINGS: usize = 32;

/// Anything [`Context::write_fragments`] can send as one frame.
pub trait Fragment {
    /// The frame's payload.
    fn into_bytes(self) -> Bytes;
}

impl Fragment for Bytes {
    fn into_bytes(self) -> Bytes {
        self
    }
}
impl Fragment for Vec<u8> {
    fn into_bytes(self) -> Bytes {
        self.into()
    }
}
impl Fragment for String {
    fn into_bytes(self) -> Bytes {
        self.into()
    }
}
impl Fragment for &'static str {
    fn into_bytes(self) -> Bytes {
        Bytes::from_static(self.as_bytes())
    }
}
impl Fragment for &'static [u8] {
    fn into_bytes(self) -> Bytes {
        Bytes::from_static(self)
    }
}

impl Context {
    pub(crate) fn new(id: ConnectionId, manager: Manager, path: String) -> Self {
        Self {
            id,
            manager,
            reader: ReadDelimiter::new(),
            outbox: VecDeque::new(),
            phase: Phase::Open,
            pings: VecDeque::new(),
            ping_counter: 0,
            request: None,
            response_headers: None,
            path,
            captures: Captures::default(),
            facts: Facts::default(),
            file_chunk: 64 * 1024,
            unsent: 0,
            outbox_bytes: 0,
        }
    }

    fn check_open(&self) -> Result<(), WriteError> {
        if self.phase == Phase::Open {
            Ok(())
        } else {
            Err(WriteError::Closed)
        }
    }

    /// Queues a message: a `String` / `&str` goes as text, `Vec<u8>` / `Bytes` as
    /// binary. Any [`Message`] works: a close is [`close`](Self::close), a ping
    /// [`ping_payload`](Self::ping_payload), a pong goes as it is.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`]; [`WriteError::Backpressure`] when the queued
    /// writes would exceed the manager's [`Backpressure::limit`](super::Backpressure::limit)
    /// (16 MiB by default): the message is not queued and, under
    /// [`QueueFull::Close`](super::QueueFull::Close), the connection closes with
    /// 1008, as a manager's queue would. Pace a producer with
    /// [`buffered_amount`](Self::buffered_amount) and
    /// [`on_write`](super::Handler::on_write) to stay clear of it.
    pub fn write(&mut self, message: impl Into<Message>) -> Result<(), WriteError> {
        self.check_open()?;
        match message.into() {
            Message::Close(Some(frame)) => self.close(frame.code(), frame.reason()),
            Message::Close(None) => self.close(CloseCode::NORMAL, ""),
            Message::Ping(payload) => self.ping_payload(payload),
            message => {
                let bytes = self.outbox_bytes + message.as_payload().len();
                let bp = self.manager.backpressure();
                if bytes > bp.limit {
                    tracing::warn!(
                        queued = self.outbox_bytes,
                        limit = bp.limit,
                        "handler writes over the backpressure limit"
                    );
                    if bp.policy == super::QueueFull::Close {
                        self.close(CloseCode::POLICY_VIOLATION, "too slow: write queue full")?;
                    }
                    return Err(WriteError::Backpressure);
                }
                self.outbox_bytes = bytes;
                self.outbox.push_back(Outgoing::Message(message));
                Ok(())
            }
        }
    }

    /// Empties the queue (the connection is closing).
    pub(crate) fn clear_outbox(&mut self) {
        self.outbox.clear();
        self.outbox_bytes = 0;
    }

    /// Queues one message sent as one frame per item of `fragments` (at least one
    /// frame), `kind` saying text or binary. The iterator is pulled lazily, one
    /// frame at a time as the socket takes them, so it can produce a large
    /// message without holding it. Text may be split anywhere, but the whole
    /// must be UTF-8, or the connection closes with 1011 in the middle of it.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`].
    pub fn write_fragments<I>(&mut self, kind: DataKind, fragments: I) -> Result<(), WriteError>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Fragment + 'static,
    {
        self.check_open()?;
        self.outbox.push_back(Outgoing::Fragments {
            kind,
            iter: Box::new(fragments.into_iter().map(Fragment::into_bytes)),
            started: false,
            peeked: None,
        });
        Ok(())
    }

    /// Queues `len` bytes of the file at `path` from `offset` (`None`: to the
    /// end) as one binary message, streamed from disk in chunks (64 KiB frames,
    /// read as the socket takes them: the file is never read whole into memory).
    /// The file is opened now, so a missing file is an error here; a file that
    /// turns out shorter than announced ends the message early.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`]; [`WriteError::Io`] if the file cannot be opened,
    /// measured, or `offset` is past its end.
    pub fn write_file(
        &mut self,
        path: impl AsRef<Path>,
        offset: u64,
        len: Option<u64>,
    ) -> Result<(), WriteError> {
        self.check_open()?;
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        if offset > size {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "offset past the end").into());
        }
        let len = len.unwrap_or(size - offset).min(size - offset);
        file.seek(SeekFrom::Start(offset))?;
        self.outbox.push_back(Outgoing::File { file, len });
        Ok(())
    }

    /// Queues fixed-size records (delimit's [`Record`], Pants' `struct.pack`)
    /// encoded one after the other, as one binary message.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`].
    pub fn write_packed<T: Record>(&mut self, records: &[T]) -> Result<(), WriteError> {
        self.write(encode_records(records))
    }

    /// Sends a ping with a fresh 8-byte payload; its pong reaches
    /// [`Handler::on_pong`](super::Handler::on_pong) with the round-trip time.
    /// Returns the payload.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`].
    pub fn ping(&mut self) -> Result<Bytes, WriteError> {
        let payload = self.next_ping_payload();
        self.ping_payload(payload.clone())?;
        Ok(payload)
    }

    pub(crate) fn next_ping_payload(&mut self) -> Bytes {
        self.ping_counter += 1;
        Bytes::copy_from_slice(&self.ping_counter.to_be_bytes())
    }

    /// Sends a ping with `payload` (at most 125 bytes); the pong with the same
    /// payload reaches [`Handler::on_pong`](super::Handler::on_pong) with the
    /// round-trip time. Pings go ahead of queued messages.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`], [`WriteError::PayloadTooLong`].
    pub fn ping_payload(&mut self, payload: impl Into<Bytes>) -> Result<(), WriteError> {
        self.check_open()?;
        let payload = payload.into();
        if payload.len() > 125 {
            return Err(WriteError::PayloadTooLong);
        }
        // Ahead of data messages (it may go between two fragments: allowed).
        let at = self
            .outbox
            .iter()
            .position(|o| !matches!(o, Outgoing::Ping(_)))
            .unwrap_or(self.outbox.len());
        self.outbox.insert(at, Outgoing::Ping(payload));
        Ok(())
    }

    /// Records a ping written now.
    pub(crate) fn ping_sent(&mut self, payload: Bytes) {
        if self.pings.len() == MAX_PINGS {
            self.pings.pop_front();
        }
        self.pings.push_back((payload, Instant::now()));
    }

    /// The send time of the ping `payload` answers, if it was ours.
    pub(crate) fn pong_received(&mut self, payload: &[u8]) -> Option<Instant> {
        let at = self.pings.iter().position(|(p, _)| p[..] == *payload)?;
        self.pings.remove(at).map(|(_, sent)| sent)
    }

    /// Bytes written but not yet taken by the socket (Node ws' `bufferedAmount`):
    /// the messages queued here (the manager's among them), plus what the connection's write
    /// buffer held when this callback began. Fragments and files count as they
    /// are sent, not ahead. Use it to pace a producer: write more from
    /// [`Handler::on_write`](super::Handler::on_write) when it is low.
    pub fn buffered_amount(&self) -> usize {
        self.outbox_bytes + self.unsent
    }

    /// Starts the closing handshake with `code` and `reason` (cut to 123 bytes)
    /// after what is already queued; [`Handler::on_close`](super::Handler::on_close)
    /// follows when the peer answers (or the close timeout passes). Messages that
    /// arrive meanwhile are dropped.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`] if closing already.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), WriteError> {
        self.check_open()?;
        self.outbox
            .push_back(Outgoing::Close(close_frame(code, reason)));
        self.phase = Phase::Closing;
        Ok(())
    }

    /// Drops the connection at once, without a close handshake; anything queued
    /// is discarded. [`Handler::on_close`](super::Handler::on_close) follows with
    /// 1006.
    pub fn close_now(&mut self) {
        if self.phase != Phase::Closed {
            self.phase = Phase::Abort;
            self.clear_outbox();
        }
    }

    /// Whether writes are still accepted (no close yet).
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Switches how received data is cut into [`on_read`](super::Handler::on_read)
    /// items; it applies to data already buffered too (e.g. from the next item
    /// on, when called inside `on_read`).
    ///
    /// # Errors
    ///
    /// [`DelimitError::InvalidMode`] for a mode that cannot work (an empty
    /// delimiter, `Bytes(0)`); the mode is then unchanged.
    pub fn set_read_delimiter(&mut self, mode: Mode) -> Result<(), DelimitError> {
        self.reader.set_mode(mode)
    }

    /// The current read delimiter mode.
    pub fn read_delimiter(&self) -> &Mode {
        self.reader.mode()
    }

    /// Sets the read buffer's cap (Pants' `buffer_size`, 64 KiB by default): more
    /// data than that buffered without forming an item is
    /// [`on_overflow_error`](super::Handler::on_overflow_error).
    pub fn set_buffer_size(&mut self, cap: usize) {
        self.reader.set_buffer_size(cap);
    }

    /// Whether the connection is encrypted (TLS): served by
    /// `Server::serve_tls` (feature `tls`) or
    /// [`serve_connection_secure`](super::Server::serve_connection_secure), or a
    /// client connected to a `wss://` URL.
    pub fn is_secure(&self) -> bool {
        self.facts.secure
    }

    /// The local address of a TCP connection (`None` for other sockets).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.facts.local
    }

    /// The peer's address of a TCP connection (`None` for other sockets).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.facts.remote
    }

    /// The request path (server: without the query; client: the URL's path).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Server: the opening request (target, headers, subprotocols offered).
    pub fn request(&self) -> Option<&Request> {
        self.request.as_deref()
    }

    /// The peer's headers: the request's on a server, the `101` answer's on a
    /// client.
    pub fn headers(&self) -> &Headers {
        static EMPTY: Headers = Headers::new();
        match (&self.request, &self.response_headers) {
            (Some(request), _) => request.headers(),
            (None, Some(headers)) => headers,
            (None, None) => &EMPTY,
        }
    }

    /// What the route captured from the path (as given to
    /// [`on_connect`](super::Handler::on_connect)).
    pub fn captures(&self) -> &Captures {
        &self.captures
    }

    /// This connection's id in the [`Manager`].
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The manager of the live connections, to broadcast or reach another one.
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Subscribes this connection to `topic` (see [`Manager::subscribe`]);
    /// the subscription ends with the connection.
    pub fn subscribe(&self, topic: &str) -> bool {
        self.manager.subscribe(self.id, topic)
    }

    /// Ends this connection's subscription to `topic`.
    pub fn unsubscribe(&self, topic: &str) -> bool {
        self.manager.unsubscribe(self.id, topic)
    }

    /// Publishes `message` to every other subscriber of `topic` (uWebSockets'
    /// `ws.publish`); [`Manager::publish`] includes everyone.
    pub fn publish(&self, topic: &str, message: impl Into<Message>) -> super::Broadcast {
        self.manager.publish_except(topic, self.id, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        let manager = Manager::new();
        Context::new(ConnectionId::from_raw(1), manager, "/".into())
    }

    #[test]
    fn queue_order_and_closing() {
        let mut ctx = ctx();
        ctx.write("a").unwrap();
        ctx.write(Message::Ping(Bytes::from_static(b"p"))).unwrap();
        ctx.ping().unwrap();
        assert!(matches!(&ctx.outbox[0], Outgoing::Ping(p) if &p[..] == b"p"));
        assert!(matches!(&ctx.outbox[1], Outgoing::Ping(p) if p.len() == 8));
        assert!(matches!(&ctx.outbox[2], Outgoing::Message(_)));
        ctx.write(Message::Close(None)).unwrap();
        assert!(!ctx.is_open());
        assert!(
            matches!(ctx.outbox.back(), Some(Outgoing::Close(f)) if f.code() == CloseCode::NORMAL)
        );
        assert!(matches!(ctx.write("late"), Err(WriteError::Closed)));
        assert!(matches!(ctx.ping(), Err(WriteError::Closed)));
        assert!(matches!(
            ctx.close(CloseCode::NORMAL, ""),
            Err(WriteError::Closed)
        ));
        ctx.close_now();
        assert!(ctx.outbox.is_empty() && ctx.phase == Phase::Abort);
    }

    #[test]
    fn pongs_match_their_pings() {
        let mut ctx = ctx();
        for i in 0..40u8 {
            ctx.ping_sent(Bytes::from(vec![i]));
        }
        assert_eq!(ctx.pings.len(), MAX_PINGS);
        assert!(ctx.pong_received(&[0]).is_none(), "forgotten");
        assert!(ctx.pong_received(&[39]).is_some());
        assert!(ctx.pong_received(&[39]).is_none(), "answered once");
        assert!(ctx.headers().is_empty());
        assert!(ctx.request().is_none() && ctx.captures().is_empty());
    }
}
