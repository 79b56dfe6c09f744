//! The runtimes the application layer runs on: [`Tokio`], [`Smol`] and
//! [`Threads`] (blocking sockets, a thread per connection). The server, the
//! client, the connection driver and the manager are written once over the small
//! [`Runtime`] trait (spawn, a timer, blocking file reads); a runtime is chosen by
//! the listener handed to [`Server::serve`](crate::Server::serve) or by the
//! client's `connect*` method, never by the handler code.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ferrosocket_io::poll::{AsyncTimer, PollIo};

/// A runtime: how the application layer spawns connection tasks, sleeps, and
/// reads files without blocking its tasks. Implemented by [`Tokio`] (feature
/// `tokio`), [`Smol`] (feature `smol`) and [`Threads`] (feature `blocking`); the
/// trait is sealed.
pub trait Runtime: Copy + Send + Sync + fmt::Debug + 'static + sealed::Sealed {
    /// The runtime's timer (the engine's heartbeat, handshake and close timers).
    type Timer: AsyncTimer<Sleep: Send + 'static> + Send + Sync + 'static;

    /// The timer.
    fn timer() -> Self::Timer;

    /// Runs `task` to its end in the background (a task; with [`Threads`], a
    /// thread). A panic inside it ends only that task, and is logged.
    fn spawn(task: impl Future<Output = ()> + Send + 'static);

    /// Runs `work` (blocking: a file read) where it does not hold up other
    /// connections, and gives its result.
    fn unblock<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = T> + Send;
}

/// A socket of runtime `R`, as hyper reads the requests on it and the engine runs
/// the WebSocket over it afterwards: every tokio `AsyncRead + AsyncWrite` socket
/// under [`Tokio`], every futures-io one under [`Smol`] and [`Threads`].
pub trait Socket<R: Runtime>: Send + Unpin + Sized + 'static {
    /// hyper's view of the socket.
    #[doc(hidden)]
    type Hyper: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static;
    /// The engine's view of the socket.
    #[doc(hidden)]
    type Engine: PollIo<Socket = Self> + Send + 'static;
    /// The socket for hyper.
    #[doc(hidden)]
    fn into_hyper(self) -> Self::Hyper;
    /// The socket back from hyper.
    #[doc(hidden)]
    fn from_hyper(io: Self::Hyper) -> Self;
}

/// A listening socket [`Server::serve`](crate::Server::serve) accepts on: tokio's
/// and smol's TCP and Unix listeners, and [`ThreadListener`] for [`Threads`].
/// Sealed.
pub trait Listener: Send + sealed::Sealed {
    /// The runtime that serves its connections.
    #[doc(hidden)]
    type Runtime: Runtime;
    /// What `accept` gives.
    #[doc(hidden)]
    type Raw: Send + 'static;
    /// What is served: the socket, or TLS over it.
    #[doc(hidden)]
    type Stream: Socket<Self::Runtime>;
    /// Whether `Stream` is encrypted.
    #[doc(hidden)]
    const SECURE: bool = false;
    /// The next connection, with its local and remote addresses.
    #[doc(hidden)]
    fn accept(&self) -> impl Future<Output = io::Result<Accepted<Self::Raw>>> + Send;
    /// Turns an accepted socket into the stream to serve (a TLS handshake), on
    /// the connection's task.
    #[doc(hidden)]
    fn start(
        &self,
        raw: Self::Raw,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static;
}

/// The `Listener` items of a listener whose sockets are served as they are.
macro_rules! served_as_accepted {
    ($stream:ty) => {
        type Raw = $stream;
        type Stream = $stream;
        fn start(
            &self,
            raw: Self::Raw,
        ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static {
            std::future::ready(Ok(raw))
        }
    };
}

/// A TCP stream's addresses, for a client's [`Context`](crate::Context).
pub(crate) trait Addresses {
    fn local(&self) -> Option<SocketAddr>;
    fn remote(&self) -> Option<SocketAddr>;
}

#[cfg(any(feature = "tokio", feature = "smol"))]
macro_rules! addresses {
    ($tcp:ty) => {
        impl Addresses for $tcp {
            fn local(&self) -> Option<SocketAddr> {
                self.local_addr().ok()
            }
            fn remote(&self) -> Option<SocketAddr> {
                self.peer_addr().ok()
            }
        }
    };
}

#[cfg(feature = "tokio")]
addresses!(tokio::net::TcpStream);
#[cfg(feature = "smol")]
addresses!(smol::net::TcpStream);

/// A socket and its local and remote addresses.
pub(crate) type Accepted<S> = (S, Option<SocketAddr>, Option<SocketAddr>);

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// hyper's timer over a runtime's [`AsyncTimer`] (for its header read timeout).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HyperTimer<T>(pub(crate) T);

/// A sleep of an [`AsyncTimer`] as hyper's `Sleep` (which must be `Sync`: the
/// mutex gives that without being locked, as only `&mut` reaches the sleep).
struct HyperSleep<S>(Mutex<S>);

impl<S: Future<Output = ()> + Unpin> Future for HyperSleep<S> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut().0.get_mut() {
            Ok(sleep) => Pin::new(sleep).poll(cx),
            Err(_) => Poll::Ready(()),
        }
    }
}

