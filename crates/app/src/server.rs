//! The [`Server`] on tokio: routes, the plain-HTTP fallback, listening, graceful
//! shutdown.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Mutex;

use bytes::Bytes;
use ferrosocket_io::upgrade::Upgrade;
use ferrosocket_tokio::WebSocketStream;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::{CloseCode, Reject, Request, StreamConfig};

use super::context::Facts;
use super::plain::internal_error;
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
/// [`serve_connection`](Self::serve_connection) for one socket of your own), or
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
    shutdown: watch::Sender<bool>,
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
    /// handshake are closed with 1001 as soon as they open. Connections served
    /// through [`handle`](Self::handle) (another server's) are closed with 1001
    /// too, at once.
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.shutdown.send_replace(true);
        self.inner
            .manager
            .close_all(CloseCode::GOING_AWAY, "server shutting down");
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
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => report_panic(joined),
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
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed; retrying in 20 ms");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
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
        let _ = tokio::time::timeout(grace, async {
            while let Some(joined) = tasks.join_next().await {
                report_panic(joined);
            }
        })
        .await;
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
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        secure: bool,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_in_span(socket, local, remote, secure)
            .instrument(connection_span(remote, secure))
            .await;
    }

    async fn serve_in_span<S>(
        &self,
        socket: S,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        secure: bool,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
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
                    let (response, upgrading) = server.answer(request, facts).await;
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
        http.timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(inner.head_limit())
            .max_buf_size(inner.max_head.max(MIN_HEAD));
        let connection = http
            .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
            .with_upgrades();
        let mut connection = pin!(connection);
        let served = tokio::select! {
            served = connection.as_mut() => served,
            () = stopped(inner.shutdown.subscribe()) => {
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
        match socket.downcast::<hyper_util::rt::TokioIo<S>>() {
            Ok(parts) => {
                let ws = WebSocketStream::from_upgrade(
                    parts.io.into_inner(),
                    upgrading.upgrade,
                    &parts.read_buf,
                );
                self.run(ws, upgrading.handler, upgrading.captures, facts)
                    .await;
            }
            Err(socket) => {
                let socket = hyper_util::rt::TokioIo::new(socket);
                let ws = WebSocketStream::from_upgrade(socket, upgrading.upgrade, &[]);
                self.run(ws, upgrading.handler, upgrading.captures, facts)
                    .await;
            }
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
        let (response, upgrading) = self.answer(request, facts).instrument(span.clone()).await;
        if let Some(upgrading) = upgrading {
            let server = self.clone();
            tokio::spawn(
                async move {
                    let Ok(socket) = upgrading.on_upgrade.await else {
                        tracing::debug!("the HTTP server did not hand the upgraded socket over");
                        return;
                    };
                    let socket = hyper_util::rt::TokioIo::new(socket);
                    let ws = WebSocketStream::from_upgrade(socket, upgrading.upgrade, &[]);
                    server
                        .run(ws, upgrading.handler, upgrading.captures, facts)
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
    async fn answer<B>(
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
            return (self.fallback(request).await, None);
        }
        match self.upgrade(request, facts).await {
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
    async fn upgrade<B>(
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
            let mut refused = HttpResponse::new(426).into_http();
            refused.headers_mut().insert(
                http::header::UPGRADE,
                http::HeaderValue::from_static("websocket"),
            );
            return Err(refused);
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
        let deadline = tokio::time::Instant::now() + limit;
        let (status, body) = loop {
            match decision {
                Handshake::Accept => break (101, Vec::new()),
                Handshake::Reject(status, body) => break (status, body),
                Handshake::Wait(pending) => {
                    match tokio::time::timeout_at(deadline, pending).await {
                        Ok(next) => decision = next,
                        Err(_) => {
                            tracing::warn!(?limit, "handshake check timed out: 503");
                            break (503, b"handshake check timed out\n".to_vec());
                        }
                    }
                }
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
    async fn fallback<B>(&self, request: http::Request<B>) -> http::Response<Full<Bytes>>
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
        let body = match tokio::time::timeout(limit, body).await {
            Ok(Ok(body)) => body.to_bytes(),
            Ok(Err(e)) if e.is::<LengthLimitError>() => return too_large(),
            Ok(Err(_)) => return HttpResponse::new(400).into_http(),
            Err(_) => return HttpResponse::new(408).into_http(),
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
    async fn run<S>(
        &self,
        ws: WebSocketStream<S>,
        mut handler: Box<dyn Handler>,
        captures: super::Captures,
        facts: Facts,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
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
        super::driver::run(ws, &mut *handler, ctx, registration, inner.heartbeat).await;
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

/// How long a kept-alive plain HTTP connection may wait for its next request
/// when no handshake timeout is configured.
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(15);

/// Logs a connection task that panicked (a handler callback that panicked):
/// only that connection ends.
fn report_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined
        && e.is_panic()
    {
        tracing::error!(error = %e, "a connection's task panicked (in a handler callback?)");
    }
}

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

/// Completes once the server is shutting down.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// hyper's smallest read buffer, so the smallest head limit.
const MIN_HEAD: usize = 8 * 1024;
