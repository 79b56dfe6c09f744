//! The application layer (Python Pants' and ws4py's ideas): a [`Handler`] per
//! connection with synchronous callbacks, a [`Context`] that queues writes, a
//! [`Server`] with routes and typed path captures and a plain-HTTP fallback, a
//! [`Manager`] of the live connections with non-blocking broadcast, a heartbeat,
//! and read delimiters (`ferrosocket-delimit`) that cut received data into the
//! items handed to [`Handler::on_read`].
//!
//! What is runtime-neutral: the handler API, the context, the manager, routing
//! and the HTTP types. What runs on tokio (feature `tokio`): [`Server`] and
//! [`connect`], whose connection task drives a
//! [`ferrosocket_tokio::WebSocketStream`](ferrosocket_tokio::WebSocketStream).
//!
//! Users name this crate as `ferrosocket::app` (the facade's `app` feature).
//!
//! # How a connection runs
//!
//! One task per connection polls, in one place: the manager's close orders, the
//! heartbeat timer, the socket's room for the next queued write, and (while
//! little is queued) the next received message. Callbacks run between polls.
//! Writes queued by a callback go out in order; a peer that does not read makes
//! the queue wait, and while it is long the connection stops reading (so memory
//! stays bounded), but it never blocks another connection. See [`Handler`] for
//! an example.

#![forbid(unsafe_code)]
// Without a runtime feature nothing drives a connection: the driver's half of
// the runtime-neutral types is unused.
#![cfg_attr(
    not(any(feature = "tokio", feature = "smol", feature = "blocking")),
    allow(dead_code, unused_imports, unused_macros)
)]

// The engine's types, as `crate::Message` etc. for the modules.
use ferrosocket_io::{Error, Message, StreamConfig};
use ferrosocket_proto::handshake::{Accept, Headers, Reject, Request};
use ferrosocket_proto::{CloseCode, CloseFrame, OpCode};

mod context;
mod handler;
mod manager;
mod plain;
mod route;

#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod driver;
pub mod rt;
mod server;
#[cfg(feature = "blocking")]
mod threads;

pub use context::{Context, Fragment, WriteError};
pub use handler::{Handler, Handshake, HandshakeRequest, HandshakeResponse, Pending};
pub use manager::{Backpressure, Broadcast, ConnectionId, Manager, QueueFull};
pub use plain::{HttpRequest, HttpResponse};
pub use route::{Capture, Captures, Pattern, PatternError};

pub use client::Client;
#[cfg(feature = "tokio")]
pub use client::connect;
pub use server::{Server, ServerBuilder};

pub use ferrosocket_delimit as delimit;
pub use ferrosocket_delimit::{DataKind, DelimitError, Item, Mode, Record, RecordError};

use std::time::Duration;

/// Keep-alive pings: one every `interval`; a connection whose pong has not come
/// back within `timeout` of a ping is dead and dropped
/// ([`Handler::on_close`] gets 1006). Each pong's round-trip time reaches
/// [`Handler::on_pong`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Time between pings.
    pub interval: Duration,
    /// How long a pong may take.
    pub timeout: Duration,
}

impl Heartbeat {
    /// A ping every `interval`, answered within `timeout`.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Self { interval, timeout }
    }
}
