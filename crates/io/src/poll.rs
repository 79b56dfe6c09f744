//! The connection driver of the poll-based adapters (tokio, futures-io), written
//! once over two small traits: [`PollIo`] (the socket) and [`AsyncTimer`] (the
//! runtime's clock and sleep).
//!
//! [`PollStream`] is a whole WebSocket stream (async methods plus the `poll_*`
//! functions an adapter's `Stream` / `Sink` impls delegate to), [`PollReadHalf`] and
//! [`PollWriteHalf`] its split halves, [`server_handshake`] and
//! [`client_handshake`] the opening handshake over a [`PollIo`]. Only `core` / `std`
//! task types are used: no runtime, no futures crate.

use alloc::boxed::Box;
use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker, ready};
use core::time::Duration;
use std::io;

use bytes::BytesMut;
use ferrosocket_proto::handshake::{Limits, Request, Url};

use super::handshake::HandshakeIo;
use super::{
    ClientHandshake, ClientOptions, Decision, Error, Incoming, Message, Response, ServerHandshake,
    StreamConfig, StreamCore,
};
use ferrosocket_proto::{CloseFrame, Connection, Delivery, Instant, OpCode, Role, State, Timer};

mod split;

pub use split::{PollReadHalf, PollWriteHalf};

/// A socket, as the driver polls it. Adapters implement it on a newtype over their
/// runtime's `AsyncRead + AsyncWrite`.
pub trait PollIo: Unpin {
    /// The socket the user sees (what the newtype wraps).
    type Socket;

    /// Wraps `socket`.
    fn from_socket(socket: Self::Socket) -> Self
    where
        Self: Sized;

    /// The socket.
    fn socket(&self) -> &Self::Socket;

    /// The socket, mutably.
    fn socket_mut(&mut self) -> &mut Self::Socket;

    /// The socket, unwrapped.
    fn into_socket(self) -> Self::Socket
    where
        Self: Sized;

    /// Reads into the spare capacity of `buf` (appending), returning the bytes read
    /// (0: EOF). Readers that need an initialized slice use
    /// [`read_into_spare`](super::read_into_spare) with `chunk`
    /// ([`StreamCore::read_size`](super::StreamCore::read_size): 8 KiB, more while
    /// the peer keeps reads full); others may fill all the spare capacity.
    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        chunk: usize,
    ) -> Poll<io::Result<usize>>;

    /// Writes from `buf`, returning the bytes written.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes from `bufs` in order, returning the bytes written. The default writes
    /// the first non-empty one; sockets implement it with one vectored write.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.poll_write(cx, buf),
            None => Poll::Ready(Ok(0)),
        }
    }

    /// Flushes the socket.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts the write side down (tokio's `poll_shutdown`, futures-io's
    /// `poll_close`).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// A runtime's clock and sleep, for the timers of [`StreamConfig`]: the driver
/// gives the core the time ([`StreamCore::handle_timeout`]) and sleeps until the
/// core's next deadline ([`StreamCore::poll_timeout`]) with one sleep per stream,
/// moved (not recreated) when the deadline moves.
pub trait AsyncTimer: Clone + Unpin {
    /// The sleep future; polling it after it completed must complete again.
    type Sleep: Future<Output = ()> + Unpin;

    /// The timer a stream built without one
    /// ([`WebSocketStream::from_raw_socket`](crate::WebSocketStream::from_raw_socket))
    /// gets: the runtime's own, or `None` where there is no runtime to ask.
    fn ambient() -> Option<Self>
    where
        Self: Sized,
    {
        None
    }

    /// The current time. The default is the system's monotonic clock; runtimes with
    /// a clock of their own (tokio's, which tests can pause) return theirs.
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }

    /// A sleep that completes at `deadline` (at once if it passed).
    fn sleep_until(&self, deadline: std::time::Instant) -> Self::Sleep;

    /// Moves `sleep` to complete at `deadline`. The default makes a new sleep;
    /// runtimes whose sleeps can be reset do that instead.
    fn reset(&self, sleep: &mut Self::Sleep, deadline: std::time::Instant) {
        *sleep = self.sleep_until(deadline);
    }

    /// A sleep that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.sleep_until(self.now() + duration)
    }
}

