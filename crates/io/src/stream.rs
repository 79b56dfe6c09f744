//! The public stream types of the async engine, defined once for every runtime:
//! [`WebSocketStream`] and its halves [`ReadHalf`] / [`WriteHalf`], generic over
//! the socket as the driver polls it ([`PollIo`]) and the runtime's timer
//! ([`AsyncTimer`]), with the `Stream` / `Sink` impls of the runtime-neutral
//! `futures-core` / `futures-sink`. A runtime binding names them with its types
//! (`ferrosocket_tokio::WebSocketStream<S>` is
//! `WebSocketStream<TokioIo<S>, TokioTimer>`).

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;

use crate::poll::{AsyncTimer, PollIo, PollReadHalf, PollStream, PollWriteHalf};
use crate::proto::handshake::Request;
use crate::proto::{CloseFrame, Delivery, OpCode, Role, State};
use crate::{Error, Incoming, Message, Response, StreamConfig, StreamCore};

/// A WebSocket connection over a socket, after the opening handshake.
///
/// Get one from a runtime's `accept` / `accept_with` (server), `connect` /
/// `client_async` (client), or [`from_raw_socket`](Self::from_raw_socket) for a
/// socket upgraded elsewhere (e.g. by hyper).
///
/// Use it through the async methods ([`recv`](Self::recv), [`send`](Self::send),
/// [`close`](Self::close), ...) or as a [`Stream`] of `Result<Message, Error>` and a
/// [`Sink<Message>`](Sink) (with `futures-util`'s `StreamExt` / `SinkExt`), like
/// `tokio-tungstenite`. [`split`](Self::split) gives halves for two tasks.
///
/// **Reading** happens only while a message is asked for: a slow consumer makes a
/// fast peer wait (TCP back-pressure) instead of buffering. Pings are answered and
/// the peer's close is echoed automatically (see
/// [`Config::auto_pong`](crate::proto::Config::auto_pong)); they are still delivered
/// as [`Message::Ping`] / [`Message::Close`]. After the close (or an error) the
/// stream yields `None`; the socket is shut down by then.
///
/// **Time**: while a read waits, the stream runs the timers of
/// [`StreamConfig`] (keepalive pings, the idle, message and close timeouts) with
/// the runtime's timer; one that fires ends the stream with [`Error::Timeout`].
///
/// **Writing**: sent messages are queued and written in one write call per batch;
/// [`send`](Self::send) and [`Sink::poll_ready`] wait while more than
/// [`StreamConfig::write_buffer_limit`] bytes are queued, so a peer that does not
/// read cannot make memory grow without bound.
///
/// **Memory**: the read buffer grows on demand (by [`StreamConfig::read_chunk`])
/// and is released whenever a read finds the socket idle, so an idle connection
/// holds no buffer.
///
/// **Large messages**: messages come whole by default (up to
/// [`Config::max_message_size`](crate::proto::Config::max_message_size)). After
/// [`set_delivery`](Self::set_delivery)`(`[`Delivery::Streaming`]`)`,
/// [`recv_incoming`](Self::recv_incoming) hands data messages out piece by piece as
/// they arrive, each piece at most a read ([`StreamConfig::read_chunk_max`]) or, with
/// permessage-deflate, 64 KiB decoded, so a message of any size is processed in
/// about that much memory; switch back to [`Delivery::Assembled`] for whole
/// messages.
#[derive(Debug)]
pub struct WebSocketStream<IO, T: AsyncTimer> {
    inner: PollStream<IO, T>,
}

impl<IO, T: AsyncTimer> WebSocketStream<IO, T> {
    /// Wraps the driver's stream.
    pub fn from_poll(inner: PollStream<IO, T>) -> Self {
        Self { inner }
    }

    /// The client's opening request (server side; `None` for a client or a raw
    /// socket): path, query, headers, offered subprotocols.
    pub fn request(&self) -> Option<&Request> {
        self.inner.request()
    }

    /// The server's answer (client side; `None` for a server or a raw socket).
    pub fn response(&self) -> Option<&Response> {
        self.inner.response()
    }

    /// The configuration.
    pub fn config(&self) -> &StreamConfig {
        self.inner.config()
    }

    /// The protocol state ([`State::Closed`] once the closing handshake is over).
    pub fn state(&self) -> State {
        self.inner.state()
    }

    /// Bytes the read buffer holds allocated (0 for an idle connection).
    pub fn read_buffer_capacity(&mut self) -> usize {
        self.inner.read_buffer_capacity()
    }

    /// Bytes queued for writing.
    pub fn write_buffer_len(&self) -> usize {
        self.inner.write_buffer_len()
    }

