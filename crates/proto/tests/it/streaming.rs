//! Delivery::Streaming: pieces as they arrive, flags, UTF-8 boundaries.

use ferrosocket_proto::bytes::Bytes;
use ferrosocket_proto::{Config, Delivery, Error, Event, ProtocolError};

use crate::testkit::*;

fn streaming_server() -> ferrosocket_proto::Connection {
    server_with(Config::default().delivery(Delivery::Streaming))
}

fn bin(data: &[u8], frame_finished: bool, message_finished: bool) -> Event {
    Event::Binary {
        data: Bytes::copy_from_slice(data),
        frame_finished,
        message_finished,
    }
}

fn txt(data: &str, frame_finished: bool, message_finished: bool) -> Event {
    Event::Text {
        data: data.into(),
        frame_finished,
        message_finished,
    }
}

#[test]
fn part_of_a_frame_is_delivered() {
    let mut s = streaming_server();
    let wire = masked(BINARY, b"abcdefgh");
    s.receive_data(&wire[..6 + 3]);
    assert_eq!(events(&mut s), vec![bin(b"abc", false, false)]);
    s.receive_data(&wire[9..10]);
    assert_eq!(events(&mut s), vec![bin(b"d", false, false)]);
    s.receive_data(&wire[10..]);
    assert_eq!(events(&mut s), vec![bin(b"efgh", true, true)]);
}

#[test]
fn fragments_and_empty_frames_carry_flags() {
    let mut s = streaming_server();
    let wire = [
        masked_fragment(false, BINARY, b"ab"),
        masked_fragment(false, CONTINUATION, b""),
        masked(PING, b""),
        masked_fragment(true, CONTINUATION, b"c"),
    ]
    .concat();
    s.receive_data(&wire);
    assert_eq!(
        events(&mut s),
        vec![
            bin(b"ab", true, false),
            bin(b"", true, false),
            Event::Ping(Bytes::new()),
            bin(b"c", true, true),
        ]
    );
}

#[test]
fn text_pieces_end_on_code_point_boundaries() {
    let text_in = "a€b𝄞c";
    let raw = text_in.as_bytes();
    let wire = [
        masked_fragment(false, TEXT, &raw[..3]), // "a" + 2 bytes of "€"
        masked_fragment(true, CONTINUATION, &raw[3..]),
    ]
    .concat();
    // Every way of cutting the wire in two gives pieces that are each valid UTF-8.
    for cut in 0..=wire.len() {
        let mut s = streaming_server();
        let mut got = String::new();
        let mut finished = false;
        for part in [&wire[..cut], &wire[cut..]] {
            s.receive_data(part);
            for e in events(&mut s) {
                match e {
                    Event::Text {
                        data,
                        message_finished,
                        ..
                    } => {
                        got.push_str(data.as_str());
                        finished |= message_finished;
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(got, text_in, "cut {cut}");
        assert!(finished);
    }
}

#[test]
fn held_back_bytes_arrive_with_the_next_piece() {
    let mut s = streaming_server();
    let wire = masked(TEXT, "x€".as_bytes());
    s.receive_data(&wire[..6 + 2]); // "x" + e2
    assert_eq!(events(&mut s), vec![txt("x", false, false)]);
    s.receive_data(&wire[8..9]); // 82: still incomplete, nothing to deliver
    assert_eq!(events(&mut s), vec![]);
    s.receive_data(&wire[9..]);
    assert_eq!(events(&mut s), vec![txt("€", true, true)]);
}

#[test]
fn invalid_utf8_fails_mid_frame() {
    let mut s = streaming_server();
    let wire = masked(TEXT, b"good \xc3\x28 and the rest never arrives");
    s.receive_data(&wire[..6 + 5]);
    assert_eq!(events(&mut s), vec![txt("good ", false, false)]);
    s.receive_data(&wire[11..13]);
    assert!(matches!(
        s.next_event(),
        Some(Err(Error::Protocol(ProtocolError::InvalidUtf8(_))))
    ));
    assert_eq!(s.take_output().as_ref(), b"\x88\x02\x03\xef");
}

#[test]
fn incomplete_code_point_at_message_end() {
    let mut s = streaming_server();
    s.receive_data(&masked(TEXT, b"ab\xe2\x82"));
    assert!(matches!(
        s.next_event(),
        Some(Err(Error::Protocol(ProtocolError::InvalidUtf8(_))))
    ));
}
