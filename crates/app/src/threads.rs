//! The threaded runtime: sockets whose blocking reads and writes run on threads
//! of their own, a timer thread, and `block_on`, so that the app layer's
//! connection code runs unchanged on one thread per connection.
//!
//! A connection's own thread ([`spawn`]) only ever waits in `block_on`, parked
//! until a waker fires: its socket's reader and writer threads
//! ([`ThreadStream`]), the timer thread ([`ThreadTimer`]) and anyone holding a
//! waker of its (the manager's queues) can all wake it. The blocking syscalls
//! happen on the helper threads, whose hand-offs are bounded, so memory stays
//! bounded by the same back-pressure an async runtime's sockets give.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::net::{UnixListener, UnixStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferrosocket_io::poll::AsyncTimer;

/// Stack of a connection's thread ([`spawn`]). The future itself is boxed, so
/// this holds only the frames of one poll: hyper's HTTP/1 dispatcher, the
/// WebSocket engine and a handler's callbacks. The tests run hyper and the engine
/// (with permessage-deflate) on it; in a debug build (the deepest frames) hyper
/// needed 32-64 KiB and the engine's client 64-72 KiB, so this leaves handlers
/// about three times that. Only the pages touched are ever committed.
const TASK_STACK: usize = 256 * 1024;

/// Stack of the helper threads (reader, writer, accept, timer): a loop around
/// one syscall and a lock, their buffers on the heap; the rest is room for a
/// `tracing` subscriber handling the error events they log.
const HELPER_STACK: usize = 64 * 1024;

/// The most received bytes a [`ThreadStream`] holds that the connection has not
/// taken: the reader thread reads the next chunk only once this one was taken,
/// so a connection that stops reading stops the peer (TCP flow control).
const READ_CHUNK: usize = 16 * 1024;

/// The most written bytes a [`ThreadStream`] holds that its writer thread has not
/// yet written; `poll_write` is `Pending` beyond that (as a full socket buffer).
const WRITE_LIMIT: usize = 64 * 1024;

/// Accepted connections a [`ThreadListener`] holds that nobody took yet; beyond
/// that the kernel's backlog holds them.
const ACCEPT_QUEUE: usize = 8;

/// How long the accept thread waits after an accept error: errors like EMFILE
/// repeat at once, and a busy loop would not free any descriptor.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Bounds the connection a dropped [`ThreadListener`] makes to itself to wake its
/// accept thread (the connect fails fast once that thread closed the listener).
const WAKE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Locks `mutex`, ignoring poisoning: no code here panics while holding a lock
/// with the state half-updated, so the state is usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv`, ignoring poisoning (see [`lock`]).
fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// Stores `cx`'s waker in `slot` unless the one there wakes the same task (the
/// usual case: no clone).
fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// Starts a helper thread named `name` with the small stack.
fn helper(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.to_owned())
        .stack_size(HELPER_STACK)
        .spawn(f)
}

/// Runs `f` to completion on the calling thread, parking it while `f` is
/// pending.
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    futures_lite::future::block_on(f)
}

/// Runs `fut` on a new thread named `name` (with [`TASK_STACK`]), as a runtime
/// spawns a task.
pub(crate) fn spawn(
    name: &str,
    fut: impl Future<Output = ()> + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    // Boxed: `block_on` pins its future on the stack, and a connection's future
    // (hyper's dispatcher, the engine's buffers) is large; on the heap it leaves
    // the whole stack to the polls.
    let fut = Box::pin(fut);
    thread::Builder::new()
        .name(name.to_owned())
        .stack_size(TASK_STACK)
        .spawn(move || block_on(fut))
}

/// A connected socket, shared by a [`ThreadStream`] and its two threads.
///
/// One descriptor behind an `Arc` rather than a `try_clone` per thread: `&TcpStream`
/// reads and writes, so three descriptors per connection would only bring the
/// process to its descriptor limit (EMFILE) three times sooner. It is closed once
/// the stream and both threads are gone, so no thread ever uses a reused number.
#[derive(Debug)]
enum Sock {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix domain socket.
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Sock {
    /// One blocking read.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            // `&TcpStream` reads; `{ s }` is a copy of the reference to borrow mutably.
            Self::Tcp(s) => Read::read(&mut { s }, buf),
            #[cfg(unix)]
            Self::Unix(s) => Read::read(&mut { s }, buf),
        }
    }

    /// Blocking writes of all of `buf`.
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::Tcp(s) => Write::write_all(&mut { s }, buf),
            #[cfg(unix)]
            Self::Unix(s) => Write::write_all(&mut { s }, buf),
        }
    }

    /// `shutdown(2)`; also ends a read or write blocked on another thread.
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown(how),
            #[cfg(unix)]
            Self::Unix(s) => s.shutdown(how),
        }
    }
}

/// How far the writing side got.
#[derive(Debug)]
enum Writer {
    /// Writes are taken.
    Open,
    /// `poll_close` shut the write side down; the writer thread ended.
    Closed,
    /// A write failed; the writer thread ended. The error until it was reported.
    Failed(Option<io::Error>),
}

/// What a [`ThreadStream`] and its threads share, under [`StreamShared::state`].
#[derive(Debug)]
struct StreamState {
    /// The chunk the reader thread handed over (at most [`READ_CHUNK`] bytes).
    read: Vec<u8>,
    /// How much of `read` the connection took.
    read_pos: usize,
    /// Where reading ended, after `read`: `Ok` at EOF, the error until it was
    /// reported (then `Ok`: EOF from then on).
    read_end: Option<io::Result<()>>,
    /// The task waiting for `read` or `read_end`.
    read_waker: Option<Waker>,
    /// Bytes written but not yet taken by the writer thread.
    write: Vec<u8>,
    /// `write` plus the batch the writer thread is writing (at most
    /// [`WRITE_LIMIT`]); 0 means flushed.
    unwritten: usize,
    /// The writing side's state.
    writer: Writer,
    /// The task waiting for room in `write` or for a flush.
    write_waker: Option<Waker>,
    /// The stream was dropped: the threads end.
    dropped: bool,
}

impl StreamState {
    /// Whether writes are still taken; the error to report otherwise.
    fn check_writable(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Writer::Open => Ok(()),
            Writer::Closed => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the stream was closed",
            )),
            Writer::Failed(e) => Err(e.take().unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::BrokenPipe, "an earlier write failed")
            })),
        }
    }
}

