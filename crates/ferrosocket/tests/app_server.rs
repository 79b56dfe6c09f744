//! The application layer over real loopback sockets: handler events, context
//! methods, read delimiters, routing, the HTTP fallback, the client side.
#![cfg(all(feature = "tokio", feature = "app"))]

use std::net::SocketAddr;
use std::time::Duration;

use ferrosocket::app::delimit::RegexMode;
use ferrosocket::app::{
    Captures, Context, DataKind, Handler, Handshake, HandshakeRequest, HandshakeResponse,
    HttpResponse, Item, Mode, Server, ServerBuilder, WriteError,
};
use ferrosocket::tokio::{ClientOptions, connect, connect_with};
use ferrosocket::{CloseCode, Error, Message, StreamConfig};
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

/// A plain HTTP request over raw TCP (`Connection: close`); the whole answer.
async fn http_get(addr: SocketAddr, path: &str) -> String {
    http_exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// The value of header `name` (any case) in an answer's head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n\r\n")
        .next()?
        .lines()
        .skip(1)
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
}

/// Sends `request` as it is on a new connection; everything the server sends
/// until it closes.
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
            Some(format!(
                "after close: {}",
                matches!(after, Err(WriteError::Closed))
            ))
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
    let (builder, mut events) =
        probe_route(Server::builder(), "/ws/<name>/<id:int>", greet, commands);
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
    assert_eq!(
        next_not_write(&mut events).await,
        Ev::Read("T:héllo".into())
    );
    assert_eq!(
        next_not_write(&mut events).await,
        Ev::Read("B:b\"\\0\\x01\\x02\"".into())
    );

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
    assert!(
        tokio::time::timeout(WAIT, ws.recv())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        next_not_write(&mut events).await,
        Ev::Read("T:close".into())
    );
    assert_eq!(
        next_not_write(&mut events).await,
        Ev::Note("after close: true".into())
    );
    assert_eq!(
        next_not_write(&mut events).await,
        Ev::Close(4000, String::new())
    );

    // The peer's close reaches on_close; the manager forgets the connection.
    let (mut ws, _) = connect(&format!("ws://{addr}/ws/bob/-1")).await.unwrap();
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    recv(&mut ws).await;
    ws.close(Some(
        ferrosocket::CloseFrame::new(CloseCode::GOING_AWAY, "later").unwrap(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_not_write(&mut events).await,
        Ev::Close(1001, "later".into())
    );
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
        ctx.write_fragments(DataKind::Text, ["he", "l", "lo €"])
            .unwrap();
        ctx.write_fragments(DataKind::Binary, Vec::<Vec<u8>>::new())
            .unwrap();
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
    assert_eq!(
        recv(&mut ws).await,
        Message::binary(data[10..200_010].to_vec())
    );
    assert_eq!(
        recv(&mut ws).await,
        Message::binary(data[299_990..].to_vec())
    );
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
    assert_eq!(
        first,
        [(0x01, &b"he"[..]), (0x00, b"l"), (0x80, "lo €".as_bytes())]
    );
    let file_frames: Vec<(u8, usize)> = frames[5..9].iter().map(|(b0, p)| (*b0, p.len())).collect();
    assert_eq!(
        file_frames,
        [
            (0x02, 65536),
            (0x00, 65536),
            (0x00, 65536),
            (0x80, 200_000 - 3 * 65536)
        ]
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
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// One unmasked server frame: first byte and payload.
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0; 2];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut h))
        .await
        .unwrap()
        .unwrap();
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

fn lines(ctx: &mut Context) {
    ctx.set_read_delimiter(Mode::delimiter("\n")).unwrap();
    assert!(ctx.set_read_delimiter(Mode::delimiter("")).is_err());
}

/// Reports each item and switches modes on command items.
fn switching(ctx: &mut Context, item: &Item) -> Option<String> {
    match item.as_text() {
        Some("bytes") => ctx.set_read_delimiter(Mode::Bytes(2)).unwrap(),
        Some("yz") => {
            let regex = RegexMode::text_search(r"\s+").unwrap();
            ctx.set_read_delimiter(Mode::Regex(regex)).unwrap();
        }
        Some("three") => ctx.set_read_delimiter(Mode::records::<[u8; 3]>()).unwrap(),
        _ => {}
    }
    if let Item::Record(record) = item {
        let bytes = record.downcast_ref::<[u8; 3]>().copied();
        ctx.set_read_delimiter(Mode::EntireMessage).unwrap();
        return Some(format!("record {bytes:?}"));
    }
    None
}

