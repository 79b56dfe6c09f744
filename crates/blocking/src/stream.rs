//! [`WebSocketStream`]: messages over a blocking socket.

use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrosocket_io::{
    ClientHandshake, Error, HandshakeIo, Message, ServerHandshake, StreamConfig, StreamCore, Timer,
    read_into_spare,
};
use ferrosocket_proto::handshake::Request;
use ferrosocket_proto::{CloseFrame, Connection, OpCode, Role, State};

use crate::{Response, Transport};

/// A WebSocket connection over a blocking socket `S`, after the opening handshake.
///
/// [`recv`](Self::recv) blocks until a whole message arrives (pings are answered and
/// the peer's close is echoed by themselves); [`send`](Self::send) writes a message at
/// once, [`feed`](Self::feed) + [`flush`](Self::flush) batch several into fewer
/// writes. The stream is also an [`Iterator`] over received messages.
///
/// Reads happen only inside `recv` (and `close`), so a peer cannot make this side
/// buffer more than one message (bounded by [`Config`](ferrosocket_proto::Config)'s
/// limits). Socket timeouts set with [`set_read_timeout`](Self::set_read_timeout)
/// surface as `Err(Error::Io)` of kind `WouldBlock` / `TimedOut`; the stream stays
/// usable after them (partial input is kept).
#[derive(Debug)]
pub struct WebSocketStream<S> {
    pub(crate) socket: S,
    pub(crate) core: StreamCore,
    pub(crate) request: Option<Box<Request>>,
    pub(crate) response: Option<Box<Response>>,
    pub(crate) timer: ReadTimer,
    pub(crate) ending: Ending,
}

/// What is left to do once the stream delivered its last item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The stream is open.
    Open,
    /// A client whose closing handshake is over: wait for the server's FIN (at
    /// most the close timeout), then shut our side (see [`await_fin`]).
    AwaitFin,
    /// Nothing: the socket's write side is shut (or the stream failed).
    Done,
}

/// The reading side's clock: it gives the core the time and turns the core's next
/// deadline ([`StreamCore::poll_timeout`]) into the socket's read timeout, so a
/// read blocked on a quiet peer returns when a timer is due.
#[derive(Debug)]
pub(crate) struct ReadTimer {
    /// The core's time origin ([`ferrosocket_proto::Instant::ZERO`]).
    origin: Instant,
    /// The read timeout the user asked for (`set_read_timeout`).
    pub(crate) read_timeout: Option<Duration>,
    /// The read timeout the socket has now (the user's, or shorter for a timer).
    socket_read_timeout: Option<Duration>,
}

impl ReadTimer {
    /// Starts the core's clock now (its timers start now), with the socket's
    /// current read timeout as the user's.
    pub(crate) fn start<S: Transport>(socket: &S, core: &mut StreamCore) -> Self {
        let read_timeout = socket.read_timeout().ok().flatten();
        core.handle_timeout(ferrosocket_proto::Instant::ZERO);
        Self {
            origin: Instant::now(),
            read_timeout,
            socket_read_timeout: read_timeout,
        }
    }

    /// Gives the core the time; `true` if a timer fired (an error to deliver, a
    /// ping to write).
    pub(crate) fn run_timers(&self, core: &mut StreamCore, now: Instant) -> bool {
        let (queued, state) = (core.output_len(), core.state());
        let since = now.saturating_duration_since(self.origin);
        core.handle_timeout(ferrosocket_proto::Instant::from_duration(since));
        core.output_len() > queued || core.state() != state
    }

    /// When the core's next timer is due.
    pub(crate) fn next_deadline(&self, core: &StreamCore) -> Option<Instant> {
        core.poll_timeout()
            .map(|at| self.origin + at.duration_since_origin())
    }