/// Runs `fut` within `limit` if there is a timer, or fails with
/// [`Error::Timeout`]`(kind)`.
///
/// # Errors
///
/// [`Error::Timeout`], or `fut`'s.
pub async fn timeout<T: AsyncTimer, R>(
    timer: Option<&T>,
    limit: Option<Duration>,
    kind: Timer,
    fut: impl Future<Output = Result<R, Error>>,
) -> Result<R, Error> {
    let (Some(timer), Some(limit)) = (timer, limit) else {
        return fut.await;
    };
    let mut fut = pin!(fut);
    let mut sleep = timer.sleep(limit);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        if Pin::new(&mut sleep).poll(cx).is_ready() {
            return Poll::Ready(Err(Error::Timeout(kind)));
        }
        Poll::Pending
    })
    .await
}

/// What the opening handshake told us.
#[derive(Debug, Default)]
pub struct Info {
    /// The client's request (server side).
    pub request: Option<Box<Request>>,
    /// The server's answer (client side).
    pub response: Option<Box<Response>>,
}

/// What the reading side hands out: whole messages ([`StreamCore::next_message`]) or
/// pieces of them ([`StreamCore::next_incoming`]), through the same loop.
pub(crate) trait Received: Sized {
    /// The next one buffered in `core`.
    fn next(core: &mut StreamCore) -> Option<Result<Self, Error>>;
    /// Whether it is the peer's close.
    fn is_close(&self) -> bool;
}

impl Received for Message {
    #[inline]
    fn next(core: &mut StreamCore) -> Option<Result<Self, Error>> {
        core.next_message()
    }
    fn is_close(&self) -> bool {
        matches!(self, Self::Close(_))
    }
}

impl Received for Incoming {
    #[inline]
    fn next(core: &mut StreamCore) -> Option<Result<Self, Error>> {
        core.next_incoming()
    }
    fn is_close(&self) -> bool {
        Incoming::is_close(self)
    }
}

/// The socket and the protocol state that goes with it: poll functions following
/// the adapter loop of [`StreamCore`]. They never hold anything across a
/// `Pending`, so the split halves call them under a lock held for one poll.
#[derive(Debug)]
pub(crate) struct Driver<IO, T> {
    pub(crate) io: IO,
    pub(crate) core: StreamCore,
    /// The runtime's timer for the close timeout (`None`: no close timeout).
    pub(crate) timer: Option<T>,
    /// Bytes were written since the last successful flush.
    unflushed: bool,
    /// The shutdown completed (or failed): the write side is over.
    shut_down: bool,
}

/// What the reading side remembers between polls.
pub(crate) struct ReadState<T: AsyncTimer> {
    /// The stream ended (close delivered, error, or timeout): only `None` follows.
    pub(crate) done: bool,
    /// `None` was returned.
    pub(crate) ended: bool,
    /// The core's clock, while it has one.
    clock: Option<Clock<T>>,
    /// Bounds the last writes once the stream ended (the close echo, an error's
    /// close frame, the shutdown).
    finish_deadline: Option<T::Sleep>,
    /// The peer's close was delivered (the closing handshake completed, not an
    /// error or a timeout).
    peer_closed: bool,
}

/// The time the reading side gives the core: `origin` is the core's
/// [`Instant::ZERO`]; `sleep` wakes the reader at the core's next deadline.
struct Clock<T: AsyncTimer> {
    origin: std::time::Instant,
    /// The sleep, when it completes, and the core's deadline it was set for.
    sleep: Option<(T::Sleep, std::time::Instant, Instant)>,
    /// The waker the armed sleep was last polled with: polling it again for the
    /// same deadline and task only registers the same waker again.
    polled_with: Option<Waker>,
}

impl<T: AsyncTimer> core::fmt::Debug for ReadState<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadState")
            .field("done", &self.done)
            .field("ended", &self.ended)
            .field(
                "deadline",
                &self
                    .clock
                    .as_ref()
                    .and_then(|c| c.sleep.as_ref().map(|s| s.2)),
            )
            .finish()
    }
}

impl<T: AsyncTimer> Default for ReadState<T> {
    fn default() -> Self {
        Self {
            done: false,
            ended: false,
            clock: None,
            finish_deadline: None,
            peer_closed: false,
        }
    }
}

