//! Receive-side rules, byte for byte: hand-built frames in, events and the exact
//! output bytes out.

use ferrosocket_proto::FrameError;
use ferrosocket_proto::bytes::Bytes;
use ferrosocket_proto::{CloseCode, Config, Error, Event, ProtocolError, Rsv, State};

use crate::testkit::*;

const CLOSE_1002: &[u8] = &[0x88, 0x02, 0x03, 0xea];
const CLOSE_1007: &[u8] = &[0x88, 0x02, 0x03, 0xef];
const CLOSE_1009: &[u8] = &[0x88, 0x02, 0x03, 0xf1];

#[test]
fn rfc_5_7_examples_at_a_client() {
    let mut c = client();
    let wire = [
        // A single-frame unmasked text message.
        b"\x81\x05\x48\x65\x6c\x6c\x6f".to_vec(),
        // A fragmented unmasked text message.
        b"\x01\x03\x48\x65\x6c".to_vec(),
        b"\x80\x02\x6c\x6f".to_vec(),
        // Unmasked ping.
        b"\x89\x05\x48\x65\x6c\x6c\x6f".to_vec(),
        // 256 bytes binary message in a single unmasked frame.
        [&b"\x82\x7E\x01\x00"[..], &[7u8; 256]].concat(),
        // 64 KiB binary message in a single unmasked frame.
        [
            &b"\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00"[..],
            &vec![9u8; 65536],
        ]
        .concat(),
    ]
    .concat();
    let (events, out) = feed(&mut c, &wire);
    let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        vec![
            text("Hello"),
            text("Hello"),
            Event::Ping(Bytes::from_static(b"Hello")),
            binary(&[7; 256]),
            binary(&vec![9; 65536]),
        ]
    );
    // The client answered the ping with a masked pong (key from SeededRandom(42)).
    assert_eq!(out.len(), 2 + 4 + 5);
    assert_eq!(&out[..2], b"\x8a\x85");
    let key = &out[2..6];
    let unmasked: Vec<u8> = out[6..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    assert_eq!(unmasked, b"Hello");
}

#[test]
fn rfc_5_7_masked_examples_at_a_server() {
    let mut s = server();
    // "Hello" masked with 37 fa 21 3d, and a masked pong "Hello".
    let wire =
        b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    let (events, out) = feed(&mut s, wire);
    let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        vec![text("Hello"), Event::Pong(Bytes::from_static(b"Hello"))]
    );
    assert!(out.is_empty());
}

#[test]
fn ping_gets_exact_pong_from_server() {
    let mut s = server();
    let (events, out) = feed(&mut s, &masked(PING, b"abc"));
    assert_eq!(events, vec![Ok(Event::Ping(Bytes::from_static(b"abc")))]);
    assert_eq!(out, b"\x8a\x03abc");
    // Without auto-pong: the event, no answer.
    let mut s = server_with(Config::default().auto_pong(false));
    let (events, out) = feed(&mut s, &masked(PING, b""));
    assert_eq!(events, vec![Ok(Event::Ping(Bytes::new()))]);
    assert!(out.is_empty());
}

#[test]
fn byte_by_byte_is_the_same() {
    let wire = [
        masked_fragment(false, TEXT, "κό".as_bytes()),
        masked(PING, b"p"),
        masked_fragment(true, CONTINUATION, "σμε".as_bytes()),
        masked(BINARY, &[1, 2, 3]),
    ]
    .concat();
    let mut s = server();
    let mut got = Vec::new();
    for b in &wire {
        s.receive_data(std::slice::from_ref(b));
        got.extend(events(&mut s));
    }
    assert_eq!(
        got,
        vec![
            Event::Ping(Bytes::from_static(b"p")),
            text("κόσμε"),
            binary(&[1, 2, 3])
        ]
    );
}

#[test]
fn fragmented_text_split_inside_a_code_point_with_controls_between() {
    let euro = "€".as_bytes(); // e2 82 ac
    let wire = [
        masked_fragment(false, TEXT, &[b'a', euro[0]]),
        masked(PING, b"1"),
        masked_fragment(false, CONTINUATION, &euro[1..2]),
        masked(PONG, b"2"),
        masked_fragment(true, CONTINUATION, &[euro[2], b'b']),
    ]
    .concat();
    let mut s = server();
    let (events, out) = feed(&mut s, &wire);
    assert_eq!(
        events,
        vec![
            Ok(Event::Ping(Bytes::from_static(b"1"))),
            Ok(Event::Pong(Bytes::from_static(b"2"))),
            Ok(text("a€b")),
        ]
    );
    assert_eq!(out, b"\x8a\x011");
}

