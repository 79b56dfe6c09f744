//! The manager, shutdown and the heartbeat over real loopback sockets:
//! broadcast with a slow recipient, close-all with 1001, dead peers.
#![cfg(all(feature = "tokio", feature = "app"))]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrosocket::app::{
    Backpressure, Captures, Context, Handler, Heartbeat, Item, Manager, Server,
};
use ferrosocket::tokio::connect;
use ferrosocket::{CloseCode, Message, StreamConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Connect,
    Pong(bool),
    Close(u16, String),
}

/// Reports connect, pong and close; broadcasts what it reads.
struct Member {
    tx: UnboundedSender<Ev>,
}

impl Handler for Member {
    fn on_connect(&mut self, _: &mut Context, _: &Captures) {
        let _ = self.tx.send(Ev::Connect);
    }
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        if let Item::Text(text) = data {
            ctx.manager().broadcast(text);
        }
    }
    fn on_pong(&mut self, _: &mut Context, _: bytes::Bytes, rtt: Option<Duration>) {
        let _ = self.tx.send(Ev::Pong(rtt.is_some()));
    }
    fn on_close(&mut self, _: &mut Context, code: CloseCode, reason: &str) {
        let _ = self.tx.send(Ev::Close(code.as_u16(), reason.to_owned()));
    }
}

fn member(tx: &UnboundedSender<Ev>) -> impl Fn() -> Member + Send + Sync + 'static {
    let tx = tx.clone();
    move || Member { tx: tx.clone() }
}

async fn start(server: &Server) -> (SocketAddr, JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    (addr, task)
}