    /// When the next read must return: the core's next deadline or the user's
    /// (`user_at`, started on the first wait), whichever comes first.
    pub(crate) fn read_until(
        &self,
        core: &StreamCore,
        now: Instant,
        user_at: &mut Option<Instant>,
    ) -> Option<Instant> {
        if user_at.is_none() {
            *user_at = self.read_timeout.map(|t| now + t);
        }
        match (self.next_deadline(core), *user_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sets the socket's read timeout so that a read returns by `until` (or the
    /// user's timeout), moving it only when the one set would overshoot by more than
    /// an eighth of the time left (a setsockopt per read would cost as much as the
    /// read): a timer fires at most that late.
    pub(crate) fn arm<S: Transport>(
        &mut self,
        socket: &mut S,
        now: Instant,
        until: Option<Instant>,
    ) -> io::Result<()> {
        let wanted = match until {
            None => self.read_timeout,
            // A zero timeout means "none" to the socket: at least 1 ms.
            Some(at) => Some(
                at.saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            ),
        };
        let fits = match (self.socket_read_timeout, wanted) {
            (current, None) => current.is_none(),
            (None, Some(_)) => false,
            (Some(current), Some(wanted)) => current <= wanted + wanted / 8,
        };
        if !fits {
            socket.set_read_timeout(wanted)?;
            self.socket_read_timeout = wanted;
        }
        Ok(())
    }

    /// Sets the user's read timeout (and the socket's).
    pub(crate) fn set_read_timeout<S: Transport>(
        &mut self,
        socket: &mut S,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        socket.set_read_timeout(timeout)?;
        self.read_timeout = timeout;
        self.socket_read_timeout = timeout;
        Ok(())
    }

    /// Puts the user's read timeout back on the socket after a deadline changed it.
    pub(crate) fn restore<S: Transport>(&mut self, socket: &mut S) {
        let _ = socket.set_read_timeout(self.read_timeout);
        self.socket_read_timeout = self.read_timeout;
    }
}

/// The client's end of the connection, after the closing handshake: waits for the
/// server to close the TCP connection (reading and discarding, as RFC 6455 section
/// 7.1.1 says: what arrives now is not read as frames) until EOF, an error or
/// `deadline` (the close timeout; on [`NoTimeouts`](crate::NoTimeouts) checked only
/// between reads).
///
/// Why the client waits, in both engines' behaviour: "The underlying TCP
/// connection, in most normal cases, SHOULD be closed first by the server, so that
/// it holds the TIME_WAIT state and not the client", and "when a client is
/// instructed to [close the connection], it SHOULD wait for a TCP Close from the
/// server" (RFC 6455 section 7.1.1). A client that sends its FIN first holds
/// TIME_WAIT for 2 MSL per connection, which a client opening many connections to
/// one server runs out of ports with; waiting costs one round trip with a server
/// that closes at once (as ours does), and at most the close timeout with one that
/// does not, after which the client closes anyway (the RFC's "abnormal cases").
/// Python websockets' client waits the same way (up to its `close_timeout`).
pub(crate) fn await_fin<S: Transport>(socket: &mut S, deadline: Option<Deadline>) {
    let mut scrap = [0u8; 512];
    loop {
        match with_deadline(socket, deadline, Dir::Read, |s| s.read(&mut scrap)) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A point in time a blocking operation must finish by, and the timer that names
/// the failure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timer: Timer,
}

impl Deadline {
    /// `timeout` from now, if there is one.
    pub(crate) fn after(timeout: Option<Duration>, timer: Timer) -> Option<Self> {
        timeout.map(|t| Self {
            at: Instant::now() + t,
            timer,
        })
    }
}

/// Whether an I/O error is a timeout (or non-blocking would-block): not fatal.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Reads into the spare capacity of `buf`, at most `chunk` bytes zeroed (see
/// [`read_into_spare`]).
pub(crate) fn read_spare<R: io::Read>(
    socket: &mut R,
    buf: &mut BytesMut,
    chunk: usize,
) -> io::Result<usize> {
    read_into_spare(buf, chunk, |spare| socket.read(spare))
}

/// Which socket timeout a deadline drives.
#[derive(Clone, Copy)]
pub(crate) enum Dir {
    Read,
    Write,
}

/// Runs `op` until it succeeds, retrying timeouts and interruptions until
/// `deadline`; before each try the time left becomes the socket's timeout.
pub(crate) fn with_deadline<S: Transport, T>(
    socket: &mut S,
    deadline: Option<Deadline>,
    dir: Dir,
    mut op: impl FnMut(&mut S) -> io::Result<T>,
) -> Result<T, Error> {
    loop {
        if let Some(deadline) = deadline {
            let left = deadline.at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(deadline.timer));
            }
            match dir {
                Dir::Read => socket.set_read_timeout(Some(left))?,
                Dir::Write => socket.set_write_timeout(Some(left))?,
            }
        }
        match op(socket) {
            Ok(v) => return Ok(v),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if deadline.is_some() && is_timeout(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Queued output: a [`StreamCore`]'s or, during the handshake, a
/// [`ServerHandshake`]'s or [`ClientHandshake`]'s.
pub(crate) trait Pending {
    fn pending(&self) -> &[u8];
    fn consume_pending(&mut self, n: usize);
}

impl Pending for StreamCore {
    fn pending(&self) -> &[u8] {
        self.output()
    }
    fn consume_pending(&mut self, n: usize) {
        self.consume(n);
    }
}

impl Pending for bytes::Bytes {
    fn pending(&self) -> &[u8] {
        self
    }
    fn consume_pending(&mut self, n: usize) {
        bytes::Buf::advance(self, n);
    }
}

impl Pending for ServerHandshake {
    fn pending(&self) -> &[u8] {
        self.output()
    }
    fn consume_pending(&mut self, n: usize) {
        self.consume(n);
    }
}

impl Pending for ClientHandshake {
    fn pending(&self) -> &[u8] {
        self.output()
    }
    fn consume_pending(&mut self, n: usize) {
        self.consume(n);
    }
}

/// Writes all the pending output (then flushes) before `deadline`.
pub(crate) fn write_deadline<S: Transport>(
    socket: &mut S,
    out: &mut impl Pending,
    deadline: Option<Deadline>,
) -> Result<(), Error> {
    while !out.pending().is_empty() {
        let n = with_deadline(socket, deadline, Dir::Write, |s| s.write(out.pending()))?;
        if n == 0 {
            return Err(io::Error::from(ErrorKind::WriteZero).into());
        }
        out.consume_pending(n);
    }
    with_deadline(socket, deadline, Dir::Write, |s| s.flush())
}

/// The socket's timeouts, saved before a deadline changes them.
pub(crate) struct SavedTimeouts {
    read: Option<Duration>,
    write: Option<Duration>,
}

impl SavedTimeouts {
    pub(crate) fn save<S: Transport>(socket: &S) -> Self {
        Self {
            read: socket.read_timeout().ok().flatten(),
            write: socket.write_timeout().ok().flatten(),
        }
    }

    pub(crate) fn restore<S: Transport>(self, socket: &mut S) {
        let _ = socket.set_read_timeout(self.read);
        let _ = socket.set_write_timeout(self.write);
    }
}

/// What is left to do after the stream's last item, `item`: a client whose closing
/// handshake completed (the peer's close delivered) waits for the server's FIN;
/// otherwise nothing (the caller shuts the write side if the connection is closed).
pub(crate) fn ending_after(core: &mut StreamCore, item: &Result<Message, Error>) -> Ending {
    let client = core.connection_mut().role() == Role::Client;
    if client && matches!(item, Ok(Message::Close(_))) {
        Ending::AwaitFin
    } else {
        Ending::Done
    }
}

impl<S: Transport> WebSocketStream<S> {
    /// Wraps a socket on which the opening handshake already happened (e.g. by an
    /// HTTP server), as `role`.
    pub fn from_raw_socket(socket: S, role: Role, config: StreamConfig) -> Self {
        Self::from_partially_read(socket, role, config, &[])
    }

    /// [`from_raw_socket`](Self::from_raw_socket), with bytes already read from the
    /// socket after the handshake (the start of the first frames).
    pub fn from_partially_read(socket: S, role: Role, config: StreamConfig, read: &[u8]) -> Self {
        let config = config.assembled();
        let mut conn = Connection::new(role, config.protocol);
        conn.receive_data(read);
        Self::from_core(socket, StreamCore::new(conn, config), None, None)
    }

    pub(crate) fn from_core(
        socket: S,
        core: StreamCore,
        request: Option<Box<Request>>,
        response: Option<Response>,
    ) -> Self {
        let mut core = core;
        let timer = ReadTimer::start(&socket, &mut core);
        Self {
            socket,
            core,
            request,
            response: response.map(Box::new),
            timer,
            ending: Ending::Open,
        }
    }

    /// The stream delivered its last item (`item`): the close echo or the close
    /// frame of an error is written; a server, or a client whose connection failed,
    /// shuts its side at once; a client whose closing handshake completed waits for
    /// the server's FIN first, in the next [`recv`](Self::recv) or
    /// [`close`](Self::close) (see [`await_fin`]).
    fn finished(&mut self, item: &Result<Message, Error>) {
        let _ = self.write_output();
        self.ending = ending_after(&mut self.core, item);
        if self.ending == Ending::Done && self.core.is_closed() {
            let _ = self.socket.shutdown_write();
        }
    }

    /// The end of a finished stream: a client whose closing handshake completed
    /// waits for the server's FIN (at most the close timeout), then shuts its side.
    fn end(&mut self) {
        if self.ending == Ending::AwaitFin {
            let timeout = self.core.config().protocol.close_timeout;
            await_fin(&mut self.socket, Deadline::after(timeout, Timer::Close));
            self.timer.restore(&mut self.socket);
            let _ = self.socket.shutdown_write();
        }
        self.ending = Ending::Done;
    }

    /// The next message, blocking until one arrives; `None` once the stream ended
    /// (after the peer's [`Message::Close`] or an error was returned).
    ///
    /// The peer's close is returned as [`Message::Close`], its echo already written. A
    /// peer vanishing without a close gives `Err(Error::Io)` of kind `UnexpectedEof`;
    /// a protocol violation gives `Err(Error::Protocol)`, the close frame with its code
    /// (1002, 1007, 1009) written to the peer.
    pub fn recv(&mut self) -> Option<Result<Message, Error>> {
        // When the user's read timeout runs out (it restarts when bytes arrive).
        let mut user_at = None;
        loop {
            if let Some(item) = self.core.next_message() {
                if self.core.is_finished() {
                    self.finished(&item);
                }
                return Some(item);
            }
            if self.core.is_finished() {
                self.end();
                return None;
            }
            // Pongs and other queued frames go out before we block on a read.
            if let Err(e) = self.write_output() {
                return Some(Err(e));
            }
            // All input is parsed: the core's view is current, its timers may run.
            let now = Instant::now();
            if self.timer.run_timers(&mut self.core, now) {
                continue;
            }
            let until = self.timer.read_until(&self.core, now, &mut user_at);
            if let Err(e) = self.timer.arm(&mut self.socket, now, until) {
                return Some(Err(e.into()));
            }
            // The read may block for as long as the peer is quiet: an extension
            // that frees idle state (permessage-deflate's release_idle_contexts)
            // does it now.
            self.core.release_idle_extension();
            let socket = &mut self.socket;
            match self.core.read_with(|spare| socket.read(spare)) {
                Ok(0) => self.core.receive_eof(),
                Ok(_) => user_at = None,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A timer's deadline, not the user's timeout: the loop runs it.
                Err(e) if is_timeout(&e) && user_at.is_none_or(|at| Instant::now() < at) => {
                    self.core.release_idle_buffers();
                }
                Err(e) => {
                    if is_timeout(&e) {
                        // Idle: give the read buffer's memory back.
                        self.core.release_idle_buffers();
                    } else {
                        self.core.fail();
                    }
                    return Some(Err(e.into()));
                }
            }
        }
    }

    /// Sends a message (or a ping, pong, close) and writes it out at once.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] after a close was sent; [`Error::Io`] if the socket fails.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message)?;
        self.flush()
    }

    /// Queues a message without writing it yet (unless the queued output reached
    /// [`StreamConfig::write_buffer_limit`]: then it is written first). Call
    /// [`flush`](Self::flush) to write the batch.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn feed(&mut self, message: Message) -> Result<(), Error> {
        if self.core.write_buffer_full() {
            self.write_output()?;
        }
        self.core.send(message)
    }

    /// Sends one frame of a fragmented message: `opcode` [`OpCode::Text`] or
    /// [`OpCode::Binary`] for the first, [`OpCode::Continuation`] for the rest, `fin`
    /// on the last, and writes it. Control messages may be sent in between; other
    /// data messages may not.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] for a frame out of sequence or after a close; [`Error::Io`].
    pub fn send_fragment(&mut self, opcode: OpCode, data: &[u8], fin: bool) -> Result<(), Error> {
        if self.core.write_buffer_full() {
            self.write_output()?;
        }
        self.core.send_fragment(opcode, data, fin)?;
        self.write_output()
    }

    /// Writes everything queued and flushes the socket.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the socket fails (a write timeout leaves the rest queued).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_output()
    }

    /// Sends one message in several frames: `opcode` ([`OpCode::Text`] or
    /// [`OpCode::Binary`]) on the first, continuations after, the last one final.
    /// No fragments sends one empty message. The frames are written once all are
    /// queued (or whenever the write-buffer limit is reached).
    ///
    /// Text fragments need not each be valid UTF-8 (a code point may straddle two);
    /// the whole message must be.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] for an opcode that does not start a data message or after a
    /// close; [`Error::Io`] if the socket fails.
    pub fn send_fragments<I>(&mut self, opcode: OpCode, fragments: I) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut fragments = fragments.into_iter().peekable();
        let mut op = opcode;
        loop {
            let Some(fragment) = fragments.next() else {
                if op == opcode {
                    self.core.send_fragment(opcode, &[], true)?;
                }
                break;
            };
            let fin = fragments.peek().is_none();
            if self.core.write_buffer_full() {
                self.write_output()?;
            }
            self.core.send_fragment(op, fragment.as_ref(), fin)?;
            op = OpCode::Continuation;
        }
        self.write_output()
    }

    /// Closes the connection: sends a close frame (`None`: 1000 without a reason),
    /// then reads until the peer's close arrives, at most
    /// [`StreamConfig::close_timeout`], discarding messages still in flight (to read
    /// them, [`send`](Self::send) a [`Message::Close`] and [`recv`](Self::recv) until
    /// `None` instead). Then the write side of the socket is shut: at once for a
    /// server; a client first waits for the server to close the TCP connection
    /// (RFC 6455 section 7.1.1), within the same close timeout.
    ///
    /// Calling it after the peer's close was received just finishes.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the peer did not answer in time; [`Error::Io`] or
    /// [`Error::Protocol`] if the connection failed meanwhile.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        if matches!(self.core.state(), State::Open | State::RemoteClosing) {
            self.core.send(Message::Close(frame))?;
        }
        let deadline = Deadline::after(self.core.config().protocol.close_timeout, Timer::Close);
        let result = self.finish_close(deadline);
        // The deadline set the socket's timeouts; back to the user's.
        self.timer.restore(&mut self.socket);
        if self.ending != Ending::Done {
            let _ = self.socket.shutdown_write();
            self.ending = Ending::Done;
        }
        self.core.fail();
        result
    }

    fn finish_close(&mut self, deadline: Option<Deadline>) -> Result<(), Error> {
        self.write_deadline(deadline)?;
        while !self.core.is_finished() {
            match self.core.next_message() {
                Some(Ok(_)) => {}
                Some(Err(Error::Io(e))) if e.kind() == ErrorKind::UnexpectedEof => break,
                Some(Err(e)) => {
                    let _ = self.write_output();
                    return Err(e);
                }
                None => {
                    let core = &mut self.core;
                    let n = with_deadline(&mut self.socket, deadline, Dir::Read, |s| {
                        core.read_with(|spare| s.read(spare))
                    })?;
                    if n == 0 {
                        self.core.receive_eof();
                    }
                }
            }
        }
        self.write_deadline(deadline)?;
        if self.ending != Ending::Done && self.core.connection_mut().role() == Role::Client {
            // RFC 6455 section 7.1.1: the server closes the TCP connection first.
            await_fin(&mut self.socket, deadline);
        }
        Ok(())
    }

    fn write_deadline(&mut self, deadline: Option<Deadline>) -> Result<(), Error> {
        write_deadline(&mut self.socket, &mut self.core, deadline)
    }

    /// Writes the queued output (blocking), then flushes.
    fn write_output(&mut self) -> Result<(), Error> {
        while !self.core.output().is_empty() {
            let written = if self.core.output_is_segmented() {
                let mut slices = [io::IoSlice::new(&[]); 16];
                let used = self.core.output_slices(&mut slices);
                self.socket.write_vectored(&slices[..used])
            } else {
                self.socket.write(self.core.output())
            };
            match written {
                Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero).into()),
                Ok(n) => self.core.consume(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        loop {
            match self.socket.flush() {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => return Ok(other?),
            }
        }
    }

    /// Sets the socket's read timeout: `recv` then fails with `WouldBlock` /
    /// `TimedOut` after that long without data (and may be called again).
    ///
    /// # Errors
    ///
    /// As the socket's setter.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.timer.set_read_timeout(&mut self.socket, timeout)
    }

    /// Sets the socket's write timeout: `send` and `flush` then fail with
    /// `WouldBlock` / `TimedOut` when the peer does not read for that long (what was
    /// not written stays queued).
    ///
    /// # Errors
    ///
    /// As the socket's setter.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_write_timeout(timeout)
    }
}

impl<S> WebSocketStream<S> {
    /// The client's opening request (server side; `None` for a client or a raw
    /// socket): path, query, headers, offered subprotocols.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_deref()
    }

    /// The server's answer (client side; `None` for a server or a raw socket).
    pub fn response(&self) -> Option<&Response> {
        self.response.as_deref()
    }

    /// Bytes the read buffer holds allocated.
    pub fn read_buffer_capacity(&mut self) -> usize {
        self.core.read_buffer_capacity()
    }

    /// Bytes queued for writing.
    pub fn write_buffer_len(&self) -> usize {
        self.core.output_len()
    }

    /// The protocol core, for anything this type does not wrap. Only queue through
    /// it; reading from the socket directly would corrupt the stream.
    pub fn core_mut(&mut self) -> &mut StreamCore {
        &mut self.core
    }

    /// The configuration.
    pub fn config(&self) -> &StreamConfig {
        self.core.config()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.core.state()
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        &self.socket
    }

    /// The socket (reading or writing it directly corrupts the stream).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.socket
    }

    /// The socket, dropping the connection state (and any unwritten output).
    pub fn into_inner(self) -> S {
        self.socket
    }
}

impl<S: Transport> Iterator for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.recv()
    }
}
