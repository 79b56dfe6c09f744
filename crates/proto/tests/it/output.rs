//! The output in pieces: a server's large payloads given as `Bytes` are queued as
//! segments of their own (not copied), in order with everything queued around them,
//! and consumed across piece boundaries.

use ferrosocket_proto::bytes::{Bytes, BytesMut};
use ferrosocket_proto::{
    CloseCode, Config, Connection, Error, Event, Extension, ExtensionError, LocalError, OpCode,
    Role, Rsv, Utf8Bytes,
};

use crate::testkit::*;

/// An extension that leaves messages as they are (but sees every payload).
#[derive(Debug)]
struct Copying;

impl Extension for Copying {
    fn rsv(&self) -> Rsv {
        Rsv::RSV1
    }
    fn encode(
        &mut self,
        _: OpCode,
        input: &[u8],
        _: bool,
        out: &mut BytesMut,
    ) -> Result<Rsv, ExtensionError> {
        out.extend_from_slice(input);
        Ok(Rsv::NONE)
    }
    fn decode(
        &mut self,
        _: Rsv,
        input: &[u8],
        _: bool,
        out: &mut BytesMut,
        _: usize,
    ) -> Result<(), ExtensionError> {
        out.extend_from_slice(input);
        Ok(())
    }
}

/// Large enough to be sent without a copy.
const BIG: usize = 20_000;

fn pieces(conn: &Connection) -> Vec<&[u8]> {
    conn.output_chunks().collect()
}

/// Writes the output `step` bytes at a time through `output` + `consume`.
fn drain_by(conn: &mut Connection, step: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    while conn.has_output() {
        let piece = conn.output();
        assert!(!piece.is_empty(), "output is empty while has_output");
        let n = piece.len().min(step);
        wire.extend_from_slice(&piece[..n]);
        conn.consume(n);
    }
    assert_eq!(conn.output_len(), 0);
    wire
}

#[test]
fn large_payload_is_a_segment_of_its_own() {
    let mut s = server();
    let big = Bytes::from(vec![7u8; BIG]);
    s.send_binary_bytes(big.clone()).unwrap();
    assert!(s.output_is_segmented());
    let got = pieces(&s);
    // Header, then the payload: the caller's own memory.
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], b"\x82\x7e\x4e\x20");
    assert_eq!(got[1].as_ptr(), big.as_ptr());
    assert_eq!(s.output(), got[0]);
    assert_eq!(s.output_len(), 4 + BIG);
    // The bytes are those of the copying send.
    let mut copied = server();
    copied.send_binary(&big).unwrap();
    assert_eq!(s.take_output(), copied.take_output());
    assert!(!s.output_is_segmented() && !s.has_output());
}

#[test]
fn small_payloads_and_copying_roles_are_not_segmented() {
    let mut s = server();
    s.send_binary_bytes(Bytes::from(vec![1u8; 100])).unwrap();
    s.send_text_bytes(Utf8Bytes::from("small")).unwrap();
    assert!(!s.output_is_segmented());
    assert_eq!(pieces(&s).len(), 1);

    // A client masks: its payload is copied (and masked), whatever its size.
    let mut c = client();
    let big = Bytes::from(vec![1u8; BIG]);
    c.send_binary_bytes(big.clone()).unwrap();
    assert!(!c.output_is_segmented());
    let mut s = server();
    s.receive_data(&c.take_output());
    assert_eq!(events(&mut s), vec![binary(&big)]);

    // An extension transforms the payload: copied too.
    let mut s = server().with_extension(Copying);
    s.send_binary_bytes(big).unwrap();
    assert!(!s.output_is_segmented());
}

