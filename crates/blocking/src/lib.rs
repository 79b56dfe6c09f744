//! ferrosocket over blocking `std::io`: a WebSocket [`WebSocketStream`] over any
//! `Read + Write` socket, [`accept`] / [`accept_with`] for servers, [`connect`] / [`client`] for
//! clients. One thread per connection, no runtime.
//!
//! The protocol (framing, masking, UTF-8 checks, pings, the close handshake, limits)
//! is [`ferrosocket_proto`]'s; this crate only moves bytes. The same API, modulo
//! `async`, exists for tokio (`ferrosocket-tokio`) and for smol / async-std
//! (`ferrosocket-futures`).
//!
//! # Example
//!
//! An echo server on one thread, a client on another:
//!
//! ```
//! use std::net::TcpListener;
//! use ferrosocket_blocking::{Message, accept, connect};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let url = format!("ws://{}/echo", listener.local_addr()?);
//! let server = std::thread::spawn(move || -> Result<(), ferrosocket_blocking::Error> {
//!     let (socket, _) = listener.accept()?;
//!     let mut ws = accept(socket)?;
//!     assert_eq!(ws.request().unwrap().path(), "/echo");
//!     // `None` after the client's close (echoed automatically).
//!     while let Some(message) = ws.recv() {
//!         match message? {
//!             m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m)?,
//!             _ => {}
//!         }
//!     }
//!     Ok(())
//! });
//!
//! let (mut ws, _response) = connect(&url)?;
//! ws.send(Message::text("hello"))?;
//! assert_eq!(ws.recv().unwrap()?, Message::text("hello"));
//! ws.close(None)?; // waits for the server's close, at most close_timeout
//! server.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Timeouts
//!
//! The opening handshake ([`StreamConfig::handshake_timeout`]) and the closing one
//! ([`StreamConfig::close_timeout`]) are deadlines: each read or write gets the time
//! left as the socket timeout, so a peer trickling bytes cannot stretch them. That
//! needs a socket with timeouts: [`Transport`] is implemented by `TcpStream` and
//! `UnixStream`; wrap other streams in [`NoTimeouts`] (or implement [`Transport`] on
//! a newtype). Between messages, reads block unless you set
//! [`WebSocketStream::set_read_timeout`].
//!
//! # Reading
//!
//! `std::io::Read` wants an initialized slice, so each read zeroes the part of the
//! buffer's spare room it reads into: at most [`StreamConfig::read_chunk`] bytes
//! (8 KiB by default), never the whole buffer. Raise `read_chunk` for fewer system
//! calls on large messages, at the price of zeroing more per read.
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod handshake;
mod stream;
mod transport;

pub use handshake::{
    accept, accept_with, accept_with_config, client, client_with, connect, connect_with,
};
pub use stream::WebSocketStream;
pub use transport::{NoTimeouts, Transport};

pub use ferrosocket_proto as proto;
pub use ferrosocket_proto::handshake::{Accept, Headers, Reject, Request};
pub use ferrosocket_proto::stream::{Error, Message, StreamConfig};
pub use ferrosocket_proto::{
    CloseCode, CloseFrame, Config, LocalError, OpCode, ProtocolError, Role, State, Utf8Bytes,
};

use ferrosocket_proto::handshake::{ClientRequest, Key, Url};

/// The server application's answer to an opening request, from the callback of
/// [`accept_with`].
///
/// `Result<Accept, Reject>`, [`Accept`] and [`Reject`] convert into it, so a
/// callback can return any of them.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Upgrade, with this subprotocol, extensions and headers.
    Accept(Accept),
    /// Refuse with this status, headers and body.
    Reject(Reject),
}

impl From<Accept> for Decision {
    fn from(accept: Accept) -> Self {
        Self::Accept(accept)
    }
}

impl From<Reject> for Decision {
    fn from(reject: Reject) -> Self {
        Self::Reject(reject)
    }
}

impl From<Result<Accept, Reject>> for Decision {
    fn from(result: Result<Accept, Reject>) -> Self {
        match result {
            Ok(accept) => Self::Accept(accept),
            Err(reject) => Self::Reject(reject),
        }
    }
}

/// The server's `101 Switching Protocols` answer, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status: always 101 (a refusal is [`Error::Rejected`]).
    pub status: u16,
    /// The subprotocol the server selected, one of those offered.
    pub subprotocol: Option<String>,
    /// All header fields of the answer.
    pub headers: Headers,
}

/// Adapters use whole messages.
fn assembled(mut config: StreamConfig) -> StreamConfig {
    config.protocol = config
        .protocol
        .delivery(ferrosocket_proto::Delivery::Assembled);
    config
}

/// Options of a client handshake ([`client_with`], [`connect_with`]).
///
/// ```
/// use ferrosocket_blocking::{ClientOptions, StreamConfig};
/// let options = ClientOptions::new()
///     .config(StreamConfig::default().write_buffer_limit(64 * 1024))
///     .subprotocol("chat.v1")
///     .header("Authorization", "Bearer t0ken");
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The stream settings (limits, buffers, timeouts).
    pub config: StreamConfig,
    /// Subprotocols to offer, preferred first.
    pub subprotocols: Vec<String>,
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ClientOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the stream settings.
    pub fn config(mut self, config: StreamConfig) -> Self {
        self.config = config;
        self
    }

    /// Offers a subprotocol (call again for more, preferred first).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Sets the `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn request(&self, url: &Url, key: Key) -> ClientRequest {
        let mut request = url.client_request(key);
        for protocol in &self.subprotocols {
            request = request.subprotocol(protocol.clone());
        }
        if let Some(origin) = &self.origin {
            request = request.origin(origin.clone());
        }
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        request
    }
}
