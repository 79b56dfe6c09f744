//! The client side of the handler API, on every runtime: [`connect`] and the
//! [`Client`] builder.

use ferrosocket_io::poll::PollIo;
use ferrosocket_io::{ClientOptions, Response, Sockets, WebSocketStream};
#[cfg(feature = "tokio")]
use tokio::task::JoinHandle;

use crate::Error;

use super::context::Facts;
use super::rt::{Addresses, Runtime};
use super::{Context, Handler, Heartbeat, Manager};

/// Connects to a `ws://`, `wss://` (feature `tls`) or `ws+unix://` URL and runs
/// `handler` on the connection in a new task, with the default [`Client`] settings. See [`Client::connect`].
///
/// # Errors
///
/// As [`Client::connect`].
#[cfg(feature = "tokio")]
pub async fn connect<H: Handler>(url: &str, handler: H) -> Result<JoinHandle<H>, Error> {
    Client::new().connect(url, handler).await
}

/// Settings of client connections run by a [`Handler`]: handshake options, the
/// [`Manager`] they join, a heartbeat.
///
/// ```no_run
/// # async fn demo() -> Result<(), ferrosocket_tokio::Error> {
/// use std::time::Duration;
/// use ferrosocket_app::{Client, Handler, Heartbeat, Manager};
/// use ferrosocket_tokio::ClientOptions;
///
/// struct Quiet;
/// impl Handler for Quiet {}
///
/// let manager = Manager::new();
/// let task = Client::new()
///     .options(ClientOptions::new().header("Authorization", "Bearer t0ken"))
///     .manager(manager.clone())
///     .heartbeat(Heartbeat::new(Duration::from_secs(20), Duration::from_secs(10)))
///     .connect("ws://127.0.0.1:9000/chat/bot", Quiet)
///     .await?;
/// manager.broadcast("hello from every client connection");
/// let _handler = task.await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Client {
    options: ClientOptions,
    manager: Option<Manager>,
    heartbeat: Option<Heartbeat>,
    tls: ferrosocket_io::ClientTls,
}

impl Client {
    /// Default options, a new manager per connection, no heartbeat.
    pub fn new() -> Self {
        Self::default()
    }

    /// The handshake options (headers, subprotocols, stream settings).
    #[must_use]
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The manager connections join (to broadcast to many of them).
    #[must_use]
    pub fn manager(mut self, manager: Manager) -> Self {
        self.manager = Some(manager);
        self
    }

