//! The application layer over real loopback sockets: handler events, context
//! methods, read delimiters, routing, the HTTP fallback, the client side.
#![cfg(all(feature = "tokio", feature = "app"))]

use std::net::SocketAddr;
use std::time::Duration;

use ferrosocket::app::delimit::RegexMode;
use ferrosocket::app::{
    Captures, Context, DataKind, Handler, Handshake, HandshakeResponse, HttpResponse, Item, Mode,
    Server, ServerBuilder, WriteError,
};
use ferrosocket::tokio::{ClientOptions, connect, connect_with};
use ferrosocket::{CloseCode, Error, Message, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(10);

/// What a [`Probe`] saw.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Connect(Captures),
    Read(String),
    Write,
    Pong { payload: Vec<u8>, rtt: bool },
    Overflow,
    Close(u16, String),
    Note(String),
}

type Hook = fn(&mut Context, &Item) -> Option<String>;

/// A handler that reports its events and runs `hook` on each item.
struct Probe {
    tx: UnboundedSender<Ev>,
    on_connect: fn(&mut Context),
    hook: Hook,
}

fn describe(item: &Item) -> String {
    match item {
        Item::Text(s) => format!("T:{s}"),
        Item::Binary(b) => format!("B:{b:?}"),
        Item::TextMatch(groups) => format!("M:{groups:?}"),
        other => format!("{other:?}"),
    }
}

impl Handler for Probe {
    fn on_connect(&mut self, ctx: &mut Context, captures: &Captures) {
        let _ = self.tx.send(Ev::Connect(captures.clone()));
        (self.on_connect)(ctx);
    }
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        let _ = self.tx.send(Ev::Read(describe(&data)));
        if let Some(note) = (self.hook)(ctx, &data) {
            let _ = self.tx.send(Ev::Note(note));
        }
    }
    fn on_write(&mut self, _ctx: &mut Context) {
        let _ = self.tx.send(Ev::Write);
    }
    fn on_pong(&mut self, _ctx: &mut Context, payload: bytes::Bytes, rtt: Option<Duration>) {
        let _ = self.tx.send(Ev::Pong {
            payload: payload.to_vec(),
            rtt: rtt.is_some(),
        });
    }
    fn on_overflow_error(&mut self, ctx: &mut Context, err: ferrosocket::app::DelimitError) {
        let _ = self.tx.send(Ev::Overflow);
        let _ = ctx.close(CloseCode::MESSAGE_TOO_BIG, &err.to_string());
    }
    fn on_close(&mut self, ctx: &mut Context, code: CloseCode, reason: &str) {
        let _ = self.tx.send(Ev::Close(code.as_u16(), reason.to_owned()));
        // Writing after the end is an error, never a panic.
        assert!(matches!(ctx.write("late"), Err(WriteError::Closed)));
    }
}

fn echo(ctx: &mut Context, item: &Item) -> Option<String> {
    match item {
        Item::Text(s) => ctx.write(s.clone()).err().map(|e| e.to_string()),
        Item::Binary(b) => ctx.write(b.clone()).err().map(|e| e.to_string()),
        _ => None,
    }
}

fn nothing(_: &mut Context) {}

fn probe_route(
    builder: ServerBuilder,
    pattern: &str,
    on_connect: fn(&mut Context),
    hook: Hook,
) -> (ServerBuilder, UnboundedReceiver<Ev>) {
    let (tx, rx) = unbounded_channel();
    let builder = builder.route(pattern, move || Probe {
        tx: tx.clone(),
        on_connect,
        hook,
    });
    (builder, rx)
}

async fn start(builder: ServerBuilder) -> (Server, SocketAddr, JoinHandle<std::io::Result<()>>) {
    let server = builder.build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    (server, addr, task)
}

async fn next(rx: &mut UnboundedReceiver<Ev>) -> Ev {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an event in time")
        .expect("the channel is open")
}

/// The next event that is not an `on_write`.
async fn next_not_write(rx: &mut UnboundedReceiver<Ev>) -> Ev {
    loop {
        match next(rx).await {
            Ev::Write => {}
            other => return other,
        }
    }
}

async fn recv<S>(ws: &mut ferrosocket::tokio::WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let message = tokio::time::timeout(WAIT, ws.recv())
            .await
            .expect("a message in time")
            .expect("the stream is open")
            .expect("no error");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

/// A plain HTTP request over raw TCP; the whole answer.
async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(answer).unwrap()
}

