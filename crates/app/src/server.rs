//! The [`Server`] on tokio: routes, the plain-HTTP fallback, listening, graceful
//! shutdown.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use ferrosocket_io::Decision;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{CloseCode, Reject, Request, StreamConfig};

use super::http::{BodyLength, head_end, parse_head};
use super::{
    Context, Handler, Handshake, HandshakeResponse, Heartbeat, HttpRequest, HttpResponse, Manager,
    Pattern,
};

type Factory = Box<dyn Fn() -> Box<dyn Handler> + Send + Sync>;
type Fallback = Box<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>;

struct Route {
    pattern: Pattern,
    factory: Factory,
}

/// Builds a [`Server`]: routes, fallback, settings. From [`Server::builder`].
pub struct ServerBuilder {
    routes: Vec<Route>,
    fallback: Option<Fallback>,
    config: StreamConfig,
    heartbeat: Option<Heartbeat>,
    manager: Option<Manager>,
    max_head: usize,
    max_body: usize,
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<&str> = self.routes.iter().map(|r| r.pattern.as_str()).collect();
        f.debug_struct("ServerBuilder")
            .field("routes", &routes)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// Adds a WebSocket route: requests whose path matches `pattern` (see
    /// [`Pattern`]: `/ws/<name>/<id:int>`) get a new handler from `factory`; its
    /// captures reach [`Handler::on_connect`]. The first matching route wins.
    ///
    /// # Panics
    ///
    /// If `pattern` does not parse ([`Pattern::parse`]): routes are fixed in the
    /// code, so a typo should fail at once. Use [`try_route`](Self::try_route)
    /// for patterns from elsewhere.
    #[must_use]
    pub fn route<H, F>(self, pattern: &str, factory: F) -> Self
    where
        H: Handler,
        F: Fn() -> H + Send + Sync + 'static,
    {
        match self.try_route(pattern, factory) {
            Ok(builder) => builder,
            Err(e) => panic!("{e}"),
        }
    }

    /// As [`route`](Self::route), for a pattern that may be invalid.
    ///
    /// # Errors
    ///
    /// The [`PatternError`](super::PatternError).
    pub fn try_route<H, F>(mut self, pattern: &str, factory: F) -> Result<Self, super::PatternError>
    where
        H: Handler,
        F: Fn() -> H + Send + Sync + 'static,
    {
        let pattern = Pattern::parse(pattern)?;
        self.routes.push(Route {
            pattern,
            factory: Box::new(move || Box::new(factory())),
        });
        Ok(self)
    }

    /// Answers requests that are not WebSocket upgrades (default: 404 for all).
    /// The answer is sent with `Connection: close`.
    #[must_use]
    pub fn fallback<F>(mut self, fallback: F) -> Self
    where
        F: Fn(&HttpRequest) -> HttpResponse + Send + Sync + 'static,
    {
        self.fallback = Some(Box::new(fallback));
        self
    }

    /// The WebSocket settings of every connection (limits, timeouts,
    /// compression). [`StreamConfig::handshake_timeout`] also bounds reading a
    /// plain HTTP request.
    #[must_use]
    pub fn config(mut self, config: StreamConfig) -> Self {
        self.config = config;
        self
    }

    /// Turns on keep-alive pings (off by default).
    #[must_use]
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Uses `manager` (e.g. one shared with other servers, or with a queue size
    /// and [`QueueFull`](super::QueueFull) policy of your choice) instead of a new
    /// default one.
    #[must_use]
    pub fn manager(mut self, manager: Manager) -> Self {
        self.manager = Some(manager);
        self
    }

    /// The largest request head accepted, in bytes (default 16 KiB; larger gets
    /// 431).
    #[must_use]
    pub fn max_request_head(mut self, bytes: usize) -> Self {
        self.max_head = bytes.max(64);
        self
    }

    /// The largest plain-HTTP request body accepted, in bytes (default 1 MiB;
    /// larger gets 413 before any of it is read). Bodies come with
    /// `Content-Length`; `Transfer-Encoding` (chunked) gets 501.
    #[must_use]
    pub fn max_request_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        let (shutdown, _) = watch::channel(false);
        Server {
            inner: Arc::new(Inner {
                routes: self.routes,
                fallback: self.fallback,
                config: self.config,
                heartbeat: self.heartbeat,
                manager: self.manager.unwrap_or_default(),
                max_head: self.max_head,
                max_body: self.max_body,
                stopping: AtomicBool::new(false),
                shutdown,
            }),
        }
    }
}