    /// The protocol core, for anything this type does not wrap (e.g. the
    /// [`Connection`](crate::proto::Connection)'s state). Only queue through it;
    /// reading from the socket directly would corrupt the stream.
    pub fn core_mut(&mut self) -> &mut StreamCore {
        self.inner.core_mut()
    }

    /// Sets (or removes) the timer that runs the stream's timers; a runtime's
    /// functions set theirs.
    pub fn set_timer(&mut self, timer: Option<T>) {
        self.inner.set_timer(timer);
    }

    /// How data messages are delivered now (see [`set_delivery`](Self::set_delivery)).
    pub fn delivery(&self) -> Delivery {
        self.inner.delivery()
    }

    /// Switches how data messages are delivered, at the next message boundary: at
    /// once between messages, else when the message being received ends (its
    /// pieces or whole message come as it began). A stream starts with
    /// [`Delivery::Assembled`]; with [`Delivery::Streaming`], receive with
    /// [`recv_incoming`](Self::recv_incoming) (or
    /// [`poll_next_incoming`](Self::poll_next_incoming)), which yields data messages
    /// piece by piece as they arrive ([`Incoming::Data`]), so a message far larger
    /// than memory allows can be processed: reads are offered at most
    /// [`StreamConfig::read_chunk_max`] (64 KiB by default) and pieces decoded by
    /// permessage-deflate hold 64 KiB at most. [`recv`](Self::recv) and the
    /// [`Stream`] impl would yield each piece as a message of its own.
    pub fn set_delivery(&mut self, delivery: Delivery) {
        self.inner.set_delivery(delivery);
    }
}

impl<IO: PollIo, T: AsyncTimer> WebSocketStream<IO, T> {
    /// Wraps a socket on which the opening handshake already happened (e.g. an
    /// upgraded hyper connection), as `role`.
    pub fn from_raw_socket(socket: IO::Socket, role: Role, config: StreamConfig) -> Self {
        Self::from_partially_read(socket, role, config, &[])
    }

    /// [`from_raw_socket`](Self::from_raw_socket), with bytes already read from the
    /// socket after the handshake (the start of the first frames).
    pub fn from_partially_read(
        socket: IO::Socket,
        role: Role,
        config: StreamConfig,
        read: &[u8],
    ) -> Self {
        let io = IO::from_socket(socket);
        Self::from_poll(PollStream::from_partially_read(
            io,
            role,
            config,
            read,
            T::ambient(),
        ))
    }

    /// The socket.
    pub fn get_ref(&self) -> &IO::Socket {
        self.inner.get_ref().socket()
    }

    /// The socket. Reading or writing it directly corrupts the stream.
    pub fn get_mut(&mut self) -> &mut IO::Socket {
        self.inner.get_mut().socket_mut()
    }

    /// The socket; queued output and buffered input are dropped.
    pub fn into_inner(self) -> IO::Socket {
        self.inner.into_inner().into_socket()
    }

    /// Splits the stream into a reading and a writing half for two tasks; see
    /// [`ReadHalf`] for the design.
    pub fn split(self) -> (ReadHalf<IO, T>, WriteHalf<IO, T>) {
        let (read, write) = self.inner.split();
        (ReadHalf { inner: read }, WriteHalf { inner: write })
    }

