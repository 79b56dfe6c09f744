//! [`ReadHalf`] and [`WriteHalf`]: a [`WebSocketStream`] split for two threads, as
//! a ws4py-style threaded client wants (one thread blocked in `recv`, another
//! calling `send` whenever it likes).
//!
//! # Design
//!
//! * **Two handles on the socket** ([`SplitSocket::try_clone`]): the read half
//!   blocks in `read` on its own handle, so no lock is held while it waits, however
//!   long the peer is quiet.
//! * **The protocol core behind a `Mutex`, held only for short non-blocking
//!   steps**: parsing what was read, queueing a message, taking output to write.
//!   The read half borrows the core's read buffer for the read
//!   ([`Connection::lend_read_buf`](ferrosocket_proto::Connection::lend_read_buf),
//!   no copy) and gives it back under the lock.
//! * **One writer at a time**: the write handle sits behind a second `Mutex`, held
//!   for a whole flush, so frames go out in the order they were queued. Output is
//!   taken from the core in pieces of at most [`WRITE_CHUNK`] bytes (a copy), and
//!   consumed from it once written: the core lock is never held across a blocking
//!   write, and a timed-out write leaves the rest queued in the core, as on a
//!   whole stream.
//! * **Replies the read half queues** (pongs, the close echo, a timer's ping or
//!   close) are written by the read half if the writer is free, and otherwise left
//!   in the core for the thread writing now, which takes all queued output before
//!   it lets go and looks again after: a read half never waits for a write half
//!   stuck on a peer that does not read (the classic deadlock of two peers both
//!   writing).
//! * **Timers** run in the read half, from the core's
//!   [`poll_timeout`](StreamCore::poll_timeout), as in [`WebSocketStream::recv`].
//!   A read blocked on another thread cannot be given a new timeout, so the close
//!   timeout of [`WriteHalf::close`] is kept by the closing thread: it waits for the
//!   read half to see the peer's close and, if the time runs out first, shuts the
//!   socket down, which wakes the read half (it then reports the timeout).