impl<S: Future<Output = ()> + Send + Unpin> hyper::rt::Sleep for HyperSleep<S> {}

impl<T> hyper::rt::Timer for HyperTimer<T>
where
    T: AsyncTimer<Sleep: Send + 'static> + Send + Sync,
{
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(Mutex::new(self.0.sleep(duration))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(Mutex::new(self.0.sleep_until(deadline))))
    }
}

/// Runs `fut` until `deadline`: `None` if the deadline came first.
pub(crate) async fn within<T: AsyncTimer, F: Future>(
    timer: &T,
    deadline: Instant,
    fut: F,
) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut sleep = timer.sleep_until(deadline);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if Pin::new(&mut sleep).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// A task whose panic is caught and logged: only its connection ends.
pub(crate) struct CatchPanic<F>(pub(crate) F);

impl<F: Future<Output = ()> + Unpin> Future for CatchPanic<F> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut this.0).poll(cx))) {
            Ok(done) => done,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "a connection's task panicked (in a handler callback?)");
                Poll::Ready(())
            }
        }
    }
}

/// `task` boxed, with its panic caught.
pub(crate) fn guarded(
    task: impl Future<Output = ()> + Send + 'static,
) -> CatchPanic<Pin<Box<dyn Future<Output = ()> + Send>>> {
    CatchPanic(Box::pin(task))
}

// ---------------------------------------------------------------- tokio

/// tokio (feature `tokio`): tasks on the current runtime, its timer,
/// `spawn_blocking` for files.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

#[cfg(feature = "tokio")]
impl sealed::Sealed for Tokio {}

#[cfg(feature = "tokio")]
impl Runtime for Tokio {
    type Timer = ferrosocket_tokio::TokioTimer;

    fn timer() -> Self::Timer {
        ferrosocket_tokio::TokioTimer
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(guarded(task));
    }

