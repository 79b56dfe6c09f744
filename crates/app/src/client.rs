//! The client side of the handler API on tokio: [`connect`] and the [`Client`]
//! builder.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;

use crate::Error;
use ferrosocket_tokio::ClientOptions;

use super::context::Facts;
use super::{Context, Handler, Heartbeat, Manager};

/// Connects to a `ws://`, `wss://` (feature `tls`) or `ws+unix://` URL and runs
/// `handler` on the connection in a new task, with the default [`Client`] settings. See [`Client::connect`].
///
/// # Errors
///
/// As [`Client::connect`].
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
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<ferrosocket_tokio::rustls::ClientConfig>>,
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
    pub fn tls_config(
        mut self,
        config: std::sync::Arc<ferrosocket_tokio::rustls::ClientConfig>,
    ) -> Self {
        self.tls = Some(config);
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
    pub async fn connect<H: Handler>(&self, url: &str, handler: H) -> Result<JoinHandle<H>, Error> {
        let options = self.options.clone();
        #[cfg(feature = "tls")]
        let (ws, response) = match &self.tls {
            Some(config) => {
                ferrosocket_tokio::connect_tls_with(url, options, config.clone()).await?
            }
            None => ferrosocket_tokio::connect_with(url, options).await?,
        };
        #[cfg(not(feature = "tls"))]
        let (ws, response) = ferrosocket_tokio::connect_with(url, options).await?;
        let socket = ws.get_ref();
        let facts = Facts {
            local: socket.tcp().and_then(|tcp| tcp.local_addr().ok()),
            remote: socket.tcp().and_then(|tcp| tcp.peer_addr().ok()),
            secure: socket.is_secure(),
        };
        Ok(self.spawn(url, ws, response, facts, handler))
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
    pub async fn connect_stream<S, H>(
        &self,
        url: &str,
        stream: S,
        secure: bool,
        handler: H,
    ) -> Result<JoinHandle<H>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: Handler,
    {
        let (ws, response) =
            ferrosocket_tokio::client_async_with(url, stream, self.options.clone()).await?;
        let facts = Facts {
            secure,
            ..Facts::default()
        };
        Ok(self.spawn(url, ws, response, facts, handler))
    }

    fn spawn<S, H>(
        &self,
        url: &str,
        ws: ferrosocket_tokio::WebSocketStream<S>,
        response: ferrosocket_tokio::Response,
        facts: Facts,
        mut handler: H,
    ) -> JoinHandle<H>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: Handler,
    {
        let path = ferrosocket_io::parse_url(url)
            .map(|u| u.target().split('?').next().unwrap_or("/").to_owned())
            .unwrap_or_default();
        let manager = self.manager.clone().unwrap_or_default();
        let registration = manager.register();
        let mut ctx = Context::new(registration.id, manager, path);
        ctx.response_headers = Some(response.headers);
        ctx.facts = facts;
        let heartbeat = self.heartbeat;
        tokio::spawn(async move {
            super::driver::run(ws, &mut handler, ctx, registration, heartbeat).await;
            handler
        })
    }
}
