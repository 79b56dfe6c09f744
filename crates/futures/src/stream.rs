//! [`WebSocketStream`]: messages over any `AsyncRead + AsyncWrite`.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ferrosocket_proto::handshake::Request;
use ferrosocket_proto::stream::{Error, Message, StreamConfig, StreamCore};
use ferrosocket_proto::{CloseFrame, Connection, Delivery, OpCode, Role, State};
use futures_core::{FusedStream, Stream};
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;

use crate::Timer;
use crate::conn::{Conn, ReadState};
use crate::handshake::Response;
use crate::split::{self, ReadHalf, WriteHalf};

/// What the opening handshake told us.
#[derive(Debug, Default)]
pub(crate) struct Info {
    pub(crate) request: Option<Box<Request>>,
    pub(crate) response: Option<Box<Response>>,
}

/// A WebSocket connection over a socket `S`, after the opening handshake.
///
/// Get one from [`accept`](crate::accept) / [`accept_with`](crate::accept_with)
/// (server), `connect` (in the runtime modules) / [`client_async`](crate::client_async)
/// (client), or [`from_raw_socket`](Self::from_raw_socket) for a socket upgraded
/// elsewhere (e.g. by hyper).
///
/// Use it through the async methods ([`recv`](Self::recv), [`send`](Self::send),
/// [`close`](Self::close), ...) or as a [`Stream`] of `Result<Message, Error>` and a
/// [`Sink<Message>`](Sink) (with `futures-util`'s `StreamExt` / `SinkExt`), like
/// `tokio-tungstenite`. [`split`](Self::split) gives halves for two tasks.
///
/// **Reading** happens only while a message is asked for: a slow consumer makes a
/// fast peer wait (TCP back-pressure) instead of buffering. Pings are answered and
/// the peer's close is echoed automatically (see
/// [`Config::auto_pong`](ferrosocket_proto::Config::auto_pong)); they are still
/// delivered as [`Message::Ping`] / [`Message::Close`]. After the close (or an error)
/// the stream yields `None`; the socket is shut down by then.
///
/// **Writing**: sent messages are queued and written in one write call per batch;
/// [`send`](Self::send) and [`Sink::poll_ready`] wait while more than
/// [`StreamConfig::write_buffer_limit`] bytes are queued, so a peer that does not read
/// cannot make memory grow without bound.
///
/// **Memory**: the read buffer grows on demand (by
/// [`StreamConfig::read_chunk`]) and is released whenever a read finds the socket
/// idle, so an idle connection holds no buffer.
#[derive(Debug)]
pub struct WebSocketStream<S> {
    conn: Conn<S>,
    read: ReadState,
    info: Info,
}

impl<S> WebSocketStream<S> {
    pub(crate) fn new(io: S, conn: Connection, config: StreamConfig, info: Info) -> Self {
        Self {
            conn: Conn::new(io, StreamCore::new(conn, config)),
            read: ReadState::default(),
            info,
        }
    }

    pub(crate) fn from_parts(conn: Conn<S>, read: ReadState, info: Info) -> Self {
        Self { conn, read, info }
    }

    /// Wraps a socket on which the opening handshake already happened (e.g. an
    /// upgraded hyper connection), as `role`.
    pub fn from_raw_socket(io: S, role: Role, config: StreamConfig) -> Self {
        Self::from_partially_read(io, role, config, &[])
    }

    /// [`from_raw_socket`](Self::from_raw_socket), with bytes already read from the
    /// socket after the handshake (the start of the first frames).
    pub fn from_partially_read(io: S, role: Role, config: StreamConfig, read: &[u8]) -> Self {
        let config = assembled(config);
        let mut conn = Connection::new(role, config.protocol);
        conn.receive_data(read);
        Self::new(io, conn, config, Info::default())
    }

    /// The client's opening request (server side; `None` for a client or a raw
    /// socket): path, query, headers, offered subprotocols.
    pub fn request(&self) -> Option<&Request> {
        self.info.request.as_deref()
    }

    /// The server's answer (client side; `None` for a server or a raw socket).
    pub fn response(&self) -> Option<&Response> {
        self.info.response.as_deref()
    }

    /// The configuration.
    pub fn config(&self) -> &StreamConfig {
        self.conn.core.config()
    }

    /// The protocol state ([`State::Closed`] once the closing handshake is over).
    pub fn state(&self) -> State {
        self.conn.core.state()
    }

    /// Sets the timer that bounds the closing handshake
    /// ([`StreamConfig::close_timeout`]); the runtime modules' functions set theirs,
    /// the runtime-neutral ones none (then the close waits for the peer unbounded).
    pub fn set_timer(&mut self, timer: Option<Timer>) {
        self.conn.timer = timer;
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        &self.conn.io
    }

