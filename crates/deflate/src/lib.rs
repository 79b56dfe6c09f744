//! permessage-deflate (RFC 7692) for WebSocket: parameter negotiation for both roles
//! and the per-connection codec, with bounded, bomb-safe decompression.
//!
//! The crate is a leaf: it knows nothing of frames, headers or connections. It
//! speaks in plain parameter lists, `(name, value)` pairs of one `permessage-deflate`
//! element of `Sec-WebSocket-Extensions`, as the caller split them (quoted values
//! already unquoted), and in message payloads, whole or in pieces.
//!
//! * **Negotiation.** [`DeflateConfig`] holds what this end wants. A client sends
//!   [`DeflateConfig::client_offer`] and checks the server's answer with
//!   [`DeflateConfig::client_accept`], which refuses anything the RFC says a client
//!   must fail the connection for ([`NegotiationError::close_code`]: 1010). A server
//!   runs the client's offers through [`DeflateConfig::server_accept`], which
//!   declines malformed or unacceptable offers and takes the first good one.
//!   [`header_value`] renders parameters for the header. Both ends get the same
//!   [`Agreed`] parameters.
//! * **Codec.** [`Agreed::into_codec`] builds the [`PerMessageDeflate`] of one end.
//!   Sending: [`PerMessageDeflate::begin_message`] decides whether a message is
//!   compressed (its RSV1 bit), then [`PerMessageDeflate::compress_chunk`] turns it
//!   into wire bytes piece by piece, so a fragmented message can be compressed frame
//!   by frame. Receiving: [`PerMessageDeflate::decompress`] inflates the payload of a
//!   message that had RSV1 set, piece by piece, never appending more than the
//!   caller's `max_len` ([`DeflateError::TooBig`], close 1009; corrupt data is
//!   [`DeflateError::Corrupt`], close 1007).
//!
//! # Example
//!
//! ```
//! use ferrosocket_deflate::{header_value, borrow_params, DeflateConfig, Role};
//!
//! // The client offers; Chromium's offer is the same as our default one.
//! let client_config = DeflateConfig::new();
//! let offer = client_config.client_offer();
//! assert_eq!(header_value(&offer), "permessage-deflate; client_max_window_bits");
//!
//! // The server (which wants the client's window small) answers the first offer it
//! // can honour, here the only one.
//! let server_config = DeflateConfig::new().client_max_window_bits(10)?;
//! let offers = [borrow_params(&offer)];
//! let (server_agreed, answer) = server_config
//!     .server_accept(offers.iter().map(Vec::as_slice))
//!     .expect("offer accepted");
//! assert_eq!(header_value(&answer), "permessage-deflate; client_max_window_bits=10");
//!
//! // The client checks the answer; both ends now agree.
//! let client_agreed = client_config.client_accept(&borrow_params(&answer))?;
//! assert_eq!(client_agreed, server_agreed);
//! let mut client = client_agreed.into_codec(Role::Client, &client_config);
//! let mut server = server_agreed.into_codec(Role::Server, &server_config);
//!
//! // A message in two pieces (two frames): RSV1 is decided by the first.
//! let text = b"{\"op\":\"update\",\"items\":[1,2,3]} {\"op\":\"update\",\"items\":[4,5,6]}";
//! let mut frames = vec![Vec::new(), Vec::new()];
//! assert!(client.begin_message(None), "compressed: set RSV1 on the first frame");
//! client.compress_chunk(&text[..20], false, &mut frames[0])?;
//! client.compress_chunk(&text[20..], true, &mut frames[1])?;
//! assert!(frames[0].len() + frames[1].len() < text.len());
//!
//! // The server inflates the frames as they come, within a 1 MiB message limit.
//! let mut message = Vec::new();
//! server.decompress(&frames[0], false, &mut message, 1 << 20)?;
//! let left = (1 << 20) - message.len();
//! server.decompress(&frames[1], true, &mut message, left)?;
//! assert_eq!(message, text);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Decisions
//!
//! * **Window bits 8.** RFC 7692 allows `*_max_window_bits=8`, but zlib (and the
//!   pure-Rust zlib-rs behind `flate2` here) cannot compress raw deflate with a
//!   256-byte window: it refuses, or silently uses 9, which would break the
//!   agreement. Our own windows are therefore 9 to 15 ([`DeflateConfig`] refuses 8),
//!   so a client never offers 8 for itself. A server declines an offer that demands
//!   `server_max_window_bits=8` (or anything below
//!   [`DeflateConfig::min_window_bits`]) and tries the client's next offer. A client
//!   whose server answers `client_max_window_bits=8` (which the RFC lets a server do
//!   to a client that offered a bare `client_max_window_bits`) keeps the agreement by
//!   never compressing: RFC 7692 lets any message be sent uncompressed (RSV1 clear),
//!   and [`PerMessageDeflate::begin_message`] then always says so. An 8-bit window is
//!   never silently widened. Receiving from a peer limited to 8 is no problem: a
//!   decompressor may use a larger window than the compressor.
//! * **Decompressor window.** Always 15 bits, whatever the peer agreed to: enough
//!   for anything it may send, and with zlib-rs a smaller one would save no memory
//!   (see [`PerMessageDeflate`]).
//! * **Level and threshold.** Level [`DEFAULT_LEVEL`] (1, zlib's fastest real
//!   compression: messages are small and latency matters) and threshold
//!   [`DEFAULT_THRESHOLD`] (32 bytes: shorter messages rarely shrink) by default.
//! * **Close codes.** Corrupt compressed data: 1007 (invalid payload data), too big
//!   once inflated: 1009, our compressor failing: 1011, a server answer the client
//!   refuses: 1010.
//! * **Malformed offers** are declined, never guessed at, and the next offer is
//!   tried (RFC 7692 section 5); see [`DeflateConfig::server_accept`]. A malformed
//!   answer fails the client's connection (section 7.1).
//! * **BFINAL.** A peer may end a message with a final block (7.2.3.4); that ends its
//!   deflate stream, so our decompressor starts afresh for the next message. A peer
//!   that then relies on context takeover across it sends data we reject as corrupt.
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod codec;
mod config;
mod negotiate;
mod pool;

pub use codec::{DeflateError, OutBuf, PerMessageDeflate};
pub use config::{
    ConfigError, DEFAULT_LEVEL, DEFAULT_THRESHOLD, DeflateConfig, MAX_WINDOW_BITS, MIN_WINDOW_BITS,
};
pub use negotiate::{
    Agreed, EXTENSION_NAME, NegotiationError, Params, Role, borrow_params, header_value,
    is_permessage_deflate,
};
