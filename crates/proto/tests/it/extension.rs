//! The extension hook, with a toy extension: XOR with a constant, claiming RSV1
//! (optionally doubling every byte on decode, to test the size budget).

use ferrosocket_proto::bytes::{BufMut, Bytes, BytesMut};
use ferrosocket_proto::{
    CloseCode, Config, Connection, Delivery, Event, Extension, ExtensionError, OpCode,
    ProtocolError, Role, Rsv, SeededRandom,
};

use crate::testkit::*;

const X: u8 = 0x5a;

#[derive(Debug, Default)]
struct XorExt {
    /// Decode emits every byte twice.
    double: bool,
    /// Pieces given to `decode`, for inspection.
    decoded_calls: usize,
}

impl Extension for XorExt {
    fn rsv(&self) -> Rsv {
        Rsv::RSV1
    }

    fn encode(
        &mut self,
        _opcode: OpCode,
        input: &[u8],
        _message_finished: bool,
        out: &mut BytesMut,
    ) -> Result<Rsv, ExtensionError> {
        out.extend(input.iter().map(|b| b ^ X));
        Ok(Rsv::RSV1)
    }

    fn decode(
        &mut self,
        rsv: Rsv,
        input: &[u8],
        _message_finished: bool,
        out: &mut BytesMut,
        max_len: usize,
    ) -> Result<(), ExtensionError> {
        assert_eq!(rsv, Rsv::RSV1);
        self.decoded_calls += 1;
        let factor = if self.double { 2 } else { 1 };
        if input.len() * factor > max_len {
            return Err(ExtensionError::too_big());
        }
        for b in input {
            for _ in 0..factor {
                out.put_u8(b ^ X);
            }
        }
        Ok(())
    }
}

fn xored(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ X).collect()
}

#[test]
fn encode_sets_rsv1_on_the_first_frame_only() {
    let mut s = server().with_extension(XorExt::default());
    s.send_text("hi").unwrap();
    s.send_frame(OpCode::Binary, b"a", false).unwrap();
    s.send_frame(OpCode::Continuation, b"b", true).unwrap();
    let expected = [
        frame(true, 0x40, TEXT, None, b"hi"),
        frame(false, 0x40, BINARY, None, b"a"),
        frame(true, 0, CONTINUATION, None, b"b"),
    ]
    .concat();
    // The frame builder masks nothing here; payloads are XORed by the extension.
    let expected: Vec<u8> = {
        let mut e = expected;
        e[2] ^= X;
        e[3] ^= X;
        e[6] ^= X;
        e[9] ^= X;
        e
    };
    assert_eq!(s.take_output().as_ref(), expected.as_slice());
}

#[test]
fn decode_through_the_extension_and_pass_through_without_rsv1() {
    let mut s = server().with_extension(XorExt::default());
    let wire = [
        frame(true, 0x40, TEXT, Some(KEY), &xored("héllo".as_bytes())),
        masked(TEXT, b"plain"),
        frame(false, 0x40, BINARY, Some(KEY), &xored(b"ab")),
        masked(PING, b""),
        masked_fragment(true, CONTINUATION, &xored(b"cd")),
    ]
    .concat();
    let (events, _) = feed(&mut s, &wire);
    assert_eq!(
        events,
        vec![
            Ok(text("héllo")),
            Ok(text("plain")),
            Ok(Event::Ping(Bytes::new())),
            Ok(binary(b"abcd")),
        ]
    );
}

#[test]
fn client_and_server_with_extension() {
    let mut c = Connection::with_random(Role::Client, Config::default(), SeededRandom::new(1))
        .with_extension(XorExt::default());
    let mut s = server_with(Config::default().delivery(Delivery::Streaming))
        .with_extension(XorExt::default());
    c.send_text("κόσμε").unwrap();
    s.receive_data(&c.take_output());
    assert_eq!(events(&mut s), vec![text("κόσμε")]);
}

#[test]
fn unclaimed_rsv_bits_still_fail() {
    for rsv in [0x20, 0x10, 0x60] {
        let mut s = server().with_extension(XorExt::default());
        let err = expect_error(
            &mut s,
            &frame(true, rsv, BINARY, Some(KEY), b"x"),
            b"\x88\x02\x03\xea",
        );
        assert!(matches!(err, ProtocolError::ReservedBits(_)));
    }
    // RSV1 on a continuation or a control frame.
    let mut s = server().with_extension(XorExt::default());
    let wire = [
        masked_fragment(false, BINARY, b"a"),
        frame(true, 0x40, CONTINUATION, Some(KEY), b"b"),
    ]
    .concat();
    expect_error(&mut s, &wire, b"\x88\x02\x03\xea");
    let mut s = server().with_extension(XorExt::default());
    expect_error(
        &mut s,
        &frame(true, 0x40, PING, Some(KEY), b""),
        b"\x88\x02\x03\xea",
    );
}

#[test]
fn decoded_size_respects_the_message_limit() {
    let config = Config::default().max_message_size(10);
    let ext = XorExt {
        double: true,
        ..XorExt::default()
    };
    let mut s = server_with(config).with_extension(ext);
    // 5 wire bytes become 10: fits exactly.
    let (events, _) = feed(
        &mut s,
        &frame(true, 0x40, BINARY, Some(KEY), &xored(b"abcde")),
    );
    assert_eq!(events, vec![Ok(binary(b"aabbccddee"))]);
    // 6 wire bytes would become 12: the extension gets a budget of 10 and refuses.
    let ext = XorExt {
        double: true,
        ..XorExt::default()
    };
    let mut s = server_with(config).with_extension(ext);
    let err = expect_error(
        &mut s,
        &frame(true, 0x40, BINARY, Some(KEY), &xored(b"abcdef")),
        b"\x88\x02\x03\xf1",
    );
    assert_eq!(err, ProtocolError::Extension(ExtensionError::too_big()));
    assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
    // Over fragments: the budget is what is left of the message.
    let ext = XorExt {
        double: true,
        ..XorExt::default()
    };
    let mut s = server_with(config).with_extension(ext);
    let wire = [
        frame(false, 0x40, BINARY, Some(KEY), &xored(b"abc")),
        masked_fragment(true, CONTINUATION, &xored(b"def")),
    ]
    .concat();
    let err = expect_error(&mut s, &wire, b"\x88\x02\x03\xf1");
    assert_eq!(err, ProtocolError::Extension(ExtensionError::too_big()));
}

#[test]
fn extension_decoded_text_is_validated() {
    let mut s = server().with_extension(XorExt::default());
    let err = expect_error(
        &mut s,
        &frame(true, 0x40, TEXT, Some(KEY), &xored(b"a\xff")),
        b"\x88\x02\x03\xef",
    );
    assert!(matches!(err, ProtocolError::InvalidUtf8(_)));
}
