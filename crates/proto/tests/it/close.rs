//! The close handshake, RFC 6455 section 7.

use ferrosocket_proto::{CloseCode, Config, Error, Event, LocalError, Side, State};

use crate::testkit::*;

#[test]
fn peer_closes_first_code_is_echoed() {
    let mut s = server();
    let (events, out) = feed(&mut s, &masked(CLOSE, b"\x03\xe9going"));
    assert_eq!(
        events,
        vec![Ok(Event::Close {
            code: CloseCode::GOING_AWAY,
            reason: "going".into(),
            initiated_by: Side::Remote,
        })]
    );
    // Echo of the code, without the reason.
    assert_eq!(out, b"\x88\x02\x03\xe9");
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.send_text("x"), Err(Error::Local(LocalError::Closed)));
    assert_eq!(
        s.close(CloseCode::NORMAL, ""),
        Err(Error::Local(LocalError::Closed))
    );
}

#[test]
fn empty_close_is_answered_with_empty_close() {
    let mut s = server();
    let (events, out) = feed(&mut s, &masked(CLOSE, b""));
    assert_eq!(
        events,
        vec![Ok(Event::Close {
            code: CloseCode::NO_STATUS,
            reason: String::new(),
            initiated_by: Side::Remote,
        })]
    );
    assert_eq!(out, b"\x88\x00");
}

#[test]
fn we_close_first() {
    let mut s = server();
    s.close(CloseCode::from(4000), "bye").unwrap();
    assert_eq!(s.state(), State::LocalClosing);
    assert_eq!(s.take_output().as_ref(), b"\x88\x05\x0f\xa0bye");
    // Nothing more can be sent.
    assert_eq!(s.send_binary(b"x"), Err(Error::Local(LocalError::Closed)));
    assert_eq!(s.ping(b""), Err(Error::Local(LocalError::Closed)));
    assert_eq!(
        s.close(CloseCode::NORMAL, ""),
        Err(Error::Local(LocalError::Closed))
    );
    // Messages still arrive; a ping is not answered any more.
    let (events, out) = feed(
        &mut s,
        &[masked(TEXT, b"in flight"), masked(PING, b"")].concat(),
    );
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], Ok(text("in flight")));
    assert!(out.is_empty());
    // The peer's close completes the handshake; nothing is sent back.
    let (events, out) = feed(&mut s, &masked(CLOSE, b"\x0f\xa0"));
    assert_eq!(
        events,
        vec![Ok(Event::Close {
            code: CloseCode::from(4000),
            reason: String::new(),
            initiated_by: Side::Local,
        })]
    );
    assert!(out.is_empty());
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn manual_close_reply() {
    let mut s = server_with(Config::default().auto_close_reply(false));
    let (events, out) = feed(&mut s, &masked(CLOSE, b"\x03\xe8"));
    assert!(matches!(
        events[0],
        Ok(Event::Close {
            initiated_by: Side::Remote,
            ..
        })
    ));
    assert!(out.is_empty());
    assert_eq!(s.state(), State::RemoteClosing);
    // We may finish what we were sending, then close.
    s.send_text("last").unwrap();
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.take_output().as_ref(), b"\x81\x04last\x88\x02\x03\xe8");
}

#[test]
fn local_close_errors() {
    let mut s = server();
    for code in [1005u16, 1006, 999, 5000, 1015] {
        assert!(matches!(
            s.close(CloseCode::from(code), ""),
            Err(Error::Local(LocalError::InvalidClose(_)))
        ));
    }
    assert!(matches!(
        s.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(Error::Local(LocalError::InvalidClose(_)))
    ));
    assert!(!s.has_output());
    assert_eq!(s.state(), State::Open);
    s.close(CloseCode::NORMAL, &"x".repeat(123)).unwrap();
    assert_eq!(s.output().len(), 2 + 125);
}

#[test]
fn client_and_server_close_handshake() {
    let mut c = client();
    let mut s = server();
    c.close(CloseCode::NORMAL, "done").unwrap();
    s.receive_data(&c.take_output());
    assert!(matches!(
        s.next_event(),
        Some(Ok(Event::Close {
            initiated_by: Side::Remote,
            ..
        }))
    ));
    assert_eq!(s.state(), State::Closed);
    c.receive_data(&s.take_output());
    assert_eq!(
        c.next_event(),
        Some(Ok(Event::Close {
            code: CloseCode::NORMAL,
            reason: String::new(),
            initiated_by: Side::Local,
        }))
    );
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn eof_after_local_close_is_1006() {
    let mut c = client();
    c.close(CloseCode::NORMAL, "").unwrap();
    c.receive_eof();
    assert_eq!(
        c.next_event(),
        Some(Ok(Event::Close {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            initiated_by: Side::Local,
        }))
    );
    assert_eq!(c.state(), State::Closed);
}