    /// The socket. Reading or writing it directly corrupts the stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.conn.io
    }

    /// The socket; queued output and buffered input are dropped.
    pub fn into_inner(self) -> S {
        self.conn.io
    }

    /// Bytes the read buffer holds allocated (0 for an idle connection).
    pub fn read_buffer_capacity(&mut self) -> usize {
        self.conn.core.read_buf().capacity()
    }

    /// Bytes queued for writing.
    pub fn write_buffer_len(&self) -> usize {
        self.conn.core.output().len()
    }

    /// The protocol core, for anything this type does not wrap (e.g. the
    /// [`Connection`]'s state). Only queue through it; reading from the socket
    /// directly would corrupt the stream.
    pub fn core_mut(&mut self) -> &mut StreamCore {
        &mut self.conn.core
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Splits the stream into a reading and a writing half for two tasks; see
    /// [`ReadHalf`] for the design.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        split::split(self.conn, self.read, self.info)
    }

    /// The next message; `None` after the close (or an error) was delivered.
    ///
    /// Pings and the peer's close are answered before this returns them.
    ///
    /// **Cancel safe**: if the future is dropped before it completes, no message is
    /// lost; bytes already read stay buffered for the next call.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.conn.poll_recv(&mut self.read, cx, None)).await
    }

    /// Sends a message: waits while the write buffer is over its limit, queues the
    /// message, and writes everything queued.
    ///
    /// **Cancel safety**: dropped while waiting for room, the message is not sent;
    /// dropped after that, it is queued and goes out with the next write (a later
    /// `send`, `flush`, or a `recv` making room to read). Either way the stream
    /// stays consistent.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.conn.poll_room(cx)).await?;
        self.conn.core.send(message)?;
        self.flush().await
    }

    /// Queues a message without writing it (after waiting for room like
    /// [`send`](Self::send)); [`flush`](Self::flush) writes the batch in one go.
    ///
    /// **Cancel safety**: as the first part of [`send`](Self::send).
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.conn.poll_room(cx)).await?;
        self.conn.core.send(message)
    }

    /// Writes everything queued (including automatic pongs and close replies) and
    /// flushes the socket; shuts the socket down once the closing handshake is over.
    ///
    /// **Cancel safe**: what was not written stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.conn.poll_flush_and_maybe_shutdown(cx)).await
    }

    /// Sends one frame of a fragmented message: `opcode` [`OpCode::Text`] or
    /// [`OpCode::Binary`] for the first, [`OpCode::Continuation`] for the rest, `fin`
    /// on the last. Control messages may be sent in between; other data messages
    /// may not ([`LocalError::MessageInProgress`](ferrosocket_proto::LocalError)).
    /// Waits for room, queues, and writes like [`send`](Self::send).
    ///
    /// **Cancel safety**: as [`send`](Self::send); a message left unfinished blocks
    /// other data messages until its last fragment is sent.
    pub async fn send_fragment(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.conn.poll_room(cx)).await?;
        self.conn.core.send_fragment(opcode, data, fin)?;
        self.flush().await
    }

    /// Sends one message as one frame per chunk of `fragments` (at least one frame:
    /// an empty iterator sends an empty message). `opcode` is [`OpCode::Text`] or
    /// [`OpCode::Binary`]; text may be split anywhere, the whole must be UTF-8.
    /// Memory stays bounded: it waits for room before each chunk.
    ///
    /// **Not cancel safe**: dropped midway, the message is left unfinished (see
    /// [`send_fragment`](Self::send_fragment)).
    pub async fn send_fragments<I>(&mut self, opcode: OpCode, fragments: I) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut fragments = fragments.into_iter().peekable();
        let mut opcode = opcode;
        loop {
            let chunk = fragments.next();
            let fin = fragments.peek().is_none();
            poll_fn(|cx| self.conn.poll_room(cx)).await?;
            let data = chunk.as_ref().map_or(&[][..], AsRef::as_ref);
            self.conn.core.send_fragment(opcode, data, fin)?;
            if fin {
                return self.flush().await;
            }
            opcode = OpCode::Continuation;
        }
    }

    /// Closes the connection: sends a close frame (`None`: code 1000) unless one was
    /// sent already, waits for the peer's close (messages arriving meanwhile are
    /// dropped), then shuts the socket down. The whole is bounded by
    /// [`StreamConfig::close_timeout`] when the stream has a [`Timer`] (streams from
    /// the runtime modules do; see [`set_timer`](Self::set_timer)): [`Error::Timeout`] if the peer does not answer
    /// in time (the socket is shut down anyway). If the peer closed first, this only
    /// writes the echo and shuts down. To read the messages that arrive before the
    /// peer's close, send [`Message::Close`] and keep calling [`recv`](Self::recv)
    /// until `None` instead.
    ///
    /// **Cancel safety**: dropped midway, the close frame may have been queued; a
    /// later `close` continues the handshake.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        let timeout = self.conn.core.config().close_timeout;
        let result = crate::timer::timeout(self.conn.timer, timeout, self.close_inner(frame)).await;
        self.read.done = true;
        // The handshake is over, failed, or timed out: end the write side too.
        let _ = poll_fn(|cx| self.conn.poll_shutdown(cx)).await;
        result
    }

    async fn close_inner(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        if matches!(self.state(), State::Open | State::RemoteClosing) {
            self.conn.core.send(Message::Close(frame))?;
        }
        poll_fn(|cx| self.conn.poll_write_out(cx)).await?;
        while let Some(message) = self.recv().await {
            message?;
        }
        Ok(())
    }
}

/// Adapters use whole messages.
pub(crate) fn assembled(mut config: StreamConfig) -> StreamConfig {
    config.protocol = config.protocol.delivery(Delivery::Assembled);
    config
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    /// Like [`recv`](WebSocketStream::recv).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.conn.poll_recv(&mut this.read, cx, None)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for WebSocketStream<S> {
    fn is_terminated(&self) -> bool {
        self.read.ended
    }
}

/// `start_send` only queues; `poll_flush` writes the batch in one write call.
/// `poll_close` queues a close frame (code 1000) if none was sent and writes it; the
/// peer's answer is read by the [`Stream`] side, which then ends (bounded by
/// [`StreamConfig::close_timeout`]).
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().conn.poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().conn.core.send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().conn.poll_flush_and_maybe_shutdown(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let conn = &mut self.get_mut().conn;
        if matches!(conn.core.state(), State::Open | State::RemoteClosing) {
            conn.core.send(Message::Close(None))?;
        }
        ready!(conn.poll_flush_and_maybe_shutdown(cx))?;
        Poll::Ready(Ok(()))
    }
}