/// A WebSocket server with routes and a plain-HTTP fallback, on tokio.
///
/// Build it with [`Server::builder`], run it with [`serve`](Self::serve) on a
/// listener (or [`serve_unix`](Self::serve_unix), or
/// [`serve_connection`](Self::serve_connection) for one socket of your own), stop
/// it with [`shutdown`](Self::shutdown). Cloning gives another handle to the same
/// server. See [`Handler`] for an example.
///
/// Each connection: the request head is read (bounded by
/// [`max_request_head`](ServerBuilder::max_request_head) and the handshake
/// timeout); a request that is not a WebSocket upgrade goes, with its body
/// (bounded by [`max_request_body`](ServerBuilder::max_request_body)), to the
/// [`fallback`](ServerBuilder::fallback), and the connection is kept for the
/// next request unless either side says `Connection: close`; an upgrade goes to the first route
/// whose pattern matches its path (none: 404), whose handler's
/// [`on_handshake`](Handler::on_handshake) accepts or refuses it.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    routes: Vec<Route>,
    fallback: Option<Fallback>,
    config: StreamConfig,
    heartbeat: Option<Heartbeat>,
    manager: Manager,
    max_head: usize,
    max_body: usize,
    stopping: AtomicBool,
    shutdown: watch::Sender<bool>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<&str> = self
            .inner
            .routes
            .iter()
            .map(|r| r.pattern.as_str())
            .collect();
        f.debug_struct("Server")
            .field("routes", &routes)
            .field("manager", &self.inner.manager)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A builder with no route, the 404 fallback, default settings.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            routes: Vec::new(),
            fallback: None,
            config: StreamConfig::default(),
            heartbeat: None,
            manager: None,
            max_head: 16 * 1024,
            max_body: 1 << 20,
        }
    }

    /// The manager of this server's live WebSocket connections.
    pub fn manager(&self) -> &Manager {
        &self.inner.manager
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }

    /// Stops the server: every [`serve`](Self::serve) stops accepting, closes
    /// every WebSocket with 1001 (going away), waits for the connections to end
    /// (bounded by the close timeout) and returns. Connections still in their
    /// handshake are closed with 1001 as soon as they open.
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.shutdown.send_replace(true);
    }

    /// Accepts TCP connections on `listener` until [`shutdown`](Self::shutdown),
    /// each on its own task (`TCP_NODELAY` on).
    ///
    /// # Errors
    ///
    /// None so far: accept errors (e.g. out of file descriptors) are retried
    /// after a short pause.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        self.serve_with(listener).await
    }

    /// Accepts connections on a Unix socket until [`shutdown`](Self::shutdown).
    ///
    /// # Errors
    ///
    /// As [`serve`](Self::serve).
    #[cfg(unix)]
    pub async fn serve_unix(&self, listener: tokio::net::UnixListener) -> io::Result<()> {
        self.serve_with(listener).await
    }

    /// Accepts TCP connections on `listener` and serves them over TLS with
    /// `acceptor` (feature `tls`) until [`shutdown`](Self::shutdown): `wss://` and
    /// `https://` beside each other, [`Context::is_secure`] true. The TLS handshake
    /// runs on the connection's task, bounded by the handshake timeout.
    ///
    /// # Errors
    ///
    /// As [`serve`](Self::serve).
    #[cfg(feature = "tls")]
    pub async fn serve_tls(
        &self,
        listener: TcpListener,
        acceptor: ferrosocket_tokio::tokio_rustls::TlsAcceptor,
    ) -> io::Result<()> {
        self.serve_with(TlsListener { listener, acceptor }).await
    }

    async fn serve_with<L: Listener>(&self, listener: L) -> io::Result<()> {
        let mut tasks = JoinSet::new();
        let mut stop = self.inner.shutdown.subscribe();
        loop {
            if *stop.borrow_and_update() {
                break;
            }
            tokio::select! {
                biased;
                _ = stop.changed() => continue,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = std::future::poll_fn(|cx| listener.poll_accept(cx)) => match accepted {
                    Ok((socket, local, remote)) => {
                        let server = self.clone();
                        let start = listener.start(socket);
                        tasks.spawn(async move {
                            let limit = server.inner.config.protocol.handshake_timeout;
                            let started = match limit {
                                Some(limit) => tokio::time::timeout(limit, start)
                                    .await
                                    .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
                                None => start.await,
                            };
                            if let Ok(stream) = started {
                                server.serve_stream(stream, local, remote, L::SECURE).await;
                            }
                        });
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                },
            }
        }
        self.inner
            .manager
            .close_all(CloseCode::GOING_AWAY, "server shutting down");
        let grace = self
            .inner
            .config
            .protocol
            .close_timeout
            .unwrap_or(Duration::from_secs(5))
            + Duration::from_secs(1);
        let _ =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.shutdown().await;
        Ok(())
    }

    /// Serves one connection already accepted (any socket: TCP, Unix, TLS...):
    /// plain HTTP or WebSocket, to its end. `local` and `remote` are what
    /// [`Context::local_addr`] and [`Context::remote_addr`] report.
    pub async fn serve_connection<S>(
        &self,
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_stream(socket, local, remote, false).await;
    }

    /// As [`serve_connection`](Self::serve_connection), for a socket that is
    /// encrypted (TLS) or not: what [`Context::is_secure`] reports.
    pub async fn serve_connection_secure<S>(
        &self,
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_stream(socket, local, remote, true).await;
    }

    async fn serve_stream<S>(
        &self,
        mut socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        secure: bool,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let inner = &self.inner;
        let mut stop = inner.shutdown.subscribe();
        // Bytes read past the previous request's head (a pipelined request).
        let mut pending = BytesMut::new();
        let mut first = true;
        let (buf, request) = loop {
            // The first head within the handshake timeout; a kept connection's
            // next one within that or KEEP_ALIVE_IDLE, and not past shutdown.
            let limit = match (first, inner.config.protocol.handshake_timeout) {
                (true, limit) => limit,
                (false, limit) => Some(limit.unwrap_or(KEEP_ALIVE_IDLE)),
            };
            let head = within(limit, read_head(&mut socket, pending, inner.max_head));
            let head = if first {
                head.await
            } else {
                tokio::select! {
                    head = head => head,
                    _ = stop.wait_for(|stopping| *stopping) => Err(HeadError::Gone),
                }
            };
            first = false;
            let (mut buf, end) = match head {
                Ok(head) => head,
                Err(HeadError::TooLarge) => {
                    return answer(socket, HttpResponse::new(431), false).await;
                }
                Err(HeadError::Gone) => return,
            };
            let Ok(mut request) = parse_head(&buf[..end]) else {
                let bad = HttpResponse::new(400).body("bad request\n");
                return answer(socket, bad, false).await;
            };
            if request.is_upgrade() {
                break (buf, request);
            }
            pending = buf.split_off(end);
            // The body, checked against the limit before any of it is read.
            let body_len = match request.body_length() {
                BodyLength::Known(len) if len <= inner.max_body => len,
                BodyLength::Known(_) => {
                    return answer(socket, HttpResponse::new(413), false).await;
                }
                BodyLength::Invalid => {
                    let bad = HttpResponse::new(400).body("bad Content-Length\n");
                    return answer(socket, bad, false).await;
                }
                BodyLength::Chunked => return answer(socket, HttpResponse::new(501), false).await,
            };
            if body_len > 0 {
                match within(limit, read_body(&mut socket, &mut pending, body_len)).await {
                    Ok(body) => request.set_body(body),
                    Err(_) => return,
                }
            }
            let response = match &inner.fallback {
                Some(fallback) => fallback(&request),
                None => HttpResponse::not_found(),
            };
            let head_only = request.method() == "HEAD";
            let keep = request.wants_keep_alive() && !self.is_shutting_down();
            let wire = response.to_bytes(head_only, keep);
            if !keep {
                return answer_wire(socket, &wire).await;
            }
            if socket.write_all(&wire).await.is_err() {
                return;
            }
        };
        let Some((route, captures)) = inner
            .routes
            .iter()
            .find_map(|r| r.pattern.matches(request.path()).map(|c| (r, c)))
        else {
            return answer(socket, HttpResponse::not_found(), false).await;
        };
        let mut handler = (route.factory)();
        let io = Prefixed {
            prefix: buf,
            io: socket,
        };
        let accepted = ferrosocket_tokio::accept_with_config(
            io,
            inner.config.clone(),
            async |request: &Request| {
                let mut response = HandshakeResponse::default();
                match handler.on_handshake(request, &mut response) {
                    Handshake::Accept => Decision::Accept(response.to_accept()),
                    Handshake::Reject(status, body) => {
                        let mut reject = Reject::new(status).body(body);
                        for (name, value) in response.headers {
                            reject = reject.header(name, value);
                        }
                        Decision::Reject(reject)
                    }
                }
            },
        )
        .await;
        let Ok(ws) = accepted else { return };
        let registration = inner.manager.register();
        if self.is_shutting_down() {
            inner.manager.close(
                registration.id,
                CloseCode::GOING_AWAY,
                "server shutting down",
            );
        }
        let request = ws.request().cloned().map(Box::new);
        let path = request
            .as_ref()
            .map_or_else(String::new, |r| r.path().to_owned());
        let mut ctx = Context::new(registration.id, registration.manager().clone(), path);
        ctx.request = request;
        ctx.captures = captures;
        ctx.local_addr = local;
        ctx.remote_addr = remote;
        ctx.secure = secure;
        super::driver::run(ws, &mut *handler, ctx, registration, inner.heartbeat).await;
    }
}

