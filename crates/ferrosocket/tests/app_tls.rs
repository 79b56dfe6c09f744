//! The application layer over TLS: `Server::serve_tls` serving `wss://` and
//! `https://` beside each other, the handler `Client` connecting to `wss://` with
//! its own roots, and `Context::is_secure` on both ends. The certificates are the
//! tokio adapter's test CA and its `localhost` certificate.
#![cfg(all(feature = "tls", feature = "app"))]

use std::sync::Arc;
use std::time::Duration;

use ferrosocket::CloseCode;
use ferrosocket::Message;
use ferrosocket::app::{
    Captures, Client, Context, Handler, Handshake, HandshakeRequest, HandshakeResponse,
    HttpResponse, Item, Server,
};
use ferrosocket::tokio::rustls;
use ferrosocket::tokio::rustls::pki_types::ServerName;
use ferrosocket::tokio::tokio_rustls::{TlsAcceptor, TlsConnector};
use ferrosocket::tokio::{ClientOptions, client_config, connect_tls_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

const WAIT: Duration = Duration::from_secs(10);

#[path = "../../tokio/tests/certs/test_ca.rs"]
mod test_ca;

fn acceptor() -> TlsAcceptor {
    TlsAcceptor::from(test_ca::server_config())
}

fn trusting_test_ca() -> Arc<rustls::ClientConfig> {
    Arc::new(client_config(test_ca::test_roots()))
}

/// Server side: reports whether the connection is secure and its capture, echoes
/// text with a prefix.
struct Echo(UnboundedSender<String>);

impl Handler for Echo {
    fn on_connect(&mut self, ctx: &mut Context, captures: &Captures) {
        let name = captures.str("name").unwrap_or_default().to_owned();
        let _ = self
            .0
            .send(format!("server: secure={} name={name}", ctx.is_secure()));
    }
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        if let Item::Text(text) = data {
            ctx.write(format!("echo: {text}")).unwrap();
        }
    }
}

/// Client side: says hello on connect, reports what comes back, then closes.
struct Hello(UnboundedSender<String>);

impl Handler for Hello {
    fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
        let _ = self.0.send(format!("client: secure={}", ctx.is_secure()));
        ctx.write("hello").unwrap();
    }
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        if let Item::Text(text) = data {
            let _ = self.0.send(format!("client got: {text}"));
            ctx.close(CloseCode::NORMAL, "bye").unwrap();
        }
    }
}

async fn start(tx: UnboundedSender<String>) -> (Server, u16) {
    let server = Server::builder()
        .route("/secure/<name>", move || Echo(tx.clone()))
        .fallback(|request| HttpResponse::text(format!("plain HTTP on {}\n", request.path())))
        .build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn({
        let server = server.clone();
        async move { server.serve_tls(listener, acceptor()).await }
    });
    (server, port)
}

#[tokio::test]
async fn handler_client_and_server_over_tls() {
    let (tx, mut rx) = unbounded_channel();
    let (server, port) = start(tx.clone()).await;
    let task = Client::new()
        .tls_config(trusting_test_ca())
        .connect(&format!("wss://localhost:{port}/secure/alice"), Hello(tx))
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(
            tokio::time::timeout(WAIT, rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "client got: echo: hello",
            "client: secure=true",
            "server: secure=true name=alice",
        ]
    );
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    server.shutdown();
}

#[tokio::test]
async fn plain_stream_client_and_https_beside_wss() {
    let (tx, mut rx) = unbounded_channel();
    let (server, port) = start(tx).await;

    // The stream API over the same TLS server.
    let url = format!("wss://127.0.0.1:{port}/secure/bob");
    let (mut ws, _) = tokio::time::timeout(
        WAIT,
        connect_tls_with(&url, ClientOptions::new(), trusting_test_ca()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(ws.get_ref().is_secure());
    ws.send(Message::text("hi")).await.unwrap();
    match tokio::time::timeout(WAIT, ws.recv()).await.unwrap() {
        Some(Ok(Message::Text(t))) => assert_eq!(t, "echo: hi"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rx.recv().await.unwrap(), "server: secure=true name=bob");
    ws.close(None).await.unwrap();

    // Plain HTTPS to the fallback, on the same port.
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(trusting_test_ca())
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // The server closes after its answer (Connection: close); rustls reports a
    // missing close_notify as an error, after the bytes.
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut answer))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("plain HTTP on /status\n"), "{answer}");
    server.shutdown();
}

