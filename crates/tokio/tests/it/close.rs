//! Closing handshake, close timeout, a vanishing peer, protocol errors.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrosocket_tokio::{CloseCode, CloseFrame, Error, Message, State, StreamConfig, Timer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{duplex_pair, raw_server, read_to_end, within};

fn frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame::new(CloseCode::from(code), reason).unwrap()
}

#[tokio::test]
async fn client_initiated_close_with_code() {
    let (mut server, mut client) =
        duplex_pair(64 * 1024, StreamConfig::default(), StreamConfig::default()).await;
    let server_task = tokio::spawn(async move {
        let got = server.recv().await;
        let end = server.recv().await;
        (got, end, server.state())
    });
    within(client.close(Some(frame(4000, "custom bye"))))
        .await
        .unwrap();
    assert_eq!(client.state(), State::Closed);
    let (got, end, state) = within(server_task).await.unwrap();
    assert_eq!(
        got.unwrap().unwrap(),
        Message::Close(Some(frame(4000, "custom bye")))
    );
    assert!(end.is_none());
    assert_eq!(state, State::Closed);
    // Sending after the close is a local error.
    assert!(matches!(
        client.send(Message::text("late")).await,
        Err(Error::Local(_))
    ));
}

#[tokio::test]
async fn server_initiated_close_with_code() {
    let (mut server, mut client) =
        duplex_pair(64 * 1024, StreamConfig::default(), StreamConfig::default()).await;
    let client_task = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(m) = client.recv().await {
            got.push(m.unwrap());
        }
        got
    });
    server.send(Message::text("last words")).await.unwrap();
    within(server.close(Some(frame(1001, "restarting"))))
        .await
        .unwrap();
    assert_eq!(server.state(), State::Closed);
    let got = within(client_task).await.unwrap();
    assert_eq!(
        got,
        [
            Message::text("last words"),
            Message::Close(Some(frame(1001, "restarting")))
        ]
    );
}

#[tokio::test]
async fn close_times_out_when_the_peer_never_answers() {
    let config = StreamConfig::default().close_timeout(Some(Duration::from_millis(200)));
    // The client never reads: it will not answer the close.
    let (mut server, client) = duplex_pair(64 * 1024, config, StreamConfig::default()).await;
    let started = Instant::now();
    let result = within(server.close(None)).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(Error::Timeout(Timer::Close))),
        "{result:?}"
    );
    assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(within(server.recv()).await.is_none());
    drop(client);
}

#[tokio::test]
async fn recv_after_sending_close_is_bounded_too() {
    let config = StreamConfig::default().close_timeout(Some(Duration::from_millis(150)));
    let (mut server, client) = duplex_pair(64 * 1024, config, StreamConfig::default()).await;
    server.send(Message::Close(None)).await.unwrap();
    assert!(matches!(
        within(server.recv()).await,
        Some(Err(Error::Timeout(Timer::Close)))
    ));
    assert!(within(server.recv()).await.is_none());
    drop(client);
}

#[tokio::test]
async fn vanishing_peer_is_unexpected_eof() {
    let (mut server, client) =
        duplex_pair(64 * 1024, StreamConfig::default(), StreamConfig::default()).await;
    drop(client);
    match within(server.recv()).await {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("{other:?}"),
    }
    assert!(within(server.recv()).await.is_none());
}

#[tokio::test]
async fn vanishing_tcp_peer_is_unexpected_eof() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut ws = ferrosocket_tokio::accept(socket).await.unwrap();
        ws.recv().await
    });
    let (ws, _) = within(ferrosocket_tokio::connect(&url)).await.unwrap();
    drop(ws);
    match within(server).await.unwrap() {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn protocol_error_sends_1002_and_reports() {
    let (mut server, mut raw) = raw_server(StreamConfig::default());
    // An unmasked text frame from a "client".
    raw.write_all(b"\x81\x02hi").await.unwrap();
    assert!(matches!(
        within(server.recv()).await,
        Some(Err(Error::Protocol(_)))
    ));
    let mut close = [0u8; 4];
    within(raw.read_exact(&mut close)).await.unwrap();
    assert_eq!(close, *b"\x88\x02\x03\xea");
    assert!(within(server.recv()).await.is_none());
    // The socket was shut down after the close frame.
    assert!(read_to_end(&mut raw).await.is_empty());
}

#[tokio::test]
async fn pings_are_answered_and_close_echoed_on_the_wire() {
    let (mut server, mut raw) = raw_server(StreamConfig::default());
    // Masked (key 0) ping "p", then masked close 1000.
    raw.write_all(b"\x89\x81\0\0\0\0p\x88\x82\0\0\0\0\x03\xe8")
        .await
        .unwrap();
    assert_eq!(
        within(server.recv()).await.unwrap().unwrap(),
        Message::Ping(Bytes::from_static(b"p"))
    );
    assert!(matches!(
        within(server.recv()).await,
        Some(Ok(Message::Close(Some(f)))) if f.code() == CloseCode::NORMAL
    ));
    assert!(within(server.recv()).await.is_none());
    // Pong, then the close echo, then EOF (the server closes the TCP connection).
    assert_eq!(read_to_end(&mut raw).await, b"\x8a\x01p\x88\x02\x03\xe8");
}
