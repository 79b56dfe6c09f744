//! [`ReadHalf`] and [`WriteHalf`]: a [`WebSocketStream`] split for two tasks.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use ferrosocket_proto::handshake::Request;
use ferrosocket_proto::stream::{Error, Message};
use ferrosocket_proto::{CloseFrame, OpCode, State};
use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::WebSocketStream;
use crate::conn::{Conn, ReadState};
use crate::handshake::Response;
use crate::stream::Info;

/// What both halves share.
struct Shared<S> {
    /// The socket and the protocol core. Locked only inside a `poll_*` call (one
    /// parse step plus at most a few non-blocking reads or writes), never across an
    /// `.await` or a `Pending`, so neither half can hold up the other while waiting.
    conn: Mutex<Conn<S>>,
    /// Whoever waits for the socket to become writable: both halves may write (the
    /// read half writes pongs and close echoes), but a socket keeps only one waker
    /// for write readiness, so both halves poll writes with this fan-out waker.
    write_wakers: Arc<WriteWakers>,
    write_waker: Waker,
    info: Info,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Conn<S>> {
        // A panic inside a poll cannot leave the core half-updated in a way that
        // breaks memory safety; keep going rather than poisoning both halves.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

const READER: usize = 0;
const WRITER: usize = 1;

/// The tasks of the two halves waiting for write readiness; waking wakes both.
#[derive(Default)]
struct WriteWakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl WriteWakers {
    /// Registers `waker` for `half` (before polling a write: a wake-up between the
    /// write returning `Pending` and the registration would otherwise be lost).
    fn register(&self, half: usize, waker: &Waker) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match &slots[half] {
            Some(w) if w.will_wake(waker) => {}
            _ => slots[half] = Some(waker.clone()),
        }
    }
}

impl Wake for WriteWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            [slots[0].take(), slots[1].take()]
        };
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

pub(crate) fn split<S>(conn: Conn<S>, read: ReadState, info: Info) -> (ReadHalf<S>, WriteHalf<S>) {
    let write_wakers = Arc::new(WriteWakers::default());
    let shared = Arc::new(Shared {
        conn: Mutex::new(conn),
        write_waker: Waker::from(write_wakers.clone()),
        write_wakers,
        info,
    });
    (
        ReadHalf {
            shared: shared.clone(),
            read,
        },
        WriteHalf { shared },
    )
}

/// The reading half of a split [`WebSocketStream`]: a [`Stream`] of messages, and
/// [`recv`](Self::recv).
///
/// # Design
///
/// [`WebSocketStream::split`] puts the socket and the protocol core (one
/// [`StreamCore`](ferrosocket_proto::stream::StreamCore)) behind one
/// `std::sync::Mutex` shared by the halves. The lock is taken only inside a poll, for
/// one non-blocking step (parse, one read into the core's buffer, one write of the
/// queued output), and never held across an `.await`: a half waiting for the network
/// holds nothing, so reading in one task and writing in another run independently.
/// (The socket is not split with `tokio::io::split`: reads go straight into the
/// core's buffer, which needs the core's lock anyway.)
///
/// Protocol replies are written by whichever half runs: the read half writes the
/// pong or close echo a message caused right after parsing it, and the queued
/// output before each read, so pings are answered while the write half is idle.
/// Both halves may thus wait for write readiness; they register with a shared
/// fan-out waker, so neither wake-up is lost.
///
/// The read half also times the closing handshake: once a close frame was sent
/// (by either half), the peer's must arrive within
/// [`StreamConfig::close_timeout`](ferrosocket_proto::stream::StreamConfig) or
/// [`recv`](Self::recv) gives [`Error::Timeout`]. After the close it shuts the socket
/// down.
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
    read: ReadState,
}

/// The writing half of a split [`WebSocketStream`]: a [`Sink<Message>`](Sink), and
/// [`send`](Self::send). See [`ReadHalf`] for the design.
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
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

impl<S> std::error::Error for ReuniteError<S> {}

impl<S> ReadHalf<S> {
    /// The client's opening request (server side).
    pub fn request(&self) -> Option<&Request> {
        self.shared.info.request.as_deref()
    }

