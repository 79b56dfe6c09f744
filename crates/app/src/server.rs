//! The [`Server`], on every [`Runtime`]: routes, the plain-HTTP fallback,
//! listening, graceful shutdown.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Mutex;

use bytes::Bytes;
use ferrosocket_io::WebSocketStream;
use ferrosocket_io::poll::{AsyncTimer, PollIo};
use ferrosocket_io::upgrade::Upgrade;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tracing::Instrument;

use crate::{CloseCode, Reject, Request, StreamConfig};

use super::context::Facts;
use super::plain::internal_error;
use super::rt::{HyperTimer, Listener, Runtime, Socket, within};
use super::{
    Context, Handler, Handshake, HandshakeRequest, HandshakeResponse, Heartbeat, HttpRequest,
    HttpResponse, Manager, Pattern,
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
    /// plain HTTP request. The default is [`StreamConfig::default`] with
    /// permessage-deflate in its low-memory form
    /// (`DeflateConfig::low_memory()`: no context takeover, idle contexts
    /// released; about 7 KiB per connection that has compressed, against about
    /// 340 KiB with context takeover); give a `StreamConfig` of your own for
    /// better ratios on long-lived, chatty connections.
    #[must_use]
    pub fn config(mut self, config: StreamConfig) -> Self {
        self.config = config;
        self
    }

    /// Adds the application's heartbeat: pings every `interval` whose
    /// round-trip times reach [`Handler::on_pong`], and a peer that answers none
    /// within `timeout` dropped (1006). Off by default; dead peers are dropped
    /// anyway by the engine's keepalive, which every connection has unless
    /// [`config`](Self::config) turns it off (`StreamConfig::keepalive`: a ping
    /// every 20 s, answered within 20 s, else 1011). Both count only a pong that
    /// answers one of their pings.
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

    /// The largest request head accepted, in bytes (default 16 KiB, at least
    /// 8 KiB, hyper's smallest buffer; larger gets 431).
    #[must_use]
    pub fn max_request_head(mut self, bytes: usize) -> Self {
        self.max_head = bytes.max(64);
        self
    }

    /// The largest plain-HTTP request body accepted, in bytes (default 1 MiB;
    /// larger gets 413, before any of it is read when `Content-Length` says so).
    /// Bodies come with `Content-Length` or chunked; hyper answers
    /// `Expect: 100-continue` when the body is read.
    #[must_use]
    pub fn max_request_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The server.
    pub fn build(self) -> Server {
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
                stop: event_listener::Event::new(),
            }),
        }
    }
}

/// A WebSocket server with routes and a plain-HTTP fallback, on any
/// [`Runtime`].
///
/// Build it with [`Server::builder`], run it with [`serve`](Self::serve) on a
/// listener (tokio's, smol's, or a [`ThreadListener`](crate::rt::ThreadListener)
/// for threads: the listener picks the runtime; [`serve_blocking`](Self::serve_blocking)
/// takes a `std::net::TcpListener`), or
/// [`serve_connection`](Self::serve_connection) for one socket of your own, or
/// mount it in another hyper or axum server ([`handle`](Self::handle), and with
/// the `axum` feature `Server::service` and the `axum::WebSocketUpgrade`
/// extractor), stop it with [`shutdown`](Self::shutdown). Cloning gives another handle to the same
/// server. See [`Handler`] for an example.
///
/// Each connection is served by [hyper](https://hyper.rs)'s HTTP/1 server: each
/// request head is read within the handshake timeout (15 s without one) and
/// [`max_request_head`](ServerBuilder::max_request_head); a request that is not
/// a WebSocket upgrade goes, with its body (chunked or not, bounded by
/// [`max_request_body`](ServerBuilder::max_request_body)), to the
/// [`fallback`](ServerBuilder::fallback), with keep-alive, pipelining, HTTP/1.0,
/// `Expect: 100-continue` as hyper does them; an upgrade (origin-form or
/// absolute-form target) goes to the first route whose pattern matches its path
/// (none: 404), whose handler's [`on_handshake`](Handler::on_handshake) accepts
/// or refuses it, and after the `101` the socket is handed back from hyper to
/// the WebSocket connection (the socket itself, not a boxed wrapper).
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
    /// Notified when `stopping` becomes true.
    stop: event_listener::Event,
}