/// A listening socket the server can accept on.
trait Listener: Send {
    /// What `accept` gives.
    type Socket: Send + 'static;
    /// What is served: the socket, or TLS over it.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Whether `Stream` is encrypted.
    const SECURE: bool;
    fn poll_accept(&self, cx: &mut TaskContext<'_>) -> Poll<io::Result<Accepted<Self::Socket>>>;
    /// Turns an accepted socket into the stream to serve (the TLS handshake), on
    /// the connection's task.
    fn start(
        &self,
        socket: Self::Socket,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static;
}

/// A socket and its local and remote addresses.
type Accepted<S> = (S, Option<SocketAddr>, Option<SocketAddr>);

fn accept_tcp(
    listener: &TcpListener,
    cx: &mut TaskContext<'_>,
) -> Poll<io::Result<Accepted<tokio::net::TcpStream>>> {
    listener.poll_accept(cx).map_ok(|(tcp, remote)| {
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().ok();
        (tcp, local, Some(remote))
    })
}

impl Listener for TcpListener {
    type Socket = tokio::net::TcpStream;
    type Stream = tokio::net::TcpStream;
    const SECURE: bool = false;
    fn poll_accept(&self, cx: &mut TaskContext<'_>) -> Poll<io::Result<Accepted<Self::Socket>>> {
        accept_tcp(self, cx)
    }
    fn start(
        &self,
        socket: Self::Socket,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static {
        std::future::ready(Ok(socket))
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    type Socket = tokio::net::UnixStream;
    type Stream = tokio::net::UnixStream;
    const SECURE: bool = false;
    fn poll_accept(&self, cx: &mut TaskContext<'_>) -> Poll<io::Result<Accepted<Self::Socket>>> {
        tokio::net::UnixListener::poll_accept(self, cx).map_ok(|(socket, _)| (socket, None, None))
    }
    fn start(
        &self,
        socket: Self::Socket,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static {
        std::future::ready(Ok(socket))
    }
}

/// TCP with TLS on top.
#[cfg(feature = "tls")]
struct TlsListener {
    listener: TcpListener,
    acceptor: ferrosocket_tokio::tokio_rustls::TlsAcceptor,
}

#[cfg(feature = "tls")]
impl Listener for TlsListener {
    type Socket = tokio::net::TcpStream;
    type Stream = ferrosocket_tokio::tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    const SECURE: bool = true;
    fn poll_accept(&self, cx: &mut TaskContext<'_>) -> Poll<io::Result<Accepted<Self::Socket>>> {
        accept_tcp(&self.listener, cx)
    }
    fn start(
        &self,
        socket: Self::Socket,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static {
        self.acceptor.accept(socket)
    }
}

/// Why no request head could be read.
enum HeadError {
    /// The head is larger than allowed.
    TooLarge,
    /// The peer left, the socket failed, or the time ran out.
    Gone,
}

/// Reads until the end of the request head, starting with `buf` (bytes already
/// read: what followed the previous request); returns everything read (the head
/// and what followed it) and where the head ends.
async fn read_head<S: AsyncRead + Unpin>(
    socket: &mut S,
    mut buf: BytesMut,
    max: usize,
) -> Result<(BytesMut, usize), HeadError> {
    let mut searched = 0;
    loop {
        let window = buf.len().min(max);
        if let Some(end) = head_end(&buf[..window], searched) {
            return Ok((buf, end));
        }
        searched = window;
        if buf.len() >= max {
            return Err(HeadError::TooLarge);
        }
        buf.reserve(1024.min(max - buf.len()).max(1));
        match socket.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Err(HeadError::Gone),
            Ok(_) => {}
        }
    }
}

/// `read` bounded by `limit` (none: unbounded); running out of time is
/// [`HeadError::Gone`].
async fn within<T>(
    limit: Option<Duration>,
    read: impl Future<Output = Result<T, HeadError>>,
) -> Result<T, HeadError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, read)
            .await
            .unwrap_or(Err(HeadError::Gone)),
        None => read.await,
    }
}

/// Reads a body of `len` bytes, the first of them already in `pending` (which
/// keeps what follows the body).
async fn read_body<S: AsyncRead + Unpin>(
    socket: &mut S,
    pending: &mut BytesMut,
    len: usize,
) -> Result<bytes::Bytes, HeadError> {
    while pending.len() < len {
        pending.reserve((len - pending.len()).min(64 * 1024));
        match socket.read_buf(pending).await {
            Ok(0) | Err(_) => return Err(HeadError::Gone),
            Ok(_) => {}
        }
    }
    Ok(pending.split_to(len).freeze())
}

/// How long a kept-alive plain HTTP connection may wait for its next request
/// when no handshake timeout is configured.
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(15);

/// Writes a plain HTTP answer (`Connection: close`) and closes.
async fn answer<S: AsyncWrite + Unpin>(socket: S, response: HttpResponse, head_only: bool) {
    answer_wire(socket, &response.to_bytes(head_only, false)).await;
}

/// Writes `wire` and closes.
async fn answer_wire<S: AsyncWrite + Unpin>(mut socket: S, wire: &[u8]) {
    let _ = socket.write_all(wire).await;
    let _ = socket.shutdown().await;
}

/// A socket whose first bytes were already read: they are read again first.
struct Prefixed<S> {
    prefix: BytesMut,
    io: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            if self.prefix.is_empty() {
                self.prefix = BytesMut::new();
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