use std::fmt;
use std::io::{self, ErrorKind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use ferrosocket_io::{Error, Message, StreamConfig, StreamCore, Timer, read_into_spare};
use ferrosocket_proto::handshake::Request;
use ferrosocket_proto::{CloseFrame, OpCode, State};

use crate::stream::{Deadline, Ending, ReadTimer, await_fin, ending_after, is_timeout};
use crate::{Response, SplitSocket, WebSocketStream};

/// Most bytes taken out of the core for one write.
pub(crate) const WRITE_CHUNK: usize = 64 * 1024;

/// What both halves share.
struct Shared<S> {
    state: Mutex<Core>,
    /// Signalled when the stream ends or the read half goes away.
    ended: Condvar,
    /// The write handle; held for a whole flush.
    writer: Mutex<Writer<S>>,
    request: Option<Box<Request>>,
    response: Option<Box<Response>>,
}

/// The protocol state, behind the short lock.
struct Core {
    core: StreamCore,
    /// How the stream ended, once the read half delivered its last item: what
    /// [`WriteHalf::close`] reports.
    end: Option<End>,
    /// The read half was dropped: nobody reads the peer's answer any more.
    reader_gone: bool,
    /// [`WriteHalf::close`] ran out of time and shut the socket down.
    close_timed_out: bool,
}

/// How the stream ended.
enum End {
    /// The peer's close arrived (the closing handshake is over).
    Closed,
    /// An error ended it (a copy of what the read half returned).
    Failed(Error),
}

impl End {
    fn of(item: &Result<Message, Error>) -> Self {
        match item {
            Ok(_) => Self::Closed,
            Err(e) => Self::Failed(copy_error(e)),
        }
    }
}

/// A copy of `e` for the other half (`Error` is not `Clone`: an I/O error keeps
/// its kind and text).
fn copy_error(e: &Error) -> Error {
    match e {
        Error::Timeout(timer) => Error::Timeout(*timer),
        Error::Io(io) => Error::Io(io::Error::new(io.kind(), io.to_string())),
        other => Error::Io(io::Error::other(other.to_string())),
    }
}

/// The write handle and its scratch buffer.
struct Writer<S> {
    socket: S,
    /// The piece of output being written.
    chunk: Vec<u8>,
    /// The write side was shut (or the whole socket).
    shut_down: bool,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while the lock was held cannot leave the core in a state that is
        // unsafe to use; keep going rather than poisoning both halves.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer: waiting for it, or only if it is free (`wait` false).
    fn writer(&self, wait: bool) -> Option<MutexGuard<'_, Writer<S>>> {
        if wait {
            return Some(self.writer.lock().unwrap_or_else(PoisonError::into_inner));
        }
        match self.writer.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

impl<S: SplitSocket> Shared<S> {
    /// Writes all the output queued in the core, in order, then flushes. With
    /// `wait` false (the read half), returns at once if another thread holds the
    /// writer: that thread takes what was queued before it lets go.
    fn write_out(&self, wait: bool) -> Result<(), Error> {
        loop {
            let Some(mut guard) = self.writer(wait) else {
                return Ok(());
            };
            let writer = &mut *guard;
            let mut wrote = false;
            loop {
                {
                    let state = self.lock();
                    let out = state.core.output();
                    if out.is_empty() {
                        break;
                    }
                    let n = out.len().min(WRITE_CHUNK);
                    writer.chunk.clear();
                    writer.chunk.extend_from_slice(&out[..n]);
                }
                let n = write_some(&mut writer.socket, &writer.chunk)?;
                // Only the writer's holder consumes, so the front is what it copied.
                self.lock().core.consume(n);
                wrote = true;
            }
            if wrote {
                flush(&mut writer.socket)?;
            }
            drop(guard);
            // Output queued meanwhile by a thread that found the writer busy.
            if self.lock().core.output().is_empty() {
                return Ok(());
            }
        }
    }

    /// Shuts the write side of the socket (once).
    fn shutdown_write(&self) {
        if let Some(mut writer) = self.writer(true)
            && !writer.shut_down
        {
            let _ = writer.socket.shutdown_write();
            writer.shut_down = true;
        }
    }

    /// Shuts both directions, waking a read blocked on the other handle.
    fn shutdown_both(&self) {
        if let Some(mut writer) = self.writer(true) {
            let _ = writer.socket.shutdown_both();
            writer.shut_down = true;
        }
    }
}

fn write_some<W: io::Write>(socket: &mut W, buf: &[u8]) -> Result<usize, Error> {
    loop {
        match socket.write(buf) {
            Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero).into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn flush<W: io::Write>(socket: &mut W) -> Result<(), Error> {
    loop {
        match socket.flush() {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            other => return Ok(other?),
        }
    }
}

/// The read half's hold on the shared state; dropping it tells a waiting
/// [`WriteHalf::close`] that nobody will read the peer's answer.
struct Reader<S>(Arc<Shared<S>>);

impl<S> Drop for Reader<S> {
    fn drop(&mut self) {
        self.0.lock().reader_gone = true;
        self.0.ended.notify_all();
    }
}

/// The reading half of a [`WebSocketStream`] split with
/// [`split`](WebSocketStream::split): [`recv`](Self::recv) blocks on its own socket
/// handle with no lock held, so the [`WriteHalf`] may send from another thread
/// meanwhile. It answers pings, echoes the peer's close and runs the stream's
/// timers (keepalive, idle, message, close), as [`WebSocketStream::recv`] does.
pub struct ReadHalf<S> {
    shared: Reader<S>,
    socket: S,
    timer: ReadTimer,
    ending: Ending,
}

/// The writing half of a [`WebSocketStream`] split with
/// [`split`](WebSocketStream::split): [`send`](Self::send), [`feed`](Self::feed) +
/// [`flush`](Self::flush), fragments, and [`close`](Self::close), from any thread,
/// while the [`ReadHalf`] blocks in `recv` on another.
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

/// [`WebSocketStream::split`] failed: the socket has no second handle (a TLS
/// stream; see [`SplitSocket`]) or the system refused one. The stream is given
/// back, untouched.
pub struct SplitError<S> {
    /// Boxed: a stream is large beside the error.
    stream: Box<WebSocketStream<S>>,
    error: io::Error,
}

impl<S> SplitError<S> {
    /// Why the socket could not be split.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The stream, to go on using it whole.
    pub fn into_stream(self) -> WebSocketStream<S> {
        *self.stream
    }
}

impl<S> fmt::Debug for SplitError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<S> fmt::Display for SplitError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the stream cannot be split: {}", self.error)
    }
}

impl<S> From<SplitError<S>> for io::Error {
    /// The I/O error (the stream is dropped).
    fn from(e: SplitError<S>) -> Self {
        e.error
    }
}

impl<S> std::error::Error for SplitError<S> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// [`ReadHalf::reunite`] was given halves of two different streams; here they
/// are back.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different streams")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

impl<S: SplitSocket> WebSocketStream<S> {
    /// Splits the stream into a [`ReadHalf`] and a [`WriteHalf`] that two threads
    /// may use at once: one blocked in [`ReadHalf::recv`] (for minutes, if the peer
    /// is quiet) while the other sends; no lock is held around the blocking read.
    /// [`ReadHalf::reunite`] puts them back together.
    ///
    /// The socket gets a second handle ([`SplitSocket::try_clone`]); its timeouts
    /// are one for both handles: the read half sets the read timeout (from the
    /// stream's timers and [`ReadHalf::set_read_timeout`]), the write half the write
    /// timeout.
    ///
    /// # Errors
    ///
    /// [`SplitError`], with the stream given back, when the socket has no second
    /// handle: a `wss://` stream (TLS cannot be split, see [`SplitSocket`]), or the
    /// system ran out of file descriptors.
    ///
    /// # Example
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use std::thread;
    /// use ferrosocket_blocking::{Message, accept, connect};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let url = format!("ws://{}/", listener.local_addr()?);
    /// let server = thread::spawn(move || {
    ///     let mut ws = accept(listener.accept().unwrap().0).unwrap();
    ///     while let Some(Ok(message)) = ws.recv() {
    ///         if message.is_data() {
    ///             ws.send(message).unwrap();
    ///         }
    ///     }
    /// });
    ///
    /// let (ws, _) = connect(&url)?;
    /// let (reader, mut writer) = ws.split()?;
    /// // One thread reads until the stream ends...
    /// let reading = thread::spawn(move || reader.filter_map(Result::ok).collect::<Vec<_>>());
    /// // ...while this one writes, then closes: the reader gets the server's close.
    /// writer.send(Message::text("one"))?;
    /// writer.send(Message::text("two"))?;
    /// writer.close(None)?;
    /// let got = reading.join().unwrap();
    /// assert_eq!(got[..2], [Message::text("one"), Message::text("two")]);
    /// assert!(matches!(got[2], Message::Close(_)));
    /// server.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split(self) -> Result<(ReadHalf<S>, WriteHalf<S>), SplitError<S>> {
        let read_socket = match self.socket.try_clone() {
            Ok(socket) => socket,
            Err(error) => {
                return Err(SplitError {
                    stream: Box::new(self),
                    error,
                });
            }
        };
        let WebSocketStream {
            socket,
            core,
            request,
            response,
            timer,
            ending,
        } = self;
        let shared = Arc::new(Shared {
            state: Mutex::new(Core {
                core,
                end: None,
                reader_gone: false,
                close_timed_out: false,
            }),
            ended: Condvar::new(),
            writer: Mutex::new(Writer {
                socket,
                chunk: Vec::new(),
                shut_down: ending == Ending::Done,
            }),
            request,
            response,
        });
        let write = WriteHalf {
            shared: shared.clone(),
        };
        let read = ReadHalf {
            shared: Reader(shared),
            socket: read_socket,
            timer,
            ending,
        };
        Ok((read, write))
    }
}

impl<S> ReadHalf<S> {
    /// The client's opening request (server side).
    pub fn request(&self) -> Option<&Request> {
        self.shared.0.request.as_deref()
    }

    /// The server's answer (client side).
    pub fn response(&self) -> Option<&Response> {
        self.shared.0.response.as_deref()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.shared.0.lock().core.state()
    }

    /// The configuration.
    pub fn config(&self) -> StreamConfig {
        self.shared.0.lock().core.config().clone()
    }

    /// Whether `other` is the other half of the same stream.
    pub fn is_pair_of(&self, other: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared.0, &other.shared)
    }

    /// Puts the halves back together into the stream they came from (the read
    /// half's socket handle is closed; the socket stays open).
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] with both halves if they come from different streams.
    pub fn reunite(self, other: WriteHalf<S>) -> Result<WebSocketStream<S>, ReuniteError<S>> {
        if !self.is_pair_of(&other) {
            return Err(ReuniteError(self, other));
        }
        let Self {
            shared,
            socket: read_socket,
            timer,
            ending,
        } = self;
        let shared_arc = Arc::clone(&shared.0);
        drop((shared, other, read_socket));
        let Ok(shared) = Arc::try_unwrap(shared_arc) else {
            unreachable!("both halves were given, so no other reference exists");
        };
        let state = shared
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let writer = shared
            .writer
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(WebSocketStream {
            socket: writer.socket,
            core: state.core,
            request: shared.request,
            response: shared.response,
            timer,
            ending: if writer.shut_down {
                Ending::Done
            } else {
                ending
            },
        })
    }
}