async fn next(rx: &mut UnboundedReceiver<Ev>) -> Ev {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an event in time")
        .expect("the channel is open")
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

/// The handshake over a raw socket, then nothing: it never reads or answers.
async fn raw_upgrade(tcp: &mut TcpStream, path: &str) {
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
    assert!(head.starts_with(b"HTTP/1.1 101 "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_everyone_and_a_slow_peer_is_dropped() {
    let (tx, mut events) = unbounded_channel();
    let server = Server::builder()
        .route("/room", member(&tx))
        // 8 messages of 16 KiB, then 200 ms to catch up.
        .manager(Manager::with_backpressure(Backpressure::new(
            128 * 1024,
            Duration::from_millis(200),
        )))
        .config(
            StreamConfig::default()
                .write_buffer_limit(16 * 1024)
                .close_timeout(Some(Duration::from_millis(300))),
        )
        .build();
    let (addr, serving) = start(&server).await;
    let url = format!("ws://{addr}/room");

    // Three fast readers counting what they get, in order.
    const N: usize = 600;
    let mut readers = Vec::new();
    let progress: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    for count in &progress {
        let (mut ws, _) = connect(&url).await.unwrap();
        assert_eq!(next(&mut events).await, Ev::Connect);
        let count = Arc::clone(count);
        readers.push(tokio::spawn(async move {
            for i in 0..N {
                match ws.recv().await {
                    Some(Ok(Message::Binary(data))) => {
                        assert_eq!(data.len(), 16 * 1024);
                        assert_eq!(&data[..8], &(i as u64).to_be_bytes());
                    }
                    other => panic!("message {i}: {other:?}"),
                }
                count.store(i + 1, Ordering::SeqCst);
            }
            // A text message from a member goes to everyone, this one included.
            ws.send(Message::text("bye")).await.unwrap();
            loop {
                match ws.recv().await {
                    Some(Ok(Message::Text(t))) if t.as_str() == "bye" => break,
                    Some(Ok(_)) => {}
                    other => panic!("{other:?}"),
                }
            }
            ws
        }));
    }
    // One that reads nothing, with a small receive buffer.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = socket.connect(addr).await.unwrap();
    raw_upgrade(&mut slow, "/room").await;
    assert_eq!(next(&mut events).await, Ev::Connect);
    assert_eq!(server.manager().len(), 4);

    // Broadcast, staying a few messages ahead of the fast readers only.
    let mut slow_dropped = false;
    for i in 0..N {
        let behind = i.saturating_sub(4);
        eventually("the fast readers keep up", || {
            progress.iter().all(|c| c.load(Ordering::SeqCst) >= behind)
        })
        .await;
        let mut data = vec![0xa5u8; 16 * 1024];
        data[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let report = server.manager().broadcast(data);
        assert!(report.queued >= 3, "{report:?}");
        slow_dropped |= report.closed == 1;
    }
    assert!(slow_dropped, "the slow peer's queue never filled");
    let mut wss = Vec::new();
    for reader in readers {
        wss.push(tokio::time::timeout(WAIT, reader).await.unwrap().unwrap());
    }
    // The slow one was closed (its close timed out: 1006 locally).
    eventually("the slow peer is gone", || server.manager().len() == 3).await;
    assert!(matches!(next(&mut events).await, Ev::Close(_, _)));
    drop(slow);

    // Shutdown: every WebSocket gets 1001, serve returns.
    server.shutdown();
    for ws in &mut wss {
        loop {
            match tokio::time::timeout(WAIT, ws.recv()).await.unwrap() {
                Some(Ok(Message::Close(Some(frame)))) => {
                    assert_eq!(frame.code(), CloseCode::GOING_AWAY);
                    break;
                }
                Some(Ok(Message::Text(t))) if t.as_str() == "bye" => {} // the others' byes
                other => panic!("{other:?}"),
            }
        }
    }
    for _ in 0..3 {
        assert!(matches!(next(&mut events).await, Ev::Close(1001, _)));
    }
    tokio::time::timeout(WAIT, serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(server.manager().is_empty());
    assert!(
        connect(&url).await.is_err(),
        "nobody listens after shutdown"
    );
}

#[tokio::test]
async fn manager_close_and_send_to_one() {
    let (tx, mut events) = unbounded_channel();
    let server = Server::builder().route("/room", member(&tx)).build();
    let (addr, serving) = start(&server).await;
    let url = format!("ws://{addr}/room");
    let (mut a, _) = connect(&url).await.unwrap();
    let (mut b, _) = connect(&url).await.unwrap();
    next(&mut events).await;
    next(&mut events).await;
    let ids = server.manager().ids();
    assert_eq!(ids.len(), 2);
    let (first, second) = (ids[0].min(ids[1]), ids[0].max(ids[1]));
    assert!(server.manager().send_to(first, "to a"));
    assert_eq!(a.recv().await.unwrap().unwrap(), Message::text("to a"));
    server.manager().broadcast_except(first, "not a");
    assert_eq!(b.recv().await.unwrap().unwrap(), Message::text("not a"));
    assert!(
        server
            .manager()
            .close(second, CloseCode::from(4001), "kicked")
    );
    match b.recv().await.unwrap().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code().as_u16(), 4001),
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(&mut events).await, Ev::Close(4001, _)));
    eventually("b is gone", || server.manager().len() == 1).await;
    assert!(!server.manager().send_to(second, "gone"));
    server.shutdown();
    assert!(matches!(a.recv().await, Some(Ok(Message::Close(_)))));
    serving.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_times_pongs_and_drops_dead_peers() {
    let (live_tx, mut live) = unbounded_channel();
    let (dead_tx, mut dead) = unbounded_channel();
    let server = Server::builder()
        .route("/live", member(&live_tx))
        .route("/dead", member(&dead_tx))
        .heartbeat(Heartbeat::new(
            Duration::from_millis(100),
            Duration::from_millis(300),
        ))
        .build();
    let (addr, serving) = start(&server).await;

    // A live client answers pings while it reads.
    let (mut ws, _) = connect(&format!("ws://{addr}/live")).await.unwrap();
    let reading = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(message)) = ws.recv().await {
            if let Message::Ping(_) = message {
                pings += 1;
            }
            if let Message::Close(_) = message {
                break;
            }
        }
        pings
    });
    assert_eq!(next(&mut live).await, Ev::Connect);

    // A raw peer that reads the pings but never answers.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw_upgrade(&mut raw, "/dead").await;
    assert_eq!(next(&mut dead).await, Ev::Connect);
    let mut seen = Vec::new();
    let started = tokio::time::Instant::now();
    tokio::time::timeout(WAIT, raw.read_to_end(&mut seen))
        .await
        .expect("the dead peer is dropped")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(seen.first(), Some(&0x89), "pings were sent: {seen:?}");
    match next(&mut dead).await {
        Ev::Close(1006, reason) => assert!(reason.contains("heartbeat"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // Meanwhile the live one got pinged, its pongs timed, and it is still there.
    for _ in 0..3 {
        assert_eq!(next(&mut live).await, Ev::Pong(true));
    }
    assert_eq!(server.manager().len(), 1);
    server.shutdown();
    let pings = tokio::time::timeout(WAIT, reading).await.unwrap().unwrap();
    assert!(pings >= 3, "{pings}");
    serving.await.unwrap().unwrap();
}

/// A masked client frame.
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [7u8, 1, 3, 9];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// A member's burst (all its messages in one TCP write) reaches every prompt
/// reader, in order, and costs none of them its connection: slow consumers are
/// judged by a sustained backlog, not by one burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_keeps_every_prompt_reader_in_the_room() {
    for burst in [257usize, 10_000] {
        let (tx, mut events) = unbounded_channel();
        let server = Server::builder().route("/room", member(&tx)).build();
        let (addr, serving) = start(&server).await;
        let url = format!("ws://{addr}/room");
        let mut readers = Vec::new();
        for _ in 0..3 {
            let (mut ws, _) = connect(&url).await.unwrap();
            assert_eq!(next(&mut events).await, Ev::Connect);
            readers.push(tokio::spawn(async move {
                for i in 0..burst {
                    match tokio::time::timeout(WAIT, ws.recv()).await.unwrap() {
                        Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), format!("m{i}")),
                        other => panic!("message {i} of {burst}: {other:?}"),
                    }
                }
                ws
            }));
        }
        let mut sender = TcpStream::connect(addr).await.unwrap();
        raw_upgrade(&mut sender, "/room").await;
        assert_eq!(next(&mut events).await, Ev::Connect);
        let frames: Vec<u8> = (0..burst)
            .flat_map(|i| masked(0x1, format!("m{i}").as_bytes()))
            .collect();
        sender.write_all(&frames).await.unwrap();
        for reader in readers {
            let mut ws = reader.await.unwrap();
            ws.close(None).await.unwrap();
        }
        // Nobody was closed for being slow: the three readers closed themselves.
        for _ in 0..3 {
            assert!(matches!(next(&mut events).await, Ev::Close(1000, _)));
        }
        drop(sender);
        server.shutdown();
        serving.await.unwrap().unwrap();
    }
}

/// Queues 4 MiB, then closes: the peer never reads.
struct Flood;

impl Handler for Flood {
    fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
        for _ in 0..16 {
            ctx.write(vec![0u8; 256 * 1024]).unwrap();
        }
        assert!(ctx.buffered_amount() >= 4 << 20);
        ctx.close(CloseCode::NORMAL, "done").unwrap();
    }
}