#[test]
fn unmasked_frame_at_server() {
    let err = expect_error(&mut server(), &unmasked(TEXT, b"hi"), CLOSE_1002);
    assert_eq!(err, ProtocolError::UnmaskedFrame);
    assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
    // Allowed when configured.
    let mut s = server_with(Config::default().accept_unmasked_frames(true));
    assert_eq!(feed(&mut s, &unmasked(TEXT, b"hi")).0, vec![Ok(text("hi"))]);
}

#[test]
fn masked_frame_at_client() {
    let mut c = client();
    let (events, out) = feed(&mut c, &masked(TEXT, b"hi"));
    assert_eq!(
        events,
        vec![Err(Error::Protocol(ProtocolError::MaskedFrame))]
    );
    // The client's close frame is masked: 88 82 key, then 03 ea masked.
    assert_eq!(&out[..2], b"\x88\x82");
    let key = &out[2..6];
    assert_eq!([out[6] ^ key[0], out[7] ^ key[1]], [0x03, 0xea]);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn rsv_bits_without_extension() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        let err = expect_error(
            &mut server(),
            &frame(true, rsv, TEXT, Some(KEY), b"x"),
            CLOSE_1002,
        );
        assert!(matches!(err, ProtocolError::ReservedBits(_)), "{err:?}");
    }
    // Also on control frames.
    let err = expect_error(
        &mut server(),
        &frame(true, 0x40, PING, Some(KEY), b""),
        CLOSE_1002,
    );
    assert_eq!(err, ProtocolError::ReservedBits(Rsv::RSV1));
}

#[test]
fn reserved_opcodes() {
    for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        let err = expect_error(&mut server(), &masked(op, b""), CLOSE_1002);
        assert_eq!(err, ProtocolError::Frame(FrameError::ReservedOpCode(op)));
    }
}

#[test]
fn bad_control_frames() {
    // Fragmented ping.
    let err = expect_error(
        &mut server(),
        &masked_fragment(false, PING, b""),
        CLOSE_1002,
    );
    assert_eq!(
        err,
        ProtocolError::Frame(FrameError::FragmentedControlFrame)
    );
    // Ping of 126 bytes.
    let err = expect_error(&mut server(), &masked(PING, &[0; 126]), CLOSE_1002);
    assert_eq!(
        err,
        ProtocolError::Frame(FrameError::ControlFrameTooLong(126))
    );
}

#[test]
fn continuation_without_start() {
    let err = expect_error(&mut server(), &masked(CONTINUATION, b"x"), CLOSE_1002);
    assert_eq!(err, ProtocolError::UnexpectedContinuation);
}

#[test]
fn data_frame_inside_fragmented_message() {
    let mut s = server();
    let wire = [masked_fragment(false, TEXT, b"a"), masked(BINARY, b"b")].concat();
    let err = expect_error(&mut s, &wire, CLOSE_1002);
    assert_eq!(err, ProtocolError::ExpectedContinuation);
}

#[test]
fn close_with_one_byte_payload() {
    let err = expect_error(&mut server(), &masked(CLOSE, b"\x03"), CLOSE_1002);
    assert_eq!(
        err,
        ProtocolError::InvalidClose(FrameError::TruncatedCloseCode)
    );
}

#[test]
fn close_with_invalid_codes() {
    for code in [1005u16, 999, 5000, 1006, 1015, 0, 2999] {
        let err = expect_error(
            &mut server(),
            &masked(CLOSE, &code.to_be_bytes()),
            CLOSE_1002,
        );
        assert_eq!(
            err,
            ProtocolError::InvalidClose(FrameError::InvalidCloseCode(code))
        );
    }
}

#[test]
fn close_reason_invalid_utf8() {
    let err = expect_error(&mut server(), &masked(CLOSE, b"\x03\xe8ok\xff"), CLOSE_1007);
    assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
}

#[test]
fn invalid_utf8_single_frame() {
    let err = expect_error(&mut server(), &masked(TEXT, b"ok\xc0\xaf"), CLOSE_1007);
    assert!(matches!(err, ProtocolError::InvalidUtf8(_)));
    // Truncated code point at the end of the message.
    let err = expect_error(&mut server(), &masked(TEXT, b"ok\xe2\x82"), CLOSE_1007);
    assert!(matches!(err, ProtocolError::InvalidUtf8(e) if e.error_len().is_none()));
}

#[test]
fn invalid_utf8_fails_fast_before_the_final_fragment() {
    let mut s = server();
    // First fragment fine, second has an invalid byte; the final one never arrives.
    let wire = [
        masked_fragment(false, TEXT, "κό".as_bytes()),
        masked_fragment(false, CONTINUATION, b"\xf4\x90"),
    ]
    .concat();
    let err = expect_error(&mut s, &wire, CLOSE_1007);
    assert!(matches!(err, ProtocolError::InvalidUtf8(e) if e.valid_up_to() == 4));
}

