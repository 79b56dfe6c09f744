//! A client `WsConnection` from its request: a valid 101 whose permessage-deflate
//! answer is fuzzer-chosen (a server's negotiation with arbitrary settings, no
//! extension, or odd parameter lists our client must refuse; now and then a
//! refusal with a body instead); then a script interleaving a real server's
//! messages, hostile frames and bytes delivered in pieces (`receive_data` or
//! `read_buf()`), end of file, our own sends, time (`handle_timeout` /
//! `poll_timeout`), events and flushes. See `proto_driver` for the invariants
//! checked.
#![no_main]

use ferrosocket_proto::Role;
use libfuzzer_sys::fuzz_target;

#[path = "proto_driver/mod.rs"]
mod proto_driver;

fuzz_target!(|input: &[u8]| proto_driver::run(Role::Client, input));