/// The socket and the state a [`ThreadStream`] and its threads share.
#[derive(Debug)]
struct StreamShared {
    /// The socket.
    sock: Sock,
    /// The hand-offs.
    state: Mutex<StreamState>,
    /// Where the reader thread waits for its chunk to be taken.
    reader: Condvar,
    /// Where the writer thread waits for bytes to write.
    writer: Condvar,
}

/// A socket with `futures-io`'s `AsyncRead` and `AsyncWrite` whose blocking
/// syscalls run on a reader and a writer thread of its own, so that the task
/// using it never blocks in one: it can always be woken by something else.
///
/// Both threads end when the stream is dropped (the socket is shut down both
/// ways, which also ends a read or write blocked in the kernel). Bytes written
/// but not yet flushed are then lost: flush or close first, as hyper and the
/// WebSocket engine do.
pub struct ThreadStream {
    /// What the threads share.
    shared: Arc<StreamShared>,
    /// The socket's local address (TCP).
    local: Option<SocketAddr>,
    /// The peer's address (TCP).
    peer: Option<SocketAddr>,
    /// The reader and writer threads (kept for the tests, which check that they
    /// end; dropping a handle detaches the thread).
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for ThreadStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadStream")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl ThreadStream {
    /// A stream over a connected TCP socket, with `TCP_NODELAY` on (writes are
    /// already batched by the callers, as on the tokio side).
    ///
    /// # Errors
    ///
    /// Setting the socket options, or starting the threads.
    pub fn tcp(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_nonblocking(false)?;
        // `None` once the peer left already: that is for the reads to tell.
        let (local, peer) = (stream.local_addr().ok(), stream.peer_addr().ok());
        Self::start(Sock::Tcp(stream), local, peer)
    }

    /// A stream over a connected Unix domain socket (no addresses).
    ///
    /// # Errors
    ///
    /// Setting the socket blocking, or starting the threads.
    #[cfg(unix)]
    pub fn unix(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(false)?;
        Self::start(Sock::Unix(stream), None, None)
    }

    /// Starts the reader and writer threads over `sock`.
    fn start(sock: Sock, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> io::Result<Self> {
        let shared = Arc::new(StreamShared {
            sock,
            state: Mutex::new(StreamState {
                read: Vec::with_capacity(READ_CHUNK),
                read_pos: 0,
                read_end: None,
                read_waker: None,
                write: Vec::new(),
                unwritten: 0,
                writer: Writer::Open,
                write_waker: None,
                dropped: false,
            }),
            reader: Condvar::new(),
            writer: Condvar::new(),
        });
        let mut stream = Self {
            shared: Arc::clone(&shared),
            local,
            peer,
            threads: Vec::with_capacity(2),
        };
        // On an error `stream` is dropped, which stops a thread already started.
        let reader = Arc::clone(&shared);
        stream
            .threads
            .push(helper("fsock-read", move || read_loop(&reader))?);
        stream
            .threads
            .push(helper("fsock-write", move || write_loop(&shared))?);
        Ok(stream)
    }

    /// The socket's local address (`None` for a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// The peer's address (`None` for a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

/// The reader thread: reads a chunk, hands it over, waits until it was taken.
fn read_loop(shared: &StreamShared) {
    let mut buf = vec![0; READ_CHUNK];
    loop {
        let result = loop {
            match shared.sock.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => break result,
            }
        };
        let mut state = lock(&shared.state);
        if state.dropped {
            return;
        }
        match result {
            Ok(0) => state.read_end = Some(Ok(())),
            Ok(n) => state.read.extend_from_slice(&buf[..n]),
            Err(e) => {
                tracing::debug!(error = %e, "socket read failed");
                state.read_end = Some(Err(e));
            }
        }
        let waker = state.read_waker.take();
        let ended = state.read_end.is_some();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        if ended {
            return;
        }
        // Back-pressure: the next read only once this chunk was taken.
        let mut state = lock(&shared.state);
        while !state.read.is_empty() && !state.dropped {
            state = wait(&shared.reader, state);
        }
        if state.dropped {
            return;
        }
    }
}

/// The writer thread: takes all the written bytes at once and writes them,
/// until the stream is closed or dropped or a write fails.
fn write_loop(shared: &StreamShared) {
    // Swapped with the state's buffer: the bytes are written without the lock,
    // and neither buffer is reallocated once both have grown.
    let mut batch = Vec::new();
    loop {
        let mut state = lock(&shared.state);
        state.unwritten -= batch.len();
        batch.clear();
        if let Some(waker) = state.write_waker.take() {
            // Room was made, or everything was written (a flush completes).
            drop(state);
            waker.wake();
            state = lock(&shared.state);
        }
        while state.write.is_empty() && !state.dropped && matches!(state.writer, Writer::Open) {
            state = wait(&shared.writer, state);
        }
        // Closed: only once flushed, so nothing is left to write.
        let done = state.dropped || state.write.is_empty();
        if !done {
            std::mem::swap(&mut state.write, &mut batch);
        }
        drop(state);
        if done {
            return;
        }
        if let Err(e) = shared.sock.write_all(&batch) {
            let mut state = lock(&shared.state);
            if state.dropped {
                // The drop's shutdown ended the write; nobody is left to tell.
                return;
            }
            tracing::debug!(error = %e, "socket write failed");
            state.writer = Writer::Failed(Some(e));
            state.write.clear();
            state.unwritten = 0;
            let waker = state.write_waker.take();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return;
        }
    }
}

impl futures_io::AsyncRead for ThreadStream {
    /// The bytes the reader thread handed over, else `Pending` until it hands
    /// over more (or reaches EOF or an error).
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut state = lock(&self.shared.state);
        let available = &state.read[state.read_pos..];
        if !available.is_empty() {
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            state.read_pos += n;
            if state.read_pos == state.read.len() {
                state.read.clear();
                state.read_pos = 0;
                drop(state);
                // The reader thread may read again.
                self.shared.reader.notify_one();
            }
            return Poll::Ready(Ok(n));
        }
        if state.read_end.is_none() {
            set_waker(&mut state.read_waker, cx);
            return Poll::Pending;
        }
        // EOF, or the error, reported once (then EOF for ever).
        match state.read_end.replace(Ok(())) {
            Some(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(0)),
        }
    }
}

