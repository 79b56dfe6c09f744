//! Frame builders written from RFC 6455 section 5.2 by hand (independent of the
//! codec), and helpers to drive connections.

use ferrosocket_proto::{
    Config, Connection, Error, Event, Fault, ProtocolError, Role, SeededRandom,
};

/// Opcodes as raw numbers.
pub(crate) const CONT: u8 = 0x0;
pub(crate) const TEXT: u8 = 0x1;
pub(crate) const BIN: u8 = 0x2;
pub(crate) const CLOSE: u8 = 0x8;
pub(crate) const PING: u8 = 0x9;
pub(crate) const PONG: u8 = 0xA;

/// The masking key used by [`masked`].
pub(crate) const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame, byte by byte: FIN, RSV bits (`0x40` = RSV1, ...), opcode, optional mask.
pub(crate) fn frame(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | rsv | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xffff {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A final frame masked with [`KEY`] (what a client sends).
pub(crate) fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, 0, opcode, Some(KEY), payload)
}

/// A masked frame with an explicit FIN bit.
pub(crate) fn masked_frag(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, Some(KEY), payload)
}

/// A final unmasked frame (what a server sends).
pub(crate) fn unmasked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, 0, opcode, None, payload)
}

/// Concatenates frames.
pub(crate) fn cat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

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
