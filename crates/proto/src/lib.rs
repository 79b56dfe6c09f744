//! The WebSocket protocol (RFC 6455) as a sans-IO state machine: bytes in, events
//! out, bytes to send.
//!
//! No sockets, no runtime, no clock, no global random generator: the caller moves
//! bytes between the transport and a [`Connection`] (after the opening handshake) or a
//! [`WsConnection`] (which drives the handshake too, for either role), and pulls
//! [`Event`]s. Randomness for client masking keys is injected ([`RandomSource`];
//! [`OsRandom`], the OS CSPRNG, by default).
//!
//! * **Receiving** checks every rule of RFC 6455 with the right close code (1002
//!   protocol error, 1007 invalid UTF-8 — fail fast, 1009 too big — from the frame
//!   header, before buffering), queues the close frame itself and reports an
//!   [`Error::Protocol`]. Pings are answered, the peer's close is echoed.
//! * **Delivery** is either whole messages (default; a message in one frame is never
//!   copied: its payload is split out of the read buffer and unmasked in place) or
//!   pieces as they arrive ([`Delivery::Streaming`]: memory bounded by a read, and
//!   through permessage-deflate pieces of at most 64 KiB decoded, whatever the
//!   message size), switched between messages with [`Connection::set_delivery`]. Text comes
//!   as [`Utf8Bytes`], validated once, as it arrived.
//! * **Sending** queues wire bytes in an output the caller drains
//!   ([`Connection::output`] + [`Connection::consume`], the pieces for a vectored
//!   write with [`Connection::output_chunks`], or [`Connection::take_output`]); a
//!   server's large payloads given as [`Bytes`](bytes::Bytes) are pieces of their own,
//!   never copied. Illegal sends are [`Error::Local`]s, never panics.
//! * **Errors** are one type, [`Error`], whose variant says who is at fault
//!   ([`Error::fault`]): the peer ([`ProtocolError`] details, with the close code
//!   sent), us ([`LocalError`]), or the transport.
//! * **Extensions** (permessage-deflate) plug in through [`Extension`].
//!
//! # Example
//!
//! A client and a server talking through byte buffers:
//!
//! ```
//! use ferrosocket_proto::{CloseCode, Config, Connection, Event, Role, SeededRandom, Side, State};
//!
//! // SeededRandom keeps the example deterministic; real clients use Connection::new
//! // (OS randomness).
//! let mut client = Connection::with_random(Role::Client, Config::default(), SeededRandom::new(1));
//! let mut server = Connection::new(Role::Server, Config::default());
//!
//! client.send_text("hello")?;
//! client.ping(b"are you there?")?;
//! server.receive_data(&client.take_output());
//!
//! let mut got = Vec::new();
//! while let Some(event) = server.next_event() {
//!     got.push(event?);
//! }
//! assert!(matches!(&got[0], Event::Text { data, message_finished: true, .. } if data == "hello"));
//! assert!(matches!(&got[1], Event::Ping(p) if &p[..] == b"are you there?"));
//!
//! // The server answered the ping by itself; send a reply and close.
//! server.send_binary(&[1, 2, 3])?;
//! server.close(CloseCode::NORMAL, "bye")?;
//! client.receive_data(&server.take_output());
//! let events: Vec<Event> = client.events().collect::<Result<_, _>>()?;
//! assert!(matches!(&events[0], Event::Pong(p) if &p[..] == b"are you there?"));
//! assert!(matches!(&events[1], Event::Binary { data, .. } if &data[..] == [1, 2, 3]));
//! assert!(matches!(
//!     &events[2],
//!     Event::Close { code: CloseCode::NORMAL, reason, initiated_by: Side::Remote } if reason == "bye"
//! ));
//! // The client echoed the close: its side of the handshake is done.
//! assert_eq!(client.state(), State::Closed);
//! server.receive_data(&client.take_output());
//! assert!(matches!(server.next_event(), Some(Ok(Event::Close { initiated_by: Side::Local, .. }))));
//! assert_eq!(server.state(), State::Closed); // now close the TCP connection
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For a full handshake over TCP see `examples/tcp.rs` and [`WsConnection`].
//!
//! # Features
//!
//! * `std` (default): [`OsRandom`] (via `getrandom`) and [`Connection::new`]. Without
//!   it the crate is `no_std` + `alloc`; pass a [`RandomSource`] to
//!   [`Connection::with_random`].
#![no_std]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(not(feature = "std"), allow(rustdoc::broken_intra_doc_links))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod config;
mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
mod error;
mod event;
mod extension;
mod random;
mod time;
mod ws;

pub use config::{Config, Delivery, Role};
pub use connection::{Connection, Events};
#[doc(hidden)]
pub use error::WsError;
pub use error::{Error, Fault, LocalError, ProtocolError};
pub use event::{Event, Side, State, Utf8Bytes};
pub use extension::{Extension, ExtensionError, Rsv};
#[cfg(feature = "std")]
pub use random::OsRandom;
pub use random::{RandomSource, SeededRandom};
pub use time::{Instant, Keepalive, Timer};
pub use ws::{WsConnection, WsEvents};

pub use bytes;
pub use ferrosocket_codec::{CloseCode, CloseFrame, FrameError, OpCode};
pub use ferrosocket_handshake as handshake;
pub use ferrosocket_utf8::Utf8Error;
