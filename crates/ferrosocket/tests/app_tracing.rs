//! The application layer's `tracing` events, read back from a subscriber. Its own
//! test binary: the subscriber is the process's global one (a per-thread one
//! misses events whose call sites other tests' threads registered first).
#![cfg(all(feature = "tokio", feature = "app"))]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrosocket::app::{
    Context, Handler, Handshake, HandshakeRequest, HandshakeResponse, Item, Server,
};
use ferrosocket::tokio::connect;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Refusing;

impl Handler for Refusing {
    fn on_handshake(&mut self, _: &HandshakeRequest, _: &mut HandshakeResponse) -> Handshake {
        Handshake::reject(401, "who are you?")
    }
}

struct Echo;

impl Handler for Echo {
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        if let Item::Text(text) = data {
            let _ = ctx.write(text);
        }
    }
}

#[tokio::test]
async fn the_app_layer_logs_rejections_protocol_errors_and_closes() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let server = Server::builder()
        .route("/guarded", || Refusing)
        .route("/ws", || Echo)
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    // A rejection by the handler, a missing route.
    assert!(connect(&format!("ws://{addr}/guarded")).await.is_err());
    assert!(connect(&format!("ws://{addr}/none")).await.is_err());
    // A protocol error: an unmasked frame from a client (1002).
    let (ws, _) = connect(&format!("ws://{addr}/ws")).await.unwrap();
    let mut tcp = ws.into_inner();
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest)).await;
    server.shutdown();
    serving.await.unwrap().unwrap();

    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    for expected in [
        "upgrade rejected by the handler status=401",
        "upgrade refused: no route path=\"/none\" status=404",
        "route=\"/ws\"",
        "upgrade accepted",
        "protocol error close_code=1002",
        "closed close_code=1002",
    ] {
        assert!(log.contains(expected), "no {expected:?} in:\n{log}");
    }
}