impl Inner {
    /// How long reading a request head (and a plain request's body), or a
    /// handshake check, may take: the handshake timeout, or [`KEEP_ALIVE_IDLE`]
    /// without one (never unbounded).
    fn head_limit(&self) -> Duration {
        self.config
            .protocol
            .handshake_timeout
            .unwrap_or(KEEP_ALIVE_IDLE)
    }
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
            config: default_config(),
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
    /// handshake are closed with 1001 as soon as they open. Connections served
    /// through [`handle`](Self::handle) (another server's) are closed with 1001
    /// too, at once.
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.stop.notify(usize::MAX);
        self.inner
            .manager
            .close_all(CloseCode::GOING_AWAY, "server shutting down");
    }

    /// Accepts connections on `listener` until [`shutdown`](Self::shutdown), each
    /// on its own task (`TCP_NODELAY` on), on the listener's runtime: a
    /// `tokio::net::TcpListener` or `UnixListener` (feature `tokio`), a
    /// `smol::net::TcpListener` or `unix::UnixListener` (feature `smol`), a
    /// [`ThreadListener`](crate::rt::ThreadListener) (feature `blocking`; see
    /// [`serve_blocking`](Self::serve_blocking)).
    ///
    /// # Errors
    ///
    /// None so far: accept errors (e.g. out of file descriptors) are retried
    /// after a short pause.
    pub async fn serve<L: Listener>(&self, listener: L) -> io::Result<()> {
        self.serve_with(listener).await
    }

    /// Accepts connections on a Unix socket until [`shutdown`](Self::shutdown):
    /// the same as [`serve`](Self::serve).
    ///
    /// # Errors
    ///
    /// As [`serve`](Self::serve).
    #[cfg(unix)]
    pub async fn serve_unix<L: Listener>(&self, listener: L) -> io::Result<()> {
        self.serve_with(listener).await
    }

    /// Serves `listener` on threads (feature `blocking`), blocking the calling
    /// thread until [`shutdown`](Self::shutdown) (called from a handler or
    /// another thread): one thread per connection, with a reader and a writer
    /// thread under it (see [`Threads`](crate::rt::Threads)). No async runtime is
    /// involved; handlers are the same as on tokio or smol.
    ///
    /// # Errors
    ///
    /// Starting the accept thread failed.
    #[cfg(feature = "blocking")]
    pub fn serve_blocking(&self, listener: std::net::TcpListener) -> io::Result<()> {
        let listener = crate::rt::ThreadListener::tcp(listener)?;
        crate::threads::block_on(self.serve_with(listener))
    }

    /// Accepts TCP connections on `listener` and serves them over TLS with
    /// `acceptor` (features `tokio` and `tls`) until [`shutdown`](Self::shutdown):
    /// `wss://` and `https://` beside each other, [`Context::is_secure`] true.
    /// The TLS handshake runs on the connection's task, bounded by the handshake
    /// timeout.
    ///
    /// # Errors
    ///
    /// As [`serve`](Self::serve).
    #[cfg(all(feature = "tokio", feature = "tls"))]
    pub async fn serve_tls(
        &self,
        listener: tokio::net::TcpListener,
        acceptor: ferrosocket_tokio::tokio_rustls::TlsAcceptor,
    ) -> io::Result<()> {
        self.serve_with(TlsListener { listener, acceptor }).await
    }

    async fn serve_with<L: Listener>(&self, listener: L) -> io::Result<()> {
        let timer = <L::Runtime as Runtime>::timer();
        let live = Arc::new(Live::default());
        loop {
            // Listening before checking: a `shutdown` in between still wakes us.
            let stopping = self.inner.stop.listen();
            if self.is_shutting_down() {
                break;
            }
            let mut stopping = pin!(stopping);
            let mut accept = pin!(listener.accept());
            let accepted = std::future::poll_fn(|cx| {
                if stopping.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await;
            match accepted {
                None => break,
                Some(Ok((socket, local, remote))) => {
                    let server = self.clone();
                    let start = listener.start(socket);
                    let guard = live.enter();
                    <L::Runtime as Runtime>::spawn(async move {
                        let _guard = guard;
                        let timer = <L::Runtime as Runtime>::timer();
                        let started = match server.inner.config.protocol.handshake_timeout {
                            Some(limit) => within(&timer, timer.now() + limit, start)
                                .await
                                .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into())),
                            None => start.await,
                        };
                        if let Ok(stream) = started {
                            server
                                .serve_stream::<L::Runtime, _>(stream, local, remote, L::SECURE)
                                .await;
                        }
                    });
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "accept failed; retrying in 20 ms");
                    timer.sleep(Duration::from_millis(20)).await;
                }
            }
        }
        drop(listener);
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
        let _ = within(&timer, timer.now() + grace, live.ended()).await;
        Ok(())
    }

    /// Serves one tokio socket already accepted (any socket: TCP, Unix, TLS...):
    /// plain HTTP or WebSocket, to its end (feature `tokio`). `local` and `remote` are what
    /// [`Context::local_addr`] and [`Context::remote_addr`] report.
    #[cfg(feature = "tokio")]
    pub async fn serve_connection<S>(
        &self,
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
    ) where
        S: Socket<crate::rt::Tokio>,
    {
        self.serve_stream::<crate::rt::Tokio, _>(socket, local, remote, false)
            .await;
    }

    /// As [`serve_connection`](Self::serve_connection), for a socket that is
    /// encrypted (TLS) or not: what [`Context::is_secure`] reports.
    #[cfg(feature = "tokio")]
    pub async fn serve_connection_secure<S>(
        &self,
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
    ) where
        S: Socket<crate::rt::Tokio>,
    {
        self.serve_stream::<crate::rt::Tokio, _>(socket, local, remote, true)
            .await;
    }

    /// As [`serve_connection_secure`](Self::serve_connection_secure), on runtime
    /// `R`: e.g. `serve_connection_on::<Smol, _>` for a futures-io socket (smol's,
    /// async-std's, a TLS stream of futures-rustls).
    pub async fn serve_connection_on<R: Runtime, S: Socket<R>>(
        &self,
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        secure: bool,
    ) {
        self.serve_stream::<R, S>(socket, local, remote, secure)
            .await;
    }

    async fn serve_stream<R: Runtime, S: Socket<R>>(
        &self,
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        secure: bool,
    ) {
        self.serve_in_span::<R, S>(socket, local, remote, secure)
            .instrument(connection_span(remote, secure))
            .await;
    }

    async fn serve_in_span<R: Runtime, S: Socket<R>>(
        &self,
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        secure: bool,
    ) {
        let inner = &self.inner;
        let facts = Facts {
            local,
            remote,
            secure,
        };
        // What the request handler leaves for after hyper hands the socket back.
        let upgraded: Arc<Mutex<Option<Upgrading>>> = Arc::default();
        let service = {
            let server = self.clone();
            let upgraded = upgraded.clone();
            service_fn(move |request: hyper::Request<Incoming>| {
                let server = server.clone();
                let upgraded = upgraded.clone();
                async move {
                    let (response, upgrading) = server.answer::<R, _>(request, facts).await;
                    if let Some(upgrading) = upgrading
                        && let Ok(mut slot) = upgraded.lock()
                    {
                        *slot = Some(upgrading);
                    }
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let mut http = http1::Builder::new();
        http.timer(HyperTimer(R::timer()))
            .header_read_timeout(inner.head_limit())
            .max_buf_size(inner.max_head.max(MIN_HEAD));
        let connection = http
            .serve_connection(socket.into_hyper(), service)
            .with_upgrades();
        let mut connection = pin!(connection);
        let stopping = inner.stop.listen();
        let mut stopping = pin!(stopping);
        let early = std::future::poll_fn(|cx| {
            if self.is_shutting_down() || stopping.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            connection.as_mut().poll(cx).map(Some)
        })
        .await;
        let served = match early {
            Some(served) => served,
            None => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = served {
            tracing::debug!(error = %e, "HTTP connection ended with an error");
            return;
        }
        let Some(upgrading) = upgraded.lock().ok().and_then(|mut slot| slot.take()) else {
            return;
        };
        let Ok(socket) = upgrading.on_upgrade.await else {
            return;
        };
        // The socket itself when hyper gives it back as it was (no dynamic
        // dispatch per read and write), else hyper's `Upgraded`.
        match socket.downcast::<S::Hyper>() {
            Ok(parts) => {
                let ws = WebSocketStream::<S::Engine, R::Timer>::from_upgrade(
                    S::from_hyper(parts.io),
                    upgrading.upgrade,
                    &parts.read_buf,
                );
                self.run::<R, _>(ws, upgrading.handler, upgrading.captures, facts)
                    .await;
            }
            // hyper gives back the socket it was given, always so far.
            Err(_) => tracing::error!("hyper handed over another socket than it was given"),
        }
    }

    /// Answers one request of someone else's hyper or axum server with this
    /// server's routes and fallback, as [`serve`](Self::serve) would: a WebSocket
    /// upgrade through a route's handler (its `101`, or the refusal), anything
    /// else through the fallback (its body read within
    /// [`max_request_body`](ServerBuilder::max_request_body)).
    ///
    /// After an accepted upgrade, a task (`tokio::spawn`) waits for the server to
    /// hand the socket over (`hyper::upgrade::on`; the server must serve
    /// connections `with_upgrades`, as `axum::serve` does) and runs the
    /// connection: registered with the [`manager`](Self::manager), with the
    /// heartbeat and [`shutdown`](Self::shutdown) (which closes it with 1001). Its
    /// [`Context`] reports no local address, the remote address of axum's
    /// `ConnectInfo<SocketAddr>` when the request has one (feature `axum`), and
    /// not [`is_secure`](Context::is_secure); see
    /// [`handle_with`](Self::handle_with) to give them.
    ///
    /// ```no_run
    /// # use ferrosocket_app::Server;
    /// # async fn demo(server: Server, socket: tokio::net::TcpStream) {
    /// let service = hyper::service::service_fn(move |request| {
    ///     let server = server.clone();
    ///     async move { Ok::<_, std::convert::Infallible>(server.handle(request).await) }
    /// });
    /// hyper::server::conn::http1::Builder::new()
    ///     .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
    ///     .with_upgrades()
    ///     .await
    ///     .ok();
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<Full<Bytes>>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        #[cfg(feature = "axum")]
        let remote = request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        #[cfg(not(feature = "axum"))]
        let remote = None;
        self.handle_with(request, None, remote, false).await
    }

    /// As [`handle`](Self::handle), with what the connection's [`Context`]
    /// reports: the local and remote addresses and whether it is encrypted.
    #[cfg(feature = "tokio")]
    pub async fn handle_with<B>(
        &self,
        request: http::Request<B>,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        secure: bool,
    ) -> http::Response<Full<Bytes>>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let facts = Facts {
            local,
            remote,
            secure,
        };
        let span = connection_span(remote, secure);
        let (response, upgrading) = self
            .answer::<crate::rt::Tokio, _>(request, facts)
            .instrument(span.clone())
            .await;
        if let Some(upgrading) = upgrading {
            let server = self.clone();
            tokio::spawn(
                async move {
                    let Ok(socket) = upgrading.on_upgrade.await else {
                        tracing::debug!("the HTTP server did not hand the upgraded socket over");
                        return;
                    };
                    let socket = hyper_util::rt::TokioIo::new(socket);
                    let ws = ferrosocket_tokio::WebSocketStream::from_upgrade(
                        socket,
                        upgrading.upgrade,
                        &[],
                    );
                    server
                        .run::<crate::rt::Tokio, _>(
                            ws,
                            upgrading.handler,
                            upgrading.captures,
                            facts,
                        )
                        .await;
                }
                .instrument(span),
            );
        }
        response
    }

    /// Answers one request: an upgrade through a route's handler, anything else
    /// through the fallback. An accepted upgrade comes back with what runs the
    /// connection once the socket is handed over.
    async fn answer<R: Runtime, B>(
        &self,
        request: http::Request<B>,
        facts: Facts,
    ) -> (http::Response<Full<Bytes>>, Option<Upgrading>)
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if !ferrosocket_proto::handshake::is_websocket_upgrade(request.headers()) {
            return (self.fallback::<R, _>(request).await, None);
        }
        match self.upgrade::<R, _>(request, facts).await {
            Ok((response, upgrading)) => (response, Some(upgrading)),
            // A refused upgrade ends the connection, as the engine's own accept does.
            Err(mut refused) => {
                refused
                    .headers_mut()
                    .insert(http::header::CONNECTION, CLOSE.clone());
                (refused, None)
            }
        }
    }

    /// Answers an upgrade request (`Upgrade: websocket`): the `101` and what runs
    /// the connection, or the refusal.
    async fn upgrade<R: Runtime, B>(
        &self,
        mut request: http::Request<B>,
        facts: Facts,
    ) -> Result<(http::Response<Full<Bytes>>, Upgrading), http::Response<Full<Bytes>>> {
        let inner = &self.inner;
        let checked = match Request::from_http(&request) {
            Ok(checked) => checked,
            Err(e) => {
                tracing::info!(status = e.http_status(), error = %e, "invalid upgrade request");
                return Err(handshake_refusal(&e));
            }
        };
        // hyper leaves it in the request of a connection served `with_upgrades`.
        let Some(on_upgrade) = request
            .extensions_mut()
            .remove::<hyper::upgrade::OnUpgrade>()
        else {
            tracing::warn!(
                status = 426,
                "upgrade refused: the HTTP server cannot upgrade this connection"
            );
            return Err(super::plain::not_upgradable().map(Full::new));
        };
        let Some((route, captures)) = inner
            .routes
            .iter()
            .find_map(|r| r.pattern.matches(checked.path()).map(|c| (r, c)))
        else {
            tracing::info!(
                path = checked.path(),
                status = 404,
                "upgrade refused: no route"
            );
            return Err(HttpResponse::not_found().into_http());
        };
        tracing::Span::current().record("route", route.pattern.as_str());
        let mut handler = (route.factory)();
        let mut answer = HandshakeResponse::default();
        let handshake = HandshakeRequest {
            request: checked,
            captures,
            facts,
        };
        let mut decision = handler.on_handshake(&handshake, &mut answer);
        let limit = inner.head_limit();
        let timer = R::timer();
        let deadline = timer.now() + limit;
        let (status, body) = loop {
            match decision {
                Handshake::Accept => break (101, Vec::new()),
                Handshake::Reject(status, body) => break (status, body),
                Handshake::Wait(pending) => match within(&timer, deadline, pending).await {
                    Some(next) => decision = next,
                    None => {
                        tracing::warn!(?limit, "handshake check timed out: 503");
                        break (503, b"handshake check timed out\n".to_vec());
                    }
                },
            }
        };
        if status != 101 {
            tracing::info!(status, "upgrade rejected by the handler");
            let mut reject = Reject::new(status).body(body);
            for (name, value) in answer.headers {
                reject = reject.header(name, value);
            }
            return Err(match reject.to_http_response() {
                Ok(response) => response.map(|body| Full::new(Bytes::from(body))),
                Err(_) => internal_error(),
            });
        }
        let HandshakeRequest {
            request: checked,
            captures,
            ..
        } = handshake;
        let (response, upgrade) = match Upgrade::accept(
            checked,
            answer.to_accept(),
            inner.config.clone(),
        ) {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "the handler's answer is invalid for this request: 500");
                return Err(internal_error());
            }
        };
        tracing::debug!(compressed = upgrade.is_compressed(), "upgrade accepted");
        let upgrading = Upgrading {
            on_upgrade,
            upgrade,
            handler,
            captures,
        };
        Ok((response.map(|()| Full::new(Bytes::new())), upgrading))
    }

    /// A plain request: its body (bounded by the limit and the handshake
    /// timeout), then the fallback's answer.
    async fn fallback<R: Runtime, B>(
        &self,
        request: http::Request<B>,
    ) -> http::Response<Full<Bytes>>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let inner = &self.inner;
        let Some(fallback) = &inner.fallback else {
            return HttpResponse::not_found().into_http();
        };
        let (parts, body) = request.into_parts();
        // A Content-Length over the limit is refused before any body byte is read.
        let announced = usize::try_from(hyper::body::Body::size_hint(&body).lower());
        if announced.map_or(true, |len| len > inner.max_body) {
            return too_large();
        }
        let body = Limited::new(body, inner.max_body).collect();
        let limit = inner.head_limit();
        let timer = R::timer();
        let body = match within(&timer, timer.now() + limit, body).await {
            Some(Ok(body)) => body.to_bytes(),
            Some(Err(e)) if e.is::<LengthLimitError>() => return too_large(),
            Some(Err(_)) => return HttpResponse::new(400).into_http(),
            None => return HttpResponse::new(408).into_http(),
        };
        let request = HttpRequest::from_parts(&parts, body);
        let response = fallback(&request);
        tracing::debug!(
            method = request.method(),
            path = request.path(),
            status = response.status(),
            "plain HTTP"
        );
        response.into_http()
    }

    /// Runs an upgraded connection: registered with the manager, driven until it
    /// ends.
    async fn run<R: Runtime, IO: PollIo + Send>(
        &self,
        mut ws: WebSocketStream<IO, R::Timer>,
        mut handler: Box<dyn Handler>,
        captures: super::Captures,
        facts: Facts,
    ) {
        ws.set_timer(Some(R::timer()));
        let inner = &self.inner;
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
        ctx.facts = facts;
        super::driver::run::<R, IO>(ws, &mut *handler, ctx, registration, inner.heartbeat).await;
    }
}