#[test]
fn invalid_utf8_fails_fast_mid_frame() {
    // Assembled mode too: the frame's first half is enough to fail.
    let mut s = server();
    let wire = masked(TEXT, &[b"abc\xff".as_slice(), &[b'x'; 100]].concat());
    let err = expect_error(&mut s, &wire[..6 + 4], CLOSE_1007);
    assert!(matches!(err, ProtocolError::InvalidUtf8(e) if e.valid_up_to() == 3));
}

#[test]
fn frame_too_big_from_header_alone() {
    let config = Config::default().max_frame_size(1000);
    let mut s = server_with(config);
    // Only the header (announcing 1001 bytes) and the mask: no payload.
    let wire = masked(BINARY, &[0; 1001]);
    let err = expect_error(&mut s, &wire[..8], CLOSE_1009);
    assert_eq!(
        err,
        ProtocolError::Frame(FrameError::FrameTooLarge {
            len: 1001,
            max: 1000
        })
    );
    assert_eq!(s.buffered_input_len(), 0);
}

#[test]
fn message_too_big_from_header_alone() {
    let config = Config::default().max_message_size(100);
    let mut s = server_with(config);
    // 60 + 60 > 100: the second header is refused before its payload.
    let first = masked_fragment(false, BINARY, &[1; 60]);
    let second = masked_fragment(true, CONTINUATION, &[2; 60]);
    s.receive_data(&first);
    assert!(s.next_event().is_none());
    s.receive_data(&second[..8]);
    assert_eq!(
        s.next_event(),
        Some(Err(Error::Protocol(ProtocolError::MessageTooLarge {
            max: 100
        })))
    );
    assert_eq!(s.take_output().as_ref(), CLOSE_1009);
    assert_eq!(s.buffered_message_len(), 0);
    // A single frame over the message limit (but under the frame limit) too.
    let err = expect_error(
        &mut server_with(config),
        &masked(BINARY, &[0; 101])[..8],
        CLOSE_1009,
    );
    assert_eq!(err, ProtocolError::MessageTooLarge { max: 100 });
}

#[test]
fn too_many_fragments() {
    let mut s = server_with(Config::default().max_fragments_per_message(Some(3)));
    let wire = [
        masked_fragment(false, BINARY, b"a"),
        masked_fragment(false, CONTINUATION, b""),
        masked_fragment(false, CONTINUATION, b""),
        masked_fragment(true, CONTINUATION, b""),
    ]
    .concat();
    let err = expect_error(&mut s, &wire, CLOSE_1009);
    assert_eq!(err, ProtocolError::TooManyFragments { max: 3 });
}

#[test]
fn eof_without_close_is_1006() {
    let mut s = server();
    let wire = masked(TEXT, b"hello");
    s.receive_data(&wire[..wire.len() - 1]);
    assert!(s.next_event().is_none());
    s.receive_eof();
    assert_eq!(
        s.next_event(),
        Some(Ok(Event::Close {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            initiated_by: ferrosocket_proto::Side::Remote,
        }))
    );
    assert_eq!(s.state(), State::Closed);
    assert!(s.next_event().is_none());
    assert!(!s.has_output());
}

#[test]
fn events_before_eof_come_first() {
    let mut s = server();
    s.receive_data(&masked(TEXT, b"last words"));
    s.receive_eof();
    let got = events(&mut s);
    assert_eq!(got[0], text("last words"));
    assert!(matches!(
        got[1],
        Event::Close {
            code: CloseCode::ABNORMAL,
            ..
        }
    ));
    assert_eq!(got.len(), 2);
}

#[test]
fn protocol_error_after_local_close_sends_no_second_close() {
    let mut s = server();
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(s.take_output().as_ref(), b"\x88\x02\x03\xe8");
    let (events, out) = feed(&mut s, &masked(CONTINUATION, b""));
    assert_eq!(
        events,
        vec![Err(Error::Protocol(ProtocolError::UnexpectedContinuation))]
    );
    assert!(out.is_empty());
}

#[test]
fn data_after_close_received_is_ignored() {
    let mut s = server();
    let wire = [
        masked(CLOSE, b"\x03\xe8"),
        masked(TEXT, b"late"),
        b"\xff\xff".to_vec(),
    ]
    .concat();
    let (events, out) = feed(&mut s, &wire);
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Ok(Event::Close { .. })));
    assert_eq!(out, b"\x88\x02\x03\xe8");
    s.receive_data(&masked(TEXT, b"later"));
    assert!(s.next_event().is_none());
    assert_eq!(s.buffered_input_len(), 0);
}
