//! Arbitrary bytes into a server connection after a fixed, valid opening handshake,
//! in arbitrary pieces, in either delivery mode: never panics, memory stays within
//! the configured limits (the message being assembled never exceeds the message
//! limit), and once an error or a close is reported the connection says Closed or
//! closing and emits nothing more than a close.
#![no_main]

use ferrosocket_proto::handshake::Accept;
use ferrosocket_proto::{Config, Delivery, Event, State, WsConnection};
use libfuzzer_sys::fuzz_target;

const REQUEST: &[u8] =
    b"GET /fuzz HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const MAX_FRAME: usize = 1024;
const MAX_MESSAGE: usize = 4096;

fuzz_target!(|input: &[u8]| {
    let [mode, step, data @ ..] = input else {
        return;
    };
    let delivery = if mode & 1 == 0 {
        Delivery::Assembled
    } else {
        Delivery::Streaming
    };
    let config = Config::new()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .max_fragments_per_message(Some(64))
        .auto_pong(mode & 2 == 0)
        .accept_unmasked_frames(mode & 4 != 0)
        .delivery(delivery);
    let mut ws = WsConnection::server(config);
    ws.receive_data(REQUEST);
    match ws.next_event() {
        Some(Ok(Event::Request(_))) => {}
        other => panic!("the fixed request must parse: {other:?}"),
    }
    ws.accept(&Accept::new()).expect("accept");
    ws.consume(ws.output().len());

    let mut failed = false;
    for piece in data.chunks(usize::from(*step).max(1)) {
        ws.receive_data(piece);
        while let Some(event) = ws.next_event() {
            match event {
                Ok(Event::Text { data, .. }) => {
                    assert!(!failed, "no data after an error");
                    assert!(std::str::from_utf8(data.as_bytes()).is_ok());
                    assert!(data.as_bytes().len() <= MAX_MESSAGE);
                }
                Ok(Event::Binary { data, .. }) => {
                    assert!(!failed, "no data after an error");
                    assert!(data.len() <= MAX_MESSAGE);
                }
                Ok(_) => {}
                Err(err) => {
                    let _ = err.http_status();
                    failed = true;
                    assert_eq!(ws.state(), State::Closed);
                }
            }
            if let Some(conn) = ws.connection_mut() {
                assert!(conn.buffered_message_len() <= MAX_MESSAGE);
            }
        }
        // What we send in answer is bounded by what control frames can carry: auto
        // pongs of at most 125 bytes each, or a close.
        let out = ws.output().len();
        assert!(
            out <= piece.len() * 2 + 256,
            "{out} output bytes for {} input bytes",
            piece.len()
        );
        ws.consume(out);
    }
    ws.receive_eof();
    while ws.next_event().is_some() {}
    assert_eq!(ws.state(), State::Closed);
});
