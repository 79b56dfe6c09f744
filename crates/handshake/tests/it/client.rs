//! Client side: request building, response validation.

use ferrosocket_handshake::{
    Accept, ClientHandshake, ClientRequest, ExtensionOffer, HandshakeError, Key, Outcome, Rejected,
    Status,
};

use crate::parse;

const KEY: Key = Key::from_bytes(*b"the sample nonce");
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn handshake(request: &ClientRequest) -> ClientHandshake {
    request.write_to(&mut Vec::new()).unwrap()
}

fn offering() -> ClientRequest {
    ClientRequest::new("server.example.com", "/chat", KEY)
        .subprotocol("chat")
        .subprotocol("superchat")
        .extension(ExtensionOffer::new("permessage-deflate").with_param("client_max_window_bits"))
}

/// Feeds a whole answer and expects a complete verdict.
fn verdict(hs: &mut ClientHandshake, answer: &str) -> Result<(Outcome, usize), HandshakeError> {
    match hs.feed(answer.as_bytes())? {
        Status::Complete { value, consumed } => Ok((value, consumed)),
        Status::Partial => panic!("incomplete answer"),
    }
}

fn answer_101(extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
    )
}

#[test]
fn request_bytes() {
    let mut out = b"x".to_vec();
    let hs = ClientRequest::new("server.example.com", "/chat?a=b", KEY)
        .origin("http://example.com")
        .subprotocol("chat")
        .subprotocol("superchat")
        .extension(ExtensionOffer::new("permessage-deflate").with_param("client_max_window_bits"))
        .extension(ExtensionOffer::new("x-foo").with_param_value("q", "1"))
        .header("Authorization", "Bearer t")
        .write_to(&mut out)
        .unwrap();
    assert_eq!(hs.expected_accept(), ACCEPT);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "xGET /chat?a=b HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; q=1\r\n\
         Authorization: Bearer t\r\n\
         \r\n"
    );
}

#[test]
fn host_and_port() {
    for (host, port, secure, expected) in [
        ("example.com", 80, false, "example.com"),
        ("example.com", 443, true, "example.com"),
        ("example.com", 443, false, "example.com:443"),
        ("example.com", 8080, true, "example.com:8080"),
        ("::1", 9001, false, "[::1]:9001"),
        ("[::1]", 9001, false, "[::1]:9001"),
        ("::1", 80, false, "::1"),
    ] {
        let req = ClientRequest::new(host, "/", KEY).port(port, secure);
        assert_eq!(req.host(), expected);
    }
    let mut out = Vec::new();
    ClientRequest::new("127.0.0.1", "/", KEY)
        .port(9001, false)
        .write_to(&mut out)
        .unwrap();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("\r\nHost: 127.0.0.1:9001\r\n")
    );
}

#[test]
fn invalid_outgoing_values_are_refused() {
    let base = || ClientRequest::new("example.com", "/", KEY);
    for req in [
        base().header("X-Evil", "a\r\nInjected: 1"),
        base().header("X-Evil", "a\nb"),
        base().header("Bad Name", "v"),
        base().header("Sec-WebSocket-Key", "forged"),
        base().header("host", "other"),
        base().origin("http://a\r\nb"),
        base().subprotocol("has space"),
        base().subprotocol(""),
        base().subprotocol("dup").subprotocol("dup"),
        base().extension(ExtensionOffer::new("bad name")),
        base().extension(ExtensionOffer::new("x").with_param_value("p", "a,b")),
        ClientRequest::new("example.com", "no-slash", KEY),
        ClientRequest::new("example.com", "/a b", KEY),
        ClientRequest::new("example.com", "/a\r\nX: y", KEY),
        ClientRequest::new("", "/", KEY),
        ClientRequest::new("a b", "/", KEY),
        ClientRequest::new("a\r\nX: y", "/", KEY),
        ClientRequest::new("a/b", "/", KEY),
    ] {
        let mut out = Vec::new();
        let err = req.write_to(&mut out).unwrap_err();
        assert!(
            matches!(err, HandshakeError::InvalidOutgoing { .. }),
            "{err:?}"
        );
        assert!(out.is_empty());
    }
}

