//! Integration tests of `ferrosocket-deflate`: negotiation tables for both roles,
//! the RFC 7692 examples, round trips between our client and server codecs for
//! every window and context-takeover setting, and decompression bombs.

mod bomb;
mod negotiation;
mod rfc;
mod roundtrip;
