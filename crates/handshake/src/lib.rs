//! The WebSocket opening handshake of RFC 6455 section 4, sans-IO.
//!
//! This crate turns bytes into validated handshake values and values into
//! bytes, for both sides:
//!
//! * **server**: [`RequestParser`] parses the client's request incrementally
//!   and validates it ([`Request`]); [`Request::write_accept`] writes the
//!   `101 Switching Protocols` answer with the chosen subprotocol and
//!   extensions ([`Accept`]); [`Reject`] and
//!   [`HandshakeError::write_response`] write refusals (400, 405, 426 with
//!   `Sec-WebSocket-Version: 13`, 431, ...);
//! * **client**: [`ClientRequest`] writes the request and returns a
//!   [`ClientHandshake`] that parses and checks the answer ([`Outcome`]);
//! * **`http` interop** (feature `http`): [`Request::from_http`] validates a
//!   request hyper or axum already parsed, [`Request::accept_http`] builds
//!   the `http::Response`.
//!
//! It does **no I/O** (no sockets, no runtime: the caller moves the bytes)
//! and **no framing**: bytes that follow the header block are handed back
//! untouched, since they may already be WebSocket frames for the codec.
//! Extension negotiation is a hook: offers are parsed into
//! [`ExtensionOffer`]s and the application decides what to agree to.
//! Neither TLS, redirects, authentication, cookies nor WebSocket over
//! HTTP/2 (RFC 8441) are handled here.
//!
//! Parsing is linear-time in the input however it is chunked (each byte is
//! scanned once, `httparse` runs once per message), bounded by [`Limits`],
//! and never panics on peer data.
//!
//! # Example
//!
//! ```
//! use ferrosocket_handshake::{
//!     Accept, ClientRequest, ExtensionOffer, Key, Outcome, RequestParser, Status,
//! };
//!
//! // Client: build the request (use `Key::generate()` for a random key).
//! let key = Key::from_bytes(*b"the sample nonce");
//! let mut to_server = Vec::new();
//! let mut client = ClientRequest::new("example.com", "/chat", key)
//!     .subprotocol("v2.chat")
//!     .subprotocol("v1.chat")
//!     .extension(ExtensionOffer::new("permessage-deflate").with_param("client_max_window_bits"))
//!     .write_to(&mut to_server)?;
//!
//! // Server: parse it, here in two pieces.
//! let mut parser = RequestParser::new();
//! let (first, second) = to_server.split_at(10);
//! assert!(matches!(parser.feed(first)?, Status::Partial));
//! let Status::Complete { value: request, consumed } = parser.feed(second)? else {
//!     panic!("header block is complete");
//! };
//! assert_eq!(consumed, second.len());
//! assert_eq!(request.subprotocols(), ["v2.chat", "v1.chat"]);
//! assert_eq!(request.extensions()[0].name, "permessage-deflate");
//!
//! // Server: accept with the preferred subprotocol, then send a first frame.
//! let mut to_client = Vec::new();
//! request.write_accept(&Accept::new().subprotocol("v2.chat"), &mut to_client)?;
//! to_client.extend_from_slice(&[0x81, 0x02, b'h', b'i']); // a text frame "hi"
//!
//! // Client: check the answer; the frame bytes come back untouched.
//! let Status::Complete { value: Outcome::Accepted(accepted), consumed } =
//!     client.feed(&to_client)?
//! else {
//!     panic!("server accepted");
//! };
//! assert_eq!(accepted.subprotocol.as_deref(), Some("v2.chat"));
//! assert_eq!(&to_client[consumed..], &[0x81, 0x02, b'h', b'i']);
//! # Ok::<(), ferrosocket_handshake::HandshakeError>(())
//! ```
//!
//! # Features
//!
//! * `std` (default): OS randomness for [`Key::generate`]. Without it the
//!   crate is `no_std` + `alloc`.
//! * `http` (default, implies `std`): conversions with the `http` crate.
#![no_std]
#![forbid(unsafe_code)]
// The docs link to items of the default features (`Key::generate`,
// `Request::from_http`); tolerate those links in builds without them.
#![cfg_attr(
    not(all(feature = "std", feature = "http")),
    allow(rustdoc::broken_intra_doc_links)
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod client;
mod error;
mod extension;
mod head;
mod headers;
#[cfg(feature = "http")]
mod http_interop;
mod key;
mod server;
mod url;

pub use client::{
    Accepted, ClientHandshake, ClientRequest, Outcome, Rejected, Response, ResponseParser,
};
pub use error::HandshakeError;
pub use extension::ExtensionOffer;
#[doc(hidden)]
pub use head::ParseStats;
pub use headers::{Headers, HeadersIter};
#[cfg(feature = "http")]
pub use http_interop::is_websocket_upgrade;
#[cfg(feature = "std")]
pub use key::generate_key;
pub use key::{Key, WEBSOCKET_GUID, accept_key};
pub use server::{Accept, Reject, Request, RequestParser};
pub use url::{Scheme, Url, UrlError};

/// Progress of an incremental parser, like `httparse::Status`: needing more
/// input is a status, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// The header block is not complete; all the input was taken.
    Partial,
    /// The header block is complete.
    Complete {
        /// The parsed value.
        value: T,
        /// How many bytes of the **last** input belonged to the header
        /// block; the rest of that input was not looked at and belongs to
        /// the caller (WebSocket frames, or a response body).
        consumed: usize,
    },
}

impl<T> Status<T> {
    /// Whether this is [`Status::Complete`].
    #[must_use]
    pub const fn is_complete(&self) -> bool {
        matches!(self, Self::Complete { .. })
    }

    /// Whether this is [`Status::Partial`].
    #[must_use]
    pub const fn is_partial(&self) -> bool {
        matches!(self, Self::Partial)
    }
}

/// Bounds on what a peer can make a parser buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Maximum size of a header block in bytes, start line and final empty
    /// line included (default 16 KiB). Exceeding it is
    /// [`HandshakeError::HeadersTooLarge`] (431), reported before more than
    /// this many bytes are buffered.
    pub max_header_bytes: usize,
    /// Maximum number of header fields (default 64). Exceeding it is
    /// [`HandshakeError::TooManyHeaders`] (431).
    pub max_headers: usize,
}

impl Limits {
    /// Default maximum header block size: 16 KiB.
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
    /// Default maximum number of header fields: 64.
    pub const DEFAULT_MAX_HEADERS: usize = 64;

    /// The default limits.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            max_headers: Self::DEFAULT_MAX_HEADERS,
        }
    }

    /// Sets [`max_header_bytes`](Self::max_header_bytes).
    #[must_use]
    pub const fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets [`max_headers`](Self::max_headers).
    #[must_use]
    pub const fn max_headers(mut self, headers: usize) -> Self {
        self.max_headers = headers;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}