impl futures_io::AsyncWrite for ThreadStream {
    /// As `poll_write_vectored` with one slice.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Copies as much of `bufs` as fits under [`WRITE_LIMIT`] for the writer
    /// thread; `Pending` while nothing fits.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut state = lock(&self.shared.state);
        state.check_writable()?;
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let room = WRITE_LIMIT - state.unwritten;
        if room == 0 {
            set_waker(&mut state.write_waker, cx);
            return Poll::Pending;
        }
        // The writer thread waits only while there is nothing to take.
        let was_idle = state.write.is_empty();
        let mut n = 0;
        for buf in bufs {
            let take = buf.len().min(room - n);
            state.write.extend_from_slice(&buf[..take]);
            n += take;
            if n == room {
                break;
            }
        }
        state.unwritten += n;
        drop(state);
        if was_idle {
            self.shared.writer.notify_one();
        }
        Poll::Ready(Ok(n))
    }

    /// Ready once the writer thread wrote everything.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = lock(&self.shared.state);
        if let Writer::Failed(_) = state.writer {
            return Poll::Ready(state.check_writable());
        }
        if state.unwritten == 0 {
            return Poll::Ready(Ok(()));
        }
        set_waker(&mut state.write_waker, cx);
        Poll::Pending
    }

    /// Flushes, then shuts the write side down (the writer thread ends).
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        let mut state = lock(&self.shared.state);
        if matches!(state.writer, Writer::Closed) {
            return Poll::Ready(Ok(()));
        }
        state.writer = Writer::Closed;
        drop(state);
        self.shared.writer.notify_one();
        Poll::Ready(self.shared.sock.shutdown(Shutdown::Write))
    }
}

impl Drop for ThreadStream {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.dropped = true;
        state.read_waker = None;
        state.write_waker = None;
        drop(state);
        // Threads waiting on the condvars see `dropped`; one blocked in a read or
        // a write (to a peer that does not read) returns once the socket is shut
        // down. Both look at `dropped` after their syscall, so none is missed.
        self.shared.reader.notify_one();
        self.shared.writer.notify_one();
        // Fails (ignored) if the peer already reset the connection.
        let _ = self.shared.sock.shutdown(Shutdown::Both);
    }
}

/// The timer thread's entries: each pending sleep's waker, by deadline (the id
/// tells sleeps with the same deadline apart).
#[derive(Debug)]
struct Timers {
    /// The entries.
    entries: Mutex<BTreeMap<(Instant, u64), Waker>>,
    /// Wakes the timer thread when the first deadline moves earlier.
    changed: Condvar,
}

/// The timer thread's entries, starting the thread on first use. It runs for the
/// rest of the process: one thread for all the sleeps.
fn timers() -> &'static Timers {
    static TIMERS: OnceLock<Timers> = OnceLock::new();
    TIMERS.get_or_init(|| {
        // The thread's first `timers()` waits until this initialization returns.
        // A sleep without this thread would never complete, so failing to start
        // it is fatal (as a missing runtime is for tokio's sleeps).
        helper("fsock-timer", || timer_loop(timers())).expect("cannot start the timer thread");
        Timers {
            entries: Mutex::new(BTreeMap::new()),
            changed: Condvar::new(),
        }
    })
}

