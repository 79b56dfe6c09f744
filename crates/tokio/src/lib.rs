//! ferrosocket on tokio: a WebSocket [`WebSocketStream`] over any
//! `AsyncRead + AsyncWrite + Unpin` socket, the server handshake ([`accept`],
//! [`accept_with`]) and the client's ([`connect`], [`client_async`]).
//!
//! This crate is thin glue: the protocol lives in
//! [`ferrosocket_proto`] ([`StreamCore`](ferrosocket_io::StreamCore) and
//! [`WsConnection`](ferrosocket_proto::WsConnection)); here are only sockets, wakers
//! and timers.
//!
//! * [`WebSocketStream`] is a [`Stream`](futures_core::Stream) of
//!   `Result<Message, Error>` and a [`Sink<Message>`](futures_sink::Sink), like
//!   `tokio-tungstenite`, and has async methods: [`recv`](WebSocketStream::recv)
//!   (cancel safe), [`send`](WebSocketStream::send), [`flush`](WebSocketStream::flush),
//!   [`close`](WebSocketStream::close), [`send_fragments`](WebSocketStream::send_fragments).
//! * [`split`](WebSocketStream::split) gives a [`ReadHalf`] and a [`WriteHalf`] for
//!   two tasks, without a lock held across `.await`; pings are answered even while
//!   the write half is idle.
//! * URLs: [`connect`] opens `ws://` (TCP), `wss://` (TLS with rustls, feature
//!   `tls`; `connect_tls_with` for other roots) and `ws+unix://` (a Unix socket);
//!   its stream is a [`MaybeTlsStream`]. [`client_async`] runs the handshake over a
//!   stream of your own.
//! * Timeouts: [`StreamConfig::handshake_timeout`] bounds the opening handshake,
//!   [`StreamConfig::close_timeout`] the closing one. They need tokio's time driver
//!   (`enable_time`, on with `#[tokio::main]`).
//! * Back-pressure and memory: reads happen only when a message is asked for;
//!   sending waits while [`StreamConfig::write_buffer_limit`] bytes are queued; the
//!   read buffer grows on demand and is freed when the connection is idle.
//!
//! # Example
//!
//! A server and a client, here over an in-memory pipe (a `TcpStream` works the
//! same; see [`connect`] for `ws://` URLs):
//!
//! ```
//! use ferrosocket_tokio::{
//!     Accept, CloseCode, CloseFrame, Message, Reject, Request, accept_with, client_async_with,
//!     ClientOptions, Error,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let (server_io, client_io) = tokio::io::duplex(64 * 1024);
//!
//! // Server: check the path, pick a subprotocol, echo until the client closes.
//! let server = tokio::spawn(async move {
//!     let mut ws = accept_with(server_io, async |request: &Request| {
//!         if request.path() != "/echo" {
//!             return Err(Reject::new(404).body("no such endpoint"));
//!         }
//!         Ok(Accept::new().subprotocol("echo.v1"))
//!     })
//!     .await?;
//!     while let Some(message) = ws.recv().await {
//!         match message? {
//!             m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
//!             _ => {} // pings are answered, the close is echoed
//!         }
//!     }
//!     Ok::<_, Error>(())
//! });
//!
//! // Client.
//! let options = ClientOptions::new().subprotocol("echo.v1");
//! let (mut ws, response) =
//!     client_async_with("ws://localhost/echo", client_io, options).await?;
//! assert_eq!(response.subprotocol.as_deref(), Some("echo.v1"));
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.recv().await.unwrap()?, Message::text("hello"));
//! ws.close(Some(CloseFrame::new(CloseCode::NORMAL, "bye").unwrap())).await?;
//! server.await.unwrap()?;
//! # Ok(())
//! # }
//! ```
//!
//! Over TCP (`ws://` URLs):
//!
//! ```
//! use ferrosocket_tokio::{Error, Message, accept, connect};
//! use tokio::net::TcpListener;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! tokio::spawn(async move {
//!     while let Ok((socket, _)) = listener.accept().await {
//!         tokio::spawn(async move {
//!             let mut ws = accept(socket).await?;
//!             while let Some(message) = ws.recv().await {
//!                 if let m @ (Message::Text(_) | Message::Binary(_)) = message? {
//!                     ws.send(m).await?;
//!                 }
//!             }
//!             Ok::<_, Error>(())
//!         });
//!     }
//! });
//!
//! let (mut ws, _response) = connect(&url).await?;
//! ws.send(Message::text("hi")).await?;
//! assert_eq!(ws.recv().await.unwrap()?, Message::text("hi"));
//! ws.close(None).await?;
//! # Ok(()) }
//! ```
//!
//! # Cancel safety
//!
//! [`recv`](WebSocketStream::recv) and [`flush`](WebSocketStream::flush) are cancel
//! safe (use them in `select!`); [`send`](WebSocketStream::send) either did not
//! queue the message or queued it whole; [`send_fragments`](WebSocketStream::send_fragments)
//! is not cancel safe. Each method documents its case.
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod handshake;
mod io;
mod stream;
mod transport;

pub use ferrosocket_io::TokioIo;
#[cfg(feature = "tls")]
pub use ferrosocket_io::tls::client_config;
#[cfg(feature = "tls")]
pub use handshake::connect_tls_with;
pub use handshake::{
    accept, accept_with, accept_with_config, client_async, client_async_with, connect, connect_with,
};
pub use io::TokioTimer;
pub use stream::{ReadHalf, ReuniteError, WebSocketStream, WriteHalf};
#[cfg(feature = "tls")]
pub use tokio_rustls::{self, rustls};
pub use transport::{MaybeTlsStream, Tokio};

pub use ferrosocket_io::{
    ClientOptions, Decision, Error, Keepalive, Message, Response, StreamConfig, Timer,
};
pub use ferrosocket_proto as proto;
#[cfg(feature = "deflate")]
pub use ferrosocket_proto::deflate::DeflateConfig;
pub use ferrosocket_proto::handshake::{Accept, Headers, Reject, Request};
pub use ferrosocket_proto::{
    CloseCode, CloseFrame, Config, LocalError, OpCode, ProtocolError, Role, State, Utf8Bytes,
};
