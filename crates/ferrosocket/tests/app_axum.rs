//! The application layer mounted in axum, over real loopback sockets: the
//! `WebSocketUpgrade` extractor (subprotocol, permessage-deflate, refusals) and
//! a ferrosocket `Server`'s handlers routed from an axum `Router` beside plain
//! axum routes.
#![cfg(all(feature = "axum", feature = "app", feature = "tokio"))]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use ferrosocket::app::axum::WebSocketUpgrade;
use ferrosocket::app::{Captures, Context, Handler, Item, Server};
use ferrosocket::tokio::{ClientOptions, connect, connect_with};
use ferrosocket::{Message, StreamConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

const WAIT: Duration = Duration::from_secs(10);

/// Serves `app` on a loopback port (with the peer address as `ConnectInfo`).
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// An axum handler that echoes every data message through the extractor.
async fn echo(ws: WebSocketUpgrade) -> axum::response::Response {
    ws.protocols(["chat.v2", "chat.v1"])
        .config(StreamConfig::default())
        .on_upgrade(|mut ws| async move {
            while let Some(Ok(message)) = ws.recv().await {
                if message.is_data() && ws.send(message).await.is_err() {
                    break;
                }
            }
        })
}

/// The next data message.
async fn recv<S>(ws: &mut ferrosocket::tokio::WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let message = tokio::time::timeout(WAIT, ws.recv())
            .await
            .expect("timed out")
            .expect("stream ended")
            .expect("receive failed");
        if message.is_data() {
            return message;
        }
    }
}

/// Sends `request` as it is on a new connection; everything answered until the
/// server closes.
async fn http_exchange(addr: SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(answer).unwrap()
}

fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn extractor_echoes_with_a_subprotocol() {
    let addr = serve(Router::new().route("/raw", get(echo))).await;
    let options = ClientOptions::new()
        .subprotocol("chat.v1")
        .subprotocol("chat.v2")
        .config(StreamConfig::default().compression(None));
    let (mut ws, response) = connect_with(&format!("ws://{addr}/raw"), options)
        .await
        .unwrap();
    // The server's preference wins among those offered.
    assert_eq!(response.subprotocol.as_deref(), Some("chat.v2"));
    assert_eq!(response.headers.get_str("sec-websocket-extensions"), None);
    ws.send(Message::text("héllo")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("héllo"));
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::binary(vec![1u8, 2, 3]));

    // No protocol offered: none selected.
    let (mut ws, response) = connect(&format!("ws://{addr}/raw")).await.unwrap();
    assert_eq!(response.subprotocol, None);
    ws.send(Message::text("plain")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("plain"));
}

#[tokio::test]
async fn extractor_negotiates_permessage_deflate() {
    let addr = serve(Router::new().route("/raw", get(echo))).await;
    let (mut ws, response) = connect_with(&format!("ws://{addr}/raw"), ClientOptions::new())
        .await
        .unwrap();
    let extensions = response
        .headers
        .get_str("sec-websocket-extensions")
        .expect("permessage-deflate agreed");
    assert!(extensions.starts_with("permessage-deflate"), "{extensions}");
    let big = "compress me ".repeat(10_000);
    ws.send(Message::text(big.clone())).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text(big));

    // Off in the server's config: not agreed even when offered.
    let app = Router::new().route(
        "/plain",
        get(|ws: WebSocketUpgrade| async move {
            ws.config(StreamConfig::default().compression(None))
                .on_upgrade(|mut ws| async move {
                    let _ = ws.send(Message::text("hi")).await;
                    let _ = ws.close(None).await;
                })
        }),
    );
    let addr = serve(app).await;
    let (mut ws, response) = connect(&format!("ws://{addr}/plain")).await.unwrap();
    assert_eq!(response.headers.get_str("sec-websocket-extensions"), None);
    assert_eq!(recv(&mut ws).await, Message::text("hi"));
}

