//! Sending: exact bytes, masking from the injected random source, local errors.

use ferrosocket_proto::{
    Config, Connection, Error, Event, LocalError, OpCode, RandomSource, Role, SeededRandom,
};

use crate::testkit::*;

#[test]
fn server_frames_are_exact() {
    let mut s = server();
    s.send_text("Hello").unwrap();
    s.send_binary(&[0; 256]).unwrap();
    s.ping(b"Hello").unwrap();
    s.pong(b"").unwrap();
    let out = s.take_output();
    let expected = [
        b"\x81\x05Hello".to_vec(),
        [&b"\x82\x7e\x01\x00"[..], &[0; 256]].concat(),
        b"\x89\x05Hello".to_vec(),
        b"\x8a\x00".to_vec(),
    ]
    .concat();
    assert_eq!(out.as_ref(), expected.as_slice());
}

#[test]
fn client_masking_uses_the_injected_source() {
    // A fixed "random" source: keys 37 fa 21 3d, as in RFC 6455 section 5.7.
    let source = |buf: &mut [u8]| {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = KEY[i % 4];
        }
    };
    let mut c = Connection::with_random(Role::Client, Config::default(), source);
    c.send_text("Hello").unwrap();
    assert_eq!(
        c.take_output().as_ref(),
        b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    );

    // SeededRandom: key i is bytes 4i..4i+4 of its stream.
    let mut c = Connection::with_random(Role::Client, Config::default(), SeededRandom::new(9));
    c.send_binary(b"").unwrap();
    c.send_binary(b"").unwrap();
    let out = c.take_output();
    let mut stream = [0u8; 8];
    SeededRandom::new(9).fill(&mut stream);
    assert_eq!(
        out.as_ref(),
        [&b"\x82\x80"[..], &stream[..4], b"\x82\x80", &stream[4..]].concat()
    );
}

#[test]
fn output_consume_and_take() {
    let mut s = server();
    s.send_text("ab").unwrap();
    assert_eq!(s.output(), b"\x81\x02ab");
    s.consume(1);
    assert_eq!(s.output(), b"\x02ab");
    s.consume(100);
    assert!(!s.has_output());
    s.send_text("c").unwrap();
    assert_eq!(s.take_output().as_ref(), b"\x81\x01c");
}

#[test]
fn fragment_writer() {
    let mut s = server();
    let euro = "€".as_bytes();
    s.send_frame(OpCode::Text, &[b'a', euro[0]], false).unwrap();
    // No other data message while one is in progress, but control frames are fine.
    assert_eq!(
        s.send_text("x"),
        Err(Error::Local(LocalError::MessageInProgress))
    );
    assert_eq!(
        s.send_frame(OpCode::Binary, b"x", true),
        Err(Error::Local(LocalError::MessageInProgress))
    );
    s.ping(b"").unwrap();
    s.send_frame(OpCode::Continuation, &euro[1..], false)
        .unwrap();
    s.send_frame(OpCode::Continuation, b"", true).unwrap();
    assert_eq!(
        s.take_output().as_ref(),
        b"\x01\x02a\xe2\x89\x00\x00\x02\x82\xac\x80\x00"
    );
    // Continuation with nothing in progress; control opcodes.
    assert_eq!(
        s.send_frame(OpCode::Continuation, b"", true),
        Err(Error::Local(LocalError::NoMessageInProgress))
    );
    assert_eq!(
        s.send_frame(OpCode::Ping, b"", true),
        Err(Error::Local(LocalError::ControlOpCode))
    );
    assert!(!s.has_output());
}

#[test]
fn fragment_writer_checks_utf8() {
    let mut s = server();
    assert!(matches!(
        s.send_frame(OpCode::Text, b"\xff", true),
        Err(Error::Local(LocalError::InvalidUtf8(_)))
    ));
    s.send_frame(OpCode::Text, b"\xe2\x82", false).unwrap();
    // Ending the message inside the code point is refused, nothing sent...
    assert!(matches!(
        s.send_frame(OpCode::Continuation, b"", true),
        Err(Error::Local(LocalError::InvalidUtf8(_)))
    ));
    // ...and the message can still be completed properly.
    s.send_frame(OpCode::Continuation, b"\xac", true).unwrap();
    let mut c = client();
    c.receive_data(&s.take_output());
    assert_eq!(events(&mut c), vec![text("€")]);
}

#[test]
fn control_payload_limit() {
    let mut s = server();
    assert_eq!(
        s.ping(&[0; 126]),
        Err(Error::Local(LocalError::ControlPayloadTooLong(126)))
    );
    assert_eq!(
        s.pong(&[0; 200]),
        Err(Error::Local(LocalError::ControlPayloadTooLong(200)))
    );
    s.ping(&[0; 125]).unwrap();
    assert_eq!(s.output().len(), 127);
}

#[test]
fn send_after_close_is_a_local_error() {
    let mut s = server();
    s.close(ferrosocket_proto::CloseCode::NORMAL, "").unwrap();
    s.take_output();
    assert_eq!(s.send_text("x"), Err(Error::Local(LocalError::Closed)));
    assert_eq!(s.send_binary(b"x"), Err(Error::Local(LocalError::Closed)));
    assert_eq!(
        s.send_frame(OpCode::Text, b"x", false),
        Err(Error::Local(LocalError::Closed))
    );
    assert_eq!(s.pong(b""), Err(Error::Local(LocalError::Closed)));
    assert!(!s.has_output());
}

#[test]
fn send_after_protocol_error_is_a_local_error() {
    let mut s = server();
    s.receive_data(&unmasked(TEXT, b"x"));
    assert!(matches!(s.next_event(), Some(Err(_))));
    assert_eq!(s.send_text("x"), Err(Error::Local(LocalError::Closed)));
}

#[test]
fn round_trip_large_messages_both_ways() {
    let mut c = client();
    let mut s = server();
    let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    c.send_binary(&big).unwrap();
    s.receive_data(&c.take_output());
    assert_eq!(events(&mut s), vec![binary(&big)]);
    s.send_binary(&big).unwrap();
    c.receive_data(&s.take_output());
    let got = events(&mut c);
    assert!(matches!(&got[0], Event::Binary { data, .. } if data[..] == big[..]));
}
