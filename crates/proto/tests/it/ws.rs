//! WsConnection: the opening handshake for both roles, then frames.

use ferrosocket_proto::bytes::Bytes;
use ferrosocket_proto::handshake::{Accept, ClientRequest, Key, Reject};
use ferrosocket_proto::{
    CloseCode, Config, Error, Event, LocalError, SeededRandom, Side, State, WsConnection,
};

use crate::testkit::*;

const ACCEPT_KEY: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn request_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    ClientRequest::new(
        "example.com",
        "/chat",
        Key::from_bytes(*b"the sample nonce"),
    )
    .write_to(&mut out)
    .unwrap();
    out
}

fn client_ws() -> WsConnection {
    let request = ClientRequest::new(
        "example.com",
        "/chat",
        Key::from_bytes(*b"the sample nonce"),
    );
    WsConnection::client_with_random(&request, Config::default(), SeededRandom::new(3)).unwrap()
}

fn split_head(out: &[u8]) -> (&str, &[u8]) {
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (std::str::from_utf8(&out[..end]).unwrap(), &out[end..])
}

#[test]
fn server_accepts_and_processes_frames_from_the_same_packet() {
    let mut ws = WsConnection::server(Config::default());
    assert_eq!(ws.state(), State::Connecting);
    let packet = [request_bytes(), masked(TEXT, b"early"), masked(PING, b"p")].concat();
    ws.receive_data(&packet[..20]);
    assert!(ws.next_event().is_none());
    ws.receive_data(&packet[20..]);
    let Some(Ok(Event::Request(request))) = ws.next_event() else {
        panic!("request")
    };
    assert_eq!(request.path(), "/chat");
    // Frames wait for the decision.
    assert!(ws.next_event().is_none());
    assert_eq!(
        ws.send_text("too soon"),
        Err(Error::Local(LocalError::NotOpen))
    );
    ws.accept(&Accept::new()).unwrap();
    assert_eq!(ws.state(), State::Open);
    let events: Vec<_> = ws.events().collect();
    assert_eq!(
        events,
        vec![Ok(text("early")), Ok(Event::Ping(Bytes::from_static(b"p")))]
    );
    let out = ws.take_output();
    let (head, rest) = split_head(&out);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Sec-WebSocket-Accept: {ACCEPT_KEY}\r\n")),
        "{head}"
    );
    // The auto-pong follows the 101.
    assert_eq!(rest, b"\x8a\x01p");
    // Accepting twice is a local error.
    assert_eq!(
        ws.accept(&Accept::new()),
        Err(Error::Local(LocalError::InvalidState))
    );
}

#[test]
fn server_rejects_with_body() {
    let mut ws = WsConnection::server(Config::default());
    ws.receive_data(&request_bytes());
    assert!(matches!(ws.next_event(), Some(Ok(Event::Request(_)))));
    ws.reject(&Reject::new(403).body("go away")).unwrap();
    assert_eq!(ws.state(), State::Closed);
    let out = ws.take_output();
    let (head, body) = split_head(&out);
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    assert!(head.contains("Content-Length: 7\r\n"), "{head}");
    assert_eq!(body, b"go away");
    assert!(ws.next_event().is_none());
}

