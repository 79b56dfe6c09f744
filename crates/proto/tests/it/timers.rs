//! Every timer of the connection, driven by a manual clock: the tests give the time
//! (`handle_timeout`) and follow `poll_timeout`, so each runs in microseconds.

use std::time::Duration;

use ferrosocket_proto::{
    CloseCode, Config, Connection, Error, Event, Instant, Keepalive, ProtocolError, Role, State,
    Timer, WsConnection,
};

use ferrosocket_testkit::ManualClock;

use crate::testkit::*;

/// The instant `s` seconds after the origin.
fn at(s: f64) -> Instant {
    Instant::from_duration(Duration::from_secs_f64(s))
}

fn secs(s: f64) -> Option<Instant> {
    Some(at(s))
}

/// A server with only the timers a test names.
fn server_timed(config: Config) -> Connection {
    Connection::new(Role::Server, config)
}

fn no_timers() -> Config {
    Config::default().without_timers()
}

/// An unmasked close frame with `code`, as a server sends it.
fn close_frame(code: CloseCode) -> Vec<u8> {
    unmasked(CLOSE, &code.as_u16().to_be_bytes())
}

/// The connection failed with `timer`: the error comes once, then nothing; the
/// state is closed and the output is `output`.
fn assert_failed(conn: &mut Connection, timer: Timer, output: &[u8]) {
    assert_eq!(
        conn.next_event(),
        Some(Err(Error::Protocol(ProtocolError::Timeout(timer))))
    );
    assert!(conn.next_event().is_none());
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(&conn.take_output()[..], output);
    assert_eq!(
        conn.poll_timeout(),
        None,
        "no timer after the connection failed"
    );
}

#[test]
fn no_timer_runs_before_the_first_time_is_given() {
    let mut conn = server_timed(Config::default());
    assert_eq!(conn.poll_timeout(), None);
    ManualClock::new().tick(&mut conn);
    // Default: the first keepalive ping is due in 20 s.
    assert_eq!(conn.poll_timeout(), secs(20.0));
    let conn = server_timed(no_timers());
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn trickled_handshake_is_dropped_at_the_handshake_timeout() {
    let config = Config::default().handshake_timeout(Some(Duration::from_secs(10)));
    let mut ws = WsConnection::server(config);
    let mut clock = ManualClock::new();
    clock.tick(&mut ws);
    assert_eq!(ws.poll_timeout(), secs(10.0));
    let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n";
    // One byte a second: never a whole request within 10 s.
    for (i, byte) in request.iter().enumerate().take(10) {
        ws.receive_data(&[*byte]);
        assert!(ws.next_event().is_none());
        clock.set(&mut ws, at(i as f64 + 0.5));
        assert_eq!(
            ws.state(),
            State::Connecting,
            "still within the limit at {i}.5 s"
        );
    }
    clock.set(&mut ws, at(10.0));
    assert_eq!(
        ws.next_event(),
        Some(Err(Error::Protocol(ProtocolError::Timeout(
            Timer::Handshake
        ))))
    );
    assert_eq!(ws.state(), State::Closed);
    assert!(
        !ws.has_output(),
        "nothing is answered to a peer that timed out"
    );
    assert_eq!(ws.poll_timeout(), None);
}

#[test]
fn handshake_in_time_hands_over_to_the_connection_timers() {
    let config = no_timers()
        .handshake_timeout(Some(Duration::from_secs(10)))
        .idle_timeout(Some(Duration::from_secs(30)));
    let mut ws = WsConnection::server(config);
    let mut clock = ManualClock::new();
    clock.tick(&mut ws);
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    ws.receive_data(request);
    assert!(matches!(ws.next_event(), Some(Ok(Event::Request(_)))));
    clock.set(&mut ws, at(9.0));
    ws.accept(&ferrosocket_proto::handshake::Accept::new())
        .unwrap();
    assert_eq!(ws.state(), State::Open);
    // The handshake timer is gone; the idle timer runs from the last time given.
    assert_eq!(ws.poll_timeout(), secs(39.0));
    clock.set(&mut ws, at(12.0));
    assert_eq!(ws.state(), State::Open);
}

#[test]
fn unanswered_close_ends_at_the_close_timeout() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(no_timers().close_timeout(Some(Duration::from_secs(5))));
    clock.set(&mut conn, at(0.0));
    assert_eq!(conn.poll_timeout(), None);
    clock.set(&mut conn, at(1.0));
    conn.close(CloseCode::NORMAL, "bye").unwrap();
    let sent = conn.take_output();
    assert_eq!(conn.state(), State::LocalClosing);
    // The close is stamped at the next time given: the driver is asked for it at once.
    assert_eq!(conn.poll_timeout(), secs(1.0));
    clock.set(&mut conn, at(1.25));
    assert_eq!(conn.poll_timeout(), secs(6.25));
    clock.set(&mut conn, at(6.0));
    assert_eq!(conn.state(), State::LocalClosing);
    clock.set(&mut conn, at(6.25));
    // Our close was sent already: nothing more goes out.
    assert_failed(&mut conn, Timer::Close, b"");
    assert_eq!(&sent[..2], &[0x88, 5]);
}