/// The close timer starts when the handler asks to close, however much is
/// queued before the close frame: a peer that stopped reading cannot hold the
/// connection open.
#[tokio::test]
async fn a_close_is_bounded_from_when_it_was_asked() {
    let (tx, mut events) = unbounded_channel();
    let closed = tx.clone();
    struct Report(UnboundedSender<Ev>);
    impl Handler for Report {
        fn on_connect(&mut self, ctx: &mut Context, c: &Captures) {
            Flood.on_connect(ctx, c);
        }
        fn on_close(&mut self, _: &mut Context, code: CloseCode, reason: &str) {
            let _ = self.0.send(Ev::Close(code.as_u16(), reason.to_owned()));
        }
    }
    let server = Server::builder()
        .route("/flood", move || Report(closed.clone()))
        .config(StreamConfig::default().close_timeout(Some(Duration::from_millis(300))))
        .build();
    drop(tx);
    let (addr, serving) = start(&server).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut peer = socket.connect(addr).await.unwrap();
    raw_upgrade(&mut peer, "/flood").await;
    let asked = tokio::time::Instant::now();
    match next(&mut events).await {
        Ev::Close(1006, reason) => assert_eq!(reason, "close timed out"),
        other => panic!("{other:?}"),
    }
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(2), "the close took {took:?}");
    drop(peer);
    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// Only a pong that answers one of our pings counts: a peer that sends pongs of