impl<T: AsyncTimer> ReadState<T> {
    /// Gives `core` the time and sets the sleep to its next deadline; `true` if
    /// that changed something the read loop must look at (a timer fired: an error
    /// to deliver, a ping to write). Registers `cx` for the deadline otherwise.
    /// `now`: the time, if the caller has just read it.
    fn run_timers(
        &mut self,
        core: &mut StreamCore,
        timer: &T,
        cx: &mut Context<'_>,
        mut now: Option<std::time::Instant>,
    ) -> bool {
        // A sleep that completes before the core agrees its deadline passed (a
        // coarser runtime clock) is moved and polled again, a bounded number of times.
        for _ in 0..4 {
            let now = now.take().unwrap_or_else(|| timer.now());
            // The fast path of a connection that waits after every message: its
            // sleep is armed for this task, not due, and nothing happened that
            // could bring the core's deadline earlier.
            if let Some(Clock {
                sleep: Some((_, at, _)),
                polled_with: Some(waker),
                ..
            }) = &self.clock
                && now < *at
                && waker.will_wake(cx.waker())
                && core.timers_settled()
            {
                return false;
            }
            let clock = self.clock.get_or_insert_with(|| Clock {
                origin: now,
                sleep: None,
                polled_with: None,
            });
            let since = Instant::from_duration(now.saturating_duration_since(clock.origin));
            let (queued, state) = (core.output_len(), core.state());
            core.handle_timeout(since);
            // A timer that fires closes the connection; the keepalive queues a ping.
            if core.output_len() > queued || core.state() != state {
                return true;
            }
            let Some(deadline) = core.poll_timeout() else {
                clock.sleep = None;
                return false;
            };
            let at = clock.origin + deadline.duration_since_origin();
            let (sleep, _, _) = match &mut clock.sleep {
                Some(armed) => {
                    if armed.2 != deadline {
                        timer.reset(&mut armed.0, at);
                        (armed.1, armed.2) = (at, deadline);
                        clock.polled_with = None;
                    } else if now < at
                        && clock
                            .polled_with
                            .as_ref()
                            .is_some_and(|w| w.will_wake(cx.waker()))
                    {
                        // Armed for this deadline and this task, not due: the
                        // runtime will wake us (one poll of the sleep less per
                        // message for a connection that goes idle after each).
                        return false;
                    }
                    armed
                }
                None => clock.sleep.insert((timer.sleep_until(at), at, deadline)),
            };
            if Pin::new(sleep).poll(cx).is_pending() {
                match &clock.polled_with {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => clock.polled_with = Some(cx.waker().clone()),
                }
                return false;
            }
            clock.polled_with = None;
            // Fired before the core saw its deadline pass: move it a little later
            // and give the core the new time.
            let later = at.max(timer.now()) + Duration::from_millis(1);
            if let Some(armed) = &mut clock.sleep {
                timer.reset(&mut armed.0, later);
                armed.1 = later;
            }
        }
        false
    }

    /// Bounds the last writes by the close timeout (started once); `true` once it
    /// expired.
    fn finish_expired(
        &mut self,
        timeout: Option<Duration>,
        timer: Option<&T>,
        cx: &mut Context<'_>,
    ) -> bool {
        if self.finish_deadline.is_none()
            && let (Some(timeout), Some(timer)) = (timeout, timer)
        {
            self.finish_deadline = Some(timer.sleep(timeout));
        }
        match &mut self.finish_deadline {
            Some(sleep) => Pin::new(sleep).poll(cx).is_ready(),
            None => false,
        }
    }
}

impl<IO, T> Driver<IO, T> {
    fn new(io: IO, core: StreamCore, timer: Option<T>) -> Self {
        Self {
            io,
            core,
            timer,
            unflushed: false,
            shut_down: false,
        }
    }
}

/// Writes one batch of queued output, in **one** write call.
fn poll_write_some<IO: PollIo>(
    io: &mut IO,
    core: &mut StreamCore,
    unflushed: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let n = if core.output_is_segmented() {
        let mut slices = [io::IoSlice::new(&[]); 16];
        let used = core.output_slices(&mut slices);
        ready!(io.poll_write_vectored(cx, &slices[..used]))?
    } else {
        ready!(io.poll_write(cx, core.output()))?
    };
    if n == 0 {
        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
    }
    core.consume(n);
    *unflushed = true;
    Poll::Ready(Ok(()))
}