/// An accepted upgrade, between the `101` and hyper handing the socket over.
struct Upgrading {
    on_upgrade: hyper::upgrade::OnUpgrade,
    upgrade: Upgrade,
    handler: Box<dyn Handler>,
    captures: super::Captures,
}

/// The span of one connection's events: its number, remote address, TLS, and
/// the route once matched.
fn connection_span(remote: Option<SocketAddr>, secure: bool) -> tracing::Span {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    tracing::info_span!(
        "connection",
        conn = NEXT.fetch_add(1, Ordering::Relaxed),
        remote = remote.map(tracing::field::display),
        secure,
        route = tracing::field::Empty,
    )
}

/// The answer to an invalid upgrade request (400, 405, 426 with its headers).
fn handshake_refusal(
    error: &ferrosocket_proto::handshake::HandshakeError,
) -> http::Response<Full<Bytes>> {
    error
        .to_http_response()
        .map(|body| Full::new(Bytes::from(body)))
}

/// TCP with TLS on top.
#[cfg(all(feature = "tokio", feature = "tls"))]
struct TlsListener {
    listener: tokio::net::TcpListener,
    acceptor: ferrosocket_tokio::tokio_rustls::TlsAcceptor,
}

#[cfg(all(feature = "tokio", feature = "tls"))]
impl super::rt::sealed::Sealed for TlsListener {}