    /// Keep-alive pings, as on a server.
    #[must_use]
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// The TLS configuration for `wss://` (feature `tls`): by default rustls with
    /// the Mozilla roots; see [`client_config`](ferrosocket_tokio::client_config) for
    /// other roots.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = ferrosocket_io::ClientTls::new(config);
        self
    }

    /// Connects to a `ws://`, `wss://` (feature `tls`) or `ws+unix://` URL and runs
    /// `handler` on the connection in a new task: events as on a server, without
    /// [`on_handshake`](Handler::on_handshake);
    /// [`on_connect`](Handler::on_connect) gets no captures. The task's
    /// [`JoinHandle`] gives the handler back once [`on_close`](Handler::on_close)
    /// has run.
    ///
    /// # Errors
    ///
    /// Those of [`ferrosocket_tokio::connect_with`](ferrosocket_tokio::connect_with):
    /// then the handler never runs.
    #[cfg(feature = "tokio")]
    pub async fn connect<H: Handler>(&self, url: &str, handler: H) -> Result<JoinHandle<H>, Error> {
        let (ws, response) = ferrosocket_io::connect::<ferrosocket_tokio::Tokio>(
            url,
            self.options.clone(),
            &self.tls,
        )
        .await?;
        let run = self.prepare::<crate::rt::Tokio, _, _>(url, ws, response, handler);
        Ok(tokio::spawn(run))
    }

    /// As [`connect`](Self::connect), on smol (feature `smol`): the connection
    /// runs in a task on smol's global executor.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    #[cfg(feature = "smol")]
    pub async fn connect_smol<H: Handler>(
        &self,
        url: &str,
        handler: H,
    ) -> Result<smol::Task<H>, Error> {
        let (ws, response) = ferrosocket_io::connect::<ferrosocket_futures::smol::Smol>(
            url,
            self.options.clone(),
            &self.tls,
        )
        .await?;
        let run = self.prepare::<crate::rt::Smol, _, _>(url, ws, response, handler);
        Ok(smol::spawn(run))
    }

    /// As [`connect`](Self::connect), on threads (feature `blocking`; ws4py's
    /// threaded client): connects and performs the handshake on the calling
    /// thread, then runs the connection on a thread of its own (with a reader
    /// and a writer thread under it), whose [`JoinHandle`](std::thread::JoinHandle)
    /// gives the handler back once [`on_close`](Handler::on_close) has run.
    /// `ws://` and `ws+unix://` only: `wss://` needs tokio or smol.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect); `wss://` fails with
    /// [`Error::InvalidUrl`].
    #[cfg(feature = "blocking")]
    pub fn connect_blocking<H: Handler>(
        &self,
        url: &str,
        handler: H,
    ) -> Result<std::thread::JoinHandle<H>, Error> {
        let (ws, response) = crate::threads::block_on(ferrosocket_io::connect::<
            crate::rt::ThreadSockets,
        >(
            url, self.options.clone(), &self.tls
        ))?;
        let run = self.prepare::<crate::rt::Threads, _, _>(url, ws, response, handler);
        std::thread::Builder::new()
            .name("ferrosocket-client".into())
            .spawn(move || crate::threads::block_on(run))
            .map_err(Error::Io)
    }

    /// Runs `handler` over a `stream` already connected by the caller (through a
    /// proxy, a tunnel, TLS of its own, an in-memory pipe in a test): the opening
    /// handshake for `url` (its scheme is not acted on: the stream is assumed to
    /// be what it asks for), then events as with [`connect`](Self::connect).
    /// [`Context::is_secure`] reports `secure`; the addresses are unknown.
    ///
    /// # Errors
    ///
    /// Those of [`ferrosocket_tokio::client_async_with`]: then the handler never
    /// runs.
    #[cfg(feature = "tokio")]
    pub async fn connect_stream<S, H>(
        &self,
        url: &str,
        stream: S,
        secure: bool,
        handler: H,
    ) -> Result<JoinHandle<H>, Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        H: Handler,
    {
        let (ws, response) =
            ferrosocket_tokio::client_async_with(url, stream, self.options.clone()).await?;
        let facts = Facts {
            secure,
            ..Facts::default()
        };
        Ok(tokio::spawn(self.run::<crate::rt::Tokio, _, _>(
            url, ws, response, facts, handler,
        )))
    }

    /// As [`connect_stream`](Self::connect_stream), on any runtime `R`: the
    /// handshake for `url` over `stream` (a tokio socket under
    /// [`Tokio`](crate::rt::Tokio), a futures-io one under
    /// [`Smol`](crate::rt::Smol) or [`Threads`](crate::rt::Threads): smol's,
    /// async-std's, a [`ThreadStream`](crate::rt::ThreadStream), a proxy's
    /// tunnel), bounded by the handshake timeout with `R`'s timer; then the
    /// future that runs `handler` on the connection and gives it back once
    /// [`on_close`](Handler::on_close) has run. Spawn it on `R` (or `block_on`
    /// it on a thread of its own).
    ///
    /// # Errors
    ///
    /// Those of the handshake ([`Error::Rejected`], [`Error::Handshake`],
    /// [`Error::Timeout`], [`Error::Io`]): then the handler never runs.
    pub async fn connect_stream_on<R, S, H>(
        &self,
        url: &str,
        stream: S,
        secure: bool,
        handler: H,
    ) -> Result<impl Future<Output = H> + Send + 'static, Error>
    where
        R: Runtime,
        S: crate::rt::Socket<R>,
        H: Handler,
    {
        let io = <S::Engine as PollIo>::from_socket(stream);
        let (ws, response) =
            ferrosocket_io::client(url, io, self.options.clone(), Some(R::timer())).await?;
        let facts = Facts {
            secure,
            ..Facts::default()
        };
        Ok(self.run::<R, _, _>(url, ws, response, facts, handler))
    }

    /// The connection's [`Context`] facts from the socket `connect` opened, then
    /// the future that runs it.
    fn prepare<R: Runtime, K: Sockets, H: Handler>(
        &self,
        url: &str,
        ws: WebSocketStream<
            impl PollIo<Socket = ferrosocket_io::MaybeTlsStream<K>> + Send + 'static,
            R::Timer,
        >,
        response: Response,
        handler: H,
    ) -> impl Future<Output = H> + Send + 'static
    where
        K::Tcp: crate::rt::Addresses,
    {
        let socket = ws.get_ref();
        let facts = Facts {
            local: socket.tcp().and_then(|tcp| tcp.local()),
            remote: socket.tcp().and_then(|tcp| tcp.remote()),
            secure: socket.is_secure(),
        };
        self.run::<R, _, _>(url, ws, response, facts, handler)
    }

    /// The future that runs `handler` over `ws` to its end.
    fn run<R: Runtime, IO: PollIo + Send + 'static, H: Handler>(
        &self,
        url: &str,
        mut ws: WebSocketStream<IO, R::Timer>,
        response: Response,
        facts: Facts,
        mut handler: H,
    ) -> impl Future<Output = H> + Send + 'static {
        ws.set_timer(Some(R::timer()));
        let path = ferrosocket_io::parse_url(url)
            .map(|u| u.target().split('?').next().unwrap_or("/").to_owned())
            .unwrap_or_default();
        let manager = self.manager.clone().unwrap_or_default();
        let registration = manager.register();
        let mut ctx = Context::new(registration.id, manager, path);
        ctx.response_headers = Some(response.headers);
        ctx.facts = facts;
        let heartbeat = self.heartbeat;
        async move {
            super::driver::run::<R, IO>(ws, &mut handler, ctx, registration, heartbeat).await;
            handler
        }
    }
}