#[test]
fn bad_requests_get_their_error_answer() {
    let cases: [(&[u8], u16); 3] = [
        (b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
        (b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426),
        (b"POST /chat HTTP/1.1\r\nHost: a\r\n\r\n", 405),
    ];
    for (request, status) in cases {
        let mut ws = WsConnection::server(Config::default());
        ws.receive_data(request);
        let err = match ws.next_event() {
            Some(Err(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(err.http_status(), Some(status));
        let Error::Handshake(inner) = &err else {
            panic!()
        };
        assert_eq!(ws.take_output().as_ref(), inner.to_response().as_slice());
        assert_eq!(ws.state(), State::Closed);
        assert!(ws.next_event().is_none());
    }
    // The 426 carries the version we speak.
    let mut ws = WsConnection::server(Config::default());
    ws.receive_data(cases[1].0);
    let _ = ws.next_event();
    let out = ws.take_output();
    let (head, _) = split_head(&out);
    assert!(head.starts_with("HTTP/1.1 426 "), "{head}");
    assert!(head.contains("Sec-WebSocket-Version: 13\r\n"), "{head}");
}

#[test]
fn server_eof_before_request() {
    let mut ws = WsConnection::server(Config::default());
    ws.receive_data(b"GET / HTTP/1.1\r\n");
    assert!(ws.next_event().is_none());
    ws.receive_eof();
    assert_eq!(ws.next_event(), Some(Err(Error::EofDuringHandshake)));
    assert_eq!(ws.state(), State::Closed);
}

#[test]
fn client_accepted_with_a_frame_in_the_same_packet() {
    let mut ws = client_ws();
    let out = ws.take_output();
    assert_eq!(out.as_ref(), request_bytes().as_slice());
    assert_eq!(ws.state(), State::Connecting);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT_KEY}\r\n\r\n"
    );
    let packet = [response.into_bytes(), unmasked(TEXT, b"hi")].concat();
    ws.receive_data(&packet);
    assert!(matches!(ws.next_event(), Some(Ok(Event::Accept(_)))));
    assert_eq!(ws.state(), State::Open);
    assert_eq!(ws.next_event(), Some(Ok(text("hi"))));
    ws.send_text("yo").unwrap();
    let frame = ws.take_output();
    assert_eq!(&frame[..2], b"\x81\x82");
    // Close from the server, echoed by the client.
    ws.receive_data(&unmasked(CLOSE, b"\x03\xe8"));
    assert_eq!(
        ws.next_event(),
        Some(Ok(Event::Close {
            code: CloseCode::NORMAL,
            reason: String::new(),
            initiated_by: Side::Remote
        }))
    );
    assert_eq!(ws.state(), State::Closed);
    assert_eq!(&ws.take_output()[..2], b"\x88\x82");
}

#[test]
fn client_bad_accept_key_is_an_error() {
    let mut ws = client_ws();
    ws.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n");
    assert!(matches!(ws.next_event(), Some(Err(Error::Handshake(_)))));
    assert_eq!(ws.state(), State::Closed);
}

#[test]
fn client_rejected_with_content_length_body() {
    let mut ws = client_ws();
    let response = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nnot for yo";
    ws.receive_data(&response[..response.len() - 4]);
    let Some(Ok(Event::Reject(rejected))) = ws.next_event() else {
        panic!("reject")
    };
    assert_eq!(rejected.status, 403);
    assert_eq!(
        ws.next_event(),
        Some(Ok(Event::RejectData {
            data: Bytes::from_static(b"not fo"),
            body_finished: false
        }))
    );
    assert!(ws.next_event().is_none());
    assert_eq!(ws.state(), State::Connecting);
    // The rest of the body, and bytes after it (ignored).
    ws.receive_data(b"r yoJUNK");
    assert_eq!(
        ws.next_event(),
        Some(Ok(Event::RejectData {
            data: Bytes::from_static(b"r yo"),
            body_finished: true
        }))
    );
    assert_eq!(ws.state(), State::Closed);
    assert!(ws.next_event().is_none());
}

#[test]
fn client_rejected_empty_and_until_eof_bodies() {
    let mut ws = client_ws();
    ws.receive_data(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    assert!(matches!(ws.next_event(), Some(Ok(Event::Reject(_)))));
    assert_eq!(
        ws.next_event(),
        Some(Ok(Event::RejectData {
            data: Bytes::new(),
            body_finished: true
        }))
    );
    assert_eq!(ws.state(), State::Closed);

    let mut ws = client_ws();
    ws.receive_data(b"HTTP/1.1 500 Oops\r\n\r\nsome");
    assert!(matches!(ws.next_event(), Some(Ok(Event::Reject(_)))));
    assert_eq!(
        ws.next_event(),
        Some(Ok(Event::RejectData {
            data: Bytes::from_static(b"some"),
            body_finished: false
        }))
    );
    ws.receive_data(b" more");
    assert_eq!(
        ws.next_event(),
        Some(Ok(Event::RejectData {
            data: Bytes::from_static(b" more"),
            body_finished: false
        }))
    );
    assert!(ws.next_event().is_none());
    ws.receive_eof();
    assert_eq!(
        ws.next_event(),
        Some(Ok(Event::RejectData {
            data: Bytes::new(),
            body_finished: true
        }))
    );
    assert_eq!(ws.state(), State::Closed);
}

#[test]
fn client_and_server_end_to_end() {
    let request =
        ClientRequest::new("localhost", "/", Key::from_bytes([7; 16])).subprotocol("chat");
    let mut c = WsConnection::client_with_random(&request, Config::default(), SeededRandom::new(5))
        .unwrap();
    let mut s = WsConnection::server(Config::default());
    s.receive_data(&c.take_output());
    let Some(Ok(Event::Request(req))) = s.next_event() else {
        panic!()
    };
    assert_eq!(req.subprotocols(), ["chat"]);
    s.accept(&Accept::new().subprotocol("chat")).unwrap();
    s.send_text("welcome").unwrap();
    c.receive_data(&s.take_output());
    let Some(Ok(Event::Accept(accepted))) = c.next_event() else {
        panic!()
    };
    assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
    assert_eq!(c.next_event(), Some(Ok(text("welcome"))));
    c.close(CloseCode::NORMAL, "").unwrap();
    s.receive_data(&c.take_output());
    assert!(matches!(
        s.next_event(),
        Some(Ok(Event::Close {
            initiated_by: Side::Remote,
            ..
        }))
    ));
    c.receive_data(&s.take_output());
    assert!(matches!(
        c.next_event(),
        Some(Ok(Event::Close {
            initiated_by: Side::Local,
            ..
        }))
    ));
    assert_eq!((c.state(), s.state()), (State::Closed, State::Closed));
    assert!(c.into_connection().is_some());
}

/// One error type; its variant says who is at fault.
#[test]
fn errors_say_who_is_at_fault() {
    use ferrosocket_proto::{Fault, ProtocolError};

    // The peer: a bad request (its HTTP answer queued), a broken rule (its close code).
    let mut ws = WsConnection::server(Config::default());
    ws.receive_data(b"POST /chat HTTP/1.1\r\nHost: a\r\n\r\n");
    let err = ws.next_event().unwrap().unwrap_err();
    assert_eq!(
        (err.fault(), err.http_status(), err.close_code()),
        (Fault::Peer, Some(405), None)
    );
    let mut ws = WsConnection::server(Config::default());
    ws.receive_data(&request_bytes());
    assert!(matches!(ws.next_event(), Some(Ok(Event::Request(_)))));
    // Us: an answer the request does not allow (500), a send before the handshake.
    let err = ws
        .accept(&Accept::new().subprotocol("never-offered"))
        .unwrap_err();
    assert_eq!((err.fault(), err.http_status()), (Fault::Local, Some(500)));
    let err = ws.send_text("early").unwrap_err();
    assert_eq!(err, Error::Local(LocalError::NotOpen));
    assert_eq!(err.fault(), Fault::Local);
    ws.accept(&Accept::new()).unwrap();
    ws.receive_data(&unmasked(TEXT, b"unmasked"));
    let err = ws.next_event().unwrap().unwrap_err();
    assert_eq!(err, Error::Protocol(ProtocolError::UnmaskedFrame));
    assert_eq!(
        (err.fault(), err.close_code()),
        (Fault::Peer, Some(CloseCode::PROTOCOL_ERROR))
    );
    // The transport: gone before the handshake finished.
    let mut ws = WsConnection::server(Config::default());
    ws.receive_eof();
    let err = ws.next_event().unwrap().unwrap_err();
    assert_eq!(
        (err, Error::EofDuringHandshake.fault()),
        (Error::EofDuringHandshake, Fault::Transport)
    );
}