impl<IO: PollIo, T: AsyncTimer> Driver<IO, T> {
    /// Writes all queued output, each batch in one write call (many messages
    /// queued before a flush go out together), then flushes the socket.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.core.output().is_empty() {
            ready!(poll_write_some(
                &mut self.io,
                &mut self.core,
                &mut self.unflushed,
                cx
            ))?;
        }
        if self.unflushed {
            ready!(self.io.poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Waits (writing) until the output is below the write-buffer limit.
    pub(crate) fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while self.core.write_buffer_full() {
            ready!(poll_write_some(
                &mut self.io,
                &mut self.core,
                &mut self.unflushed,
                cx
            ))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Shuts the write side of the socket down, once.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shut_down {
            return Poll::Ready(Ok(()));
        }
        let result = ready!(self.io.poll_shutdown(cx));
        self.shut_down = true;
        Poll::Ready(result)
    }

    /// Writes the output, then shuts down if the closing handshake is over.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx))?;
        // A client leaves the TCP close to the server (RFC 6455 section 7.1.1): the
        // reading side shuts down once the server's FIN came (see `poll_finish`).
        if self.core.is_closed() && !self.is_client() {
            ready!(self.poll_shutdown(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues a close frame (`frame`; `None`: 1000) unless one was sent.
    pub(crate) fn queue_close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        if matches!(self.core.state(), State::Open | State::RemoteClosing) {
            self.core.send(Message::Close(frame))?;
        }
        Ok(())
    }

    /// The end of the stream: the last output (close echo, error close) is written
    /// and the socket shut down, bounded by the close timeout; errors are moot now.
    fn poll_finish(
        &mut self,
        rs: &mut ReadState<T>,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Poll<()> {
        // RFC 6455 section 7.1.1: after the closing handshake the server closes the
        // TCP connection first (so the server, not the client, holds TIME_WAIT); a
        // client waits for that FIN (reading and dropping what comes) before its own
        // shutdown, within the close timeout like the rest.
        let wait_fin = rs.peer_closed && self.is_client();
        let written = match with_write_cx(cx, write_waker, |wcx| self.poll_write_out(wcx)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => Poll::Ready(()),
            Poll::Ready(Ok(()))
                if wait_fin && !self.shut_down && self.poll_fin(cx).is_pending() =>
            {
                Poll::Pending
            }
            Poll::Ready(Ok(())) => {
                with_write_cx(cx, write_waker, |wcx| self.poll_shutdown(wcx).map(|_| ()))
            }
        };
        if written.is_ready() {
            rs.finish_deadline = None;
            return Poll::Ready(());
        }
        let limit = self.core.config().protocol.close_timeout;
        if rs.finish_expired(limit, self.timer.as_ref(), cx) {
            rs.finish_deadline = None;
            self.shut_down = true; // give up; dropping the socket closes it
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Whether this is the client's end.
    fn is_client(&mut self) -> bool {
        self.core.connection_mut().role() == Role::Client
    }

    /// Reads and drops input until the peer's FIN (or an error).
    fn poll_fin(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut scrap = BytesMut::new();
        loop {
            scrap.clear();
            match ready!(self.io.poll_read_into(cx, &mut scrap, 512)) {
                Ok(0) | Err(_) => return Poll::Ready(()),
                Ok(_) => {}
            }
        }
    }

    /// The next message (or piece, see [`Received`]): the adapter loop of
    /// [`StreamCore`].
    ///
    /// Reads only when no message is buffered; protocol replies (pongs, the close
    /// echo) are written before reading (waiting for the socket only while the output
    /// is over the write-buffer limit) and right after the message that caused them.
    /// `write_waker` is the waker for write readiness (the split halves share one);
    /// `None` means `cx`'s.
    ///
    /// Cancel safe: all progress lives in `self` and `rs`.
    pub(crate) fn poll_recv<M: Received>(
        &mut self,
        rs: &mut ReadState<T>,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Poll<Option<Result<M, Error>>> {
        loop {
            if rs.done {
                ready!(self.poll_finish(rs, cx, write_waker));
                rs.ended = true;
                return Poll::Ready(None);
            }
            let queued = self.core.output_len();
            if let Some(result) = M::next(&mut self.core) {
                if self.core.output_len() > queued {
                    // The message queued a reply (pong, close echo, error close):
                    // best effort, answer now; what does not fit goes with the next
                    // write. Messages the application queued without flushing wait
                    // for the read below, so one write carries a whole batch.
                    let _ = with_write_cx(cx, write_waker, |wcx| self.poll_write_out(wcx));
                }
                rs.peer_closed |= result.as_ref().is_ok_and(M::is_close);
                return Poll::Ready(Some(result));
            }
            if self.core.is_finished() {
                rs.done = true;
                continue;
            }
            match with_write_cx(cx, write_waker, |wcx| self.poll_write_out(wcx)) {
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(self.fail(rs, e.into())))),
                // Replies wait for the socket: stop reading while they pile up.
                Poll::Pending if self.core.write_buffer_full() => {
                    if self.run_timers(rs, cx, write_waker, None) {
                        continue;
                    }
                    return Poll::Pending;
                }
                _ => {}
            }
            // A peer that never lets the socket run dry still meets the deadlines
            // (all input is parsed at this point). The time read here serves the
            // timers below if this read finds nothing.
            let now = match self.deadline_check(rs) {
                DeadlineCheck::Passed => {
                    if self.run_timers(rs, cx, write_waker, None) {
                        continue;
                    }
                    None
                }
                DeadlineCheck::NotYet(now) => Some(now),
                DeadlineCheck::NoDeadline => None,
            };
            let chunk = self.core.read_size();
            let buf = self.core.prepare_read();
            match self.io.poll_read_into(cx, buf, chunk) {
                Poll::Pending => {
                    self.core.release_idle_buffers();
                    // All input is parsed: the core's view of what arrived is
                    // current, so its timers may run.
                    if self.run_timers(rs, cx, write_waker, now) {
                        continue;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => self.core.receive_eof(),
                Poll::Ready(Ok(n)) => self.core.read_done(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(self.fail(rs, e.into())))),
            }
        }
    }

    /// The stream ends with `error`.
    fn fail(&mut self, rs: &mut ReadState<T>, error: Error) -> Error {
        rs.done = true;
        self.core.fail();
        error
    }

    /// Whether the core's next deadline passed (checked against the clock, not by
    /// polling the sleep).
    fn deadline_check(&self, rs: &ReadState<T>) -> DeadlineCheck {
        match (&self.timer, &rs.clock) {
            (
                Some(timer),
                Some(Clock {
                    sleep: Some((_, at, _)),
                    ..
                }),
            ) => {
                let now = timer.now();
                if now >= *at {
                    DeadlineCheck::Passed
                } else {
                    DeadlineCheck::NotYet(now)
                }
            }
            _ => DeadlineCheck::NoDeadline,
        }
    }

    /// Gives the core the time if there is a timer; `true` if a timer fired. What
    /// it queued (a keepalive ping, the close frame of a timeout) is written at once,
    /// best effort, like the replies to received frames.
    fn run_timers(
        &mut self,
        rs: &mut ReadState<T>,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
        now: Option<std::time::Instant>,
    ) -> bool {
        let fired = match &self.timer {
            Some(timer) => rs.run_timers(&mut self.core, timer, cx, now),
            None => false,
        };
        if fired {
            let _ = with_write_cx(cx, write_waker, |wcx| self.poll_write_out(wcx));
        }
        fired
    }
}

/// What [`Driver::deadline_check`] found.
enum DeadlineCheck {
    /// The core's next deadline passed.
    Passed,
    /// Not yet, at this time.
    NotYet(std::time::Instant),
    /// No deadline (or no timer).
    NoDeadline,
}

/// Runs `f` with a context for write readiness: `write_waker`'s, or `cx` itself.
fn with_write_cx<R>(
    cx: &mut Context<'_>,
    write_waker: Option<&Waker>,
    f: impl FnOnce(&mut Context<'_>) -> R,
) -> R {
    match write_waker {
        Some(waker) => f(&mut Context::from_waker(waker)),
        None => f(cx),
    }
}

/// A WebSocket stream over a [`PollIo`], after the opening handshake: what the
/// adapters' `WebSocketStream` wraps.
#[derive(Debug)]
pub struct PollStream<IO, T: AsyncTimer> {
    driver: Driver<IO, T>,
    read: ReadState<T>,
    info: Info,
}

impl<IO, T: AsyncTimer> PollStream<IO, T> {
    /// A stream over `io` for the open `conn`, with `timer` for the close timeout.
    pub fn new(
        io: IO,
        conn: Connection,
        config: StreamConfig,
        info: Info,
        timer: Option<T>,
    ) -> Self {
        let mut core = StreamCore::new(conn, config);
        // The handshake's read buffer: keep it only if frames followed the request.
        core.release_idle_buffers();
        Self {
            driver: Driver::new(io, core, timer),
            read: ReadState::default(),
            info,
        }
    }

    /// A stream over a socket on which the handshake already happened, as `role`,
    /// with bytes already read after the handshake (`read`).
    pub fn from_partially_read(
        io: IO,
        role: Role,
        config: StreamConfig,
        read: &[u8],
        timer: Option<T>,
    ) -> Self {
        let config = config.assembled();
        let mut conn = Connection::new(role, config.protocol);
        conn.receive_data(read);
        Self::new(io, conn, config, Info::default(), timer)
    }

    fn from_parts(driver: Driver<IO, T>, read: ReadState<T>, info: Info) -> Self {
        Self { driver, read, info }
    }

    /// The client's opening request (server side).
    pub fn request(&self) -> Option<&Request> {
        self.info.request.as_deref()
    }

    /// The server's answer (client side).
    pub fn response(&self) -> Option<&Response> {
        self.info.response.as_deref()
    }

    /// The configuration.
    pub fn config(&self) -> &StreamConfig {
        self.driver.core.config()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.driver.core.state()
    }

    /// The socket.
    pub fn get_ref(&self) -> &IO {
        &self.driver.io
    }

    /// The socket.
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.driver.io
    }

    /// The socket; queued output and buffered input are dropped.
    pub fn into_inner(self) -> IO {
        self.driver.io
    }

    /// Bytes the read buffer holds allocated.
    pub fn read_buffer_capacity(&self) -> usize {
        self.driver.core.read_buffer_capacity()
    }

    /// Bytes queued for writing.
    pub fn write_buffer_len(&self) -> usize {
        self.driver.core.output_len()
    }

    /// The protocol core.
    pub fn core_mut(&mut self) -> &mut StreamCore {
        &mut self.driver.core
    }

    /// How data messages are delivered now ([`StreamCore::delivery`]).
    pub fn delivery(&self) -> Delivery {
        self.driver.core.delivery()
    }

    /// Switches how data messages are delivered at the next message boundary
    /// ([`StreamCore::set_delivery`]).
    pub fn set_delivery(&mut self, delivery: Delivery) {
        self.driver.core.set_delivery(delivery);
    }

    /// Sets the timer of the close timeout.
    pub fn set_timer(&mut self, timer: Option<T>) {
        self.driver.timer = timer;
    }

    /// Whether the stream returned `None` (for `FusedStream`).
    pub fn is_terminated(&self) -> bool {
        self.read.ended
    }

    /// Splits the stream into halves for two tasks.
    pub fn split(self) -> (PollReadHalf<IO, T>, PollWriteHalf<IO, T>) {
        split::split(self.driver, self.read, self.info)
    }
}

impl<IO: PollIo, T: AsyncTimer> PollStream<IO, T> {
    /// `Stream::poll_next`: the next message.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.driver.poll_recv(&mut self.read, cx, None)
    }

    /// The next piece of a data message or whole message
    /// ([`StreamCore::next_incoming`]), read, timed and answered as
    /// [`poll_recv`](Self::poll_recv).
    pub fn poll_recv_incoming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Incoming, Error>>> {
        self.driver.poll_recv(&mut self.read, cx, None)
    }

    /// The next piece or whole message; `None` after the close (or an error).
    /// Cancel safe.
    pub async fn recv_incoming(&mut self) -> Option<Result<Incoming, Error>> {
        poll_fn(|cx| self.poll_recv_incoming(cx)).await
    }

    /// `Sink::poll_ready`: waits while the write buffer is over its limit.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.driver.poll_room(cx)
    }

    /// `Sink::start_send`: queues a message.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] after a close was sent.
    pub fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.driver.core.send(message)
    }

    /// `Sink::poll_flush`: writes everything queued; shuts the socket down once the
    /// closing handshake is over.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.driver.poll_flush(cx)
    }

    /// `Sink::poll_close`: queues a close frame (1000) unless one was sent, and
    /// writes it.
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.driver.queue_close(None)?;
        self.driver.poll_flush(cx)
    }

    /// The next message; `None` after the close (or an error). Cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Waits for room, queues `message`, writes everything queued, unless a
    /// received frame is already buffered: then the write waits for the next
    /// [`recv`](Self::recv) that needs input (or a `send` or `flush` that finds
    /// none buffered), so replies to a burst of messages go out in one write.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] after a close was sent; [`Error::Io`].
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        if self.driver.core.input_ready() {
            return Ok(());
        }
        self.flush().await
    }

    /// Waits for room and queues `message`.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_room(cx)).await?;
        self.driver.core.send(message)
    }

    /// Writes everything queued. Cancel safe.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_flush(cx)).await
    }

    /// Waits for room, queues one frame of a fragmented message, writes.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] for a frame out of sequence or after a close; [`Error::Io`].
    pub async fn send_fragment(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_room(cx)).await?;
        self.driver.core.send_fragment(opcode, data, fin)?;
        self.flush().await
    }

    /// One message, one frame per chunk, waiting for room before each.
    ///
    /// # Errors
    ///
    /// As [`send_fragment`](Self::send_fragment).
    pub async fn send_fragments<I>(&mut self, opcode: OpCode, fragments: I) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        send_fragments(opcode, fragments, async |op, data, fin| {
            poll_fn(|cx| self.driver.poll_room(cx)).await?;
            self.driver.core.send_fragment(op, data, fin)?;
            if fin {
                return self.flush().await;
            }
            Ok(())
        })
        .await
    }

    /// Sends a close frame unless one was sent, waits for the peer's (dropping
    /// messages), shuts the socket down; bounded by the close timeout if there is a
    /// timer.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], [`Error::Io`], [`Error::Protocol`].
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        let limit = self.driver.core.config().protocol.close_timeout;
        let timer = self.driver.timer.clone();
        let result = timeout(timer.as_ref(), limit, Timer::Close, self.close_inner(frame)).await;
        self.read.done = true;
        // The handshake is over, failed, or timed out: end the write side too.
        let _ = poll_fn(|cx| self.driver.poll_shutdown(cx)).await;
        result
    }

    async fn close_inner(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.driver.queue_close(frame)?;
        poll_fn(|cx| self.driver.poll_write_out(cx)).await?;
        while let Some(message) = self.recv().await {
            message?;
        }
        Ok(())
    }
}