/// Pants' check, with a token look-up that awaits: only TLS connections, only
/// known tokens (looked up asynchronously, as a database would be), and the
/// route's capture and the client's address are there to decide with.
struct Checked {
    tokens: Arc<tokio::sync::Mutex<Vec<String>>>,
}

impl Handler for Checked {
    fn on_handshake(
        &mut self,
        request: &HandshakeRequest,
        response: &mut HandshakeResponse,
    ) -> Handshake {
        if !request.is_secure() {
            return Handshake::reject(403, "TLS only");
        }
        assert!(request.remote_addr().unwrap().ip().is_loopback());
        assert!(request.local_addr().is_some());
        let room = request
            .captures()
            .str("name")
            .unwrap_or_default()
            .to_owned();
        response.header("X-Room", room);
        let token = request
            .headers()
            .get_str("Authorization")
            .unwrap_or_default()
            .to_owned();
        let tokens = self.tokens.clone();
        Handshake::wait(async move {
            // A look-up that takes a while and yields to the runtime.
            tokio::time::sleep(Duration::from_millis(30)).await;
            if tokens.lock().await.contains(&token) {
                Handshake::Accept
            } else {
                Handshake::reject(401, "unknown token")
            }
        })
    }
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        if let Item::Text(text) = data {
            ctx.write(format!("checked: {text}")).unwrap();
        }
    }
}

#[tokio::test]
async fn async_handshake_check_and_non_tls_rejected() {
    let tokens = Arc::new(tokio::sync::Mutex::new(vec!["Bearer good".to_owned()]));
    let server = Server::builder()
        .route("/room/<name>", {
            let tokens = tokens.clone();
            move || Checked {
                tokens: tokens.clone(),
            }
        })
        .build();
    // One server on TLS and on plain TCP.
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_port = tls_listener.local_addr().unwrap().port();
    let plain_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_port = plain_listener.local_addr().unwrap().port();
    tokio::spawn({
        let server = server.clone();
        async move { server.serve_tls(tls_listener, acceptor()).await }
    });
    tokio::spawn({
        let server = server.clone();
        async move { server.serve(plain_listener).await }
    });

    // Plain TCP: refused before the token is even looked at.
    let url = format!("ws://127.0.0.1:{plain_port}/room/a");
    let options = ClientOptions::new().header("Authorization", "Bearer good");
    match tokio::time::timeout(WAIT, ferrosocket::tokio::connect_with(&url, options))
        .await
        .unwrap()
    {
        Err(ferrosocket::Error::Rejected { status, body }) => {
            assert_eq!((status, &body[..]), (403, &b"TLS only"[..]));
        }
        other => panic!("{other:?}"),
    }

    // TLS with an unknown token: 401 after the look-up.
    let url = format!("wss://localhost:{tls_port}/room/a");
    let options = ClientOptions::new().header("Authorization", "Bearer bad");
    match connect_tls_with(&url, options, trusting_test_ca()).await {
        Err(ferrosocket::Error::Rejected { status, .. }) => assert_eq!(status, 401),
        other => panic!("{other:?}"),
    }

    // TLS with a known token: accepted, with the header set before waiting.
    let options = ClientOptions::new().header("Authorization", "Bearer good");
    let (mut ws, response) = connect_tls_with(&url, options, trusting_test_ca())
        .await
        .unwrap();
    assert_eq!(response.headers.get_str("X-Room"), Some("a"));
    ws.send(Message::text("hi")).await.unwrap();
    match tokio::time::timeout(WAIT, ws.recv()).await.unwrap() {
        Some(Ok(Message::Text(t))) => assert_eq!(t, "checked: hi"),
        other => panic!("{other:?}"),
    }
    ws.close(None).await.unwrap();

    // A token added later is found: the look-up is live.
    tokens.lock().await.push("Bearer late".to_owned());
    let options = ClientOptions::new().header("Authorization", "Bearer late");
    let (mut ws, _) = connect_tls_with(&url, options, trusting_test_ca())
        .await
        .unwrap();
    ws.close(None).await.unwrap();
    server.shutdown();
}