#[test]
fn answered_close_stops_the_close_timer() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(no_timers().close_timeout(Some(Duration::from_secs(5))));
    clock.set(&mut conn, at(0.0));
    conn.close(CloseCode::NORMAL, "").unwrap();
    clock.set(&mut conn, at(0.0));
    conn.receive_data(&masked(CLOSE, &1000u16.to_be_bytes()));
    assert!(matches!(conn.next_event(), Some(Ok(Event::Close { .. }))));
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.poll_timeout(), None);
    clock.set(&mut conn, at(100.0));
    assert!(conn.next_event().is_none());
}

fn keepalive_config() -> Config {
    no_timers().keepalive(Some(Keepalive::new(
        Duration::from_secs(20),
        Duration::from_secs(10),
    )))
}

/// The keepalive ping the server sent, checked to be a ping; returns its payload.
fn take_ping(conn: &mut Connection) -> Vec<u8> {
    let out = conn.take_output();
    assert_eq!(out[0], 0x89, "a ping frame: {out:?}");
    let len = usize::from(out[1]);
    assert_eq!(out.len(), 2 + len);
    out[2..].to_vec()
}

#[test]
fn missing_pong_fails_the_connection_with_1011() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(keepalive_config());
    clock.set(&mut conn, at(0.0));
    assert_eq!(conn.poll_timeout(), secs(20.0));
    clock.set(&mut conn, at(19.0));
    assert!(!conn.has_output());
    clock.set(&mut conn, at(20.0));
    let _ = take_ping(&mut conn);
    assert_eq!(conn.poll_timeout(), secs(30.0));
    clock.set(&mut conn, at(29.5));
    assert_eq!(conn.state(), State::Open);
    clock.set(&mut conn, at(30.0));
    assert_failed(
        &mut conn,
        Timer::Keepalive,
        &close_frame(CloseCode::INTERNAL_ERROR),
    );
}

#[test]
fn stale_or_unsolicited_pongs_do_not_count() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(keepalive_config());
    clock.set(&mut conn, at(0.0));
    clock.set(&mut conn, at(20.0));
    let first = take_ping(&mut conn);
    // Answered: the next ping goes out 20 s after the first.
    conn.receive_data(&masked(PONG, &first));
    assert!(
        conn.next_event().is_none(),
        "a keepalive pong is not an event"
    );
    clock.set(&mut conn, at(21.0));
    assert_eq!(conn.poll_timeout(), secs(40.0));
    clock.set(&mut conn, at(40.0));
    let second = take_ping(&mut conn);
    assert_ne!(first, second, "each keepalive ping has its own payload");
    // The peer sends unsolicited pongs and replays the first ping's answer, but
    // never answers the second: it is failed all the same.
    conn.receive_data(&[masked(PONG, b"heartbeat"), masked(PONG, &first)].concat());
    let events = events(&mut conn);
    assert_eq!(
        events.len(),
        2,
        "foreign pongs are the application's: {events:?}"
    );
    assert!(events.iter().all(|e| matches!(e, Event::Pong(_))));
    clock.set(&mut conn, at(45.0));
    assert_eq!(conn.state(), State::Open);
    clock.set(&mut conn, at(50.0));
    assert_failed(
        &mut conn,
        Timer::Keepalive,
        &close_frame(CloseCode::INTERNAL_ERROR),
    );
}

#[test]
fn idle_peer_is_closed_with_1001() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(no_timers().idle_timeout(Some(Duration::from_secs(30))));
    clock.set(&mut conn, at(0.0));
    assert_eq!(conn.poll_timeout(), secs(30.0));
    clock.set(&mut conn, at(29.0));
    conn.receive_data(&masked(TEXT, b"still here"));
    assert_eq!(events(&mut conn), vec![text("still here")]);
    // Received since the last time given: the driver is asked for the time at once.
    assert_eq!(conn.poll_timeout(), secs(29.0));
    clock.set(&mut conn, at(29.5));
    assert_eq!(conn.poll_timeout(), secs(59.5));
    clock.set(&mut conn, at(59.0));
    assert_eq!(conn.state(), State::Open);
    clock.set(&mut conn, at(59.5));
    assert_failed(&mut conn, Timer::Idle, &close_frame(CloseCode::GOING_AWAY));
}

#[test]
fn bytes_read_into_the_lent_buffer_count_as_activity() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(no_timers().idle_timeout(Some(Duration::from_secs(30))));
    clock.set(&mut conn, at(0.0));
    // Half a frame header, as an adapter reading straight into the buffer.
    let mut lent = conn.lend_read_buf(64);
    lent.extend_from_slice(&[0x81]);
    conn.receive_buf(lent);
    assert_eq!(conn.poll_timeout(), secs(0.0), "activity to stamp at once");
    clock.set(&mut conn, at(10.0));
    assert_eq!(conn.poll_timeout(), secs(40.0));
    // Nothing more: the half frame does not keep it alive.
    assert!(conn.next_event().is_none());
    clock.set(&mut conn, at(40.0));
    assert_failed(&mut conn, Timer::Idle, &close_frame(CloseCode::GOING_AWAY));
}

