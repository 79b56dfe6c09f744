//! Data messages piece by piece ([`Delivery::Streaming`], `recv_incoming`) over live
//! streams: a 32 MiB message received in a budget of a read (64 KiB), as one frame
//! and as 100, plain and through permessage-deflate; switching the delivery at
//! message boundaries; text pieces and invalid UTF-8.
//!
//! The streams run over an in-memory socket whose reads fill all the room they are
//! given (as tokio's `read_buf` does), one thread per end.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};

use bytes::BytesMut;
use ferrosocket_io::poll::{AsyncTimer, PollIo};
use ferrosocket_io::proto::handshake::{Accept, Request};
use ferrosocket_io::proto::{CloseCode, OpCode, Role};
use ferrosocket_io::{
    ClientOptions, DataKind, Delivery, Error, Incoming, Message, StreamConfig, WebSocketStream,
};

/// The message of the large tests.
const LARGE: usize = 32 << 20;
/// The largest piece allowed: a read, or what permessage-deflate's decoding hands
/// out at once (64 KiB both).
const PIECE_BOUND: usize = 64 << 10;
/// The largest read buffer allowed at any time.
const BUFFER_BOUND: usize = 256 << 10;
/// Bytes a writer may have in flight in the in-memory socket.
const PIPE_CAPACITY: usize = 256 << 10;

// ------------------------------------------------------------ in-memory socket

/// One direction of the in-memory socket.
#[derive(Default)]
struct Pipe {
    data: VecDeque<u8>,
    /// The writer shut down (or went away).
    closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// What the reads of one end saw.
#[derive(Default, Debug)]
struct ReadStats {
    /// The most room a read was given (the spare capacity of the buffer).
    largest_room: AtomicUsize,
    /// The most bytes one read brought.
    largest_read: AtomicUsize,
    /// All the bytes read.
    total: AtomicUsize,
}

/// One end of an in-memory socket.
struct End {
    rx: Arc<Mutex<Pipe>>,
    tx: Arc<Mutex<Pipe>>,
    stats: Arc<ReadStats>,
}

fn duplex() -> (End, End) {
    let (a, b) = (Arc::default(), Arc::default());
    let end = |rx: &Arc<Mutex<Pipe>>, tx: &Arc<Mutex<Pipe>>| End {
        rx: rx.clone(),
        tx: tx.clone(),
        stats: Arc::default(),
    };
    (end(&a, &b), end(&b, &a))
}

impl End {
    /// Writes `bytes` at once, whatever is in flight (for a raw peer).
    fn push(&self, bytes: &[u8]) {
        let mut tx = self.tx.lock().unwrap();
        tx.data.extend(bytes);
        if let Some(w) = tx.reader.take() {
            w.wake();
        }
    }

    /// Takes what the other end wrote so far (for a raw peer).
    fn take(&self) -> Vec<u8> {
        self.rx.lock().unwrap().data.drain(..).collect()
    }
}

impl Drop for End {
    fn drop(&mut self) {
        for pipe in [&self.tx, &self.rx] {
            let mut pipe = pipe.lock().unwrap();
            pipe.closed = true;
            for w in [pipe.reader.take(), pipe.writer.take()]
                .into_iter()
                .flatten()
            {
                w.wake();
            }
        }
    }
}

/// The driver's view of an [`End`]: reads fill all the spare capacity.
struct Mem(End);

impl PollIo for Mem {
    type Socket = End;

    fn from_socket(socket: End) -> Self {
        Self(socket)
    }

    fn socket(&self) -> &End {
        &self.0
    }

    fn socket_mut(&mut self) -> &mut End {
        &mut self.0
    }