impl<S: SplitSocket> ReadHalf<S> {
    /// The next message, blocking until one arrives; `None` once the stream ended.
    /// The same as [`WebSocketStream::recv`], with no lock held while it waits:
    /// pings are answered and the peer's close echoed (written at once if the
    /// [`WriteHalf`] is not writing, else by it), the timers run, a client waits for
    /// the server's FIN after the closing handshake (in the call that returns
    /// `None`).
    ///
    /// After [`WriteHalf::close`] ran out of time, the read (woken by the socket's
    /// shutdown) ends with `Err(Error::Timeout(Timer::Close))`.
    pub fn recv(&mut self) -> Option<Result<Message, Error>> {
        // When the user's read timeout runs out (it restarts when bytes arrive).
        let mut user_at = None;
        loop {
            let shared = &*self.shared.0;
            let mut state = shared.lock();
            if state.close_timed_out && !state.core.is_finished() {
                state.core.fail();
                state.end = Some(End::Failed(Error::Timeout(Timer::Close)));
                drop(state);
                shared.ended.notify_all();
                self.ending = Ending::Done;
                return Some(Err(Error::Timeout(Timer::Close)));
            }
            let queued = state.core.output_len();
            if let Some(item) = state.core.next_message() {
                if state.core.is_finished() {
                    state.end = Some(End::of(&item));
                    self.ending = ending_after(&mut state.core, &item);
                    let closed = state.core.is_closed();
                    drop(state);
                    shared.ended.notify_all();
                    // The close echo, or the close frame of an error, then (unless a
                    // client waits for the server's FIN) the end of the write side.
                    let _ = shared.write_out(true);
                    if self.ending == Ending::Done && closed {
                        shared.shutdown_write();
                    }
                } else if state.core.output_len() > queued {
                    drop(state);
                    // A pong; a failed write shows in the next read or write.
                    let _ = shared.write_out(false);
                }
                return Some(item);
            }
            if state.core.is_finished() {
                drop(state);
                self.end();
                return None;
            }
            // All input is parsed: the core's view is current, its timers may run.
            let now = Instant::now();
            if self.timer.run_timers(&mut state.core, now) {
                drop(state);
                let _ = shared.write_out(false);
                continue;
            }
            let until = self.timer.read_until(&state.core, now, &mut user_at);
            // The read may block for long: an extension that frees idle state
            // (permessage-deflate's release_idle_contexts) does it now.
            state.core.release_idle_extension();
            let pending = !state.core.output().is_empty();
            let chunk = state.core.read_size();
            let wanted = state
                .core
                .connection_mut()
                .frame_bytes_wanted()
                .min(state.core.config().protocol.max_frame_size);
            let mut buf = state.core.connection_mut().lend_read_buf(wanted + chunk);
            drop(state);
            // Queued frames go out before we block on a read.
            let ready = match pending {
                true => shared.write_out(false),
                false => Ok(()),
            }
            .and_then(|()| Ok(self.timer.arm(&mut self.socket, now, until)?));
            if let Err(e) = ready {
                shared.lock().core.connection_mut().receive_buf(buf);
                return Some(Err(e));
            }
            let socket = &mut self.socket;
            let result = read_into_spare(&mut buf, chunk, |spare| socket.read(spare));
            let mut state = shared.lock();
            state.core.connection_mut().receive_buf(buf);
            match result {
                // The socket was shut by a timed-out close: the loop reports it.
                _ if state.close_timed_out => {}
                Ok(0) => state.core.receive_eof(),
                Ok(n) => {
                    state.core.read_done(n);
                    user_at = None;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A timer's deadline, not the user's timeout: the loop runs it.
                Err(e) if is_timeout(&e) && user_at.is_none_or(|at| Instant::now() < at) => {
                    state.core.release_idle_buffers();
                }
                Err(e) => {
                    if is_timeout(&e) {
                        // Idle: give the read buffer's memory back; still usable.
                        state.core.release_idle_buffers();
                    } else {
                        state.core.fail();
                        let copy = io::Error::new(e.kind(), e.to_string());
                        state.end = Some(End::Failed(Error::Io(copy)));
                        drop(state);
                        shared.ended.notify_all();
                        self.ending = Ending::Done;
                    }
                    return Some(Err(e.into()));
                }
            }
        }
    }

    /// The end of a finished stream: a client whose closing handshake completed
    /// waits for the server's FIN (at most the close timeout), then shuts its side.
    fn end(&mut self) {
        if self.ending == Ending::AwaitFin {
            let shared = &*self.shared.0;
            let timeout = shared.lock().core.config().protocol.close_timeout;
            await_fin(&mut self.socket, Deadline::after(timeout, Timer::Close));
            self.timer.restore(&mut self.socket);
            shared.shutdown_write();
        }
        self.ending = Ending::Done;
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
}

impl<S: SplitSocket> Iterator for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.recv()
    }
}