#[tokio::test]
async fn read_delimiters_cut_items() {
    let (builder, mut events) = probe_route(Server::builder(), "/lines", lines, switching);
    let (server, addr, serving) = start(builder).await;
    let (mut ws, _) = connect(&format!("ws://{addr}/lines")).await.unwrap();
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    for text in ["a\nb", "c\nbytes\n", "wxyz", "one two  three "] {
        ws.send(Message::text(text)).await.unwrap();
    }
    ws.send(Message::binary(vec![7, 8, 9])).await.unwrap();
    ws.send(Message::binary(vec![1, 2])).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 10 {
        match next_not_write(&mut events).await {
            Ev::Read(r) => got.push(r),
            Ev::Note(n) => got.push(n),
            other => panic!("{other:?}"),
        }
    }
    let expected = [
        "T:a", "T:bc", "T:bytes", "T:wx", "T:yz", "T:one", "T:two", "T:three",
    ];
    assert_eq!(got[..8], expected);
    assert!(got[8].starts_with("Record("), "{}", got[8]);
    assert_eq!(got[9], "record Some([7, 8, 9])");
    assert_eq!(
        next_not_write(&mut events).await,
        Ev::Read("B:b\"\\x01\\x02\"".into())
    );
    ws.close(None).await.unwrap();
    server.shutdown();
    serving.await.unwrap().unwrap();
}

fn small_buffer(ctx: &mut Context) {
    ctx.set_read_delimiter(Mode::delimiter("\n")).unwrap();
    ctx.set_buffer_size(8);
}

#[tokio::test]
async fn overflow_and_mixed_types_close() {
    let (builder, mut events) = probe_route(Server::builder(), "/small", small_buffer, echo);
    let (server, addr, serving) = start(builder).await;

    // More than the cap without a delimiter: on_overflow_error, which closes 1009.
    let (mut ws, _) = connect(&format!("ws://{addr}/small")).await.unwrap();
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    ws.send(Message::text("0123456789abcdef")).await.unwrap();
    match recv(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code(), CloseCode::MESSAGE_TOO_BIG),
        other => panic!("{other:?}"),
    }
    assert_eq!(next_not_write(&mut events).await, Ev::Overflow);
    assert!(matches!(
        next_not_write(&mut events).await,
        Ev::Close(1009, _)
    ));

    // Binary after a partial text item: the default on_read_error closes 1003.
    let (mut ws, _) = connect(&format!("ws://{addr}/small")).await.unwrap();
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    ws.send(Message::text("par")).await.unwrap();
    ws.send(Message::binary(vec![1])).await.unwrap();
    match recv(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code(), CloseCode::UNSUPPORTED_DATA),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        next_not_write(&mut events).await,
        Ev::Close(1003, _)
    ));
    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// Refuses without a token; picks the offered subprotocol and adds a header.
struct Guarded;

impl Handler for Guarded {
    fn on_handshake(
        &mut self,
        request: &HandshakeRequest,
        response: &mut HandshakeResponse,
    ) -> Handshake {
        if request.headers().get_str("Authorization") != Some("Bearer ok") {
            response.header("WWW-Authenticate", "Bearer");
            return Handshake::reject(401, "who are you?");
        }
        if let Some(p) = request.subprotocols().first() {
            response.subprotocol(p.clone());
        }
        response.header("X-Served-By", "guarded");
        Handshake::Accept
    }
    fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
        let _ = ctx.write(ctx.request().map_or("-", |r| r.target()).to_owned());
    }
}