    async fn unblock<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        match tokio::task::spawn_blocking(work).await {
            Ok(done) => done,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

#[cfg(feature = "tokio")]
impl<S> Socket<Tokio> for S
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    type Hyper = hyper_util::rt::TokioIo<S>;
    type Engine = ferrosocket_io::TokioIo<S>;
    fn into_hyper(self) -> Self::Hyper {
        hyper_util::rt::TokioIo::new(self)
    }
    fn from_hyper(io: Self::Hyper) -> Self {
        io.into_inner()
    }
}

#[cfg(feature = "tokio")]
impl sealed::Sealed for tokio::net::TcpListener {}

#[cfg(feature = "tokio")]
impl Listener for tokio::net::TcpListener {
    type Runtime = Tokio;
    served_as_accepted!(tokio::net::TcpStream);
    async fn accept(&self) -> io::Result<Accepted<Self::Raw>> {
        let (tcp, remote) = tokio::net::TcpListener::accept(self).await?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().ok();
        Ok((tcp, local, Some(remote)))
    }
}

#[cfg(all(feature = "tokio", unix))]
impl sealed::Sealed for tokio::net::UnixListener {}

#[cfg(all(feature = "tokio", unix))]
impl Listener for tokio::net::UnixListener {
    type Runtime = Tokio;
    served_as_accepted!(tokio::net::UnixStream);
    async fn accept(&self) -> io::Result<Accepted<Self::Raw>> {
        let (socket, _) = tokio::net::UnixListener::accept(self).await?;
        Ok((socket, None, None))
    }
}

// ---------------------------------------------------------------- futures-io

/// hyper's view of a futures-io socket (smol's, the threaded runtime's).
#[cfg(any(feature = "smol", feature = "blocking"))]
#[derive(Debug)]
pub struct FuturesHyper<S>(S);

#[cfg(any(feature = "smol", feature = "blocking"))]
impl<S: futures_io::AsyncRead + Unpin> hyper::rt::Read for FuturesHyper<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // hyper reads into uninitialized memory, which safe code cannot hand to
        // a futures-io reader: the bytes go through a small initialized buffer.
        // Only request heads and plain bodies are read this way; a WebSocket
        // reads the socket itself once hyper has handed it over.
        let mut tmp = [0u8; 4096];
        let want = buf.remaining().min(tmp.len());
        match Pin::new(&mut self.get_mut().0).poll_read(cx, &mut tmp[..want]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&tmp[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(any(feature = "smol", feature = "blocking"))]
impl<S: futures_io::AsyncWrite + Unpin> hyper::rt::Write for FuturesHyper<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}

/// Implements `Socket<$rt>` for every futures-io socket.
#[cfg(any(feature = "smol", feature = "blocking"))]
macro_rules! futures_socket {
    ($rt:ty) => {
        impl<S> Socket<$rt> for S
        where
            S: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static,
        {
            type Hyper = FuturesHyper<S>;
            type Engine = ferrosocket_io::FuturesIo<S>;
            fn into_hyper(self) -> Self::Hyper {
                FuturesHyper(self)
            }
            fn from_hyper(io: Self::Hyper) -> Self {
                io.0
            }
        }
    };
}

// ---------------------------------------------------------------- smol

/// smol (feature `smol`): tasks on smol's global executor, its timer, its
/// blocking pool for files. async-std users: async-std's sockets are futures-io
/// sockets; serve them with [`Server::serve_connection_on`](crate::Server::serve_connection_on).
#[cfg(feature = "smol")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

#[cfg(feature = "smol")]
impl sealed::Sealed for Smol {}

#[cfg(feature = "smol")]
impl Runtime for Smol {
    type Timer = ferrosocket_futures::Timer;

    fn timer() -> Self::Timer {
        ferrosocket_futures::smol::TIMER
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(guarded(task)).detach();
    }

    fn unblock<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = T> + Send {
        smol::unblock(work)
    }
}

#[cfg(feature = "smol")]
futures_socket!(Smol);

#[cfg(feature = "smol")]
impl sealed::Sealed for smol::net::TcpListener {}

#[cfg(feature = "smol")]
impl Listener for smol::net::TcpListener {
    type Runtime = Smol;
    served_as_accepted!(smol::net::TcpStream);
    async fn accept(&self) -> io::Result<Accepted<Self::Raw>> {
        let (tcp, remote) = smol::net::TcpListener::accept(self).await?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().ok();
        Ok((tcp, local, Some(remote)))
    }
}

#[cfg(all(feature = "smol", unix))]
impl sealed::Sealed for smol::net::unix::UnixListener {}

#[cfg(all(feature = "smol", unix))]
impl Listener for smol::net::unix::UnixListener {
    type Runtime = Smol;
    served_as_accepted!(smol::net::unix::UnixStream);
    async fn accept(&self) -> io::Result<Accepted<Self::Raw>> {
        let (socket, _) = smol::net::unix::UnixListener::accept(self).await?;
        Ok((socket, None, None))
    }
}

// ---------------------------------------------------------------- threads

/// Threads (feature `blocking`): blocking sockets and no async runtime. Each
/// connection runs on a thread of its own, with a reader thread blocked in
/// `read` and a writer thread blocked in `write` under it, so the manager and
/// the timers can always reach it; a timer thread keeps every deadline.
#[cfg(feature = "blocking")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Threads;

#[cfg(feature = "blocking")]
impl sealed::Sealed for Threads {}

#[cfg(feature = "blocking")]
impl Runtime for Threads {
    type Timer = crate::threads::ThreadTimer;

