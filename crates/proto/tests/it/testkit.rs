//! Helpers to drive connections, and the frame builders of `ferrosocket-testkit`
//! (written from RFC 6455 section 5.2 by hand, independent of the codec).

use ferrosocket_proto::{
    Config, Connection, Error, Event, Fault, ProtocolError, Role, SeededRandom,
};

pub(crate) use ferrosocket_testkit::frame::{
    BINARY, CLOSE, CONTINUATION, KEY, PING, PONG, TEXT, frame, masked, masked_fragment, unmasked,
};

/// A server connection with the default config.
pub(crate) fn server() -> Connection {
    Connection::new(Role::Server, Config::default())
}

/// A server connection with `config`.
pub(crate) fn server_with(config: Config) -> Connection {
    Connection::new(Role::Server, config)
}

/// A client connection with deterministic masking keys.
pub(crate) fn client() -> Connection {
    client_with(Config::default())
}

/// A client connection with `config` and deterministic masking keys.
pub(crate) fn client_with(config: Config) -> Connection {
    Connection::with_random(Role::Client, config, SeededRandom::new(42))
}

/// Every event available now.
pub(crate) fn drain(conn: &mut Connection) -> Vec<Result<Event, Error>> {
    conn.events().collect()
}

/// Every event available now, none of them an error.
pub(crate) fn events(conn: &mut Connection) -> Vec<Event> {
    drain(conn)
        .into_iter()
        .map(|e| e.expect("no protocol error"))
        .collect()
}

/// Feeds `input` to `conn` and returns the events and the output.
pub(crate) fn feed(conn: &mut Connection, input: &[u8]) -> (Vec<Result<Event, Error>>, Vec<u8>) {
    conn.receive_data(input);
    let events = drain(conn);
    (events, conn.take_output().to_vec())
}

/// Feeds `input` and expects exactly one protocol error (no other event), and the
/// exact output bytes.
pub(crate) fn expect_error(conn: &mut Connection, input: &[u8], output: &[u8]) -> ProtocolError {
    let (events, out) = feed(conn, input);
    assert_eq!(events.len(), 1, "events: {events:?}");
    let err = events.into_iter().next().unwrap().expect_err("an error");
    assert_eq!(out, output, "output for {err:?}");
    assert_eq!(conn.state(), ferrosocket_proto::State::Closed);
    assert!(conn.next_event().is_none(), "nothing after the error");
    assert_eq!(err.fault(), Fault::Peer);
    assert_eq!(
        err.close_code(),
        output
            .get(2..4)
            .map(|c| u16::from_be_bytes([c[0], c[1]]).into())
    );
    match err {
        Error::Protocol(e) => e,
        other => panic!("not a protocol error: {other:?}"),
    }
}

/// Text event helper.
pub(crate) fn text(s: &str) -> Event {
    Event::Text {
        data: s.into(),
        frame_finished: true,
        message_finished: true,
    }
}

/// Binary event helper.
pub(crate) fn binary(b: &[u8]) -> Event {
    Event::Binary {
        data: bytes::Bytes::copy_from_slice(b),
        frame_finished: true,
        message_finished: true,
    }
}