#[tokio::test]
async fn routing_handshake_and_http_fallback() {
    let builder = Server::builder()
        .route("/guarded", || Guarded)
        .route("/item/<id:int>", || Guarded)
        .fallback(|request| match request.path() {
            "/" => HttpResponse::html("<p>home</p>"),
            "/q" => HttpResponse::text(format!("q={}", request.query().unwrap_or(""))),
            _ => HttpResponse::not_found(),
        });
    let (server, addr, serving) = start(builder).await;

    // Plain HTTP: the fallback, 404 for unknown paths.
    let home = http_get(addr, "/").await;
    assert!(home.starts_with("HTTP/1.1 200 OK\r\n"), "{home}");
    assert_eq!(
        header(&home, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(home.ends_with("\r\n\r\n<p>home</p>"));
    assert!(http_get(addr, "/q?x=1").await.ends_with("q=x=1"));
    assert!(
        http_get(addr, "/nope")
            .await
            .starts_with("HTTP/1.1 404 Not Found\r\n")
    );
    // A WebSocket route asked for over plain HTTP is the fallback's too.
    assert!(
        http_get(addr, "/guarded")
            .await
            .starts_with("HTTP/1.1 404 ")
    );
    // An upgrade without a key is refused by the handshake: 400.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET /guarded HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // WebSocket: an unknown path is 404, a refusal is the handler's.
    match connect(&format!("ws://{addr}/nowhere")).await {
        Err(Error::Rejected { status: 404, .. }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    match connect(&format!("ws://{addr}/item/x")).await {
        Err(Error::Rejected { status: 404, .. }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    match connect(&format!("ws://{addr}/guarded")).await {
        Err(Error::Rejected { status: 401, body }) => assert_eq!(&body[..], b"who are you?"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let options = ClientOptions::new()
        .header("Authorization", "Bearer ok")
        .subprotocol("chat.v1");
    let (mut ws, response) = connect_with(&format!("ws://{addr}/item/12?a=b"), options)
        .await
        .unwrap();
    assert_eq!(response.subprotocol.as_deref(), Some("chat.v1"));
    assert_eq!(response.headers.get_str("X-Served-By"), Some("guarded"));
    assert_eq!(recv(&mut ws).await, Message::text("/item/12?a=b"));
    ws.close(None).await.unwrap();

    // A default server answers plain HTTP with 404; a bad request head with 400.
    let (plain, plain_addr, plain_serving) = start(Server::builder()).await;
    assert!(http_get(plain_addr, "/").await.starts_with("HTTP/1.1 404 "));
    let mut tcp = TcpStream::connect(plain_addr).await.unwrap();
    tcp.write_all(b"\x01\x02\x03 nonsense\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 400 "));
    plain.shutdown();
    plain_serving.await.unwrap().unwrap();
    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// Reads one HTTP answer with a `Content-Length` body from `tcp`, leaving the
/// connection open; the head and the body.
async fn read_answer(tcp: &mut TcpStream, pending: &mut Vec<u8>) -> (String, String) {
    loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(pending[..at + 4].to_vec()).unwrap();
            let len: usize = header(&head, "content-length").unwrap().parse().unwrap();
            if pending.len() >= at + 4 + len {
                let body = String::from_utf8(pending[at + 4..at + 4 + len].to_vec()).unwrap();
                pending.drain(..at + 4 + len);
                return (head, body);
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before a whole answer");
        pending.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn plain_http_request_bodies() {
    let builder = Server::builder()
        .max_request_body(1000)
        .fallback(|request| {
            HttpResponse::text(format!(
                "{} {} bytes: {}",
                request.method(),
                request.body().len(),
                String::from_utf8_lossy(&request.body()[..request.body().len().min(20)])
            ))
        });
    let (server, addr, serving) = start(builder).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut pending = Vec::new();
    // A body in the same write as its head, then one arriving in pieces, then a
    // body and the next request pipelined behind it.
    tcp.write_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    assert_eq!(
        read_answer(&mut tcp, &mut pending).await.1,
        "POST 5 bytes: hello"
    );
    tcp.write_all(b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhel")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    tcp.write_all(b"lo world").await.unwrap();
    assert_eq!(
        read_answer(&mut tcp, &mut pending).await.1,
        "PUT 11 bytes: hello world"
    );
    tcp.write_all(
        b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /d HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(
        read_answer(&mut tcp, &mut pending).await.1,
        "POST 3 bytes: abc"
    );
    assert_eq!(read_answer(&mut tcp, &mut pending).await.1, "GET 0 bytes: ");

    // Refused, and the connection closed: over the limit 413 (before any body
    // byte is read when Content-Length says so), a bad or conflicting
    // Content-Length 400 (hyper's parser).
    for (request, status) in [
        (
            "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n".to_owned(),
            "413",
        ),
        (
            format!(
                "POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3E9\r\n{}\r\n",
                "x".repeat(1001)
            ),
            "413",
        ),
        (
            "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"
                .to_owned(),
            "400",
        ),
        (
            "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_owned(),
            "400",
        ),
        (
            "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
                .to_owned(),
            "400",
        ),
    ] {
        // `http_exchange` reads until the server closes.
        let answer = http_exchange(addr, &request).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?}: {answer}"
        );
    }
    // A chunked body, in pieces; then `Expect: 100-continue`: the interim answer
    // first, the body after it.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut pending = Vec::new();
    tcp.write_all(b"POST /g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    tcp.write_all(b"4\r\ndefg\r\n0\r\n\r\n").await.unwrap();
    assert_eq!(
        read_answer(&mut tcp, &mut pending).await.1,
        "POST 7 bytes: abcdefg"
    );
    tcp.write_all(
        b"PUT /h HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut interim = [0u8; 25];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    tcp.write_all(b"data").await.unwrap();
    assert_eq!(
        read_answer(&mut tcp, &mut pending).await.1,
        "PUT 4 bytes: data"
    );
    // The same Content-Length twice is one length.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    )
    .await
    .unwrap();
    assert_eq!(
        read_answer(&mut tcp, &mut Vec::new()).await.1,
        "POST 2 bytes: ok"
    );
    server.shutdown();
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn plain_http_keeps_the_connection_for_the_next_request() {
    let (tx, mut events) = unbounded_channel();
    let builder = Server::builder()
        .route("/ws", move || Probe {
            tx: tx.clone(),
            on_connect: |_| {},
            hook: echo,
        })
        .fallback(|request| HttpResponse::text(format!("at {}", request.path())));
    let (server, addr, serving) = start(builder).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut pending = Vec::new();

    // Two requests one after the other, then two pipelined in one write.
    for path in ["/a", "/b"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let (head, body) = read_answer(&mut tcp, &mut pending).await;
        assert_eq!(header(&head, "connection"), None, "{head}");
        assert_eq!(body, format!("at {path}"));
    }
    tcp.write_all(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\nHEAD /d HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut tcp, &mut pending).await.1, "at /c");
    // HEAD: the head only (its Content-Length is the GET's).
    loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..at + 4]).into_owned();
            assert_eq!(header(&head, "content-length"), Some("5"), "{head}");
            pending.drain(..at + 4);
            break;
        }
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        pending.extend_from_slice(&chunk[..n]);
    }

    // Then a WebSocket upgrade on the same connection.
    let (mut ws, _) = ferrosocket::tokio::client_async(&format!("ws://{addr}/ws"), tcp)
        .await
        .unwrap();
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(recv(&mut ws).await, Message::text("hi"));
    ws.close(None).await.unwrap();

    // The connection is closed after `Connection: close` and after HTTP/1.0
    // without keep-alive (`http_exchange` reads until it is).
    for request in [
        "GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /f HTTP/1.0\r\n\r\n",
    ] {
        let answer = http_exchange(addr, request).await;
        assert!(
            answer.ends_with("at /e") || answer.ends_with("at /f"),
            "{request}: {answer}"
        );
    }
    // HTTP/1.0 asking for keep-alive gets it.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_answer(&mut tcp, &mut Vec::new()).await;
    assert_eq!(header(&head, "connection"), Some("keep-alive"), "{head}");

    // Shutdown ends a kept connection waiting for its next request at once.
    let started = std::time::Instant::now();
    server.shutdown();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
    serving.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// A client handler: says hello, keeps what it reads, closes after two items.
#[derive(Default)]
struct Chatty {
    got: Vec<String>,
    closed: Option<u16>,
    timed_pongs: usize,
    /// Close only after the echo of "two pongs".
    wait_pongs: bool,
}

impl Handler for Chatty {
    fn on_connect(&mut self, ctx: &mut Context, captures: &Captures) {
        assert!(captures.is_empty());
        assert_eq!(ctx.path(), "/ws/cli/1");
        assert!(ctx.request().is_none());
        ctx.write("one").unwrap();
        ctx.write("two").unwrap();
    }
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        self.got.push(data.as_text().unwrap_or("?").to_owned());
        let done = if self.wait_pongs {
            data.as_text() == Some("two pongs")
        } else {
            self.got.len() == 3
        };
        if done {
            ctx.close(CloseCode::NORMAL, "done").unwrap();
        }
    }
    fn on_pong(&mut self, ctx: &mut Context, _: bytes::Bytes, rtt: Option<Duration>) {
        self.timed_pongs += usize::from(rtt.is_some());
        if self.timed_pongs == 2 && ctx.is_open() {
            ctx.write("two pongs").unwrap();
        }
    }
    fn on_close(&mut self, _: &mut Context, code: CloseCode, _: &str) {
        self.closed = Some(code.as_u16());
    }
}

#[tokio::test]
async fn client_side_handler() {
    let (builder, mut events) = probe_route(Server::builder(), "/ws/<name>/<id:int>", greet, echo);
    let (server, addr, serving) = start(builder).await;
    let task = ferrosocket::app::connect(&format!("ws://{addr}/ws/cli/1"), Chatty::default())
        .await
        .unwrap();
    let chatty = tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    assert_eq!(chatty.got[1..], ["one", "two"]);
    assert!(chatty.got[0].starts_with("cli 1 /ws/cli/1"));
    assert_eq!(chatty.closed, Some(1000));
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    assert!(
        ferrosocket::app::connect("ws://127.0.0.1:1/", Chatty::default())
            .await
            .is_err()
    );

    // With a heartbeat and a shared manager: pongs come back timed.
    let manager = ferrosocket::app::Manager::new();
    let task = ferrosocket::app::Client::new()
        .manager(manager.clone())
        .heartbeat(ferrosocket::app::Heartbeat::new(
            Duration::from_millis(20),
            Duration::from_secs(5),
        ))
        .connect(
            &format!("ws://{addr}/ws/cli/1"),
            Chatty {
                wait_pongs: true,
                ..Chatty::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(manager.len(), 1);
    let chatty = tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    assert!(chatty.timed_pongs >= 2);
    assert!(
        chatty.got.contains(&"two pongs".to_owned()),
        "{:?}",
        chatty.got
    );
    assert!(manager.is_empty());
    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// Streams 50 numbered messages, the next one queued from each `on_write`
/// (Pants' way of producing a large answer), and answers reads meanwhile.
struct Producer {
    sent: u32,
}

impl Handler for Producer {
    fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
        ctx.write(format!("chunk {}", self.sent)).unwrap();
    }
    fn on_write(&mut self, ctx: &mut Context) {
        if self.sent < 49 {
            self.sent += 1;
            ctx.write(format!("chunk {}", self.sent)).unwrap();
        }
    }
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        ctx.write(format!("echo {}", data.as_text().unwrap_or("?")))
            .unwrap();
    }
}

#[cfg(unix)]
#[tokio::test]
async fn on_write_drives_a_producer_and_unix_sockets_serve() {
    let server = Server::builder()
        .route("/produce", || Producer { sent: 0 })
        .build();
    let path = std::env::temp_dir().join(format!("ferrosocket-app-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_unix(listener).await }
    });
    let socket = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (mut ws, _) = ferrosocket::tokio::client_async("ws://localhost/produce", socket)
        .await
        .unwrap();
    ws.send(Message::text("meanwhile")).await.unwrap();
    let mut chunks = Vec::new();
    let mut echoed = false;
    while chunks.len() < 50 || !echoed {
        match recv(&mut ws).await {
            Message::Text(t) if t.as_str() == "echo meanwhile" => echoed = true,
            Message::Text(t) => chunks.push(t.as_str().to_owned()),
            other => panic!("{other:?}"),
        }
    }
    let expected: Vec<String> = (0..50).map(|i| format!("chunk {i}")).collect();
    assert_eq!(chunks, expected);
    ws.close(None).await.unwrap();
    server.shutdown();
    serving.await.unwrap().unwrap();
    std::fs::remove_file(&path).unwrap();
}

fn chunks(ctx: &mut Context) {
    ctx.set_read_delimiter(Mode::Chunks).unwrap();
}

/// Chunks, then a text delimiter, then regex match mode, then length-prefixed
/// binary records, each switched to from inside `on_read`.
fn switching_more(ctx: &mut Context, item: &Item) -> Option<String> {
    match item {
        Item::Text(s) if s == "raw chunk" => {
            ctx.set_read_delimiter(Mode::text_delimiter("--")).unwrap();
        }
        Item::Text(s) if s == "y" => {
            let regex = RegexMode::text_match(r"(\w+)=(\d+);").unwrap();
            ctx.set_read_delimiter(Mode::Regex(regex)).unwrap();
        }
        Item::TextMatch(_) => {
            let framer = Mode::length_prefixed(ferrosocket::app::delimit::Prefix::U16);
            ctx.set_read_delimiter(framer).unwrap();
        }
        _ => {}
    }
    None
}

#[tokio::test]
async fn chunks_text_delimiter_regex_match_and_length_prefixed_records() {
    let (builder, mut events) = probe_route(Server::builder(), "/more", chunks, switching_more);
    let (server, addr, serving) = start(builder).await;
    let (mut ws, _) = connect(&format!("ws://{addr}/more")).await.unwrap();
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    ws.send(Message::text("raw chunk")).await.unwrap();
    ws.send(Message::text("x--y--key")).await.unwrap();
    ws.send(Message::text("=42;")).await.unwrap();
    // Two records and half of a third, then its end in the next message.
    ws.send(Message::binary(&b"\x00\x03abc\x00\x01z\x00"[..]))
        .await
        .unwrap();
    ws.send(Message::binary(&b"\x02hi"[..])).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 7 {
        match next_not_write(&mut events).await {
            Ev::Read(r) => got.push(r),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        got,
        [
            "T:raw chunk",
            "T:x",
            "T:y",
            "M:[Some(\"key=42;\"), Some(\"key\"), Some(\"42\")]",
            "B:b\"abc\"",
            "B:b\"z\"",
            "B:b\"hi\"",
        ]
    );
    ws.close(None).await.unwrap();
    server.shutdown();
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn absolute_form_upgrade_target_is_accepted() {
    // RFC 9112 section 3.2.2: a server accepts the absolute form of a target.
    let builder = Server::builder().route("/item/<id:int>", || Guarded);
    let (server, addr, serving) = start(builder).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!(
            "GET ws://{addr}/item/7?a=b HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nAuthorization: Bearer ok\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // The 101, then the handler's first message: a text frame with the target.
    let mut pending = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&pending));
        pending.extend_from_slice(&chunk[..n]);
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(
        header(&head, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    while pending.len() < head_end + 2 + "/item/7?a=b".len() {
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        pending.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(&pending[head_end..head_end + 2], &[0x81, 11]);
    assert_eq!(&pending[head_end + 2..], b"/item/7?a=b");
    drop(tcp);
    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// A handshake check that never decides.
struct Undecided;

impl Handler for Undecided {
    fn on_handshake(&mut self, _: &HandshakeRequest, _: &mut HandshakeResponse) -> Handshake {
        Handshake::wait(std::future::pending())
    }
}

#[tokio::test]
async fn a_handshake_check_is_bounded_by_the_handshake_timeout() {
    let config = StreamConfig::default().handshake_timeout(Some(Duration::from_millis(200)));
    let builder = Server::builder()
        .config(config)
        .route("/slow", || Undecided);
    let (server, addr, serving) = start(builder).await;
    let started = std::time::Instant::now();
    match tokio::time::timeout(WAIT, connect(&format!("ws://{addr}/slow")))
        .await
        .unwrap()
    {
        Err(Error::Rejected { status, .. }) => assert_eq!(status, 503),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(200));
    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// Client side: says hello on connect, forwards what it reads, closes after one.
struct Greeter(UnboundedSender<String>);

impl Handler for Greeter {
    fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
        let _ = self.0.send(format!("secure={}", ctx.is_secure()));
        ctx.write("hello over a pipe").unwrap();
    }
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        let _ = self.0.send(describe(&data));
        let _ = ctx.close(CloseCode::NORMAL, "done");
    }
}

#[tokio::test]
async fn the_client_runs_over_any_stream_and_the_server_serves_any_stream() {
    // An in-memory pipe: no socket at all on either side.
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let (builder, mut events) = probe_route(Server::builder(), "/pipe", |_| {}, echo);
    let server = builder.build();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_connection(server_end, None, None).await }
    });
    let (seen_tx, mut seen) = unbounded_channel();
    let task = ferrosocket::app::Client::new()
        .connect_stream("ws://in-memory/pipe", client_end, true, Greeter(seen_tx))
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(
            tokio::time::timeout(WAIT, seen.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(got, ["secure=true", "T:hello over a pipe"]);
    assert!(matches!(next(&mut events).await, Ev::Connect(_)));
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    tokio::time::timeout(WAIT, serving).await.unwrap().unwrap();
}