#[tokio::test]
async fn invalid_upgrades_are_refused() {
    let server = Server::builder().route("/ws", Recorder::idle).build();
    let app = Router::new()
        .route("/raw", get(echo))
        .route_service("/ws", server.service());
    let addr = serve(app).await;
    for path in ["/raw", "/ws"] {
        // A plain GET where an upgrade is expected by the extractor; the
        // Server's own answer to a plain GET is its fallback (404).
        let plain = http_exchange(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        let expected: &[u16] = if path == "/raw" { &[400, 426] } else { &[404] };
        assert!(expected.contains(&status(&plain)), "{path}: {plain}");
        // An upgrade without its key.
        let keyless = http_exchange(
            addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(status(&keyless), 400, "{path}: {keyless}");
        // A version other than 13: 426 naming 13.
        let old = http_exchange(
            addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(status(&old), 426, "{path}: {old}");
        assert!(
            old.to_ascii_lowercase()
                .contains("sec-websocket-version: 13"),
            "{path}: {old}"
        );
    }
}

/// What a [`Recorder`] saw.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Connect(String, bool),
    Read(String),
}

/// A ferrosocket handler that reports its captures and messages and echoes.
struct Recorder {
    tx: Option<UnboundedSender<Ev>>,
}

impl Recorder {
    fn idle() -> Self {
        Self { tx: None }
    }
}

impl Handler for Recorder {
    fn on_connect(&mut self, ctx: &mut Context, captures: &Captures) {
        let name = captures.str("name").unwrap_or("-").to_owned();
        if let Some(tx) = &self.tx {
            let _ = tx.send(Ev::Connect(name.clone(), ctx.remote_addr().is_some()));
        }
        let _ = ctx.write(format!("hello {name} on {}", ctx.path()));
    }

    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        let text = data.as_text().unwrap_or("").to_owned();
        if let Some(tx) = &self.tx {
            let _ = tx.send(Ev::Read(text.clone()));
        }
        let _ = ctx.write(format!("echo {text}"));
    }
}

#[tokio::test]
async fn server_handlers_routed_from_axum_beside_plain_routes() {
    let (tx, mut rx) = unbounded_channel();
    let server = Server::builder()
        .route("/chat/<name>", move || Recorder {
            tx: Some(tx.clone()),
        })
        .build();
    let app = Router::new()
        .route("/", get(|| async { "plain axum" }))
        .route("/raw", get(echo))
        .route_service("/chat/{name}", server.service());
    let addr = serve(app).await;

    let (mut ws, _) = connect(&format!("ws://{addr}/chat/ada")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("hello ada on /chat/ada"));
    let event = tokio::time::timeout(WAIT, rx.recv()).await.unwrap();
    assert_eq!(event, Some(Ev::Connect("ada".into(), true)));
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("echo hi"));
    let event = tokio::time::timeout(WAIT, rx.recv()).await.unwrap();
    assert_eq!(event, Some(Ev::Read("hi".into())));
    assert_eq!(server.manager().len(), 1);

    // Plain axum routes answer beside it, and the extractor's route too.
    let page = http_exchange(
        addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&page), 200, "{page}");
    assert!(page.ends_with("plain axum"), "{page}");
    let (mut raw, _) = connect(&format!("ws://{addr}/raw")).await.unwrap();
    raw.send(Message::text("beside")).await.unwrap();
    assert_eq!(recv(&mut raw).await, Message::text("beside"));

    // Shutting the Server down closes its connections (1001), not axum's.
    server.shutdown();
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match ws.recv().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code().as_u16()),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(closed, Some(1001));
    raw.send(Message::text("still here")).await.unwrap();
    assert_eq!(recv(&mut raw).await, Message::text("still here"));
}

#[tokio::test]
async fn server_as_fallback_service() {
    let server = Server::builder()
        .route("/ws/<name>", Recorder::idle)
        .fallback(|request| {
            ferrosocket::app::HttpResponse::text(format!("fallback {}", request.path()))
        })
        .build();
    let app = Router::new()
        .route("/", get(|| async { "root" }))
        .fallback_service(server.service());
    let addr = serve(app).await;
    let (mut ws, _) = connect(&format!("ws://{addr}/ws/bob")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("hello bob on /ws/bob"));
    let other = http_exchange(
        addr,
        "GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&other), 200, "{other}");
    assert!(other.ends_with("fallback /elsewhere"), "{other}");
    let root = http_exchange(
        addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(root.ends_with("root"), "{root}");
}

#[tokio::test]
async fn server_handle_from_a_plain_hyper_service() {
    let (tx, mut rx) = unbounded_channel();
    let server = Server::builder()
        .route("/chat/<name>", move || Recorder {
            tx: Some(tx.clone()),
        })
        .fallback(|request| {
            ferrosocket::app::HttpResponse::text(format!(
                "{} {} bytes",
                request.path(),
                request.body().len()
            ))
        })
        .build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepting = server.clone();
    tokio::spawn(async move {
        loop {
            let (socket, remote) = listener.accept().await.unwrap();
            let server = accepting.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let server = server.clone();
                    async move {
                        let response = server.handle_with(request, None, Some(remote), false).await;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .with_upgrades()
                    .await;
            });
        }
    });

    let (mut ws, _) = connect(&format!("ws://{addr}/chat/eve")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("hello eve on /chat/eve"));
    let event = tokio::time::timeout(WAIT, rx.recv()).await.unwrap();
    assert_eq!(event, Some(Ev::Connect("eve".into(), true)));
    ws.send(Message::text("over hyper")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("echo over hyper"));

    // The fallback gets hyper's body.
    let posted = http_exchange(
        addr,
        "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert_eq!(status(&posted), 200, "{posted}");
    assert!(posted.ends_with("/form 5 bytes"), "{posted}");
    // No route: 404.
    let missing = http_exchange(
        addr,
        "GET /nowhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert_eq!(status(&missing), 404, "{missing}");
}

#[tokio::test]
async fn handle_without_hyper_upgrade_support_is_426() {
    // A request that did not come from a hyper connection served with upgrades
    // has no OnUpgrade: the 101 would lead nowhere.
    let server = Server::builder().route("/ws", Recorder::idle).build();
    let request = hyper::Request::get("/ws")
        .header("Host", "x")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
        .body(String::new())
        .unwrap();
    let response = server.handle(request).await;
    assert_eq!(response.status(), 426);
    assert_eq!(server.manager().len(), 0);
}