fn message_config() -> Config {
    no_timers().message_timeout(Some(Duration::from_secs(60)))
}

#[test]
fn trickled_fragments_are_closed_with_1008_at_the_message_timeout() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(message_config());
    clock.set(&mut conn, at(0.0));
    assert_eq!(
        conn.poll_timeout(),
        None,
        "no message in progress, no timer"
    );
    conn.receive_data(&masked_fragment(false, TEXT, b"a"));
    assert!(conn.next_event().is_none());
    clock.set(&mut conn, at(0.5));
    assert_eq!(conn.poll_timeout(), secs(60.5));
    // One byte a second, each in its own continuation frame.
    for second in 1..60 {
        conn.receive_data(&masked_fragment(false, CONTINUATION, b"b"));
        assert!(conn.next_event().is_none());
        clock.set(&mut conn, at(f64::from(second)));
        assert_eq!(conn.state(), State::Open, "at {second} s");
    }
    clock.set(&mut conn, at(60.5));
    assert_failed(
        &mut conn,
        Timer::Message,
        &close_frame(CloseCode::POLICY_VIOLATION),
    );
}

#[test]
fn a_trickled_single_frame_is_a_message_too() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(message_config());
    clock.set(&mut conn, at(0.0));
    let frame = masked(BINARY, &[7; 100]);
    // The header and one payload byte a second.
    conn.receive_data(&frame[..7]);
    assert!(conn.next_event().is_none());
    for second in 1..=60 {
        clock.set(&mut conn, at(f64::from(second)));
        if second < 60 {
            conn.receive_data(&frame[6 + second as usize..7 + second as usize]);
            assert!(conn.next_event().is_none());
        }
    }
    // Started when stamped at 1 s.
    assert_eq!(conn.state(), State::Open);
    clock.set(&mut conn, at(61.0));
    assert_failed(
        &mut conn,
        Timer::Message,
        &close_frame(CloseCode::POLICY_VIOLATION),
    );
}

#[test]
fn messages_that_finish_in_time_reset_the_message_timer() {
    let mut clock = ManualClock::new();
    let mut conn = server_timed(message_config());
    clock.set(&mut conn, at(0.0));
    for round in 0..5 {
        let start = f64::from(round) * 50.0;
        conn.receive_data(&masked_fragment(false, TEXT, b"x"));
        assert!(conn.next_event().is_none());
        clock.set(&mut conn, at(start));
        assert_eq!(conn.poll_timeout(), secs(start + 60.0));
        clock.set(&mut conn, at(start + 49.0));
        conn.receive_data(&masked_fragment(true, CONTINUATION, b"y"));
        assert_eq!(events(&mut conn), vec![text("xy")]);
        clock.set(&mut conn, at(start + 49.5));
        assert_eq!(
            conn.poll_timeout(),
            None,
            "round {round}: no message, no timer"
        );
    }
    assert_eq!(conn.state(), State::Open);
}

#[test]
fn timers_combine_into_the_earliest_deadline() {
    let mut clock = ManualClock::new();
    let config = Config::default()
        .keepalive(Some(Keepalive::new(
            Duration::from_secs(20),
            Duration::from_secs(20),
        )))
        .idle_timeout(Some(Duration::from_secs(15)))
        .message_timeout(Some(Duration::from_secs(60)));
    let mut conn = server_timed(config);
    clock.set(&mut conn, at(0.0));
    assert_eq!(
        conn.poll_timeout(),
        secs(15.0),
        "idle before the first ping"
    );
    conn.receive_data(&masked_fragment(false, BINARY, b"part"));
    assert!(conn.next_event().is_none());
    clock.set(&mut conn, at(10.0));
    assert_eq!(
        conn.poll_timeout(),
        secs(20.0),
        "the ping, before idle at 25 s"
    );
    clock.set(&mut conn, at(20.0));
    let _ = take_ping(&mut conn);
    assert_eq!(conn.poll_timeout(), secs(25.0));
    clock.set(&mut conn, at(25.0));
    assert_failed(&mut conn, Timer::Idle, &close_frame(CloseCode::GOING_AWAY));
}

#[test]
fn timeout_errors_name_their_timer_and_close_code() {
    for (timer, code) in [
        (Timer::Keepalive, 1011),
        (Timer::Idle, 1001),
        (Timer::Message, 1008),
        (Timer::Close, 1006),
        (Timer::Handshake, 1006),
    ] {
        let e = ProtocolError::Timeout(timer);
        assert_eq!(e.close_code().as_u16(), code, "{timer:?}");
        assert!(!e.to_string().is_empty());
    }
}