    /// The next message; `None` after the close (or an error) was delivered.
    ///
    /// Pings and the peer's close are answered before this returns them.
    ///
    /// **Cancel safe**: if the future is dropped before it completes, no message is
    /// lost; bytes already read stay buffered for the next call.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.inner.recv().await
    }

    /// The next piece of a data message ([`Incoming::Data`], with
    /// [`Delivery::Streaming`]) or whole message ([`Incoming::Message`]: pings,
    /// pongs, the close, and data messages with [`Delivery::Assembled`]); `None`
    /// after the close (or an error) was delivered. Reading, timers, replies and the
    /// close are as for [`recv`](Self::recv), and it is as **cancel safe**.
    pub async fn recv_incoming(&mut self) -> Option<Result<Incoming, Error>> {
        self.inner.recv_incoming().await
    }

    /// The poll form of [`recv_incoming`](Self::recv_incoming) (what
    /// [`Stream::poll_next`] is to [`recv`](Self::recv)).
    pub fn poll_next_incoming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Incoming, Error>>> {
        self.inner.poll_recv_incoming(cx)
    }

    /// Sends a message: waits while the write buffer is over its limit, queues the
    /// message, and writes everything queued.
    ///
    /// **Batching**: when a received frame is already buffered (the peer sent a
    /// burst), the write is held back until the next [`recv`](Self::recv) that has
    /// to wait for input, or a `send` or [`flush`](Self::flush) that finds no frame
    /// buffered. An echo or request/response loop thus answers a burst of `n`
    /// messages with one write instead of `n`, without any change to the loop. A
    /// reply is held only while messages that arrived before it are handed out;
    /// call [`flush`](Self::flush) to write at once (for example before a long
    /// computation on the next message). Split halves always write in `send`.
    ///
    /// **Cancel safety**: dropped while waiting for room, the message is not sent;
    /// dropped after that, it is queued and goes out with the next write (a later
    /// `send`, `flush`, or a `recv` making room to read). Either way the stream
    /// stays consistent.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.inner.send(message).await
    }

    /// Queues a message without writing it (after waiting for room like
    /// [`send`](Self::send)); [`flush`](Self::flush) writes the batch in one go.
    ///
    /// **Cancel safety**: as the first part of [`send`](Self::send).
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.inner.feed(message).await
    }

    /// Writes everything queued (including automatic pongs and close replies) and
    /// flushes the socket; shuts the socket down once the closing handshake is over.
    ///
    /// **Cancel safe**: what was not written stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.inner.flush().await
    }

    /// Sends one frame of a fragmented message: `opcode` [`OpCode::Text`] or
    /// [`OpCode::Binary`] for the first, [`OpCode::Continuation`] for the rest, `fin`
    /// on the last. Control messages may be sent in between; other data messages
    /// may not ([`LocalError::MessageInProgress`](crate::proto::LocalError)).
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
        self.inner.send_fragment(opcode, data, fin).await
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
        self.inner.send_fragments(opcode, fragments).await
    }

    /// Closes the connection: sends a close frame (`None`: code 1000) unless one was
    /// sent already, waits for the peer's close (messages arriving meanwhile are
    /// dropped), then shuts the socket down. The whole is bounded by
    /// [`StreamConfig::close_timeout`] when the stream has a timer:
    /// [`Error::Timeout`] if the peer does not answer in time (the socket is shut
    /// down anyway). If the peer closed first, this only writes the echo and shuts
    /// down. To read the messages that arrive before the peer's close, send
    /// [`Message::Close`] and keep calling [`recv`](Self::recv) until `None` instead.
    ///
    /// **Cancel safety**: dropped midway, the close frame may have been queued; a
    /// later `close` continues the handshake.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.inner.close(frame).await
    }
}

impl<IO: PollIo, T: AsyncTimer> Stream for WebSocketStream<IO, T> {
    type Item = Result<Message, Error>;

    /// Like [`recv`](WebSocketStream::recv).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_recv(cx)
    }
}

impl<IO: PollIo, T: AsyncTimer> FusedStream for WebSocketStream<IO, T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

/// `start_send` only queues; `poll_flush` writes the batch in one write call.
/// `poll_close` queues a close frame (code 1000) if none was sent and writes it; the
/// peer's answer is read by the [`Stream`] side, which then ends (bounded by
/// [`StreamConfig::close_timeout`]).
impl<IO: PollIo, T: AsyncTimer> Sink<Message> for WebSocketStream<IO, T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().inner.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_close(cx)
    }
}

/// The reading half of a split [`WebSocketStream`]: a [`Stream`] of messages, and
/// [`recv`](Self::recv).
///
/// # Design
///
/// [`WebSocketStream::split`] puts the socket and the protocol core (one
/// [`StreamCore`]) behind one `std::sync::Mutex` shared by the halves. The lock is
/// taken only inside a poll, for one non-blocking step (parse, one read into the
/// core's buffer, one write of the queued output), and never held across an
/// `.await`: a half waiting for the network holds nothing, so reading in one task
/// and writing in another run independently. (The socket is not split with the
/// runtime's own `split`: reads go straight into the core's buffer, which needs the
/// core's lock anyway.)
///
/// Protocol replies are written by whichever half runs: the read half writes the
/// pong or close echo a message caused right after parsing it, and the queued
/// output before each read, so pings are answered while the write half is idle.
/// Both halves may thus wait for write readiness; they register with a shared
/// fan-out waker, so neither wake-up is lost.
///
/// The read half also runs the timers: once a close frame was sent (by either
/// half), the peer's must arrive within [`StreamConfig::close_timeout`] (when the
/// stream has a timer), or [`recv`](Self::recv) gives [`Error::Timeout`]. After the
/// close it shuts the socket down.
pub struct ReadHalf<IO, T: AsyncTimer> {
    inner: PollReadHalf<IO, T>,
}

/// The writing half of a split [`WebSocketStream`]: a [`Sink<Message>`](Sink), and
/// [`send`](Self::send). See [`ReadHalf`] for the design.
pub struct WriteHalf<IO, T> {
    inner: PollWriteHalf<IO, T>,
}