    /// The server's answer (client side).
    pub fn response(&self) -> Option<&Response> {
        self.shared.info.response.as_deref()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.shared.lock().core.state()
    }

    /// Whether `other` is the other half of the same stream.
    pub fn is_pair_of(&self, other: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// If they come from different streams.
    pub fn reunite(self, other: WriteHalf<S>) -> Result<WebSocketStream<S>, ReuniteError<S>> {
        if !self.is_pair_of(&other) {
            return Err(ReuniteError(self, other));
        }
        drop(other);
        let Ok(shared) = Arc::try_unwrap(self.shared) else {
            unreachable!("both halves were given, so no other reference exists");
        };
        let conn = shared
            .conn
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(WebSocketStream::from_parts(conn, self.read, shared.info))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let shared = &*self.shared;
        shared.write_wakers.register(READER, cx.waker());
        let mut conn = shared.lock();
        conn.poll_recv(&mut self.read, cx, Some(&shared.write_waker))
    }

    /// The next message; `None` after the close (or an error) was delivered.
    ///
    /// **Cancel safe**, as [`WebSocketStream::recv`].
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for ReadHalf<S> {
    fn is_terminated(&self) -> bool {
        self.read.ended
    }
}

impl<S> WriteHalf<S> {
    /// The protocol state.
    pub fn state(&self) -> State {
        self.shared.lock().core.state()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// Runs `f` on the locked connection with a context for write readiness.
    fn with_conn<T>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Conn<S>, &mut Context<'_>) -> T,
    ) -> T {
        let shared = &*self.shared;
        shared.write_wakers.register(WRITER, cx.waker());
        let mut conn = shared.lock();
        f(&mut conn, &mut Context::from_waker(&shared.write_waker))
    }

    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with_conn(cx, |conn, cx| conn.poll_room(cx))
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with_conn(cx, |conn, cx| conn.poll_flush_and_maybe_shutdown(cx))
    }

    fn queue(&self, f: impl FnOnce(&mut Conn<S>) -> Result<(), Error>) -> Result<(), Error> {
        f(&mut self.shared.lock())
    }

    /// Sends a message: waits for room, queues, writes; as
    /// [`WebSocketStream::send`] (same cancel safety).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        self.queue(|conn| conn.core.send(message))?;
        self.flush().await
    }

    /// Queues a message after waiting for room; as [`WebSocketStream::feed`].
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        self.queue(|conn| conn.core.send(message))
    }

    /// Writes everything queued; as [`WebSocketStream::flush`]. **Cancel safe.**
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// One frame of a fragmented message; as [`WebSocketStream::send_fragment`].
    pub async fn send_fragment(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        self.queue(|conn| conn.core.send_fragment(opcode, data, fin))?;
        self.flush().await
    }

    /// One message, one frame per chunk; as [`WebSocketStream::send_fragments`]
    /// (**not cancel safe**).
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
            poll_fn(|cx| self.poll_room(cx)).await?;
            let data = chunk.as_ref().map_or(&[][..], AsRef::as_ref);
            self.queue(|conn| conn.core.send_fragment(opcode, data, fin))?;
            if fin {
                return self.flush().await;
            }
            opcode = OpCode::Continuation;
        }
    }

    /// Sends a close frame (`None`: code 1000) unless one was sent, and writes it.
    /// The peer's answer arrives on the [`ReadHalf`], which then ends (bounded by the
    /// close timeout) and shuts the socket down; if the peer had closed first, this
    /// shuts it down.
    ///
    /// **Cancel safe**: the close frame stays queued.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.queue(|conn| {
            if matches!(conn.core.state(), State::Open | State::RemoteClosing) {
                conn.core.send(Message::Close(frame))?;
            }
            Ok(())
        })?;
        self.flush().await
    }
}

/// As for [`WebSocketStream`]: `start_send` queues, `poll_flush` writes, `poll_close`
/// sends a close frame (code 1000) and writes it.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.queue(|conn| conn.core.send(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        WriteHalf::poll_flush(&self, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.queue(|conn| {
            if matches!(conn.core.state(), State::Open | State::RemoteClosing) {
                conn.core.send(Message::Close(None))?;
            }
            Ok(())
        })?;
        WriteHalf::poll_flush(&self, cx)
    }
}