    fn timer() -> Self::Timer {
        crate::threads::ThreadTimer
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        if let Err(e) = crate::threads::spawn("ferrosocket-conn", guarded(task)) {
            tracing::error!(error = %e, "cannot start a connection thread");
        }
    }

    async fn unblock<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        // The connection has its own thread: a file read may block it briefly.
        work()
    }
}

#[cfg(feature = "blocking")]
futures_socket!(Threads);

#[cfg(feature = "blocking")]
pub use crate::threads::{Sleep as ThreadSleep, ThreadListener, ThreadStream, ThreadTimer};

#[cfg(feature = "blocking")]
impl sealed::Sealed for ThreadListener {}

#[cfg(feature = "blocking")]
impl Listener for ThreadListener {
    type Runtime = Threads;
    served_as_accepted!(ThreadStream);
    async fn accept(&self) -> io::Result<Accepted<Self::Raw>> {
        poll_fn(|cx| ThreadListener::poll_accept(self, cx)).await
    }
}

/// The threaded runtime's sockets, as the engine's `connect` opens them for
/// [`Client::connect_blocking`](crate::Client::connect_blocking): `ws://` and
/// `ws+unix://` (TLS needs tokio or smol).
#[cfg(feature = "blocking")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThreadSockets;

#[cfg(feature = "blocking")]
impl ferrosocket_io::Sockets for ThreadSockets {
    type Tcp = ThreadStream;
    type Tls = ferrosocket_io::NoSocket;
    type Unix = ThreadStream;

    fn tls_tcp(tls: &ferrosocket_io::NoSocket) -> &ThreadStream {
        match *tls {}
    }
}

#[cfg(feature = "blocking")]
impl ferrosocket_io::Runtime for ThreadSockets {
    type Timer = crate::threads::ThreadTimer;
    type Io = ferrosocket_io::FuturesIo<ferrosocket_io::MaybeTlsStream<Self>>;

    fn timer() -> Option<Self::Timer> {
        Some(crate::threads::ThreadTimer)
    }

    // Blocking connects: this runs in `block_on` on the caller's thread.
    async fn connect_tcp(authority: &str) -> io::Result<ThreadStream> {
        ThreadStream::tcp(std::net::TcpStream::connect(authority)?)
    }

    #[cfg(unix)]
    async fn connect_unix(path: &str) -> io::Result<ThreadStream> {
        ThreadStream::unix(std::os::unix::net::UnixStream::connect(path)?)
    }

    #[cfg(not(unix))]
    async fn connect_unix(_: &str) -> io::Result<ThreadStream> {
        Err(io::ErrorKind::Unsupported.into())
    }

    async fn connect_tls(
        text: &str,
        _: &ferrosocket_proto::handshake::Url,
        _: &ferrosocket_io::ClientTls,
    ) -> Result<ferrosocket_io::NoSocket, crate::Error> {
        Err(crate::Error::InvalidUrl(format!(
            "{text}: the threaded client has no TLS; use Client::connect (tokio) or connect_smol"
        )))
    }
}

#[cfg(feature = "blocking")]
impl Addresses for ThreadStream {
    fn local(&self) -> Option<SocketAddr> {
        self.local_addr()
    }
    fn remote(&self) -> Option<SocketAddr> {
        self.peer_addr()
    }
}