impl<S> WriteHalf<S> {
    /// The protocol state.
    pub fn state(&self) -> State {
        self.shared.lock().core.state()
    }

    /// Bytes queued for writing.
    pub fn write_buffer_len(&self) -> usize {
        self.shared.lock().core.output_len()
    }
}

impl<S: SplitSocket> WriteHalf<S> {
    /// Runs `f` on the core (locked for that long).
    fn with_core<R>(&self, f: impl FnOnce(&mut StreamCore) -> R) -> R {
        f(&mut self.shared.lock().core)
    }

    /// Writes first if the queued output reached the write-buffer limit.
    fn make_room(&self) -> Result<(), Error> {
        if self.with_core(|core| core.write_buffer_full()) {
            self.shared.write_out(true)?;
        }
        Ok(())
    }

    /// Sends a message (or a ping, pong, close) and writes it out at once, waiting
    /// for a write of the [`ReadHalf`] (a pong) to finish first.
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
    /// [`flush`](Self::flush) to write the batch (a write of the read half's, such
    /// as a pong, may also take it along).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.make_room()?;
        self.with_core(|core| core.send(message))
    }

    /// Writes everything queued and flushes the socket.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the socket fails (a write timeout leaves the rest queued).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.shared.write_out(true)
    }

    /// Sends one frame of a fragmented message (see
    /// [`WebSocketStream::send_fragment`]) and writes it.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] for a frame out of sequence or after a close; [`Error::Io`].
    pub fn send_fragment(&mut self, opcode: OpCode, data: &[u8], fin: bool) -> Result<(), Error> {
        self.make_room()?;
        self.with_core(|core| core.send_fragment(opcode, data, fin))?;
        self.flush()
    }

    /// Sends one message in several frames (see
    /// [`WebSocketStream::send_fragments`]), written once all are queued (or
    /// whenever the write-buffer limit is reached).
    ///
    /// # Errors
    ///
    /// As [`WebSocketStream::send_fragments`].
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
                    self.with_core(|core| core.send_fragment(opcode, &[], true))?;
                }
                break;
            };
            let fin = fragments.peek().is_none();
            self.make_room()?;
            self.with_core(|core| core.send_fragment(op, fragment.as_ref(), fin))?;
            op = OpCode::Continuation;
        }
        self.flush()
    }

    /// Closes the connection: sends a close frame (`None`: 1000 without a reason)
    /// unless one was sent, then waits until the [`ReadHalf`] has received the
    /// peer's close (or the stream ended otherwise), at most
    /// [`StreamConfig::close_timeout`]. The read half must be reading meanwhile
    /// (its thread in `recv`): it delivers the peer's close, then `None`.
    ///
    /// If the time runs out, the socket is shut down in both directions, which
    /// wakes the read half: its `recv` returns `Err(Error::Timeout(Timer::Close))`.
    /// If the read half was dropped, nobody can read the answer: the write side is
    /// shut after the close frame and this returns at once.
    ///
    /// Calling it after the peer's close was received just returns.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the peer did not answer in time; [`Error::Io`] if the
    /// socket fails, or (a copy of) the error that ended the read half.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        let shared = &*self.shared;
        let timeout = {
            let mut state = shared.lock();
            if matches!(state.core.state(), State::Open | State::RemoteClosing) {
                state.core.send(Message::Close(frame))?;
            }
            state.core.config().protocol.close_timeout
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        shared.write_out(true)?;
        let mut state = shared.lock();
        loop {
            if state.core.is_finished() {
                return match &state.end {
                    Some(End::Failed(e)) => Err(copy_error(e)),
                    Some(End::Closed) | None => Ok(()),
                };
            }
            if state.reader_gone {
                drop(state);
                shared.shutdown_write();
                return Ok(());
            }
            state = match deadline {
                None => shared
                    .ended
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    shared
                        .ended
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        // Out of time: wake the read half, which reports the timeout.
        state.close_timed_out = true;
        drop(state);
        shared.shutdown_both();
        Err(Error::Timeout(Timer::Close))
    }

    /// Sets the socket's write timeout: `send` and `flush` then fail with
    /// `WouldBlock` / `TimedOut` when the peer does not read for that long (what was
    /// not written stays queued). Waits for a write in progress to end.
    ///
    /// # Errors
    ///
    /// As the socket's setter.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self.shared.writer(true) {
            Some(mut writer) => writer.socket.set_write_timeout(timeout),
            None => Ok(()),
        }
    }
}