/// Sends `fragments` as one message through `send_one(opcode, data, fin)` (at least
/// one frame).
pub(crate) async fn send_fragments<I>(
    opcode: OpCode,
    fragments: I,
    mut send_one: impl AsyncFnMut(OpCode, &[u8], bool) -> Result<(), Error>,
) -> Result<(), Error>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut fragments = fragments.into_iter().peekable();
    let mut opcode = opcode;
    loop {
        let chunk = fragments.next();
        let fin = fragments.peek().is_none();
        let data = chunk.as_ref().map_or(&[][..], AsRef::as_ref);
        send_one(opcode, data, fin).await?;
        if fin {
            return Ok(());
        }
        opcode = OpCode::Continuation;
    }
}

/// Writes a handshake's output and flushes.
async fn write_output<IO: PollIo>(io: &mut IO, hs: &mut impl HandshakeIo) -> io::Result<()> {
    while !hs.output().is_empty() {
        let n = poll_fn(|cx| io.poll_write(cx, hs.output())).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        hs.consume(n);
    }
    poll_fn(|cx| io.poll_flush(cx)).await
}

/// Reads more bytes into a handshake (EOF is reported to it).
async fn read_more<IO: PollIo>(
    io: &mut IO,
    hs: &mut impl HandshakeIo,
    chunk: usize,
) -> io::Result<()> {
    if poll_fn(|cx| io.poll_read_into(cx, hs.read_buf(), chunk)).await? == 0 {
        hs.receive_eof();
    }
    Ok(())
}

