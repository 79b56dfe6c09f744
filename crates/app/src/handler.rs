//! The [`Handler`] trait: what an application does on each connection event.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use ferrosocket_delimit::{DelimitError, Item};

use crate::{CloseCode, Request};

use super::context::Facts;
use super::{Captures, Context};

/// What an application does on each event of one WebSocket connection (Python
/// Pants' channel callbacks, ws4py's `WebSocket` methods).
///
/// Every method has a default that does nothing (or the sensible thing), so a
/// handler implements only what it needs. The callbacks are **synchronous**: they
/// run on the connection's task, between reads, and must not block. Anything they
/// send goes through the [`Context`], which queues it; the connection writes the
/// queue out (waiting for the socket, in order) as soon as the callback returns.
///
/// One handler value serves one connection: a server route makes a new one per
/// connection with its factory (see [`ServerBuilder::route`](super::ServerBuilder::route)).
///
/// Order of events: [`on_handshake`](Self::on_handshake) (server only), then
/// [`on_connect`](Self::on_connect), then any number of
/// [`on_read`](Self::on_read), [`on_write`](Self::on_write),
/// [`on_pong`](Self::on_pong), [`on_overflow_error`](Self::on_overflow_error) and
/// [`on_read_error`](Self::on_read_error), then exactly one
/// [`on_close`](Self::on_close).
///
/// # Example
///
/// An echo server with a route capture, and our tokio client talking to it:
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ferrosocket_app::{Captures, Context, Handler, Item, Server};
/// use ferrosocket_tokio::Message;
///
/// struct Echo {
///     name: String,
/// }
///
/// impl Handler for Echo {
///     fn on_connect(&mut self, ctx: &mut Context, captures: &Captures) {
///         self.name = captures.str("name").unwrap_or("?").to_owned();
///         let _ = ctx.write(format!("hello {}", self.name));
///     }
///
///     fn on_read(&mut self, ctx: &mut Context, data: Item) {
///         match data {
///             Item::Text(text) => drop(ctx.write(text)),
///             Item::Binary(bytes) => drop(ctx.write(bytes)),
///             _ => {}
///         }
///     }
/// }
///
/// let rt = ::tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let server = Server::builder()
///         .route("/echo/<name>", || Echo { name: String::new() })
///         .build();
///     let listener = ::tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let url = format!("ws://{}/echo/ada", listener.local_addr()?);
///     let serving = ::tokio::spawn({
///         let server = server.clone();
///         async move { server.serve(listener).await }
///     });
///
///     let (mut ws, _) = ferrosocket_tokio::connect(&url).await?;
///     assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello ada")));
///     ws.send(Message::text("ping?")).await?;
///     assert_eq!(ws.recv().await.transpose()?, Some(Message::text("ping?")));
///     ws.close(None).await?;
///
///     server.shutdown();
///     serving.await??;
///     Ok(())
/// })
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
pub trait Handler: Send + 'static {
    /// Server only: the opening request arrived on this handler's route, with
    /// what the route captured and the connection's facts (secure or not, the
    /// addresses). Add headers or pick a subprotocol in `response`; return
    /// [`Handshake::Reject`] to refuse with an HTTP status and body, or
    /// [`Handshake::wait`] to decide asynchronously (a token or database look-up),
    /// within the handshake timeout.
    ///
    /// Pants' `return self.is_secure and 'X-Pizza' in request.headers`:
    ///
    /// ```
    /// use ferrosocket_app::{Handler, Handshake, HandshakeRequest, HandshakeResponse};
    ///
    /// struct Pizza;
    ///
    /// impl Handler for Pizza {
    ///     fn on_handshake(&mut self, request: &HandshakeRequest, _: &mut HandshakeResponse) -> Handshake {
    ///         if request.is_secure() && request.headers().contains("X-Pizza") {
    ///             Handshake::Accept
    ///         } else {
    ///             Handshake::reject(403, "no pizza")
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// Default: accept.
    fn on_handshake(
        &mut self,
        request: &HandshakeRequest,
        response: &mut HandshakeResponse,
    ) -> Handshake {
        let _ = (request, response);
        Handshake::Accept
    }

    /// The connection is open. `captures` holds the values the route's pattern
    /// captured from the path (empty for a client).
    fn on_connect(&mut self, ctx: &mut Context, captures: &Captures) {
        let _ = (ctx, captures);
    }

    /// An item of received data, cut by the read delimiter
    /// ([`Context::set_read_delimiter`]; by default each whole message, as
    /// [`Item::Text`] or [`Item::Binary`]).
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        let _ = (ctx, data);
    }

    /// Everything queued for this connection (by the handler or a broadcast) was
    /// written to the socket: a good moment to queue the next part of a large
    /// response.
    fn on_write(&mut self, ctx: &mut Context) {
        let _ = ctx;
    }

    /// A pong arrived. `rtt` is the round-trip time if it answers a ping sent with
    /// [`Context::ping`] / [`Context::ping_payload`] or by the heartbeat; `None`
    /// for an unsolicited pong.
    fn on_pong(&mut self, ctx: &mut Context, payload: Bytes, rtt: Option<Duration>) {
        let _ = (ctx, payload, rtt);
    }

    /// More data is buffered without forming an item than the read delimiter's cap
    /// allows ([`DelimitError::Overflow`]).
    ///
    /// Default: log the error (`tracing`, warn) and close with 1009 (message too big). A
    /// handler that does not close has the buffered data dropped (as
    /// [`ReadDelimiter::clear`](ferrosocket_delimit::ReadDelimiter::clear)) and the
    /// connection goes on.
    fn on_overflow_error(&mut self, ctx: &mut Context, err: DelimitError) {
        tracing::warn!(connection = ?ctx.id(), error = %err, "read buffer overflow; closing with 1009");
        let _ = ctx.close(CloseCode::MESSAGE_TOO_BIG, "read buffer overflow");
    }

    /// Any other read-delimiter error (mixed text and binary, a record that does
    /// not decode, ...).
    ///
    /// Default: close with the error's [`close_code`](DelimitError::close_code).
    /// As for [`on_overflow_error`](Self::on_overflow_error), a handler that does
    /// not close has the buffered data dropped.
    fn on_read_error(&mut self, ctx: &mut Context, err: DelimitError) {
        let _ = ctx.close(CloseCode::from(err.close_code()), "unreadable data");
    }

    /// The connection is over: `code` and `reason` of the peer's close frame
    /// (1005 if it had none), or 1006 if it ended without one (I/O error, a dead
    /// peer, [`Context::close_now`], a close handshake that timed out), or the
    /// close code of a protocol error. Writing is no longer possible.
    fn on_close(&mut self, ctx: &mut Context, code: CloseCode, reason: &str) {
        let _ = (ctx, code, reason);
    }
}

