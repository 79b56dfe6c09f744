//! Server side: validation rules, answers, rejections.

use ferrosocket_handshake::{
    Accept, ExtensionOffer, HandshakeError, Reject, RequestParser, Status, accept_key,
};

use crate::{RFC_REQUEST, parse, variant};

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn rfc_accept_key_example() {
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    let (req, _) = parse(RFC_REQUEST.as_bytes()).unwrap();
    assert_eq!(req.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn parses_rfc_request() {
    let (req, consumed) = parse(RFC_REQUEST.as_bytes()).unwrap();
    assert_eq!(consumed, RFC_REQUEST.len());
    assert_eq!(req.method(), "GET");
    assert_eq!(req.target(), "/chat");
    assert_eq!(req.path(), "/chat");
    assert_eq!(req.query(), None);
    assert_eq!(req.host(), "server.example.com");
    assert_eq!(req.origin(), Some("http://example.com"));
    assert_eq!(req.subprotocols(), ["chat", "superchat"]);
    assert!(req.extensions().is_empty());
    assert_eq!(req.key().as_bytes(), b"the sample nonce");
    assert_eq!(req.headers().len(), 7);
    assert_eq!(req.headers().get("HOST"), Some(&b"server.example.com"[..]));
    assert_eq!(req.headers().get_str("sec-websocket-version"), Some("13"));
}

#[test]
fn target_query_and_absolute_form() {
    let (req, _) = parse(variant("GET /chat ", "GET /chat?room=1&x=y ").as_bytes()).unwrap();
    assert_eq!(req.path(), "/chat");
    assert_eq!(req.query(), Some("room=1&x=y"));
    let (req, _) =
        parse(variant("GET /chat ", "GET ws://server.example.com/chat ").as_bytes()).unwrap();
    assert_eq!(req.target(), "ws://server.example.com/chat");
}

#[test]
fn leftover_bytes_are_returned_exactly() {
    let frames = [
        0x81u8, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut input = RFC_REQUEST.as_bytes().to_vec();
    input.extend_from_slice(&frames);
    input.extend_from_slice(b"\r\n\r\n"); // looks like a terminator but is data
    let (_, consumed) = parse(&input).unwrap();
    assert_eq!(consumed, RFC_REQUEST.len());
    assert_eq!(&input[consumed..input.len() - 4], &frames);
}

#[test]
fn subprotocols_and_extensions_across_lines() {
    let req = variant(
        "Sec-WebSocket-Protocol: chat, superchat\r\n",
        "Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate\r\n\
         sec-websocket-protocol: v3\r\n\
         Sec-WebSocket-Extensions: x-foo; bar=\"baz\"; q=1\r\n",
    );
    let (req, _) = parse(req.as_bytes()).unwrap();
    assert_eq!(req.subprotocols(), ["chat", "superchat", "v3"]);
    assert_eq!(
        req.extensions(),
        [
            ExtensionOffer::new("permessage-deflate").with_param("client_max_window_bits"),
            ExtensionOffer::new("permessage-deflate"),
            ExtensionOffer::new("x-foo")
                .with_param_value("bar", "baz")
                .with_param_value("q", "1"),
        ]
    );
}

#[test]
fn tolerated_variants() {
    for (from, to) in [
        ("Upgrade: websocket", "Upgrade: WebSocket"),
        ("Upgrade: websocket", "Upgrade: h2c, websocket"),
        ("Connection: Upgrade", "Connection: keep-alive, Upgrade"),
        ("Connection: Upgrade", "Connection: keep-alive,upgrade"),
        (
            "Connection: Upgrade\r\n",
            "Connection: keep-alive\r\nConnection: Upgrade\r\n",
        ),
        ("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version:  13 "),
        ("Origin: http://example.com\r\n", ""),
        ("Sec-WebSocket-Protocol: chat, superchat\r\n", ""),
        ("\r\n\r\n", "\n\n"),
    ] {
        let req = variant(from, to);
        assert!(parse(req.as_bytes()).is_ok(), "{to:?}");
    }
    // Bare LF line endings, as httparse accepts them.
    assert!(parse(RFC_REQUEST.replace("\r\n", "\n").as_bytes()).is_ok());
    // Empty lines before the request line are skipped.
    assert!(parse(format!("\r\n\n{RFC_REQUEST}").as_bytes()).is_ok());
}

/// Every validation rule, with the HTTP status of its answer.
#[test]
fn validation_rules_and_statuses() {
    use HandshakeError as E;
    let cases: &[(&str, &str, HandshakeError, u16)] = &[
        ("GET /chat", "POST /chat", E::MethodNotAllowed, 405),
        ("GET /chat", "get /chat", E::MethodNotAllowed, 405),
        (
            "HTTP/1.1\r\n",
            "HTTP/1.0\r\n",
            E::UnsupportedHttpVersion,
            400,
        ),
        ("GET /chat ", "GET chat ", E::InvalidTarget, 400),
        ("GET /chat ", "GET * ", E::InvalidTarget, 400),
        (
            "Host: server.example.com\r\n",
            "",
            E::MissingHeader { name: "Host" },
            400,
        ),
        (
            "Host: server.example.com\r\n",
            "Host: a\r\nHost: b\r\n",
            E::DuplicateHeader { name: "Host" },
            400,
        ),
        (
            "Host: server.example.com",
            "Host: ",
            E::InvalidHeader { name: "Host" },
            400,
        ),
        (
            "Upgrade: websocket\r\n",
            "",
            E::MissingHeader { name: "Upgrade" },
            400,
        ),
        (
            "Upgrade: websocket",
            "Upgrade: h2c",
            E::UpgradeNotWebSocket,
            400,
        ),
        (
            "Upgrade: websocket",
            "Upgrade: websockets",
            E::UpgradeNotWebSocket,
            400,
        ),
        (
            "Connection: Upgrade\r\n",
            "",
            E::MissingHeader { name: "Connection" },
            400,
        ),
        (
            "Connection: Upgrade",
            "Connection: keep-alive",
            E::ConnectionNotUpgrade,
            400,
        ),
        (
            "Connection: Upgrade",
            "Connection: Upgraded",
            E::ConnectionNotUpgrade,
            400,
        ),
        (
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            "",
            E::MissingHeader {
                name: "Sec-WebSocket-Key",
            },
            400,
        ),
        (
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j",
            E::InvalidKey,
            400,
        ),
        (
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Key: not base64 at all!!!!!!!",
            E::InvalidKey,
            400,
        ),
        (
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            E::DuplicateHeader {
                name: "Sec-WebSocket-Key",
            },
            400,
        ),
        (
            "Sec-WebSocket-Version: 13\r\n",
            "",
            E::UnsupportedVersion,
            426,
        ),
        (
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Version: 8",
            E::UnsupportedVersion,
            426,
        ),
        (
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Version: 13, 8",
            E::UnsupportedVersion,
            426,
        ),
        (
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Protocol: chat super",
            E::InvalidHeader {
                name: "Sec-WebSocket-Protocol",
            },
            400,
        ),
        (
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Extensions: permessage-deflate;",
            E::InvalidHeader {
                name: "Sec-WebSocket-Extensions",
            },
            400,
        ),
        (
            "Host: server.example.com\r\n",
            "Host server.example.com\r\n",
            E::MalformedHttp {
                reason: "invalid header name",
            },
            400,
        ),
    ];
    for (from, to, expected, status) in cases {
        let input = variant(from, to);
        let got = parse(input.as_bytes());
        assert_eq!(got.as_ref().err(), Some(expected), "{to:?}");
        assert_eq!(expected.http_status(), *status, "{expected:?}");
        let answer = text(&expected.to_response());
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{answer}"
        );
    }
    // A non-UTF-8 Origin, as raw bytes.
    let mut input = variant("Origin: http://example.com", "Origin: http://x").into_bytes();
    let at = input.windows(8).position(|w| w == b"http://x").unwrap() + 7;
    input[at] = 0xff;
    assert_eq!(
        parse(&input).err(),
        Some(HandshakeError::InvalidHeader { name: "Origin" })
    );
}

#[test]
fn version_answer_is_426_with_version_header() {
    let err = parse(variant("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 7").as_bytes())
        .unwrap_err();
    assert_eq!(err.http_status(), 426);
    let answer = text(&err.to_response());
    assert!(
        answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nUpgrade: websocket\r\n"), "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
    assert!(!body.is_empty());
}

#[test]
fn error_answers_are_complete_http() {
    for err in [
        HandshakeError::MethodNotAllowed,
        HandshakeError::InvalidKey,
        HandshakeError::HeadersTooLarge { limit: 16384 },
        HandshakeError::TooManyHeaders { limit: 64 },
    ] {
        let mut out = b"prefix".to_vec();
        err.write_response(&mut out);
        let answer = text(&out[6..]);
        let status = err.http_status();
        assert!(answer.starts_with(&format!("HTTP/1.1 {status} ")));
        assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        assert_eq!(body, format!("{err}\n"));
    }
    let answer = text(&HandshakeError::MethodNotAllowed.to_response());
    assert!(answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    assert!(answer.contains("\r\nAllow: GET\r\n"));
    assert!(
        text(&HandshakeError::HeadersTooLarge { limit: 1 }.to_response())
            .starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")
    );
}

#[test]
fn too_many_headers_is_431() {
    let mut req = RFC_REQUEST.trim_end().to_string();
    for i in 0..60 {
        req.push_str(&format!("\r\nX-{i}: {i}"));
    }
    req.push_str("\r\n\r\n");
    let err = RequestParser::new().feed(req.as_bytes()).unwrap_err();
    assert_eq!(err, HandshakeError::TooManyHeaders { limit: 64 });
    assert_eq!(err.http_status(), 431);
    // Raising the limit accepts it.
    let limits = ferrosocket_handshake::Limits::default().max_headers(100);
    assert!(
        RequestParser::with_limits(limits)
            .feed(req.as_bytes())
            .unwrap()
            .is_complete()
    );
}

#[test]
fn accept_answer_bytes() {
    let (req, _) = parse(RFC_REQUEST.as_bytes()).unwrap();
    let mut out = Vec::new();
    req.write_accept(&Accept::new().subprotocol("chat"), &mut out)
        .unwrap();
    assert_eq!(
        text(&out),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: chat\r\n\
         \r\n"
    );
}

#[test]
fn accept_with_extensions_and_headers() {
    let req = variant(
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    );
    let (req, _) = parse(req.as_bytes()).unwrap();
    let accept = Accept::new()
        .extension(
            ExtensionOffer::new("permessage-deflate")
                .with_param_value("client_max_window_bits", "10")
                .with_param("server_no_context_takeover"),
        )
        .header("Set-Cookie", "a=b");
    let mut out = Vec::new();
    req.write_accept(&accept, &mut out).unwrap();
    let answer = text(&out);
    assert!(answer.contains(
        "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10; server_no_context_takeover\r\n"
    ));
    assert!(answer.ends_with("\r\nSet-Cookie: a=b\r\n\r\n"));
    assert!(!answer.contains("Sec-WebSocket-Protocol"));
}

#[test]
fn accept_refusals_leave_output_untouched() {
    let (req, _) = parse(RFC_REQUEST.as_bytes()).unwrap();
    let cases = [
        (
            Accept::new().subprotocol("superchat2"),
            HandshakeError::SubprotocolNotOffered,
        ),
        (
            Accept::new().subprotocol("CHAT"),
            HandshakeError::SubprotocolNotOffered,
        ),
        (
            Accept::new().extension(ExtensionOffer::new("permessage-deflate")),
            HandshakeError::ExtensionNotOffered {
                name: "permessage-deflate".into(),
            },
        ),
    ];
    for (accept, expected) in cases {
        let mut out = b"keep".to_vec();
        assert_eq!(req.write_accept(&accept, &mut out), Err(expected));
        assert_eq!(out, b"keep");
    }
    for accept in [
        Accept::new().header("X-Split", "a\r\nInjected: yes"),
        Accept::new().header("X-Split", "a\nb"),
        Accept::new().header("X-Split", "a\rb"),
        Accept::new().header("Bad Name", "x"),
        Accept::new().header("X:y", "x"),
        Accept::new().header("sec-websocket-accept", "forged"),
        Accept::new().header("Connection", "close"),
    ] {
        let mut out = Vec::new();
        let err = req.write_accept(&accept, &mut out).unwrap_err();
        assert!(
            matches!(err, HandshakeError::InvalidOutgoing { .. }),
            "{err:?}"
        );
        assert_eq!(err.http_status(), 500);
        assert!(out.is_empty());
    }
}

#[test]
fn rejection_builder() {
    let mut out = Vec::new();
    Reject::new(403)
        .header("X-Why", "origin not allowed")
        .body("go away")
        .write_to(&mut out)
        .unwrap();
    assert_eq!(
        text(&out),
        "HTTP/1.1 403 Forbidden\r\nX-Why: origin not allowed\r\nContent-Length: 7\r\n\r\ngo away"
    );
    let mut out = Vec::new();
    Reject::new(299)
        .reason("Custom")
        .write_to(&mut out)
        .unwrap();
    assert_eq!(
        text(&out),
        "HTTP/1.1 299 Custom\r\nContent-Length: 0\r\n\r\n"
    );
    for (reject, status) in [
        (Reject::new(101), 101),
        (Reject::new(99), 99),
        (Reject::new(1000), 1000),
    ] {
        assert_eq!(
            reject.write_to(&mut Vec::new()),
            Err(HandshakeError::InvalidStatus { status })
        );
    }
    for reject in [
        Reject::new(400).reason("Bad\r\nX: y"),
        Reject::new(400).header("X", "a\r\n\r\n<html>"),
        Reject::new(400).header("Content-Length", "1"),
    ] {
        let mut out = Vec::new();
        assert!(reject.write_to(&mut out).is_err());
        assert!(out.is_empty());
    }
}

#[test]
fn parser_state_after_completion_and_error() {
    let mut parser = RequestParser::new();
    assert!(parser.feed(RFC_REQUEST.as_bytes()).unwrap().is_complete());
    assert_eq!(parser.buffered(), 0);
    // Reset: a second request parses.
    assert!(parser.feed(RFC_REQUEST.as_bytes()).unwrap().is_complete());
    // After an error the parser keeps failing.
    let bad = variant("GET /chat", "PUT /chat");
    let err = parser.feed(bad.as_bytes()).unwrap_err();
    assert_eq!(parser.feed(RFC_REQUEST.as_bytes()), Err(err));
}

#[test]
fn partial_is_not_an_error() {
    let mut parser = RequestParser::new();
    assert_eq!(parser.feed(b""), Ok(Status::Partial));
    assert_eq!(parser.feed(b"GET /chat HTTP/1.1\r\n"), Ok(Status::Partial));
    assert_eq!(parser.buffered(), 20);
    // Garbage does not error until the header block ends (httparse runs once).
    assert_eq!(parser.feed(b"\x00\x01 garbage"), Ok(Status::Partial));
    assert!(matches!(
        parser.feed(b"\r\n\r\n"),
        Err(HandshakeError::MalformedHttp { .. })
    ));
}