impl<IO, T: AsyncTimer> fmt::Debug for ReadHalf<IO, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<IO, T> fmt::Debug for WriteHalf<IO, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// The halves given to [`ReadHalf::reunite`] come from different streams.
pub struct ReuniteError<IO, T: AsyncTimer>(pub ReadHalf<IO, T>, pub WriteHalf<IO, T>);

impl<IO, T: AsyncTimer> fmt::Debug for ReuniteError<IO, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReuniteError").finish_non_exhaustive()
    }
}

impl<IO, T: AsyncTimer> fmt::Display for ReuniteError<IO, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different WebSocket streams")
    }
}

impl<IO, T: AsyncTimer> std::error::Error for ReuniteError<IO, T> {}

impl<IO, T: AsyncTimer> ReadHalf<IO, T> {
    /// The client's opening request (server side).
    pub fn request(&self) -> Option<&Request> {
        self.inner.request()
    }

    /// The server's answer (client side).
    pub fn response(&self) -> Option<&Response> {
        self.inner.response()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.inner.state()
    }

    /// How data messages are delivered now.
    pub fn delivery(&self) -> Delivery {
        self.inner.delivery()
    }

    /// Switches how data messages are delivered at the next message boundary; as
    /// [`WebSocketStream::set_delivery`].
    pub fn set_delivery(&mut self, delivery: Delivery) {
        self.inner.set_delivery(delivery);
    }

    /// Whether `other` is the other half of the same stream.
    pub fn is_pair_of(&self, other: &WriteHalf<IO, T>) -> bool {
        self.inner.is_pair_of(&other.inner)
    }

    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// If they come from different streams.
    pub fn reunite(
        self,
        other: WriteHalf<IO, T>,
    ) -> Result<WebSocketStream<IO, T>, ReuniteError<IO, T>> {
        match self.inner.reunite(other.inner) {
            Ok(inner) => Ok(WebSocketStream { inner }),
            Err((read, write)) => Err(ReuniteError(
                ReadHalf { inner: read },
                WriteHalf { inner: write },
            )),
        }
    }
}

impl<IO: PollIo, T: AsyncTimer> ReadHalf<IO, T> {
    /// The next message; `None` after the close (or an error) was delivered.
    ///
    /// **Cancel safe**, as [`WebSocketStream::recv`].
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.inner.recv().await
    }

    /// The next piece of a data message or whole message; as
    /// [`WebSocketStream::recv_incoming`] (**cancel safe**).
    pub async fn recv_incoming(&mut self) -> Option<Result<Incoming, Error>> {
        self.inner.recv_incoming().await
    }

    /// The poll form of [`recv_incoming`](Self::recv_incoming).
    pub fn poll_next_incoming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Incoming, Error>>> {
        self.inner.poll_recv_incoming(cx)
    }
}

impl<IO: PollIo, T: AsyncTimer> Stream for ReadHalf<IO, T> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_recv(cx)
    }
}

impl<IO: PollIo, T: AsyncTimer> FusedStream for ReadHalf<IO, T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<IO, T> WriteHalf<IO, T> {
    /// The protocol state.
    pub fn state(&self) -> State {
        self.inner.state()
    }
}

impl<IO: PollIo, T: AsyncTimer> WriteHalf<IO, T> {
    /// Sends a message: waits for room, queues, writes; as
    /// [`WebSocketStream::send`] (same cancel safety).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.inner.send(message).await
    }

    /// Queues a message after waiting for room; as [`WebSocketStream::feed`].
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.inner.feed(message).await
    }

    /// Writes everything queued; as [`WebSocketStream::flush`]. **Cancel safe.**
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.inner.flush().await
    }

    /// One frame of a fragmented message; as [`WebSocketStream::send_fragment`].
    pub async fn send_fragment(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        self.inner.send_fragment(opcode, data, fin).await
    }

    /// One message, one frame per chunk; as [`WebSocketStream::send_fragments`]
    /// (**not cancel safe**).
    pub async fn send_fragments<I>(&mut self, opcode: OpCode, fragments: I) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.inner.send_fragments(opcode, fragments).await
    }

    /// Sends a close frame (`None`: code 1000) unless one was sent, and writes it.
    /// The peer's answer arrives on the [`ReadHalf`], which then ends (bounded by the
    /// close timeout) and shuts the socket down; if the peer had closed first, this
    /// shuts it down.
    ///
    /// **Cancel safe**: the close frame stays queued.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.inner.close(frame).await
    }
}

/// As for [`WebSocketStream`]: `start_send` queues, `poll_flush` writes, `poll_close`
/// sends a close frame (code 1000) and writes it.
impl<IO: PollIo, T: AsyncTimer> Sink<Message> for WriteHalf<IO, T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.inner.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_close(cx)
    }
}
