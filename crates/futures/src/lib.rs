//! ferrosocket on the `futures-io` traits, for **smol** and async-std: a WebSocket
//! [`WebSocketStream`] over any `AsyncRead + AsyncWrite + Unpin` socket, the server
//! handshake ([`accept`], [`accept_with`]) and the client's ([`client_async`], and
//! `connect` in the runtime modules).
//!
//! The API is `ferrosocket-tokio`'s, name for name: switching runtimes is changing
//! an import (`ferrosocket_tokio::connect` → `ferrosocket_futures::smol::connect`).
//! This crate is thin glue: the protocol lives in [`ferrosocket_proto`]
//! ([`StreamCore`](ferrosocket_io::StreamCore) and
//! [`WsConnection`](ferrosocket_proto::WsConnection)); here are only sockets, wakers
//! and the timer.
//!
//! # Runtimes
//!
//! * **smol** (feature `smol`, recommended): [`smol::connect`], [`smol::accept`],
//!   ... with smol's TCP and timer.
//! * **async-std** (feature `async-std`): [`async_std::connect`], ... **async-std is
//!   discontinued upstream** (RUSTSEC-2025-0052, its authors point to smol); the
//!   module is kept for existing applications, new code should use smol.
//! * Any other futures-io runtime: the functions at the crate root.
//!
//! # Timeouts
//!
//! Runtime-neutral code cannot sleep. [`StreamConfig::handshake_timeout`] and
//! [`StreamConfig::close_timeout`] are applied by the runtime modules' functions,
//! which use the runtime's [`Timer`]; the crate-root functions have no timer and
//! apply **neither** (bound them with your runtime's timeout, or give the stream a
//! timer with [`WebSocketStream::set_timer`] for the close).
//!
//! # The stream
//!
//! * [`WebSocketStream`] is a [`Stream`](futures_core::Stream) of
//!   `Result<Message, Error>` and a [`Sink<Message>`](futures_sink::Sink), and has
//!   async methods: [`recv`](WebSocketStream::recv) (cancel safe),
//!   [`send`](WebSocketStream::send), [`feed`](WebSocketStream::feed) +
//!   [`flush`](WebSocketStream::flush), [`close`](WebSocketStream::close),
//!   [`send_fragments`](WebSocketStream::send_fragments).
//! * [`split`](WebSocketStream::split) gives a [`ReadHalf`] and a [`WriteHalf`] for
//!   two tasks, without a lock held across `.await`; pings are answered even while
//!   the write half is idle (see [`ReadHalf`] for the design).
//! * Back-pressure and memory: reads happen only when a message is asked for;
//!   sending waits while [`StreamConfig::write_buffer_limit`] bytes are queued; the
//!   read buffer grows on demand and is freed when the connection is idle.
//!   `AsyncRead` wants an initialized slice, so each read zeroes the part of the
//!   spare room it reads into, at most [`StreamConfig::read_chunk`] bytes.
//!
//! # Example
//!
//! An echo server and a client over loopback TCP, here on smol with the
//! runtime-neutral functions; `ferrosocket_futures::smol::{accept_with,
//! connect_with}` are the same with the timeouts applied (and `connect_with` opens
//! the TCP connection itself).
//!
//! ```
//! use ferrosocket_futures::{
//!     Accept, ClientOptions, Error, Message, Reject, Request, accept_with, client_async_with,
//! };
//!
//! # fn main() -> Result<(), Error> {
//! smol::block_on(async {
//!     let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!
//!     // Server: check the path, pick a subprotocol, echo until the client closes.
//!     let server = smol::spawn(async move {
//!         let (socket, _) = listener.accept().await?;
//!         let mut ws = accept_with(socket, async |request: &Request| {
//!             if request.path() != "/echo" {
//!                 return Err(Reject::new(404).body("no such endpoint"));
//!             }
//!             Ok(Accept::new().subprotocol("echo.v1"))
//!         })
//!         .await?;
//!         while let Some(message) = ws.recv().await {
//!             match message? {
//!                 m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
//!                 _ => {} // pings are answered, the close is echoed
//!             }
//!         }
//!         Ok::<_, Error>(())
//!     });
//!
//!     let socket = smol::net::TcpStream::connect(addr).await?;
//!     let options = ClientOptions::new().subprotocol("echo.v1");
//!     let url = format!("ws://{addr}/echo");
//!     let (mut ws, response) = client_async_with(&url, socket, options).await?;
//!     assert_eq!(response.subprotocol.as_deref(), Some("echo.v1"));
//!     ws.send(Message::text("hello")).await?;
//!     assert_eq!(ws.recv().await.unwrap()?, Message::text("hello"));
//!     ws.close(None).await?;
//!     server.await
//! })
//! # }
//! ```
//!
//! # Cancel safety
//!
//! [`recv`](WebSocketStream::recv) and [`flush`](WebSocketStream::flush) are cancel
//! safe; [`send`](WebSocketStream::send) either did not queue the message or queued
//! it whole; [`send_fragments`](WebSocketStream::send_fragments) is not cancel safe.
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod handshake;
mod runtime;
mod stream;
mod timer;

pub use ferrosocket_io::FuturesIo;
pub use ferrosocket_io::MaybeTlsStream;
pub use handshake::{accept, accept_with, accept_with_config, client_async, client_async_with};
#[cfg(feature = "async-std")]
pub use runtime::async_std;
#[cfg(feature = "smol")]
pub use runtime::smol;
pub use stream::{ReadHalf, ReuniteError, WebSocketStream, WriteHalf};
pub use timer::{BoxedSleep, Timer};

#[cfg(feature = "tls")]
pub use ferrosocket_io::tls::{client_config, rustls};
#[cfg(feature = "tls")]
pub use futures_rustls;

// `Timer` here is the runtime timer; the timer a `Error::Timeout` names is
// `proto::Timer`.
pub use ferrosocket_io::{
    ClientOptions, Decision, Error, Keepalive, Message, Response, StreamConfig,
};
pub use ferrosocket_proto as proto;
#[cfg(feature = "deflate")]
pub use ferrosocket_proto::deflate::DeflateConfig;
pub use ferrosocket_proto::handshake::{Accept, Headers, Reject, Request};
pub use ferrosocket_proto::{
    CloseCode, CloseFrame, Config, LocalError, OpCode, ProtocolError, Role, State, Utf8Bytes,
};