/// The timer thread: wakes each sleep at its deadline, in deadline order.
fn timer_loop(timers: &Timers) {
    let mut due = Vec::new();
    let mut entries = lock(&timers.entries);
    loop {
        let now = Instant::now();
        while let Some(entry) = entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        if !due.is_empty() {
            drop(entries);
            due.drain(..).for_each(Waker::wake);
            entries = lock(&timers.entries);
            continue;
        }
        entries = match entries.first_key_value() {
            Some((&(deadline, _), _)) => {
                let timeout = deadline.saturating_duration_since(now);
                (timers.changed.wait_timeout(entries, timeout))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => wait(&timers.changed, entries),
        };
    }
}

/// Sleeps on the process's timer thread: the threaded runtime's
/// [`AsyncTimer`], for the engine's timeouts and the app's heartbeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadTimer;

/// [`ThreadTimer`]'s sleep. Its entry on the timer thread is made when it is
/// first polled pending and removed when it completes or is dropped.
#[derive(Debug)]
pub struct Sleep {
    /// When it completes.
    deadline: Instant,
    /// Tells it from other sleeps with the same deadline.
    id: u64,
    /// It may have an entry on the timer thread (removed on drop).
    armed: bool,
}

impl Sleep {
    /// Its entry's key.
    fn key(&self) -> (Instant, u64) {
        (self.deadline, self.id)
    }

    /// Removes its entry, if any.
    fn disarm(&mut self) {
        if self.armed {
            lock(&timers().entries).remove(&self.key());
            self.armed = false;
        }
    }
}

impl Future for Sleep {
    type Output = ();

    /// Ready once the deadline passed (again on every later poll).
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.disarm();
            return Poll::Ready(());
        }
        let key = self.key();
        let timers = timers();
        let mut entries = lock(&timers.entries);
        let fresh = match entries.entry(key) {
            Entry::Occupied(mut entry) => {
                if !entry.get().will_wake(cx.waker()) {
                    entry.insert(cx.waker().clone());
                }
                false
            }
            Entry::Vacant(entry) => {
                entry.insert(cx.waker().clone());
                true
            }
        };
        // The timer thread sleeps until the first deadline: tell it of an earlier one.
        let first = fresh && entries.first_key_value().is_some_and(|(k, _)| *k == key);
        drop(entries);
        self.armed = true;
        if first {
            timers.changed.notify_one();
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}

impl AsyncTimer for ThreadTimer {
    type Sleep = Sleep;

    /// The threaded runtime always has its timer.
    fn ambient() -> Option<Self> {
        Some(Self)
    }

    /// A sleep not yet known to the timer thread (that takes its first poll).
    fn sleep_until(&self, deadline: Instant) -> Sleep {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Sleep {
            deadline,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            armed: false,
        }
    }

    /// Moves the entry (and its waker) to the new deadline under one lock: the
    /// task waiting on it is woken at the new deadline without polling again.
    fn reset(&self, sleep: &mut Sleep, deadline: Instant) {
        if sleep.deadline == deadline {
            return;
        }
        let old = sleep.key();
        sleep.deadline = deadline;
        if !sleep.armed {
            return;
        }
        let timers = timers();
        let mut entries = lock(&timers.entries);
        let Some(waker) = entries.remove(&old) else {
            // It fired already: the woken task polls (and arms) it again.
            sleep.armed = false;
            return;
        };
        entries.insert(sleep.key(), waker);
        let first = entries
            .first_key_value()
            .is_some_and(|(k, _)| *k == sleep.key());
        drop(entries);
        if first {
            timers.changed.notify_one();
        }
    }
}

/// A listening socket, owned by the accept thread.
#[derive(Debug)]
enum Listen {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix domain socket.
    #[cfg(unix)]
    Unix(UnixListener),
}

impl Listen {
    /// One blocking accept.
    fn accept(&self) -> io::Result<Sock> {
        match self {
            Self::Tcp(l) => l.accept().map(|(s, _)| Sock::Tcp(s)),
            #[cfg(unix)]
            Self::Unix(l) => l.accept().map(|(s, _)| Sock::Unix(s)),
        }
    }
}

/// Where a dropped [`ThreadListener`] connects to wake its accept thread.
#[derive(Debug)]
enum WakeAddr {
    /// The listener's TCP address (loopback for an unspecified one).
    Tcp(SocketAddr),
    /// The listener's path (or abstract name).
    #[cfg(unix)]
    Unix(std::os::unix::net::SocketAddr),
}

/// What a [`ThreadListener`] and its accept thread share.
#[derive(Debug)]
struct AcceptState {
    /// Accepted sockets and accept errors, oldest first (at most
    /// [`ACCEPT_QUEUE`]).
    queue: VecDeque<io::Result<Sock>>,
    /// The task waiting for `queue`.
    waker: Option<Waker>,
    /// The accept thread is in (or about to enter) `accept`.
    accepting: bool,
    /// The listener was dropped: the accept thread ends.
    dropped: bool,
}

/// [`AcceptState`] and its condvar.
#[derive(Debug)]
struct AcceptShared {
    /// The hand-off.
    state: Mutex<AcceptState>,
    /// Where the accept thread waits for room in the queue (or the drop).
    room: Condvar,
}

/// An accepted connection: the stream, its local and its remote address (`None`
/// for a Unix socket).
pub(crate) type Accepted = (ThreadStream, Option<SocketAddr>, Option<SocketAddr>);

/// A listening socket whose blocking accepts run on a thread of its own, handing
/// the accepted sockets over through a small queue.
pub struct ThreadListener {
    /// The hand-off.
    shared: Arc<AcceptShared>,
    /// The listener's address (TCP).
    local: Option<SocketAddr>,
    /// Where to connect to wake the accept thread.
    wake: WakeAddr,
    /// The accept thread (see [`ThreadStream::threads`]); only the tests join it.
    #[cfg_attr(not(test), allow(dead_code))]
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for ThreadListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadListener")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl ThreadListener {
    /// Accepts on `listener` (made blocking if it was not).
    ///
    /// # Errors
    ///
    /// Reading its address, setting it blocking, or starting the accept thread.
    pub fn tcp(listener: TcpListener) -> io::Result<Self> {
        listener.set_nonblocking(false)?;
        let local = listener.local_addr()?;
        let mut wake = local;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        Self::start(Listen::Tcp(listener), Some(local), WakeAddr::Tcp(wake))
    }

    /// Accepts on the Unix domain socket `listener` (made blocking if it was not).
    ///
    /// # Errors
    ///
    /// Reading its address, setting it blocking, or starting the accept thread.
    #[cfg(unix)]
    pub fn unix(listener: UnixListener) -> io::Result<Self> {
        listener.set_nonblocking(false)?;
        let wake = WakeAddr::Unix(listener.local_addr()?);
        Self::start(Listen::Unix(listener), None, wake)
    }

    /// Starts the accept thread, which owns `listener`.
    fn start(listener: Listen, local: Option<SocketAddr>, wake: WakeAddr) -> io::Result<Self> {
        let shared = Arc::new(AcceptShared {
            state: Mutex::new(AcceptState {
                queue: VecDeque::with_capacity(ACCEPT_QUEUE),
                waker: None,
                accepting: false,
                dropped: false,
            }),
            room: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = helper("fsock-accept", move || {
            accept_loop(&listener, &thread_shared)
        })?;
        Ok(Self {
            shared,
            local,
            wake,
            thread: Some(thread),
        })
    }

    /// The listener's address (`None` for a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// The next accepted connection as a [`ThreadStream`], with its local and
    /// remote addresses (`None` for a Unix socket).
    ///
    /// # Errors
    ///
    /// An accept error (EMFILE...: the accept thread goes on after
    /// [`ACCEPT_PAUSE`]), or starting the stream's threads.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Accepted>> {
        let mut state = lock(&self.shared.state);
        let Some(next) = state.queue.pop_front() else {
            set_waker(&mut state.waker, cx);
            return Poll::Pending;
        };
        drop(state);
        self.shared.room.notify_one();
        let stream = match next? {
            Sock::Tcp(s) => ThreadStream::tcp(s)?,
            #[cfg(unix)]
            Sock::Unix(s) => ThreadStream::unix(s)?,
        };
        let (local, peer) = (stream.local, stream.peer);
        Poll::Ready(Ok((stream, local, peer)))
    }
}

/// The accept thread: accepts while the queue has room, until the drop.
fn accept_loop(listener: &Listen, shared: &AcceptShared) {
    loop {
        let mut state = lock(&shared.state);
        while state.queue.len() >= ACCEPT_QUEUE && !state.dropped {
            state = wait(&shared.room, state);
        }
        if state.dropped {
            return;
        }
        state.accepting = true;
        drop(state);
        let result = listener.accept();
        let mut state = lock(&shared.state);
        state.accepting = false;
        if state.dropped {
            // The socket (maybe the drop's own wake-up connection) is closed.
            return;
        }
        if let Err(e) = &result {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tracing::warn!(error = %e, "accept failed");
        }
        let failed = result.is_err();
        state.queue.push_back(result);
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        if failed {
            let state = lock(&shared.state);
            let _ = shared
                .room
                .wait_timeout_while(state, ACCEPT_PAUSE, |s| !s.dropped);
        }
    }
}

impl Drop for ThreadListener {
    /// Ends the accept thread, which closes the listener.
    ///
    /// A blocked `accept` cannot be interrupted with std alone (`shutdown` is not
    /// offered for listeners, and would only work on Linux), so the drop connects
    /// to the listener: `accept` returns, and the thread sees the drop. A
    /// non-blocking listener polled at an interval would avoid that connection
    /// but delay every accept by up to the interval (or spin). The connection is
    /// made only while the thread is in `accept`; the listener is the thread's
    /// alone, so if the backlog is full (the connect waiting) `accept` returns at
    /// once, the thread ends and closes the listener, and the connect fails.
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.dropped = true;
        state.waker = None;
        let accepting = state.accepting;
        drop(state);
        self.shared.room.notify_one();
        if accepting {
            let woken = match &self.wake {
                WakeAddr::Tcp(addr) => {
                    TcpStream::connect_timeout(addr, WAKE_CONNECT_TIMEOUT).map(drop)
                }
                #[cfg(unix)]
                WakeAddr::Unix(addr) => UnixStream::connect_addr(addr).map(drop),
            };
            if let Err(e) = woken {
                // The thread ends with the next connection instead.
                tracing::debug!(error = %e, "cannot wake the accept thread");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;
    use std::task::Wake;

    use futures_io::{AsyncRead, AsyncWrite};
    use futures_lite::future::poll_fn;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};

    impl ThreadStream {
        /// Drops the stream, returning its threads.
        fn into_threads(mut self) -> Vec<JoinHandle<()>> {
            std::mem::take(&mut self.threads)
        }

        /// Received bytes held, not yet taken.
        fn buffered(&self) -> usize {
            let state = lock(&self.shared.state);
            state.read.len() - state.read_pos
        }

        /// Written bytes held, not yet written to the socket.
        fn unwritten(&self) -> usize {
            lock(&self.shared.state).unwritten
        }
    }

    impl ThreadListener {
        /// Drops the listener, returning its thread.
        fn into_thread(mut self) -> JoinHandle<()> {
            self.thread.take().unwrap()
        }

        /// Connections accepted, not yet taken.
        fn queued(&self) -> usize {
            lock(&self.shared.state).queue.len()
        }
    }

    /// Whether `f` becomes true within `limit`.
    fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + limit;
        while !f() {
            if Instant::now() > end {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Asserts that all of `threads` end within 5 s.
    fn assert_end(threads: Vec<JoinHandle<()>>) {
        assert!(!threads.is_empty());
        assert!(
            eventually(Duration::from_secs(5), || threads
                .iter()
                .all(JoinHandle::is_finished)),
            "threads still running"
        );
        threads.into_iter().for_each(|t| t.join().unwrap());
    }

    /// A waker that records that (and when) it was woken, and in which order
    /// among the wakers sharing `seq`.
    #[derive(Default)]
    struct Flag {
        woken: AtomicBool,
        at: Mutex<Option<(Instant, u64)>>,
        seq: Arc<AtomicU64>,
    }

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            let n = self.seq.fetch_add(1, Ordering::SeqCst);
            lock(&self.at).get_or_insert((Instant::now(), n));
            self.woken.store(true, Ordering::SeqCst);
        }
    }

    impl Flag {
        /// Whether it was woken since the last reset.
        fn woken(&self) -> bool {
            self.woken.load(Ordering::SeqCst)
        }

        /// Forgets the wakes so far.
        fn reset(&self) {
            self.woken.store(false, Ordering::SeqCst);
            *lock(&self.at) = None;
        }

        /// When the first wake since the last reset came, and its sequence number.
        fn at(&self) -> (Instant, u64) {
            lock(&self.at).unwrap()
        }
    }

    /// A connected pair: a ThreadStream and the plain socket of its peer.
    fn tcp_pair() -> (ThreadStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (ThreadStream::tcp(client).unwrap(), server)
    }

    /// Byte `i` of the large transfers (not periodic at any power of two).
    fn pattern(i: usize) -> u8 {
        (i % 251) as u8
    }

    /// What a task and hyper need of the types.
    #[test]
    fn types_are_send_and_unpin() {
        fn check<T: Send + Unpin + fmt::Debug>() {}
        fn sync<T: Send + Sync>() {}
        check::<ThreadStream>();
        check::<ThreadListener>();
        check::<ThreadTimer>();
        check::<Sleep>();
        sync::<Sleep>();
    }

    /// Echo between two ThreadStreams, the server on a [`spawn`] thread; the
    /// addresses; close: writes fail, reads see the peer's EOF.
    #[test]
    fn echo_over_thread_streams_on_both_ends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = ThreadStream::tcp(TcpStream::connect(addr).unwrap()).unwrap();
        let server = ThreadStream::tcp(listener.accept().unwrap().0).unwrap();
        assert_eq!(client.peer_addr(), Some(addr));
        assert_eq!(server.local_addr(), Some(addr));
        assert_eq!(server.peer_addr(), client.local_addr());

        let echo = spawn("echo", async move {
            let mut server = server;
            let mut buf = [0; 1000];
            loop {
                let n = server.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                server.write_all(&buf[..n]).await.unwrap();
                server.flush().await.unwrap();
            }
            server.close().await.unwrap();
            assert_end(server.into_threads());
        })
        .unwrap();

        let mut client = client;
        block_on(async {
            for message in [&b"hello"[..], &[7; 5000][..]] {
                client.write_all(message).await.unwrap();
                client.flush().await.unwrap();
                let mut back = vec![0; message.len()];
                client.read_exact(&mut back).await.unwrap();
                assert_eq!(back, message);
            }
            client.close().await.unwrap();
            // Closed: writes fail, reads go on to the peer's EOF (twice).
            assert!(client.write(b"x").await.is_err());
            assert_eq!(client.read(&mut [0; 10]).await.unwrap(), 0);
            assert_eq!(client.read(&mut [0; 10]).await.unwrap(), 0);
        });
        echo.join().unwrap();
        assert_end(client.into_threads());
    }

    #[cfg(unix)]
    /// A Unix socket against a plain one on a thread.
    #[test]
    fn echo_over_unix_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut a = ThreadStream::unix(a).unwrap();
        assert_eq!((a.local_addr(), a.peer_addr()), (None, None));
        let peer = thread::spawn(move || {
            let mut b = b;
            let mut buf = [0; 64];
            let n = b.read(&mut buf).unwrap();
            b.write_all(&buf[..n]).unwrap();
        });
        block_on(async {
            a.write_all(b"over unix").await.unwrap();
            a.flush().await.unwrap();
            let mut back = [0; 9];
            a.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"over unix");
        });
        peer.join().unwrap();
        assert_end(a.into_threads());
    }

    /// `poll_read` is pending, the waker fires when data comes; EOF for ever after;
    /// a read error is reported once, then EOF.
    #[test]
    fn read_is_pending_until_woken_then_ends_with_eof_or_an_error_once() {
        let (mut stream, mut peer) = tcp_pair();
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        let mut buf = [0; 16];
        assert!(
            Pin::new(&mut stream)
                .poll_read(&mut cx, &mut buf)
                .is_pending()
        );
        peer.write_all(b"ping").unwrap();
        assert!(eventually(Duration::from_secs(5), || flag.woken()));
        let read = Pin::new(&mut stream).poll_read(&mut cx, &mut buf);
        assert!(matches!(read, Poll::Ready(Ok(4))), "{read:?}");
        assert_eq!(&buf[..4], b"ping");
        // The peer leaves: EOF, for ever after.
        drop(peer);
        block_on(async {
            assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
            assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
        });
        assert_end(stream.into_threads());

        // A peer that closes with bytes it did not read resets the connection:
        // the error once, then EOF.
        let (mut stream, peer) = tcp_pair();
        block_on(async {
            stream.write_all(b"never read").await.unwrap();
            stream.flush().await.unwrap();
        });
        thread::sleep(Duration::from_millis(20));
        drop(peer);
        block_on(async {
            let error = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
            assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
        });
        assert_end(stream.into_threads());
    }

    /// 8 MiB (plain and vectored writes) to a peer reading slowly: the pending
    /// bytes never exceed [`WRITE_LIMIT`], and the data arrives intact.
    #[test]
    fn large_write_to_a_slow_reader_keeps_its_bound() {
        const TOTAL: usize = 8 << 20;
        let (mut stream, mut peer) = tcp_pair();
        let reader = thread::spawn(move || {
            let mut buf = [0; 4096];
            let (mut got, mut reads) = (0, 0);
            while got < TOTAL {
                let n = peer.read(&mut buf).unwrap();
                assert_ne!(n, 0, "EOF after {got} bytes");
                assert!(
                    buf[..n]
                        .iter()
                        .enumerate()
                        .all(|(i, b)| *b == pattern(got + i))
                );
                got += n;
                reads += 1;
                if reads % 32 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            assert_eq!(peer.read(&mut buf).unwrap(), 0);
        });
        let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
        let mut most = 0;
        block_on(async {
            // Writes of odd sizes, half of them vectored in three slices.
            let (mut sent, mut size) = (0, 1);
            while sent < TOTAL {
                let end = (sent + size).min(TOTAL);
                let n = if size % 2 == 0 {
                    let third = (end - sent) / 3;
                    let (a, rest) = data[sent..end].split_at(third);
                    let (b, c) = rest.split_at(third);
                    let bufs = [IoSlice::new(a), IoSlice::new(b), IoSlice::new(c)];
                    poll_fn(|cx| Pin::new(&mut stream).poll_write_vectored(cx, &bufs)).await
                } else {
                    stream.write(&data[sent..end]).await
                };
                sent += n.unwrap();
                most = most.max(stream.unwritten());
                size = size * 7 % 100_003 + 1;
            }
            stream.close().await.unwrap();
            assert_eq!(stream.unwritten(), 0);
        });
        assert!(most <= WRITE_LIMIT, "{most} bytes held");
        assert!(
            most > WRITE_LIMIT / 2,
            "the bound was never reached ({most})"
        );
        reader.join().unwrap();
        assert_end(stream.into_threads());
    }

    /// A connection that does not read stops its peer (at most one chunk held,
    /// the peer's non-blocking writes stall); then 16 MiB arrive intact.
    #[test]
    fn large_read_holds_one_chunk_and_stops_the_peer() {
        // Twice the kernel's usual largest send buffer (4 MiB) plus receive
        // buffer, so that a peer writing it all means no back-pressure.
        const TOTAL: usize = 16 << 20;
        let (mut stream, mut peer) = tcp_pair();
        // The connection does not read: the peer can only fill the kernel's
        // buffers, the reader thread takes one chunk and waits.
        peer.set_nonblocking(true).unwrap();
        let mut sent = 0;
        let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
        let mut stalled_since = Instant::now();
        while stalled_since.elapsed() < Duration::from_millis(200) && sent < TOTAL {
            match peer.write(&data[sent..]) {
                Ok(n) => {
                    sent += n;
                    stalled_since = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(sent < TOTAL, "the peer wrote everything: no back-pressure");
        assert!(stream.buffered() <= READ_CHUNK);
        peer.set_nonblocking(false).unwrap();
        let writer = thread::spawn(move || {
            peer.write_all(&data[sent..]).unwrap();
        });
        let mut got = Vec::with_capacity(TOTAL);
        block_on(async {
            let mut buf = vec![0; 3000];
            while got.len() < TOTAL {
                assert!(stream.buffered() <= READ_CHUNK);
                let n = stream.read(&mut buf).await.unwrap();
                assert_ne!(n, 0);
                got.extend_from_slice(&buf[..n]);
            }
        });
        assert!(got.iter().enumerate().all(|(i, b)| *b == pattern(i)));
        writer.join().unwrap();
        assert_end(stream.into_threads());
    }

    /// Writes to `stream` (whose peer does not read) until the writer thread is
    /// stuck: `poll_write` pending (the buffer full) and `flag`'s waker, left
    /// registered, not woken for a while, and `poll_flush` pending. On another thread, bounded by a timeout,
    /// so a `poll_write` that blocked would fail the test rather than hang it.
    fn fill(mut stream: ThreadStream, flag: &Arc<Flag>) -> ThreadStream {
        let waker = Waker::from(Arc::clone(flag));
        let flag = Arc::clone(flag);
        let (done, result) = mpsc::channel();
        thread::spawn(move || {
            let mut cx = Context::from_waker(&waker);
            let chunk = [1; 10_000];
            let started = Instant::now();
            loop {
                assert!(started.elapsed() < Duration::from_secs(20));
                flag.reset();
                match Pin::new(&mut stream).poll_write(&mut cx, &chunk) {
                    Poll::Ready(n) => assert!(n.unwrap() > 0),
                    // The kernel's buffers may still grow: stuck once quiet
                    // (and a flush pending too).
                    Poll::Pending => {
                        if !eventually(Duration::from_millis(100), || flag.woken())
                            && Pin::new(&mut stream).poll_flush(&mut cx).is_pending()
                        {
                            break;
                        }
                    }
                }
            }
            done.send(stream).unwrap();
        });
        result
            .recv_timeout(Duration::from_secs(30))
            .expect("poll_write blocked")
    }

    /// A peer that does not read: `poll_write` and `poll_flush` go pending (the
    /// caller never blocks); the waker fires once the peer reads.
    #[test]
    fn write_to_a_peer_that_does_not_read_is_pending_until_it_reads() {
        let (stream, mut peer) = tcp_pair();
        let flag = Arc::new(Flag::default());
        let mut stream = fill(stream, &flag);
        // The peer reads: the writer thread makes room and wakes the task.
        let reader = thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            while peer.read(&mut buf).unwrap() > 0 {}
        });
        assert!(eventually(Duration::from_secs(5), || flag.woken()));
        block_on(async {
            stream.write_all(&[2; 100_000]).await.unwrap();
            stream.close().await.unwrap();
        });
        reader.join().unwrap();
        assert_end(stream.into_threads());
    }

    /// Dropping a stream ends both threads: idle, with the writer blocked in a
    /// write, with the reader waiting for its chunk to be taken.
    #[test]
    fn drop_ends_the_threads_even_with_a_write_blocked() {
        // Idle: the reader thread blocked in read, the writer waiting for bytes.
        let (stream, _peer) = tcp_pair();
        assert_end(stream.into_threads());
        // The writer thread blocked in a write to a peer that does not read.
        let (stream, _peer) = tcp_pair();
        let stream = fill(stream, &Arc::new(Flag::default()));
        assert_end(stream.into_threads());
        // Data not yet taken: the reader thread waits for it to be taken.
        let (stream, mut peer) = tcp_pair();
        peer.write_all(b"unread").unwrap();
        assert!(eventually(Duration::from_secs(5), || stream.buffered() == 6));
        assert_end(stream.into_threads());
    }

    /// A failed write is reported by a later `poll_write` or `poll_flush`, and
    /// writes fail from then on.
    #[test]
    fn write_error_is_reported_on_the_next_write_or_flush() {
        let (mut stream, peer) = tcp_pair();
        // The peer leaves; the kernel resets the connection on the writes that follow.
        drop(peer);
        let error = block_on(async {
            loop {
                let write = stream.write(&[0; 1000]).await;
                let flush = stream.flush().await;
                if let Err(e) = write.and(flush) {
                    break e;
                }
            }
        });
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{error}"
        );
        // Reported once; later writes fail too.
        assert!(block_on(stream.write(b"x")).is_err());
        assert_end(stream.into_threads());
    }

    /// Sleeps fire in deadline order, never early, and complete again when polled
    /// again.
    #[test]
    fn sleeps_fire_in_deadline_order() {
        let timer = ThreadTimer;
        let base = Instant::now() + Duration::from_millis(30);
        let offsets = [60, 20, 40].map(Duration::from_millis);
        let mut sleeps = offsets.map(|d| timer.sleep_until(base + d));
        let seq = Arc::new(AtomicU64::new(0));
        let flags: Vec<_> = (0..3)
            .map(|_| {
                Arc::new(Flag {
                    seq: Arc::clone(&seq),
                    ..Flag::default()
                })
            })
            .collect();
        for (sleep, flag) in sleeps.iter_mut().zip(&flags) {
            let waker = Waker::from(Arc::clone(flag));
            assert!(
                Pin::new(sleep)
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        assert!(eventually(Duration::from_secs(5), || flags
            .iter()
            .all(|f| f.woken())));
        let fired: Vec<_> = flags.iter().map(|f| f.at()).collect();
        for ((at, _), offset) in fired.iter().zip(offsets) {
            assert!(*at >= base + offset, "fired early");
        }
        // Fired in deadline order: 20 ms (sleep 1), 40 ms (2), 60 ms (0).
        let mut order = [0, 1, 2];
        order.sort_by_key(|&i| fired[i].1);
        assert_eq!(order, [1, 2, 0]);
        // Complete, and complete again.
        let waker = Waker::noop();
        for sleep in &mut sleeps {
            assert!(
                Pin::new(&mut *sleep)
                    .poll(&mut Context::from_waker(waker))
                    .is_ready()
            );
            assert!(
                Pin::new(sleep)
                    .poll(&mut Context::from_waker(waker))
                    .is_ready()
            );
        }
    }

    /// `reset` earlier or later keeps the registered waker; a completed sleep reset
    /// to the future is pending again.
    #[test]
    fn reset_moves_a_sleep_with_its_waker() {
        let timer = ThreadTimer;
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);

        // Earlier: woken at the new deadline without another poll.
        let mut sleep = timer.sleep(Duration::from_secs(3600));
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
        let deadline = Instant::now() + Duration::from_millis(20);
        timer.reset(&mut sleep, deadline);
        assert!(eventually(Duration::from_secs(5), || flag.woken()));
        assert!(flag.at().0 >= deadline);
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_ready());
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_ready());

        // A completed sleep moved to the future is pending again.
        flag.reset();
        let deadline = Instant::now() + Duration::from_millis(30);
        timer.reset(&mut sleep, deadline);
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
        assert!(eventually(Duration::from_secs(5), || flag.woken()));
        assert!(flag.at().0 >= deadline);
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_ready());

        // Later: not woken at the old deadline.
        flag.reset();
        let mut sleep = timer.sleep(Duration::from_millis(10));
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
        let deadline = Instant::now() + Duration::from_millis(80);
        timer.reset(&mut sleep, deadline);
        assert!(eventually(Duration::from_secs(5), || flag.woken()));
        assert!(flag.at().0 >= deadline);
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_ready());
    }

    /// A sleep is registered on its first pending poll and removed when dropped.
    #[test]
    fn dropped_sleep_leaves_the_timer() {
        let timer = ThreadTimer;
        let registered = |key| lock(&timers().entries).contains_key(&key);
        let mut sleep = timer.sleep(Duration::from_secs(3600));
        let key = sleep.key();
        assert!(!registered(key), "registered before polled");
        assert!(
            Pin::new(&mut sleep)
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        assert!(registered(key));
        drop(sleep);
        assert!(!registered(key));
    }

    /// Accepts one connection.
    fn accept(listener: &ThreadListener) -> Accepted {
        block_on(poll_fn(|cx| listener.poll_accept(cx))).unwrap()
    }

    /// The accept queue stays at [`ACCEPT_QUEUE`]; every client is accepted with
    /// its addresses; an accepted stream works; the drop ends the accept thread.
    #[test]
    fn listener_accepts_with_a_bounded_queue_and_stops() {
        let listener = ThreadListener::tcp(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // More clients than the queue holds: the rest wait in the kernel's backlog.
        let clients: Vec<_> = (0..ACCEPT_QUEUE + 4)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        assert!(eventually(Duration::from_secs(5), || listener.queued() == ACCEPT_QUEUE));
        thread::sleep(Duration::from_millis(50));
        assert_eq!(listener.queued(), ACCEPT_QUEUE);
        let mut expected: Vec<_> = clients.iter().map(|c| c.local_addr().ok()).collect();
        let mut streams = Vec::new();
        let mut remotes = Vec::new();
        for _ in &clients {
            let (stream, local, remote) = accept(&listener);
            assert_eq!(local, Some(addr));
            assert_eq!(stream.peer_addr(), remote);
            remotes.push(remote);
            streams.push(stream);
        }
        remotes.sort();
        expected.sort();
        assert_eq!(remotes, expected);
        // An accepted stream works.
        let mut client = clients.into_iter().next().unwrap();
        let mine = streams
            .iter()
            .position(|s| s.peer_addr() == client.local_addr().ok());
        let mut stream = streams.swap_remove(mine.unwrap());
        client.write_all(b"hi").unwrap();
        block_on(async {
            let mut buf = [0; 2];
            stream.read_exact(&mut buf).await.unwrap();
            stream.write_all(&buf).await.unwrap();
            stream.flush().await.unwrap();
        });
        let mut buf = [0; 2];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        // Dropped while blocked in accept.
        assert_end(vec![listener.into_thread()]);
        assert_end(stream.into_threads());
    }

    /// The drop ends the accept thread for a listener on 0.0.0.0 and for one whose
    /// queue is full, and the listener is closed.
    #[test]
    fn listener_stops_when_dropped_unspecified_or_full() {
        // Bound to 0.0.0.0: the wake-up goes to 127.0.0.1.
        let listener = ThreadListener::tcp(TcpListener::bind("0.0.0.0:0").unwrap()).unwrap();
        thread::sleep(Duration::from_millis(20));
        assert_end(vec![listener.into_thread()]);
        // Dropped with the queue full (the thread waiting for room).
        let listener = ThreadListener::tcp(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let _clients: Vec<_> = (0..ACCEPT_QUEUE)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        assert!(eventually(Duration::from_secs(5), || listener.queued() == ACCEPT_QUEUE));
        assert_end(vec![listener.into_thread()]);
        // The listener is closed with the thread.
        assert!(eventually(Duration::from_secs(5), || TcpStream::connect(
            addr
        )
        .is_err()));
    }

    #[cfg(unix)]
    /// A Unix listener: accept (no addresses), data, drop.
    #[test]
    fn unix_listener_accepts_and_stops() {
        let path =
            std::env::temp_dir().join(format!("ferrosocket-threads-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = ThreadListener::unix(UnixListener::bind(&path).unwrap()).unwrap();
        assert_eq!(listener.local_addr(), None);
        let mut client = UnixStream::connect(&path).unwrap();
        let (mut stream, local, remote) = accept(&listener);
        assert_eq!((local, remote), (None, None));
        client.write_all(b"unix").unwrap();
        block_on(async {
            let mut buf = [0; 4];
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"unix");
        });
        assert_end(vec![listener.into_thread()]);
        assert_end(stream.into_threads());
        std::fs::remove_file(&path).unwrap();
    }

    /// The WebSocket engine over a ThreadStream (through the engine's
    /// `FuturesIo`), server and client each on a [`spawn`] thread (so on
    /// [`TASK_STACK`]), with permessage-deflate and the [`ThreadTimer`].
    #[test]
    fn websocket_engine_runs_on_task_threads() {
        use ferrosocket_io::{ClientOptions, FuturesIo, Message, StreamConfig};
        use ferrosocket_proto::handshake::{Accept, Request};

        // permessage-deflate (the deepest frames) comes with the `deflate` feature.
        let deflate = cfg!(feature = "deflate");
        let config = || {
            let config = StreamConfig::new();
            #[cfg(feature = "deflate")]
            let config = config.compression(Some(ferrosocket_proto::deflate::DeflateConfig::new()));
            config
        };
        let listener = ThreadListener::tcp(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let url = format!("ws://{}/echo", listener.local_addr().unwrap());
        let client =
            ThreadStream::tcp(TcpStream::connect(listener.local_addr().unwrap()).unwrap()).unwrap();
        let (socket, _, _) = accept(&listener);

        let server = spawn("ws-server", async move {
            let accept = async |_: &Request| Accept::new();
            let mut ws =
                ferrosocket_io::accept(FuturesIo(socket), config(), accept, Some(ThreadTimer))
                    .await
                    .unwrap();
            while let Some(message) = ws.recv().await {
                let message = message.unwrap();
                if message.is_data() {
                    ws.send(message).await.unwrap();
                }
            }
        })
        .unwrap();
        let (done, result) = mpsc::channel();
        spawn("ws-client", async move {
            let mut options = ClientOptions::default();
            options.config = config();
            let (mut ws, response) =
                ferrosocket_io::client(&url, FuturesIo(client), options, Some(ThreadTimer))
                    .await
                    .unwrap();
            assert_eq!(response.status, 101);
            let extensions = response.headers.get_str("sec-websocket-extensions");
            assert_eq!(
                extensions.is_some_and(|e| e.contains("permessage-deflate")),
                deflate
            );
            let big: Vec<u8> = (0..1 << 20).map(pattern).collect();
            for message in [Message::text("hello"), Message::binary(big)] {
                ws.send(message.clone()).await.unwrap();
                assert_eq!(ws.recv().await.unwrap().unwrap(), message);
            }
            ws.close(None).await.unwrap();
            done.send(()).unwrap();
        })
        .unwrap();
        result
            .recv_timeout(Duration::from_secs(60))
            .expect("client failed");
        server.join().unwrap();
    }

    /// hyper's HTTP/1 server over a ThreadStream on a [`spawn`] thread (so on
    /// [`TASK_STACK`]), through the app layer's adapter to hyper's I/O traits.
    #[test]
    fn hyper_serves_on_a_task_thread() {
        use crate::rt::{Socket, Threads};
        use bytes::Bytes;
        use http_body_util::Full;
        use hyper::body::Incoming;
        use std::convert::Infallible;

        let (stream, mut client) = tcp_pair();
        let server = spawn("http", async move {
            let service =
                hyper::service::service_fn(|request: http::Request<Incoming>| async move {
                    let body = format!("hello {} from a thread", request.uri().path());
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(body))))
                });
            hyper::server::conn::http1::Builder::new()
                .serve_connection(Socket::<Threads>::into_hyper(stream), service)
                .await
                .unwrap();
        })
        .unwrap();
        client
            .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("hello /a from a thread"), "{answer}");
        assert!(answer.ends_with("hello /b from a thread"), "{answer}");
        server.join().unwrap();
    }
}