fn greet(ctx: &mut Context) {
    let captures = ctx.captures().clone();
    let hello = format!(
        "{} {} {} local={} remote={} secure={} x={}",
        captures.str("name").unwrap_or("-"),
        captures.int("id").unwrap_or(-1),
        ctx.path(),
        ctx.local_addr().is_some(),
        ctx.remote_addr().is_some(),
        ctx.is_secure(),
        ctx.headers().get_str("X-Test").unwrap_or("-"),
    );
    ctx.write(hello).unwrap();
}

fn commands(ctx: &mut Context, item: &Item) -> Option<String> {
    match item.as_text() {
        Some("ping") => {
            ctx.ping().unwrap();
            ctx.ping_payload(&b"mine"[..]).unwrap();
            let too_long = ctx.ping_payload(vec![0; 126]);
            Some(format!("{:?}", too_long.err().map(|e| e.to_string())))
        }
        Some("close") => {
            ctx.close(CloseCode::from(4000), "bye").unwrap();
            let after = ctx.write("after close");
            Some(format!("after close: {}", matches!(after, Err(WriteError::Closed))))
        }
        Some("drop") => {
            ctx.write("never sent").unwrap();
            ctx.close_now();
            None
        }
        _ => echo(ctx, item),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_context_methods() {
    let (builder, mut events) = probe_route(Server::builder(), "/ws/<name>/<id:int>", greet, commands);
    let (server, addr, serving) = start(builder).await;

    let options = ClientOptions::new().header("X-Test", "yes");
    let (mut ws, _) = connect_with(&format!("ws://{addr}/ws/ada/42?q=1"), options)
        .await
        .unwrap();
    match next(&mut events).await {
        Ev::Connect(c) => assert_eq!((c.str("name"), c.int("id")), (Some("ada"), Some(42))),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        recv(&mut ws).await,
        Message::text("ada 42 /ws/ada/42 local=true remote=true secure=false x=yes")
    );
    assert_eq!(next(&mut events).await, Ev::Write);
    assert_eq!(server.manager().len(), 1);

    // Text stays text, binary stays binary.
    ws.send(Message::text("héllo")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("héllo"));
    ws.send(Message::binary(vec![0, 1, 2])).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::binary(vec![0, 1, 2]));
    assert_eq!(next_not_write(&mut events).await, Ev::Read("T:héllo".into()));
    assert_eq!(next_not_write(&mut events).await, Ev::Read("B:b\"\\0\\x01\\x02\"".into()));

    // Pings: ours and one with a payload, both timed; the client answers while
    // it reads.
    ws.send(Message::text("ping")).await.unwrap();
    assert_eq!(next_not_write(&mut events).await, Ev::Read("T:ping".into()));
    assert_eq!(
        next_not_write(&mut events).await,
        Ev::Note("Some(\"control frame payload over 125 bytes\")".into())
    );
    ws.send(Message::text("after pings")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("after pings"));
    let mut pongs = Vec::new();
    while pongs.len() < 2 {
        match next_not_write(&mut events).await {
            Ev::Pong { payload, rtt } => pongs.push((payload, rtt)),
            Ev::Read(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(pongs[0], (1u64.to_be_bytes().to_vec(), true));
    assert_eq!(pongs[1], (b"mine".to_vec(), true));

    // Our close, with its code; writing after it is an error.
    ws.send(Message::text("close")).await.unwrap();
    match recv(&mut ws).await {
        Message::Close(Some(frame)) => {
            assert_eq!((frame.code().as_u16(), frame.reason()), (4000, "bye"))
        }
        other => panic!("{other:?}"),
    }
    assert!(tokio::time::timeout(WAIT, ws.recv()).await.unwrap().is_none());
    assert_eq!(next_not_write(&mut events).await, Ev::Read("T:close".into()));
    assert_eq!(next_not_write(&mut events).await, Ev::Note("after close: true".into()));
    assert_eq!(next_not_write(&mut events).await, Ev::Close(4000, String::new()));

    // The peer's close reaches on_close; the manager forgets the connection.
    let (mut ws, _) = connect(&format!("ws://{addr}/ws/bob/-1")).await.unwrap();
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    recv(&mut ws).await;
    ws.close(Some(ferrosocket::CloseFrame::new(CloseCode::GOING_AWAY, "later").unwrap()))
        .await
        .unwrap();
    assert_eq!(next_not_write(&mut events).await, Ev::Close(1001, "later".into()));
    for _ in 0..100 {
        if server.manager().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(server.manager().is_empty());

    // close_now: the socket is dropped without a close frame; on_close gets 1006.
    let (mut ws, _) = connect(&format!("ws://{addr}/ws/eve/7")).await.unwrap();
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    recv(&mut ws).await;
    ws.send(Message::text("drop")).await.unwrap();
    let end = tokio::time::timeout(WAIT, ws.recv()).await.unwrap();
    assert!(matches!(end, None | Some(Err(Error::Io(_)))), "{end:?}");
    assert_eq!(next_not_write(&mut events).await, Ev::Read("T:drop".into()));
    match next_not_write(&mut events).await {
        Ev::Close(1006, _) => {}
        other => panic!("{other:?}"),
    }

    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// Sends fragmented, packed and file messages on connect.
struct Writer {
    path: std::path::PathBuf,
}

impl Handler for Writer {
    fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
        ctx.write_fragments(DataKind::Text, ["he", "l", "lo €"]).unwrap();
        ctx.write_fragments(DataKind::Binary, Vec::<Vec<u8>>::new()).unwrap();
        ctx.write_packed(&[[1u8, 2], [3, 4]]).unwrap();
        ctx.write_file(&self.path, 10, Some(200_000)).unwrap();
        ctx.write_file(&self.path, 299_990, None).unwrap();
        ctx.write_file(&self.path, 5, Some(0)).unwrap();
        let missing = ctx.write_file("/nonexistent/file", 0, None);
        assert!(matches!(missing, Err(WriteError::Io(_))));
        let past = ctx.write_file(&self.path, 400_000, None);
        assert!(matches!(past, Err(WriteError::Io(_))));
        ctx.write("done").unwrap();
    }
}

#[tokio::test]
async fn fragments_records_and_files() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let path = std::env::temp_dir().join(format!("ferrosocket-app-{}.bin", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    let builder = Server::builder().route("/files", {
        let path = path.clone();
        move || Writer { path: path.clone() }
    });
    let (server, addr, serving) = start(builder).await;

    // A raw reader sees the frames: the file goes as several fragments.
    let (mut ws, _) = connect(&format!("ws://{addr}/files")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("hello €"));
    assert_eq!(recv(&mut ws).await, Message::binary(Vec::new()));
    assert_eq!(recv(&mut ws).await, Message::binary(vec![1, 2, 3, 4]));
    assert_eq!(recv(&mut ws).await, Message::binary(data[10..200_010].to_vec()));
    assert_eq!(recv(&mut ws).await, Message::binary(data[299_990..].to_vec()));
    assert_eq!(recv(&mut ws).await, Message::binary(Vec::new()));
    assert_eq!(recv(&mut ws).await, Message::text("done"));
    ws.close(None).await.unwrap();

    // On the wire, the 200 000 bytes are fragments of at most 64 KiB.
    let mut raw = raw_upgrade(addr, "/files").await;
    let mut frames = Vec::new();
    while frames.len() < 12 {
        frames.push(read_frame(&mut raw).await);
    }
    let first: Vec<(u8, &[u8])> = frames[..3].iter().map(|(b0, p)| (*b0, &p[..])).collect();
    assert_eq!(first, [(0x01, &b"he"[..]), (0x00, b"l"), (0x80, "lo €".as_bytes())]);
    let file_frames: Vec<(u8, usize)> = frames[5..9].iter().map(|(b0, p)| (*b0, p.len())).collect();
    assert_eq!(
        file_frames,
        [(0x02, 65536), (0x00, 65536), (0x00, 65536), (0x80, 200_000 - 3 * 65536)]
    );
    std::fs::remove_file(&path).unwrap();
    drop(raw);
    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// A raw TCP WebSocket client: the handshake only (no compression offered).
async fn raw_upgrade(addr: SocketAddr, path: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
    tcp
}

/// One unmasked server frame: first byte and payload.
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0; 2];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut h)).await.unwrap().unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0; 2];
            tcp.read_exact(&mut l).await.unwrap();
            u64::from(u16::from_be_bytes(l))
        }
        127 => {
            let mut l = [0; 8];
            tcp.read_exact(&mut l).await.unwrap();
            u64::from_be_bytes(l)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0; usize::try_from(len).unwrap()];
    tcp.read_exact(&mut payload).await.unwrap();
    (h[0], payload)
}