/// its own and never answers is dropped by the heartbeat.
#[tokio::test]
async fn unsolicited_pongs_do_not_keep_a_dead_peer() {
    let (tx, mut events) = unbounded_channel();
    let server = Server::builder()
        .route("/hb", member(&tx))
        .heartbeat(Heartbeat::new(
            Duration::from_millis(100),
            Duration::from_millis(300),
        ))
        .build();
    let (addr, serving) = start(&server).await;
    let mut peer = TcpStream::connect(addr).await.unwrap();
    raw_upgrade(&mut peer, "/hb").await;
    assert_eq!(next(&mut events).await, Ev::Connect);
    let started = tokio::time::Instant::now();
    let pongs = tokio::spawn(async move {
        loop {
            if peer.write_all(&masked(0xA, b"unsolicited")).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    loop {
        match next(&mut events).await {
            Ev::Pong(answered) => assert!(!answered, "an unsolicited pong was timed"),
            Ev::Close(code, reason) => {
                assert_eq!(
                    (code, reason.as_str()),
                    (1006, "heartbeat: no pong in time")
                );
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    pongs.abort();
    server.shutdown();
    serving.await.unwrap().unwrap();
}

/// A handler's own writes have the manager's limit: past it `write` refuses
/// (nothing more is queued) and, by the default policy, the connection closes
/// with 1008.
#[tokio::test]
async fn handler_writes_are_bounded_by_the_backpressure_limit() {
    let (tx, mut events) = unbounded_channel();
    struct Producer(UnboundedSender<Ev>);
    impl Handler for Producer {
        fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
            let mut written = 0;
            let refused = loop {
                match ctx.write(vec![1u8; 64 * 1024]) {
                    Ok(()) => written += 1,
                    Err(e) => break e,
                }
            };
            assert!(matches!(
                refused,
                ferrosocket::app::WriteError::Backpressure
            ));
            assert_eq!(written, 4);
            assert_eq!(ctx.buffered_amount(), 256 * 1024);
            assert!(!ctx.is_open());
        }
        fn on_close(&mut self, _: &mut Context, code: CloseCode, reason: &str) {
            let _ = self.0.send(Ev::Close(code.as_u16(), reason.to_owned()));
        }
    }
    let server = Server::builder()
        .route("/produce", move || Producer(tx.clone()))
        .manager(Manager::with_backpressure(
            Backpressure::new(64 * 1024, Duration::from_secs(1)).limit(256 * 1024),
        ))
        .build();
    let (addr, serving) = start(&server).await;
    let (mut ws, _) = connect(&format!("ws://{addr}/produce")).await.unwrap();
    let mut got = 0;
    loop {
        match tokio::time::timeout(WAIT, ws.recv()).await.unwrap() {
            Some(Ok(Message::Binary(data))) => got += data.len(),
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code(), CloseCode::POLICY_VIOLATION);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    // What was queued before the refusal is delivered, then the close.
    assert_eq!(got, 256 * 1024);
    assert!(matches!(next(&mut events).await, Ev::Close(1008, _)));
    server.shutdown();
    serving.await.unwrap().unwrap();
}