#[cfg(all(feature = "tokio", feature = "tls"))]
impl Listener for TlsListener {
    type Runtime = crate::rt::Tokio;
    type Raw = tokio::net::TcpStream;
    type Stream = ferrosocket_tokio::tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    const SECURE: bool = true;
    fn accept(&self) -> impl Future<Output = io::Result<super::rt::Accepted<Self::Raw>>> + Send {
        Listener::accept(&self.listener)
    }
    fn start(
        &self,
        socket: Self::Raw,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static {
        self.acceptor.accept(socket)
    }
}

/// The connection tasks still running, for the graceful end of `serve`.
#[derive(Default)]
struct Live {
    count: AtomicUsize,
    none_left: event_listener::Event,
}

/// One running connection task of a [`Live`].
struct LiveGuard(Arc<Live>);

impl Live {
    fn enter(self: &Arc<Self>) -> LiveGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        LiveGuard(self.clone())
    }

    /// Completes once no connection task is left.
    async fn ended(&self) {
        loop {
            let listener = self.none_left.listen();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            listener.await;
        }
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.none_left.notify(usize::MAX);
        }
    }
}

/// How long a kept-alive plain HTTP connection may wait for its next request
/// when no handshake timeout is configured.
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(15);

/// `Connection: close`, on answers after which the connection ends.
static CLOSE: http::HeaderValue = http::HeaderValue::from_static("close");

/// 413, and the connection ends (the rest of the body is not read).
fn too_large() -> http::Response<Full<Bytes>> {
    let mut response = HttpResponse::new(413).into_http();
    response
        .headers_mut()
        .insert(http::header::CONNECTION, CLOSE.clone());
    response
}

/// The server's default connection settings: the engine's, with
/// permessage-deflate in its low-memory form (no context takeover either way,
/// idle contexts released): a server holds many connections, and one that keeps
/// its zlib contexts holds about 340 KiB per connection that has compressed
/// against about 7 KiB.
fn default_config() -> StreamConfig {
    let config = StreamConfig::default();
    #[cfg(feature = "deflate")]
    let config = config.compression(Some(ferrosocket_proto::deflate::DeflateConfig::low_memory()));
    config
}

/// hyper's smallest read buffer, so the smallest head limit.
const MIN_HEAD: usize = 8 * 1024;