/// Writes a last answer and shuts the socket down, ignoring errors (the handshake
/// failed already).
async fn answer_and_shutdown<IO: PollIo>(io: &mut IO, mut answer: &[u8]) {
    while !answer.is_empty() {
        match poll_fn(|cx| io.poll_write(cx, answer)).await {
            Ok(n) if n > 0 => answer = &answer[n..],
            _ => return,
        }
    }
    let _ = poll_fn(|cx| io.poll_shutdown(cx)).await;
}

/// Server: the opening handshake over `io` (reading the request, `callback`'s
/// decision, the answer), bounded by [`StreamConfig::handshake_timeout`] if there
/// is a timer. `config` should be [`assembled`](StreamConfig::assembled).
///
/// # Errors
///
/// As the adapters' `accept_with_config`: [`Error::Handshake`] (the error answer
/// was written and the socket shut down), [`Error::Rejected`], [`Error::Timeout`],
/// [`Error::Io`].
pub async fn server_handshake<IO, T, F, D>(
    io: &mut IO,
    config: &StreamConfig,
    callback: F,
    timer: Option<&T>,
) -> Result<(Connection, Box<Request>), Error>
where
    IO: PollIo,
    T: AsyncTimer,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    timeout(
        timer,
        config.protocol.handshake_timeout,
        Timer::Handshake,
        async {
            let mut hs = ServerHandshake::new(config);
            let refusal = 'refused: {
                let request = loop {
                    match hs.next_request() {
                        Ok(Some(request)) => break request,
                        Ok(None) => read_more(io, &mut hs, config.read_chunk).await?,
                        Err(refusal) => break 'refused refusal,
                    }
                };
                if let Err(refusal) = hs.decide(callback(&request).await.into()) {
                    break 'refused refusal;
                }
                write_output(io, &mut hs).await?;
                return Ok((hs.into_connection()?, request));
            };
            answer_and_shutdown(io, &refusal.answer).await;
            Err(refusal.error)
        },
    )
    .await
}

