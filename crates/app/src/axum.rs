//! Mounting in [axum](https://docs.rs/axum) (feature `axum`): a [`Server`]'s
//! routes as a tower service ([`Server::service`]) for `Router::route_service`
//! or `Router::fallback_service`, and the [`WebSocketUpgrade`] extractor for an
//! axum handler that wants the stream itself.
//!
//! ```no_run
//! use ferrosocket_app::axum::WebSocketUpgrade;
//! use ferrosocket_app::{Context, Handler, Item, Server};
//!
//! struct Echo;
//! impl Handler for Echo {
//!     fn on_read(&mut self, ctx: &mut Context, data: Item) {
//!         if let Item::Text(text) = data {
//!             let _ = ctx.write(text);
//!         }
//!     }
//! }
//!
//! # async fn demo() -> std::io::Result<()> {
//! let server = Server::builder().route("/echo/<name>", || Echo).build();
//! let app = axum::Router::new()
//!     // A ferrosocket handler, with the server's manager and heartbeat.
//!     .route_service("/echo/{name}", server.service())
//!     // The engine's stream in an axum handler.
//!     .route(
//!         "/raw",
//!         axum::routing::get(|ws: WebSocketUpgrade| async move {
//!             ws.protocols(["chat.v1"]).on_upgrade(|mut ws| async move {
//!                 while let Some(Ok(message)) = ws.recv().await {
//!                     if ws.send(message).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             })
//!         }),
//!     );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferrosocket_io::upgrade::Upgrade;
use ferrosocket_proto::handshake::HandshakeError;
use http_body_util::Full;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tracing::Instrument;

use crate::{Accept, Request, Server, StreamConfig};

/// The stream an [`WebSocketUpgrade::on_upgrade`] callback gets: the engine's
/// tokio stream over hyper's upgraded socket.
pub type WebSocket = ferrosocket_tokio::WebSocketStream<TokioIo<Upgraded>>;

impl Server {
    /// This server's routes and fallback as a tower service for someone else's
    /// axum or hyper server, e.g. `Router::route_service("/chat/{name}",
    /// server.service())` (the server's own patterns still pick the handler,
    /// on the full path) or `Router::fallback_service(server.service())`. Each
    /// request goes to [`handle`](Server::handle).
    pub fn service(&self) -> ServerService {
        ServerService {
            server: self.clone(),
        }
    }
}

/// A [`Server`] as a tower service ([`Server::service`]): requests with any
/// body; never fails.
#[derive(Debug, Clone)]
pub struct ServerService {
    server: Server,
}

impl<B> tower_service::Service<http::Request<B>> for ServerService
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let server = self.server.clone();
        Box::pin(async move { Ok(server.handle(request).await) })
    }
}

/// An axum extractor for a WebSocket upgrade request, checked as the engine's
/// own `accept` checks it (method, version, `Upgrade`, `Connection`, key,
/// version 13): the invalid ones are refused with [`UpgradeRejection`] (400,
/// 405 or 426). [`on_upgrade`](Self::on_upgrade) answers the `101`, with the
/// subprotocol picked from [`protocols`](Self::protocols) and
/// permessage-deflate negotiated from the [`config`](Self::config)'s
/// compression, exactly as `accept` does.
pub struct WebSocketUpgrade {
    request: Request,
    on_upgrade: OnUpgrade,
    config: StreamConfig,
    protocols: Vec<String>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("path", &self.request.path())
            .field("protocols", &self.protocols)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// The connection's settings (limits, timeouts, compression; default
    /// [`StreamConfig::default`]).
    #[must_use]
    pub fn config(mut self, config: StreamConfig) -> Self {
        self.config = config;
        self
    }

    /// The subprotocols this server speaks, most preferred first: the first
    /// one the client offered is selected (none offered: none selected).
    #[must_use]
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The client's request (path, query, headers, offered subprotocols and
    /// extensions).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The subprotocol [`on_upgrade`](Self::on_upgrade) will select.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocols
            .iter()
            .find(|ours| self.request.subprotocols().iter().any(|p| p == *ours))
            .map(String::as_str)
    }

    /// Answers `101 Switching Protocols` and, once axum's server hands the
    /// socket over, runs `callback` with the stream on a new task
    /// (`tokio::spawn`). An invalid answer (a header the request cannot take)
    /// is a 500.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut accept = Accept::new();
        if let Some(protocol) = self.selected_protocol() {
            accept = accept.subprotocol(protocol);
        }
        let (response, upgrade) = match Upgrade::accept(self.request, accept, self.config) {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "upgrade answer invalid for this request: 500");
                return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        tracing::debug!(compressed = upgrade.is_compressed(), "upgrade accepted");
        let on_upgrade = self.on_upgrade;
        tokio::spawn(
            async move {
                match on_upgrade.await {
                    Ok(socket) => {
                        let ws = WebSocket::from_upgrade(TokioIo::new(socket), upgrade, &[]);
                        callback(ws).await;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "the upgraded socket was not handed over");
                    }
                }
            }
            .in_current_span(),
        );
        response.map(|()| axum::body::Body::empty()).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let mut head = http::Request::new(());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts.uri.clone();
        *head.version_mut() = parts.version;
        *head.headers_mut() = parts.headers.clone();
        let request = Request::from_http(&head).map_err(|e| {
            tracing::info!(status = e.http_status(), error = %e, "invalid upgrade request");
            UpgradeRejection::Invalid(e)
        })?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(UpgradeRejection::NotUpgradable)?;
        Ok(Self {
            request,
            on_upgrade,
            config: StreamConfig::default(),
            protocols: Vec::new(),
        })
    }
}

/// Why [`WebSocketUpgrade`] refused a request; its response is the HTTP
/// answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpgradeRejection {
    /// Not a valid WebSocket upgrade request: 400, 405 or 426 (with
    /// `Sec-WebSocket-Version: 13` when the version was wrong).
    Invalid(HandshakeError),
    /// The server cannot upgrade this connection (it was not served
    /// `with_upgrades`, or is HTTP/2): 426.
    NotUpgradable,
}

impl fmt::Display for UpgradeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid WebSocket upgrade: {e}"),
            Self::NotUpgradable => f.write_str("this connection cannot be upgraded"),
        }
    }
}

impl std::error::Error for UpgradeRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::NotUpgradable => None,
        }
    }
}

impl IntoResponse for UpgradeRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(e) => e
                .to_http_response()
                .map(axum::body::Body::from)
                .into_response(),
            Self::NotUpgradable => crate::plain::not_upgradable()
                .map(axum::body::Body::from)
                .into_response(),
        }
    }
}
