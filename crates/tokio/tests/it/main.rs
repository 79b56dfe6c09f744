//! Integration tests of ferrosocket-tokio over real loopback TCP and
//! `tokio::io::duplex`.

mod behaviour;
mod close;
mod deflate;
mod echo;
mod handshake;
mod pressure;
mod split;
#[cfg(feature = "tls")]
#[path = "../certs/test_ca.rs"]
mod test_ca;
mod timers;
mod transport;

#[cfg(feature = "tls")]
use ferrosocket_tokio::rustls;

use std::time::Duration;

use ferrosocket_tokio::{
    Error, Message, Role, StreamConfig, WebSocketStream, accept, accept_with_config, client_async,
    connect,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};

/// A valid opening request (the RFC 6455 sample key).
pub(crate) const REQUEST: &[u8] = b"GET /raw HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A test must not hang: every await on the network gets this bound.
pub(crate) async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("test timed out")
}

/// A server and a client over loopback TCP; the server echoes data messages.
pub(crate) async fn tcp_echo_server() -> (
    String,
    tokio::task::JoinHandle<Result<WebSocketStream<TcpStream>, Error>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/echo", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await?;
        let mut ws = accept(socket).await?;
        while let Some(message) = ws.recv().await {
            if let m @ (Message::Text(_) | Message::Binary(_)) = message? {
                ws.send(m).await?;
            }
        }
        Ok(ws)
    });
    (url, server)
}

/// Client and server streams over a duplex pipe, handshake done.
pub(crate) async fn duplex_pair(
    buffer: usize,
    server_config: StreamConfig,
    client_config: StreamConfig,
) -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (a, b) = tokio::io::duplex(buffer);
    let server = tokio::spawn(async move {
        accept_with_config(a, server_config, async |_: &_| {
            ferrosocket_tokio::Accept::new()
        })
        .await
    });
    let options = ferrosocket_tokio::ClientOptions::new().config(client_config);
    let (client, _) = ferrosocket_tokio::client_async_with("ws://localhost/", b, options)
        .await
        .unwrap();
    (within(server).await.unwrap().unwrap(), client)
}

/// Reads from a raw socket until EOF (or the bound).
pub(crate) async fn read_to_end(io: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut out = Vec::new();
    within(io.read_to_end(&mut out)).await.unwrap();
    out
}

/// A server stream over a duplex whose other end is raw bytes (no handshake).
pub(crate) fn raw_server(config: StreamConfig) -> (WebSocketStream<DuplexStream>, DuplexStream) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    (WebSocketStream::from_raw_socket(a, Role::Server, config), b)
}

#[tokio::test]
async fn connect_sets_nodelay_and_echoes() {
    let (url, server) = tcp_echo_server().await;
    let (mut ws, response) = within(connect(&url)).await.unwrap();
    assert_eq!(response.status, 101);
    assert!(ws.get_ref().tcp().unwrap().nodelay().unwrap());
    ws.send(Message::text("over tcp")).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("over tcp")
    );
    within(ws.close(None)).await.unwrap();
    within(server).await.unwrap().unwrap();
}

#[tokio::test]
async fn client_async_over_duplex_with_raw_server() {
    let (a, mut b) = tokio::io::duplex(4096);
    let raw = tokio::spawn(async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(b.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"GET /x HTTP/1.1\r\n"));
        let key_line = String::from_utf8(head)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ").map(str::to_owned))
            .unwrap();
        let accept = ferrosocket_tokio::proto::handshake::accept_key(key_line.as_bytes());
        // The 101 and a first frame in the same write.
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        let mut bytes = answer.into_bytes();
        bytes.extend_from_slice(b"\x81\x05early");
        b.write_all(&bytes).await.unwrap();
        b
    });
    let (mut ws, _) = within(client_async("ws://localhost/x", a)).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("early")
    );
    drop(raw.await.unwrap());
}
