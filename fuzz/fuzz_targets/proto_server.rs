//! A server `WsConnection` from the client's first byte: an opening request whose
//! permessage-deflate offers are fuzzer-chosen (our client's offer for arbitrary
//! settings, or odd parameter lists), accepted with the extension when it can be
//! agreed; then a script interleaving a real client's messages, hostile frames and
//! bytes delivered in pieces (`receive_data` or `read_buf()`), end of file, our own
//! sends, time (`handle_timeout` / `poll_timeout`), events and flushes. See
//! `proto_driver` for the invariants checked.
#![no_main]

use ferrosocket_proto::Role;
use libfuzzer_sys::fuzz_target;

#[path = "proto_driver/mod.rs"]
mod proto_driver;

fuzz_target!(|input: &[u8]| proto_driver::run(Role::Server, input));
