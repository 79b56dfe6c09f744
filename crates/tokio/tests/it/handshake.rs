//! Opening handshake: async accept callback, rejection, bad requests, timeouts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrosocket_tokio::{
    Accept, ClientOptions, Decision, Error, Message, Reject, Request, StreamConfig, Timer, accept,
    accept_with, accept_with_config, client_async_with, connect_with,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::{REQUEST, read_to_end, within};

/// A token lookup that takes a while, as a database would.
async fn lookup(token: Option<&str>) -> Option<&'static str> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    (token == Some("Bearer good")).then_some("alice")
}

/// A TCP server whose callback accepts a known token (with a subprotocol and a
/// header) and refuses anything else with 403; returns the accept result.
async fn auth_server() -> (
    String,
    tokio::task::JoinHandle<Result<(String, Option<String>), Error>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/chat?room=7", listener.local_addr().unwrap());
    // Spawned: the accept future (with its async callback) must be Send.
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await?;
        let mut ws = accept_with(socket, async |request: &Request| -> Decision {
            match lookup(request.headers().get_str("Authorization")).await {
                Some(user) => {
                    let protocol = request.subprotocols().iter().find(|p| *p == "chat.v2");
                    let mut accept = Accept::new().header("X-User", user);
                    if let Some(p) = protocol {
                        accept = accept.subprotocol(p.clone());
                    }
                    accept.into()
                }
                None => Reject::new(403).body("bad token").into(),
            }
        })
        .await?;
        let request = ws.request().unwrap();
        let seen = (
            request.target().to_owned(),
            request.query().map(str::to_owned),
        );
        // Exercise the accepted stream once.
        if let Some(Ok(m)) = ws.recv().await {
            ws.send(m).await?;
        }
        ws.close(None).await?;
        Ok(seen)
    });
    (url, server)
}

#[tokio::test]
async fn async_callback_accepts_with_subprotocol_and_header() {
    let (url, server) = auth_server().await;
    let options = ClientOptions::new()
        .subprotocol("chat.v1")
        .subprotocol("chat.v2")
        .header("Authorization", "Bearer good")
        .origin("http://localhost");
    let (mut ws, response) = within(connect_with(&url, options)).await.unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(response.subprotocol.as_deref(), Some("chat.v2"));
    assert_eq!(response.headers.get_str("X-User"), Some("alice"));
    assert_eq!(ws.response(), Some(&response));
    ws.send(Message::text("ping?")).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("ping?")
    );
    assert!(matches!(
        within(ws.recv()).await,
        Some(Ok(Message::Close(_)))
    ));
    assert!(within(ws.recv()).await.is_none());
    let (target, query) = within(server).await.unwrap().unwrap();
    assert_eq!(target, "/chat?room=7");
    assert_eq!(query.as_deref(), Some("room=7"));
}

#[tokio::test]
async fn async_callback_rejects_with_403_and_body() {
    let (url, server) = auth_server().await;
    let options = ClientOptions::new().header("Authorization", "Bearer bad");
    match within(connect_with(&url, options)).await {
        Err(Error::Rejected { status, body }) => {
            assert_eq!(status, 403);
            assert_eq!(body, Bytes::from_static(b"bad token"));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    match within(server).await.unwrap() {
        Err(Error::Rejected { status: 403, body }) => assert_eq!(&body[..], b"bad token"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalid_accept_is_answered_with_500() {
    let (a, mut b) = tokio::io::duplex(4096);
    b.write_all(REQUEST).await.unwrap();
    // The client offered no subprotocol: selecting one is the application's bug.
    let result = accept_with(a, async |_: &Request| Accept::new().subprotocol("nope")).await;
    assert!(matches!(result, Err(Error::Handshake(e)) if e.http_status() == 500));
    assert!(read_to_end(&mut b).await.starts_with(b"HTTP/1.1 500 "));
}

#[tokio::test]
async fn bad_request_gets_400_on_the_wire() {
    let (a, mut b) = tokio::io::duplex(4096);
    let server = tokio::spawn(accept(a));
    // No Upgrade / Connection / key: not a WebSocket request.
    b.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_end(&mut b).await;
    let text = String::from_utf8(answer).unwrap();
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
    match within(server).await.unwrap() {
        Err(Error::Handshake(e)) => assert_eq!(e.http_status(), 400),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn wrong_version_gets_426() {
    let (a, mut b) = tokio::io::duplex(4096);
    let server = tokio::spawn(accept(a));
    let request = String::from_utf8(REQUEST.to_vec())
        .unwrap()
        .replace("Version: 13", "Version: 8");
    b.write_all(request.as_bytes()).await.unwrap();
    let text = String::from_utf8(read_to_end(&mut b).await).unwrap();
    assert!(text.starts_with("HTTP/1.1 426 "), "{text}");
    assert!(text.contains("Sec-WebSocket-Version: 13\r\n"), "{text}");
    match within(server).await.unwrap() {
        Err(Error::Handshake(e)) => assert_eq!(e.http_status(), 426),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn trickling_peer_is_dropped_at_the_handshake_timeout() {
    let (a, mut b) = tokio::io::duplex(4096);
    let config = StreamConfig::default().handshake_timeout(Some(Duration::from_millis(200)));
    let started = Instant::now();
    let server = tokio::spawn(accept_with_config(a, config, async |_: &Request| {
        Accept::new()
    }));
    // One byte every 20 ms: the request would take over 3 s.
    let trickle = tokio::spawn(async move {
        for byte in REQUEST {
            if b.write_all(&[*byte]).await.is_err() {
                return true; // the server dropped the connection
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    });
    assert!(matches!(
        within(server).await.unwrap(),
        Err(Error::Timeout(Timer::Handshake))
    ));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(within(trickle).await.unwrap(), "the socket was closed");
}

#[tokio::test]
async fn silent_server_times_the_client_out() {
    let (a, _b) = tokio::io::duplex(4096);
    let options = ClientOptions::new()
        .config(StreamConfig::default().handshake_timeout(Some(Duration::from_millis(100))));
    let result = within(client_async_with("ws://localhost/", a, options)).await;
    assert!(matches!(result, Err(Error::Timeout(Timer::Handshake))));
}

#[tokio::test]
async fn peer_leaving_during_handshake_is_unexpected_eof() {
    let (a, mut b) = tokio::io::duplex(4096);
    b.write_all(&REQUEST[..20]).await.unwrap();
    drop(b);
    match within(accept(a)).await {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn bad_urls() {
    let mut bad = vec!["not a url", "ws://", "http://localhost/", "ws+unix://"];
    if !cfg!(feature = "tls") {
        // Without TLS, refused before any connection is tried.
        bad.push("wss://localhost/");
    }
    for url in bad {
        assert!(
            matches!(
                connect_with(url, ClientOptions::new()).await,
                Err(Error::InvalidUrl(_))
            ),
            "{url}"
        );
    }
}