#[test]
fn full_round_trip_with_leftover_frames() {
    let mut to_server = Vec::new();
    let mut hs = offering().write_to(&mut to_server).unwrap();
    let (req, _) = parse(&to_server).unwrap();
    assert_eq!(req.subprotocols(), ["chat", "superchat"]);
    let mut to_client = Vec::new();
    req.write_accept(
        &Accept::new().subprotocol("superchat").extension(
            ExtensionOffer::new("permessage-deflate").with_param("server_no_context_takeover"),
        ),
        &mut to_client,
    )
    .unwrap();
    let head = to_client.len();
    to_client.extend_from_slice(&[0x89, 0x00, 0x81, 0x01, b'x']);
    let Status::Complete {
        value: Outcome::Accepted(acc),
        consumed,
    } = hs.feed(&to_client).unwrap()
    else {
        panic!()
    };
    assert_eq!(consumed, head);
    assert_eq!(&to_client[consumed..], &[0x89, 0x00, 0x81, 0x01, b'x']);
    assert_eq!(acc.subprotocol.as_deref(), Some("superchat"));
    assert_eq!(
        acc.extensions,
        [ExtensionOffer::new("permessage-deflate").with_param("server_no_context_takeover")]
    );
    assert_eq!(acc.headers.get_str("sec-websocket-accept"), Some(ACCEPT));
}

#[test]
fn minimal_valid_answers() {
    for extra in [
        "",
        "Sec-WebSocket-Protocol: chat\r\n",
        "Sec-WebSocket-Extensions: PERMESSAGE-DEFLATE\r\n",
        "X-Other: 1\r\n",
    ] {
        let mut hs = handshake(&offering());
        let (outcome, _) = verdict(&mut hs, &answer_101(extra)).unwrap();
        assert!(matches!(outcome, Outcome::Accepted(_)), "{extra:?}");
    }
    let tolerant = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n\
                    connection: keep-alive, upgrade\r\nsec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n\r\n";
    assert!(verdict(&mut handshake(&offering()), tolerant).is_ok());
}