    fn into_socket(self) -> End {
        self.0
    }

    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        _chunk: usize,
    ) -> Poll<io::Result<usize>> {
        let mut rx = self.0.rx.lock().unwrap();
        if rx.data.is_empty() {
            if rx.closed {
                return Poll::Ready(Ok(0));
            }
            rx.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if buf.capacity() == buf.len() {
            buf.reserve(64);
        }
        let room = buf.capacity() - buf.len();
        let n = room.min(rx.data.len());
        let (front, back) = rx.data.as_slices();
        let from_front = n.min(front.len());
        buf.extend_from_slice(&front[..from_front]);
        buf.extend_from_slice(&back[..n - from_front]);
        rx.data.drain(..n);
        if let Some(w) = rx.writer.take() {
            w.wake();
        }
        let stats = &self.0.stats;
        stats.largest_room.fetch_max(room, Ordering::Relaxed);
        stats.largest_read.fetch_max(n, Ordering::Relaxed);
        stats.total.fetch_add(n, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut tx = self.0.tx.lock().unwrap();
        if tx.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = PIPE_CAPACITY.saturating_sub(tx.data.len());
        if room == 0 {
            tx.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        tx.data.extend(&buf[..n]);
        if let Some(w) = tx.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut tx = self.0.tx.lock().unwrap();
        tx.closed = true;
        if let Some(w) = tx.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

/// No timers in these tests (the streams get `None`).
#[derive(Clone, Debug)]
struct NoTimer;

impl AsyncTimer for NoTimer {
    type Sleep = std::future::Pending<()>;

    fn sleep_until(&self, _deadline: std::time::Instant) -> Self::Sleep {
        std::future::pending()
    }
}

type Stream = WebSocketStream<Mem, NoTimer>;

/// Wakes the thread that polls.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` to completion on this thread.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// A client and a server stream with `config` (permessage-deflate as it says)
/// after a real opening handshake, each end on a thread of its own running
/// `server` and `client`; returns the server's result and its socket's read stats.
fn connected<S, C, SF, CF, R>(config: &StreamConfig, server: S, client: C) -> (R, Arc<ReadStats>)
where
    S: FnOnce(Stream) -> SF + Send,
    C: FnOnce(Stream) -> CF + Send,
    SF: Future<Output = R>,
    CF: Future<Output = ()>,
    R: Send,
{
    let (a, b) = duplex();
    let stats = a.stats.clone();
    let result = std::thread::scope(|s| {
        let server = s.spawn(|| {
            block_on(async {
                let ws = ferrosocket_io::accept(
                    Mem(a),
                    config.clone(),
                    async |_: &Request| Accept::new(),
                    None::<NoTimer>,
                )
                .await
                .unwrap();
                server(ws).await
            })
        });
        let client = s.spawn(|| {
            block_on(async {
                let options = ClientOptions::new().config(config.clone());
                let (ws, _) = ferrosocket_io::client("ws://memory/", Mem(b), options, None)
                    .await
                    .unwrap();
                client(ws).await;
            })
        });
        client.join().unwrap();
        server.join().unwrap()
    });
    (result, stats)
}

/// Opcodes of the raw frames.
const TEXT: u8 = 0x1;
const CONTINUATION: u8 = 0x0;

/// A frame as a client sends it (masked), built byte by byte (RFC 6455 section
/// 5.2), for a raw peer; payloads under 64 KiB.
fn masked_fragment(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    match u8::try_from(payload.len()) {
        Ok(len) if len < 126 => out.push(0x80 | len),
        _ => {
            out.push(0x80 | 126);
            out.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

// ------------------------------------------------------------------ the tests

/// `config` with permessage-deflate off (it is on by default, with the feature).
fn without_compression(config: StreamConfig) -> StreamConfig {
    #[cfg(feature = "deflate")]
    let config = config.compression(None);
    config
}

/// Byte `i` of a large test message: compressible (a phrase repeated) or not.
fn byte(compressible: bool, i: usize) -> u8 {
    const PHRASE: &[u8] = b"ferrosocket hands a large message over piece by piece. ";
    if compressible {
        PHRASE[i % PHRASE.len()]
    } else {
        (((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8) ^ (i as u8)
    }
}

/// What the server of a large test saw.
#[derive(Debug)]
struct Received {
    pieces: usize,
    largest_piece: usize,
    largest_buffer: usize,
}

/// The client sends one `LARGE` message in `frames` frames; the server, in
/// Streaming delivery, checks every piece against the message as it comes
/// (it never holds the message) and records the sizes.
fn large_message(frames: usize, deflate: bool) -> (Received, Arc<ReadStats>) {
    // A frame of 32 MiB is over the default frame limit (16 MiB).
    let mut config = StreamConfig::default().without_timers();
    config.protocol = config.protocol.max_frame_size(LARGE);
    if !deflate {
        config = without_compression(config);
    }
    let server = async |mut ws: Stream| {
        ws.set_delivery(Delivery::Streaming);
        let mut seen = Received {
            pieces: 0,
            largest_piece: 0,
            largest_buffer: 0,
        };
        let mut at = 0;
        loop {
            let Some(Ok(Incoming::Data { kind, data, fin })) = ws.recv_incoming().await else {
                panic!("a piece expected at byte {at}");
            };
            assert_eq!(kind, DataKind::Binary);
            for (j, &b) in data.iter().enumerate() {
                assert_eq!(b, byte(deflate, at + j), "byte {}", at + j);
            }
            at += data.len();
            seen.pieces += 1;
            seen.largest_piece = seen.largest_piece.max(data.len());
            seen.largest_buffer = seen.largest_buffer.max(ws.read_buffer_capacity());
            drop(data);
            if fin {
                break;
            }
        }
        assert_eq!(at, LARGE);
        assert!(matches!(
            ws.recv_incoming().await,
            Some(Ok(Incoming::Message(Message::Close(_))))
        ));
        assert!(ws.recv_incoming().await.is_none());
        seen
    };
    let client = async |mut ws: Stream| {
        let data: Vec<u8> = (0..LARGE).map(|i| byte(deflate, i)).collect();
        if frames == 1 {
            ws.send(Message::binary(data)).await.unwrap();
        } else {
            let chunks = data.chunks(LARGE.div_ceil(frames));
            assert_eq!(chunks.len(), frames);
            ws.send_fragments(OpCode::Binary, chunks).await.unwrap();
        }
        ws.close(None).await.unwrap();
    };
    connected(&config, server, client)
}

fn check_large(frames: usize, deflate: bool) {
    let (seen, stats) = large_message(frames, deflate);
    let room = stats.largest_room.load(Ordering::Relaxed);
    let read = stats.largest_read.load(Ordering::Relaxed);
    let total = stats.total.load(Ordering::Relaxed);
    eprintln!(
        "{frames} frame(s), deflate {deflate}: {} pieces, largest {} B; read buffer \
         at most {} B; reads offered at most {room} B, brought at most {read} B, \
         {total} B in all",
        seen.pieces, seen.largest_piece, seen.largest_buffer
    );
    assert!(seen.largest_piece <= PIECE_BOUND, "{seen:?}");
    assert!(seen.largest_buffer < BUFFER_BOUND, "{seen:?}");
    assert!(room <= 64 << 10 && read <= 64 << 10, "{room} {read}");
    if deflate {
        assert!(total < LARGE / 50, "compressed: {total} bytes on the wire");
        // Pieces are bounded by the decoder, not the reads: more than the wire
        // could have brought in reads.
        assert!(seen.pieces >= LARGE / PIECE_BOUND);
    } else {
        assert!(total > LARGE);
    }
}

#[test]
fn a_32_mib_frame_in_pieces_of_a_read() {
    check_large(1, false);
}

#[test]
fn a_32_mib_message_of_100_frames_in_pieces_of_a_read() {
    check_large(100, false);
}

#[cfg(feature = "deflate")]
#[test]
fn a_32_mib_compressed_frame_in_bounded_pieces() {
    check_large(1, true);
}

#[cfg(feature = "deflate")]
#[test]
fn a_32_mib_compressed_message_of_100_frames_in_bounded_pieces() {
    check_large(100, true);
}

/// Joins the pieces of one message (from `first` on) and returns it with the
/// number of pieces.
async fn rest_of_message(ws: &mut Stream, mut first: Vec<u8>) -> (Vec<u8>, usize) {
    let mut pieces = 1;
    loop {
        match ws.recv_incoming().await {
            Some(Ok(Incoming::Data { data, fin, .. })) => {
                first.extend_from_slice(&data);
                pieces += 1;
                if fin {
                    return (first, pieces);
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn delivery_switches_at_message_boundaries_on_a_live_stream() {
    // Assembled -> Streaming between messages (at once), Streaming -> Assembled in
    // the middle of a message (when it ends), over one connection.
    let config = without_compression(StreamConfig::default().without_timers());
    // The server tells the client when to go on.
    let (to_client, from_server) = mpsc::channel::<()>();
    let server = async move |mut ws: Stream| {
        assert_eq!(ws.delivery(), Delivery::Assembled);
        // 1: whole.
        let got = ws.recv_incoming().await.unwrap().unwrap();
        assert_eq!(
            got,
            Incoming::Message(Message::binary(&b"one-a one-b one-c"[..]))
        );
        ws.set_delivery(Delivery::Streaming);
        assert_eq!(ws.delivery(), Delivery::Streaming);
        to_client.send(()).unwrap();
        // 2: pieces; the switch back is asked for after its first piece.
        let Some(Ok(Incoming::Data { kind, data, fin })) = ws.recv_incoming().await else {
            panic!("a piece");
        };
        assert_eq!((kind, fin), (DataKind::Binary, false));
        ws.set_delivery(Delivery::Assembled);
        assert_eq!(
            ws.delivery(),
            Delivery::Streaming,
            "not before the message ends"
        );
        to_client.send(()).unwrap();
        let ping = ws.recv_incoming().await.unwrap().unwrap();
        assert_eq!(
            ping,
            Incoming::Message(Message::Ping((&b"between"[..]).into()))
        );
        let (two, pieces) = rest_of_message(&mut ws, data.to_vec()).await;
        assert_eq!(two, b"two-a two-b two-c");
        assert!(pieces >= 3);
        assert_eq!(ws.delivery(), Delivery::Assembled);
        // 3: whole again.
        let got = ws.recv_incoming().await.unwrap().unwrap();
        assert_eq!(
            got,
            Incoming::Message(Message::binary(&b"three-a three-b"[..]))
        );
        assert!(ws.recv_incoming().await.unwrap().unwrap().is_close());
    };
    let client = async move |mut ws: Stream| {
        ws.send_fragments(OpCode::Binary, [&b"one-a "[..], b"one-b ", b"one-c"])
            .await
            .unwrap();
        from_server.recv().unwrap();
        ws.send_fragment(OpCode::Binary, b"two-a ", false)
            .await
            .unwrap();
        from_server.recv().unwrap();
        ws.send(Message::Ping((&b"between"[..]).into()))
            .await
            .unwrap();
        ws.send_fragment(OpCode::Continuation, b"two-b ", false)
            .await
            .unwrap();
        ws.send_fragment(OpCode::Continuation, b"two-c", true)
            .await
            .unwrap();
        ws.send_fragments(OpCode::Binary, [&b"three-a "[..], b"three-b"])
            .await
            .unwrap();
        ws.close(None).await.unwrap();
    };
    let ((), _) = connected(&config, server, client);
}

/// A server stream over a raw socket (no handshake) in Streaming delivery, with
/// reads of 64 bytes, and the raw peer's end.
fn raw_streaming_server() -> (Stream, End) {
    let (a, b) = duplex();
    let config = StreamConfig::default()
        .without_timers()
        .read_chunk(64)
        .read_chunk_max(64);
    let mut ws = Stream::from_raw_socket(a, Role::Server, config);
    ws.set_delivery(Delivery::Streaming);
    (ws, b)
}

#[test]
fn text_pieces_are_valid_utf8_and_invalid_text_fails_with_1007() {
    let (mut ws, peer) = raw_streaming_server();
    let text = "héllo wörld ✓ 𝄞 ".repeat(40);
    let raw = text.as_bytes();
    // Three frames cut inside code points; reads of 64 bytes cut them again.
    let inside = |from: usize| (from..).find(|&i| !text.is_char_boundary(i)).unwrap();
    let (cut1, cut2) = (inside(raw.len() / 3), inside(2 * raw.len() / 3));
    peer.push(&masked_fragment(false, TEXT, &raw[..cut1]));
    peer.push(&masked_fragment(false, CONTINUATION, &raw[cut1..cut2]));
    peer.push(&masked_fragment(true, CONTINUATION, &raw[cut2..]));
    let mut got = String::new();
    let mut pieces = 0;
    loop {
        // The poll form, once in a while.
        let next = if pieces % 2 == 0 {
            block_on(ws.recv_incoming())
        } else {
            block_on(poll_fn(|cx| ws.poll_next_incoming(cx)))
        };
        let Some(Ok(Incoming::Data { kind, data, fin })) = next else {
            panic!("{next:?}");
        };
        assert_eq!(kind, DataKind::Text);
        got.push_str(std::str::from_utf8(&data).expect("every piece is UTF-8"));
        assert!(data.len() <= 64 + 3);
        pieces += 1;
        if fin {
            break;
        }
    }
    assert_eq!(got, text);
    assert!(pieces > raw.len() / 64, "{pieces}");

    // Invalid UTF-8 after a code point split over frames: the valid start comes
    // in pieces, then the error, and the peer gets a close with 1007.
    let (mut read, _write) = ws.split();
    peer.push(&masked_fragment(false, TEXT, b"fine so far \xc3"));
    peer.push(&masked_fragment(true, CONTINUATION, b"\xa9 and then \xff"));
    let mut valid = Vec::new();
    let code = loop {
        match block_on(read.recv_incoming()) {
            Some(Ok(Incoming::Data { data, fin, .. })) => {
                assert!(!fin);
                std::str::from_utf8(&data).expect("every piece is UTF-8");
                valid.extend_from_slice(&data);
            }
            Some(Err(Error::Protocol(e))) => break e.close_code(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, CloseCode::INVALID_PAYLOAD);
    assert!(
        b"fine so far \xc3\xa9 and then ".starts_with(&valid),
        "{valid:?}"
    );
    assert_eq!(peer.take(), [0x88, 0x02, 0x03, 0xef]);
    assert!(block_on(read.recv_incoming()).is_none());
}

#[test]
fn assembled_streams_give_whole_messages_through_recv_incoming() {
    let (a, peer) = duplex();
    let mut ws = Stream::from_raw_socket(a, Role::Server, StreamConfig::default().without_timers());
    assert_eq!(ws.delivery(), Delivery::Assembled);
    peer.push(&masked_fragment(false, TEXT, b"whole "));
    peer.push(&masked_fragment(true, CONTINUATION, b"text"));
    assert_eq!(
        block_on(ws.recv_incoming()).unwrap().unwrap(),
        Incoming::Message(Message::text("whole text"))
    );
}
