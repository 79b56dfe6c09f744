//! ferrosocket: a fast, conformant WebSocket library (RFC 6455) with one sans-IO
//! protocol core and adapters for tokio, async-std, smol and blocking `std::io`.
//!
//! The message types, configuration and errors live at the crate root and are the
//! same for every runtime. Each runtime has a module with the same functions and types
//! (`accept`, `accept_with`, `connect`, `connect_with`, `WebSocketStream`,
//! `ClientOptions`, `Decision`, `Response`): protocol code written against the root
//! types switches runtime by changing a feature and an import.
//!
//! | feature | module | adapter crate |
//! |---|---|---|
//! | `tokio` (default) | [`tokio`] | `ferrosocket-tokio` |
//! | `smol` | `smol` | `ferrosocket-futures` (futures-io) |
//! | `async-std` | `async_std` | `ferrosocket-futures` (async-std is discontinued upstream, RUSTSEC-2025-0052: prefer smol) |
//! | `blocking` | `blocking` | `ferrosocket-blocking` (`std::io::Read + Write`) |
//! | `tls` | every adapter's module | `wss://` in `connect` (rustls, Mozilla roots; `connect_tls_with` for others), the app client, `app::Server::serve_tls` |
//! | `axum` | `app::axum` | mounting the app layer in axum: `app::Server::service` for `Router::route_service`, the `WebSocketUpgrade` extractor |
//!
//! Below the adapters sit `ferrosocket-proto` (the sans-IO connection, re-exported as
//! [`proto`]), `ferrosocket-handshake`, `ferrosocket-codec` and `ferrosocket-utf8`;
//! use them directly to drive WebSockets from your own event loop.
//!
//! # Example (tokio)
//!
//! An echo server and a client talking to it over loopback TCP:
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrosocket::Message;
//! use ferrosocket::tokio::{accept, connect};
//!
//! let rt = ::tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let listener = ::tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let url = format!("ws://{}/echo", listener.local_addr()?);
//!     ::tokio::spawn(async move {
//!         let (tcp, _) = listener.accept().await?;
//!         let mut ws = accept(tcp).await?;
//!         while let Some(message) = ws.recv().await {
//!             let message = message?;
//!             if message.is_data() {
//!                 ws.send(message).await?;
//!             }
//!         }
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!     });
//!
//!     let (mut ws, _response) = connect(&url).await?;
//!     ws.send(Message::text("hello")).await?;
//!     assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//!     ws.close(None).await?;
//!     Ok(())
//! })
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "app")]
pub use ferrosocket_app as app;

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

/// tokio: [`accept`](crate::tokio::accept), [`connect`](crate::tokio::connect) and
/// [`WebSocketStream`](crate::tokio::WebSocketStream) over any `AsyncRead + AsyncWrite`.
#[cfg(feature = "tokio")]
pub mod tokio {
    pub use ferrosocket_tokio::{
        ClientOptions, Decision, MaybeTlsStream, ReadHalf, Response, ReuniteError, WebSocketStream,
        WriteHalf, accept, accept_with, accept_with_config, client_async, client_async_with,
        connect, connect_with,
    };
    #[cfg(feature = "tls")]
    pub use ferrosocket_tokio::{client_config, connect_tls_with, rustls, tokio_rustls};
}

/// smol: the same API over futures-io, with smol's TCP and timer.
#[cfg(feature = "smol")]
pub mod smol {
    pub use ferrosocket_futures::smol::*;
    pub use ferrosocket_futures::{
        ClientOptions, Decision, ReadHalf, Response, ReuniteError, WebSocketStream, WriteHalf,
    };
    #[cfg(feature = "tls")]
    pub use ferrosocket_futures::{client_config, futures_rustls, rustls};
}

/// async-std: the same API over futures-io, with async-std's TCP and timer.
///
/// async-std is discontinued upstream (RUSTSEC-2025-0052); [`smol`](crate#features)
/// is its successor.
#[cfg(feature = "async-std")]
pub mod async_std {
    pub use ferrosocket_futures::async_std::*;
    pub use ferrosocket_futures::{
        ClientOptions, Decision, ReadHalf, Response, ReuniteError, WebSocketStream, WriteHalf,
    };
    #[cfg(feature = "tls")]
    pub use ferrosocket_futures::{client_config, futures_rustls, rustls};
}

/// Blocking `std::io`: the same API for threads and simple tools.
#[cfg(feature = "blocking")]
pub mod blocking {
    pub use ferrosocket_blocking::{
        ClientOptions, Decision, MaybeTlsStream, NoTimeouts, Response, Transport, WebSocketStream,
        accept, accept_with, accept_with_config, client, client_with, connect, connect_with,
    };
    #[cfg(feature = "tls")]
    pub use ferrosocket_blocking::{client_config, connect_tls_with, rustls};
}