/// A handler's answer to the opening request ([`Handler::on_handshake`]).
pub enum Handshake {
    /// Upgrade to WebSocket (with what was set in the [`HandshakeResponse`]).
    Accept,
    /// Refuse with this HTTP status and body (and the headers set in the
    /// [`HandshakeResponse`]).
    Reject(u16, Vec<u8>),
    /// Decide when this future completes (made by [`Handshake::wait`]). The
    /// server waits at most the handshake timeout
    /// ([`Config::handshake_timeout`](ferrosocket_proto::Config::handshake_timeout)),
    /// then answers 503.
    Wait(Pending),
}

impl Handshake {
    /// [`Handshake::Reject`] from anything byte-like.
    pub fn reject(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::Reject(status, body.into())
    }

    /// Decides asynchronously: the future's answer is the handshake's. It owns
    /// what it needs (clone a token from the request, a pool handle from the
    /// handler); the headers and subprotocol set before returning still apply.
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use std::sync::Arc;
    ///
    /// use ferrosocket_app::{Handler, Handshake, HandshakeRequest, HandshakeResponse};
    ///
    /// struct Authenticated {
    ///     tokens: Arc<HashSet<String>>, // a database in real life
    /// }
    ///
    /// impl Handler for Authenticated {
    ///     fn on_handshake(&mut self, request: &HandshakeRequest, _: &mut HandshakeResponse) -> Handshake {
    ///         let token = request.headers().get_str("Authorization").unwrap_or("").to_owned();
    ///         let tokens = self.tokens.clone();
    ///         Handshake::wait(async move {
    ///             if tokens.contains(&token) {
    ///                 Handshake::Accept
    ///             } else {
    ///                 Handshake::reject(401, "unknown token")
    ///             }
    ///         })
    ///     }
    /// }
    /// ```
    pub fn wait(decision: impl Future<Output = Handshake> + Send + 'static) -> Self {
        Self::Wait(Pending(Box::pin(decision)))
    }
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accept => f.write_str("Accept"),
            Self::Reject(status, body) => f
                .debug_tuple("Reject")
                .field(status)
                .field(&String::from_utf8_lossy(body))
                .finish(),
            Self::Wait(_) => f.write_str("Wait(..)"),
        }
    }
}

/// The future of a [`Handshake::Wait`].
pub struct Pending(Pin<Box<dyn Future<Output = Handshake> + Send>>);

impl Future for Pending {
    type Output = Handshake;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Handshake> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pending(..)")
    }
}

/// The opening request as a route's handler sees it
/// ([`Handler::on_handshake`]): the request (its methods are reachable directly:
/// `request.path()`, `request.headers()`), what the route's pattern captured,
/// and the connection it came on.
#[derive(Debug, Clone)]
pub struct HandshakeRequest {
    pub(crate) request: Request,
    pub(crate) captures: Captures,
    pub(crate) facts: Facts,
}

impl HandshakeRequest {
    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// What the route's pattern captured from the path.
    pub fn captures(&self) -> &Captures {
        &self.captures
    }

    /// Whether the connection is encrypted (TLS: `wss://`).
    pub fn is_secure(&self) -> bool {
        self.facts.secure
    }

    /// The server's address of the connection (none for a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.facts.local
    }

    /// The client's address (none for a Unix socket).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.facts.remote
    }
}

impl Deref for HandshakeRequest {
    type Target = Request;

    fn deref(&self) -> &Request {
        &self.request
    }
}

/// What goes into the `101 Switching Protocols` answer besides the required
/// fields: extra headers and the subprotocol ([`Handler::on_handshake`]).
#[derive(Debug, Clone, Default)]
pub struct HandshakeResponse {
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) subprotocol: Option<String>,
}

impl HandshakeResponse {
    /// Adds a header to the answer (an invalid one makes the server answer 500).
    pub fn header(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Selects a subprotocol; it must be one the client offered
    /// ([`Request::subprotocols`]), or the server answers 500.
    pub fn subprotocol(&mut self, protocol: impl Into<String>) -> &mut Self {
        self.subprotocol = Some(protocol.into());
        self
    }

    /// The headers added so far.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The selected subprotocol.
    pub fn selected_subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The answer as an [`Accept`](crate::Accept).
    pub(crate) fn to_accept(&self) -> crate::Accept {
        let mut accept = crate::Accept::new();
        if let Some(p) = &self.subprotocol {
            accept = accept.subprotocol(p.clone());
        }
        for (name, value) in &self.headers {
            accept = accept.header(name.clone(), value.clone());
        }
        accept
    }
}