/// How much of a refusal's body [`Error::Rejected`] keeps in the poll-based
/// adapters.
pub const MAX_REJECT_BODY: usize = Limits::DEFAULT_MAX_HEADER_BYTES;

/// Client: the opening handshake for `url` over `io`, bounded by
/// [`StreamConfig::handshake_timeout`] if there is a timer. `options` should be
/// [`assembled`](ClientOptions::assembled).
///
/// # Errors
///
/// As the adapters' `client_async_with`: [`Error::Rejected`] (with the start of
/// the body), [`Error::Handshake`], [`Error::Timeout`], [`Error::Io`].
pub async fn client_handshake<IO: PollIo, T: AsyncTimer>(
    io: &mut IO,
    url: &Url,
    options: &ClientOptions,
    timer: Option<&T>,
) -> Result<(Connection, Response), Error> {
    timeout(
        timer,
        options.config.protocol.handshake_timeout,
        Timer::Handshake,
        async {
            let mut hs = ClientHandshake::new(url, options, MAX_REJECT_BODY)?;
            write_output(io, &mut hs).await?;
            loop {
                if let Some(outcome) = hs.next_response() {
                    return outcome;
                }
                if let Err(e) = read_more(io, &mut hs, options.config.read_chunk).await {
                    return Err(hs.read_failed(e.into()));
                }
            }
        },
    )
    .await
}

/// The stream a client handshake gives, and the answer.
pub fn client_stream<IO, T: AsyncTimer>(
    io: IO,
    conn: Connection,
    response: Response,
    config: StreamConfig,
    timer: Option<T>,
) -> (PollStream<IO, T>, Response) {
    let info = Info {
        request: None,
        response: Some(Box::new(response.clone())),
    };
    (PollStream::new(io, conn, config, info, timer), response)
}

/// The stream a server handshake gives.
pub fn server_stream<IO, T: AsyncTimer>(
    io: IO,
    conn: Connection,
    request: Box<Request>,
    config: StreamConfig,
    timer: Option<T>,
) -> PollStream<IO, T> {
    let info = Info {
        request: Some(request),
        response: None,
    };
    PollStream::new(io, conn, config, info, timer)
}
