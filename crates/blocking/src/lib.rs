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
//! # Two threads: split halves
//!
//! [`WebSocketStream::split`] gives a [`ReadHalf`] and a [`WriteHalf`] for a
//! ws4py-style threaded program: one thread blocked in [`ReadHalf::recv`] (as long
//! as the peer is quiet), another calling [`WriteHalf::send`] whenever it likes. The
//! socket gets a second handle ([`SplitSocket`]: TCP and Unix sockets; a TLS stream
//! cannot be split and comes back in the [`SplitError`]), so no lock is held around
//! the blocking read; the protocol core is shared behind a lock held only for
//! short non-blocking steps, and writes go out one writer at a time. The read half
//! answers pings and runs the timers; [`WriteHalf::close`] waits for the read half
//! to receive the peer's close, at most the close timeout. [`ReadHalf::reunite`]
//! puts the stream back together.
//!
//! # The end of a connection
//!
//! The same as on every runtime (the scenarios of `ferrosocket-testkit`'s
//! `behaviour` module run against all of them): a server closes the TCP
//! connection as soon as the closing handshake is over; a client waits for the
//! server to close it first, at most the close timeout, as RFC 6455 section 7.1.1
//! asks (the server then holds TIME_WAIT, not the client). A refused client gets
//! [`Error::Rejected`] with the status and at most 16 KiB of the body.
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
mod split;
mod stream;
mod transport;

#[cfg(feature = "tls")]
pub use handshake::connect_tls_with;
pub use handshake::{
    accept, accept_with, accept_with_config, client, client_with, connect, connect_with,
};
pub use split::{ReadHalf, ReuniteError, SplitError, WriteHalf};
pub use stream::WebSocketStream;
pub use transport::{MaybeTlsStream, NoTimeouts, SplitSocket, Std, Transport};

#[cfg(feature = "tls")]
pub use ferrosocket_io::tls::{client_config, rustls};
#[cfg(feature = "tls")]
pub use transport::TlsStream;

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