/// Control frames and small messages queued between large payloads keep their
/// place, whatever the step the output is written in.
#[test]
fn pieces_stay_in_order_and_consume_crosses_their_boundaries() {
    let big = Bytes::from((0..BIG).map(|i| i as u8).collect::<Vec<u8>>());
    let text: String = "é€𝄞x".repeat(BIG / 9 + 1);
    let queue = |s: &mut Connection| {
        s.send_binary(b"small").unwrap();
        s.send_binary_bytes(big.clone()).unwrap();
        s.ping(b"p1").unwrap();
        s.send_text_bytes(Utf8Bytes::from(text.as_str())).unwrap();
        s.pong(b"p2").unwrap();
        s.send_binary_bytes(big.clone()).unwrap();
        s.send_binary_bytes(big.clone()).unwrap();
        s.close(CloseCode::NORMAL, "bye").unwrap();
    };
    let expected = vec![
        binary(b"small"),
        binary(&big),
        Event::Ping(Bytes::from_static(b"p1")),
        self::text(&text),
        Event::Pong(Bytes::from_static(b"p2")),
        binary(&big),
        binary(&big),
    ];
    for step in [1, 3, 4, 777, BIG - 1, BIG, BIG + 4, 1 << 20] {
        let mut s = server();
        queue(&mut s);
        assert!(s.output_is_segmented());
        // Four payloads, each after the piece that ends with its header, then
        // the close.
        assert_eq!(pieces(&s).len(), 9, "step {step}");
        let total = s.output_len();
        let wire = drain_by(&mut s, step);
        assert_eq!(wire.len(), total, "step {step}");
        assert!(!s.output_is_segmented());
        let mut c = client();
        c.receive_data(&wire);
        let got = drain(&mut c);
        let (close, data) = got.split_last().unwrap();
        assert_eq!(
            data.iter().cloned().map(Result::unwrap).collect::<Vec<_>>(),
            expected,
            "step {step}"
        );
        assert!(matches!(
            close,
            Ok(Event::Close {
                code: CloseCode::NORMAL,
                ..
            })
        ));
    }
}

/// A vectored write that stops inside a piece: the next pieces start where it
/// stopped, and the bytes the connection queues by itself (a pong) come after.
#[test]
fn partial_vectored_writes() {
    let big = Bytes::from(vec![9u8; BIG]);
    let mut s = server();
    s.send_binary_bytes(big.clone()).unwrap();
    s.send_text("tail").unwrap();
    let total = s.output_len();
    let mut wire = Vec::new();
    // Write the header and half the payload in one go.
    let n = 4 + BIG / 2;
    let flat: Vec<u8> = pieces(&s).concat();
    wire.extend_from_slice(&flat[..n]);
    s.consume(n);
    let rest = pieces(&s);
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].len(), BIG - BIG / 2);
    assert_eq!(rest[0].as_ptr(), big[BIG / 2..].as_ptr());
    assert_eq!(rest[1], b"\x81\x04tail");
    // A ping arrives meanwhile: its pong goes after everything queued.
    s.receive_data(&masked(PING, b"?"));
    assert_eq!(events(&mut s), vec![Event::Ping(Bytes::from_static(b"?"))]);
    assert_eq!(s.output_len(), total - n + 3);
    wire.extend_from_slice(&drain_by(&mut s, 5000));
    let mut c = client();
    c.receive_data(&wire);
    assert_eq!(
        events(&mut c),
        vec![
            binary(&big),
            text("tail"),
            Event::Pong(Bytes::from_static(b"?"))
        ]
    );
}

#[test]
fn bytes_sends_follow_the_send_rules() {
    let big = Bytes::from(vec![0u8; BIG]);
    let mut s = server();
    s.send_frame(OpCode::Binary, b"a", false).unwrap();
    assert_eq!(
        s.send_binary_bytes(big.clone()),
        Err(Error::Local(LocalError::MessageInProgress))
    );
    assert_eq!(s.output_len(), 3, "nothing queued");
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        s.send_binary_bytes(big),
        Err(Error::Local(LocalError::Closed))
    );
    let mut c = Connection::new(Role::Client, Config::default());
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        c.send_text_bytes(Utf8Bytes::from("x")),
        Err(Error::Local(LocalError::Closed))
    );
}

#[test]
fn release_output_keeps_queued_segments() {
    let mut s = server();
    s.send_binary_bytes(Bytes::from(vec![0u8; BIG])).unwrap();
    s.release_output();
    assert_eq!(s.output_len(), 4 + BIG);
    s.consume(usize::MAX);
    assert!(!s.has_output());
    s.release_output();
    assert_eq!(s.output_capacity(), 0);
}
