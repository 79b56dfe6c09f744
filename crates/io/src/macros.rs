//! The public types of a poll-based adapter, generated once for tokio and
//! futures-io: thin wrappers over [`PollStream`](super::poll::PollStream) and its
//! halves, with the `Stream` / `Sink` impls (of the adapter's `futures-core` /
//! `futures-sink`; proto depends on neither).

/// Defines `WebSocketStream<S>`, `ReadHalf<S>`, `WriteHalf<S>` and
/// `ReuniteError<S>` in the calling module, over the adapter's socket newtype `io`
/// (a tuple struct `io<S>(S)` implementing
/// [`PollIo`](crate::poll::PollIo) for `S: bounds`) and `timer`.
/// The calling crate depends on `futures-core` and `futures-sink`.
#[doc(hidden)]
#[macro_export]
macro_rules! __poll_adapter_types {
    (
        io = $io:ident,
        timer = $timer:ty,
        raw_timer = $raw_timer:expr,
        bounds = { $($bound:tt)* },
        connect_docs = { $(#[$connect_doc:meta])* },
        close_docs = { $(#[$close_doc:meta])* },
        split_docs = { $(#[$split_doc:meta])* },
        timer_docs = { $(#[$timer_doc:meta])* } $(,)?
    ) => {
        use ::std::fmt;
        use ::std::pin::Pin;
        use ::std::task::{Context, Poll};

        use ::futures_core::{FusedStream, Stream};
        use ::futures_sink::Sink;
        use $crate::proto::handshake::Request;
        use $crate::poll::{PollReadHalf, PollStream, PollWriteHalf};
        use $crate::{Error, Message, Response, StreamConfig, StreamCore};
        use $crate::proto::{CloseFrame, OpCode, Role, State};

        /// A WebSocket connection over a socket `S`, after the opening handshake.
        ///
        /// Get one from [`accept`](crate::accept) / [`accept_with`](crate::accept_with)
        $(#[$connect_doc])*
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
            inner: PollStream<$io<S>, $timer>,
        }

        impl<S> WebSocketStream<S> {
            pub(crate) fn from_poll(inner: PollStream<$io<S>, $timer>) -> Self {
                Self { inner }
            }

            /// Wraps a socket on which the opening handshake already happened (e.g. an
            /// upgraded hyper connection), as `role`.
            pub fn from_raw_socket(io: S, role: Role, config: StreamConfig) -> Self {
                Self::from_partially_read(io, role, config, &[])
            }

            /// [`from_raw_socket`](Self::from_raw_socket), with bytes already read from the
            /// socket after the handshake (the start of the first frames).
            pub fn from_partially_read(io: S, role: Role, config: StreamConfig, read: &[u8]) -> Self {
                Self::from_poll(PollStream::from_partially_read($io(io), role, config, read, $raw_timer))
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

            /// The socket.
            pub fn get_ref(&self) -> &S {
                &self.inner.get_ref().0
            }

            /// The socket. Reading or writing it directly corrupts the stream.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner.get_mut().0
            }

            /// The socket; queued output and buffered input are dropped.
            pub fn into_inner(self) -> S {
                self.inner.into_inner().0
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
            /// [`Connection`](ferrosocket_proto::Connection)'s state). Only queue through it;
            /// reading from the socket directly would corrupt the stream.
            pub fn core_mut(&mut self) -> &mut StreamCore {
                self.inner.core_mut()
            }
        }

        impl<S: $($bound)*> WebSocketStream<S> {
            /// Splits the stream into a reading and a writing half for two tasks; see
            /// [`ReadHalf`] for the design.
            pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
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
            $(#[$close_doc])*
            /// in time (the socket is shut down anyway). If the peer closed first, this only
            /// writes the echo and shuts down. To read the messages that arrive before the
            /// peer's close, send [`Message::Close`] and keep calling [`recv`](Self::recv)
            /// until `None` instead.
            ///
            /// **Cancel safety**: dropped midway, the close frame may have been queued; a
            /// later `close` continues the handshake.
            pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
                self.inner.close(frame).await
            }
        }

        impl<S: $($bound)*> Stream for WebSocketStream<S> {
            type Item = Result<Message, Error>;

            /// Like [`recv`](WebSocketStream::recv).
            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                self.get_mut().inner.poll_recv(cx)
            }
        }

        impl<S: $($bound)*> FusedStream for WebSocketStream<S> {
            fn is_terminated(&self) -> bool {
                self.inner.is_terminated()
            }
        }

        /// `start_send` only queues; `poll_flush` writes the batch in one write call.
        /// `poll_close` queues a close frame (code 1000) if none was sent and writes it; the
        /// peer's answer is read by the [`Stream`] side, which then ends (bounded by
        /// [`StreamConfig::close_timeout`]).
        impl<S: $($bound)*> Sink<Message> for WebSocketStream<S> {
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
        /// [`StreamCore`](ferrosocket_io::StreamCore)) behind one
        /// `std::sync::Mutex` shared by the halves. The lock is taken only inside a poll, for
        /// one non-blocking step (parse, one read into the core's buffer, one write of the
        /// queued output), and never held across an `.await`: a half waiting for the network
        /// holds nothing, so reading in one task and writing in another run independently.
        $(#[$split_doc])*
        ///
        /// Protocol replies are written by whichever half runs: the read half writes the
        /// pong or close echo a message caused right after parsing it, and the queued
        /// output before each read, so pings are answered while the write half is idle.
        /// Both halves may thus wait for write readiness; they register with a shared
        /// fan-out waker, so neither wake-up is lost.
        ///
        /// The read half also times the closing handshake: once a close frame was sent
        /// (by either half), the peer's must arrive within
        /// [`StreamConfig::close_timeout`](ferrosocket_io::StreamConfig)
        $(#[$timer_doc])*
        /// or [`recv`](Self::recv) gives [`Error::Timeout`]. After the close it shuts the
        /// socket down.
        pub struct ReadHalf<S> {
            inner: PollReadHalf<$io<S>, $timer>,
        }

        /// The writing half of a split [`WebSocketStream`]: a [`Sink<Message>`](Sink), and
        /// [`send`](Self::send). See [`ReadHalf`] for the design.
        pub struct WriteHalf<S> {
            inner: PollWriteHalf<$io<S>, $timer>,
        }

        impl<S> fmt::Debug for ReadHalf<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("ReadHalf").finish_non_exhaustive()
            }
        }

        impl<S> fmt::Debug for WriteHalf<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("WriteHalf").finish_non_exhaustive()
            }
        }

        /// The halves given to [`ReadHalf::reunite`] come from different streams.
        pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

        impl<S> fmt::Debug for ReuniteError<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple("ReuniteError").finish_non_exhaustive()
            }
        }

        impl<S> fmt::Display for ReuniteError<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tried to reunite halves of different WebSocket streams")
            }
        }

        impl<S> ::std::error::Error for ReuniteError<S> {}

        impl<S> ReadHalf<S> {
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

            /// Whether `other` is the other half of the same stream.
            pub fn is_pair_of(&self, other: &WriteHalf<S>) -> bool {
                self.inner.is_pair_of(&other.inner)
            }

            /// Puts the halves back together.
            ///
            /// # Errors
            ///
            /// If they come from different streams.
            pub fn reunite(self, other: WriteHalf<S>) -> Result<WebSocketStream<S>, ReuniteError<S>> {
                match self.inner.reunite(other.inner) {
                    Ok(inner) => Ok(WebSocketStream { inner }),
                    Err((read, write)) => Err(ReuniteError(
                        ReadHalf { inner: read },
                        WriteHalf { inner: write },
                    )),
                }
            }
        }

        impl<S: $($bound)*> ReadHalf<S> {
            /// The next message; `None` after the close (or an error) was delivered.
            ///
            /// **Cancel safe**, as [`WebSocketStream::recv`].
            pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
                self.inner.recv().await
            }
        }

        impl<S: $($bound)*> Stream for ReadHalf<S> {
            type Item = Result<Message, Error>;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                self.get_mut().inner.poll_recv(cx)
            }
        }

        impl<S: $($bound)*> FusedStream for ReadHalf<S> {
            fn is_terminated(&self) -> bool {
                self.inner.is_terminated()
            }
        }

        impl<S> WriteHalf<S> {
            /// The protocol state.
            pub fn state(&self) -> State {
                self.inner.state()
            }
        }

        impl<S: $($bound)*> WriteHalf<S> {
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
        impl<S: $($bound)*> Sink<Message> for WriteHalf<S> {
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
    };
}