#[test]
fn response_validation_errors() {
    use HandshakeError as E;
    let ok = answer_101("");
    let cases: Vec<(String, HandshakeError)> = vec![
        (
            ok.replace(ACCEPT, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            E::AcceptMismatch,
        ),
        (
            ok.replace(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n"), ""),
            E::MissingHeader {
                name: "Sec-WebSocket-Accept",
            },
        ),
        (
            answer_101(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")),
            E::DuplicateHeader {
                name: "Sec-WebSocket-Accept",
            },
        ),
        (
            ok.replace("Upgrade: websocket\r\n", ""),
            E::MissingHeader { name: "Upgrade" },
        ),
        (
            ok.replace("Upgrade: websocket", "Upgrade: h2c"),
            E::UpgradeNotWebSocket,
        ),
        (
            ok.replace("Connection: Upgrade", "Connection: close"),
            E::ConnectionNotUpgrade,
        ),
        (
            answer_101("Sec-WebSocket-Protocol: unknown\r\n"),
            E::UnexpectedSubprotocol,
        ),
        (
            answer_101("Sec-WebSocket-Protocol: CHAT\r\n"),
            E::UnexpectedSubprotocol,
        ),
        (
            answer_101("Sec-WebSocket-Protocol: chat, superchat\r\n"),
            E::InvalidHeader {
                name: "Sec-WebSocket-Protocol",
            },
        ),
        (
            answer_101("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
            E::DuplicateHeader {
                name: "Sec-WebSocket-Protocol",
            },
        ),
        (
            answer_101("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"),
            E::UnexpectedExtension {
                name: "x-webkit-deflate-frame".into(),
            },
        ),
        (
            answer_101("Sec-WebSocket-Extensions: permessage-deflate; =\r\n"),
            E::InvalidHeader {
                name: "Sec-WebSocket-Extensions",
            },
        ),
        (
            ok.replace("HTTP/1.1 101", "HTTP/1.0 101"),
            E::UnsupportedHttpVersion,
        ),
        (
            ok.replace("HTTP/1.1 101", "HTTP/1.1 1O1"),
            E::MalformedHttp {
                reason: "invalid status code",
            },
        ),
    ];
    for (answer, expected) in cases {
        let mut hs = handshake(&offering());
        assert_eq!(verdict(&mut hs, &answer).err(), Some(expected), "{answer}");
    }
    // A subprotocol when none was offered.
    let mut hs = handshake(&ClientRequest::new("h", "/", KEY));
    assert_eq!(
        verdict(&mut hs, &answer_101("Sec-WebSocket-Protocol: chat\r\n")).err(),
        Some(E::UnexpectedSubprotocol)
    );
    // An extension when none was offered.
    let mut hs = handshake(&ClientRequest::new("h", "/", KEY));
    assert_eq!(
        verdict(
            &mut hs,
            &answer_101("Sec-WebSocket-Extensions: permessage-deflate\r\n")
        )
        .err(),
        Some(E::UnexpectedExtension {
            name: "permessage-deflate".into()
        })
    );
}

#[test]
fn non_101_is_rejected_with_status_headers_and_body() {
    let answer = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 12\r\n\r\nlogin first!";
    let mut hs = handshake(&offering());
    let (outcome, consumed) = verdict(&mut hs, answer).unwrap();
    let Outcome::Rejected(rejected) = outcome else {
        panic!("expected a rejection")
    };
    assert_eq!(rejected.status, 401);
    assert_eq!(rejected.reason, "Unauthorized");
    assert_eq!(rejected.headers.get_str("www-authenticate"), Some("Basic"));
    assert_eq!(rejected.header_len, consumed);
    assert_eq!(rejected.content_length(), Some(12));
    let body = &answer.as_bytes()[consumed..];
    assert_eq!(body.len() as u64, rejected.content_length().unwrap());
    assert_eq!(body, b"login first!");

    // A server's 426 answer, as this crate writes it.
    let mut hs = handshake(&offering());
    let answer = String::from_utf8(HandshakeError::UnsupportedVersion.to_response()).unwrap();
    let (Outcome::Rejected(r), consumed) = verdict(&mut hs, &answer).unwrap() else {
        panic!()
    };
    assert_eq!(r.status, 426);
    assert_eq!(r.headers.get_str("Sec-WebSocket-Version"), Some("13"));
    assert_eq!(r.content_length(), Some((answer.len() - consumed) as u64));

    // A 200 is a rejection too, even with Upgrade headers.
    let mut hs = handshake(&offering());
    let ok = answer_101("").replace("101 Switching Protocols", "200 OK");
    assert!(matches!(
        verdict(&mut hs, &ok).unwrap().0,
        Outcome::Rejected(Rejected { status: 200, .. })
    ));
}

#[test]
fn content_length_helper() {
    let rejected = |headers: &str| {
        let answer = format!("HTTP/1.1 400 Bad Request\r\n{headers}\r\n");
        match verdict(&mut handshake(&offering()), &answer).unwrap().0 {
            Outcome::Rejected(r) => r,
            Outcome::Accepted(_) => panic!(),
        }
    };
    assert_eq!(rejected("").content_length(), None);
    assert_eq!(rejected("Content-Length: 0\r\n").content_length(), Some(0));
    assert_eq!(
        rejected("Content-Length: 5, 5\r\n").content_length(),
        Some(5)
    );
    assert_eq!(
        rejected("Content-Length: 5\r\nContent-Length: 6\r\n").content_length(),
        None
    );
    assert_eq!(rejected("Content-Length: -1\r\n").content_length(), None);
    assert_eq!(
        rejected("Content-Length: 99999999999999999999999\r\n").content_length(),
        None
    );
    assert_eq!(
        rejected("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n").content_length(),
        None
    );
}

#[cfg(feature = "std")]
#[test]
fn generated_keys_round_trip() {
    let key = ferrosocket_handshake::generate_key().unwrap();
    let mut out = Vec::new();
    let mut hs = ClientRequest::new("h", "/", key)
        .write_to(&mut out)
        .unwrap();
    let (req, _) = parse(&out).unwrap();
    assert_eq!(req.key(), &key);
    let mut answer = Vec::new();
    req.write_accept(&Accept::new(), &mut answer).unwrap();
    assert!(matches!(
        hs.feed(&answer).unwrap(),
        Status::Complete {
            value: Outcome::Accepted(_),
            ..
        }
    ));
}
