//! Echo of text, binary, large and fragmented messages; Stream/Sink usage; buffer
//! release.

use std::time::Duration;

use bytes::Bytes;
use ferrosocket_tokio::{
    CloseCode, Error, Message, OpCode, Role, StreamConfig, WebSocketStream, connect,
};
use futures_util::{SinkExt, StreamExt, stream};

use crate::{duplex_pair, tcp_echo_server, within};

#[tokio::test]
async fn echo_text_binary_and_large_over_tcp() {
    let (url, server) = tcp_echo_server().await;
    let (mut ws, _) = within(connect(&url)).await.unwrap();

    ws.send(Message::text("héllo")).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("héllo")
    );

    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );

    // 5 MiB: the send waits for the echo server to read, which reads while we...
    // wait, so send and receive concurrently.
    let large: Bytes = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let (mut reader, mut writer) = ws.split();
    let sent = large.clone();
    let send = tokio::spawn(async move {
        writer.send(Message::Binary(sent)).await.unwrap();
        writer
    });
    match within(reader.recv()).await.unwrap().unwrap() {
        Message::Binary(got) => assert!(got == large, "5 MiB echo differs"),
        other => panic!("{other:?}"),
    }
    let writer = send.await.unwrap();
    let mut ws = reader.reunite(writer).unwrap();

    // Empty messages too.
    ws.send(Message::text("")).await.unwrap();
    assert_eq!(within(ws.recv()).await.unwrap().unwrap(), Message::text(""));

    within(ws.close(None)).await.unwrap();
    assert!(within(ws.recv()).await.is_none());
    within(server).await.unwrap().unwrap();
}

#[tokio::test]
async fn fragmented_send_arrives_as_one_message() {
    let (url, server) = tcp_echo_server().await;
    let (mut ws, _) = within(connect(&url)).await.unwrap();
    // "wörld" split inside the two-byte 'ö'.
    let text = "hello wörld".as_bytes();
    ws.send_fragments(OpCode::Text, [&text[..7], &text[7..8], &text[8..]])
        .await
        .unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("hello wörld")
    );
    ws.send_fragment(OpCode::Binary, b"ab", false)
        .await
        .unwrap();
    ws.send(Message::Ping(Bytes::from_static(b"in between")))
        .await
        .unwrap();
    ws.send_fragment(OpCode::Continuation, b"cd", true)
        .await
        .unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"in between"))
    );
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::binary(&b"abcd"[..])
    );
    // An empty iterator is one empty message.
    ws.send_fragments(OpCode::Binary, Vec::<Vec<u8>>::new())
        .await
        .unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::binary(Vec::new())
    );
    within(ws.close(None)).await.unwrap();
    within(server).await.unwrap().unwrap();
}

#[tokio::test]
async fn stream_and_sink_with_futures_util() {
    let (mut server, mut client) =
        duplex_pair(64 * 1024, StreamConfig::default(), StreamConfig::default()).await;
    let echo = tokio::spawn(async move {
        // Stream side: next(); Sink side: send().
        while let Some(message) = server.next().await {
            match message.unwrap() {
                m @ (Message::Text(_) | Message::Binary(_)) => server.send(m).await.unwrap(),
                Message::Close(_) => {}
                _ => {}
            }
        }
        server
    });
    let mut messages =
        stream::iter((0..100).map(|i| Ok::<_, Error>(Message::text(format!("m{i}")))));
    client.send_all(&mut messages).await.unwrap();
    let got: Vec<Message> = (&mut client).take(100).map(Result::unwrap).collect().await;
    assert_eq!(got.len(), 100);
    assert_eq!(got[99], Message::text("m99"));
    // Sink::close sends the close frame; the Stream then yields the echo and ends.
    SinkExt::close(&mut client).await.unwrap();
    assert!(matches!(
        within(client.next()).await,
        Some(Ok(Message::Close(Some(f)))) if f.code() == CloseCode::NORMAL
    ));
    assert!(within(client.next()).await.is_none());
    let mut server = within(echo).await.unwrap();
    assert!(server.next().await.is_none());
}

#[tokio::test]
async fn read_buffer_is_released_when_idle() {
    let (url, server) = tcp_echo_server().await;
    let (mut ws, _) = within(connect(&url)).await.unwrap();
    assert_eq!(ws.read_buffer_capacity(), 0, "no eager read buffer");
    ws.send(Message::binary(vec![7u8; 100_000])).await.unwrap();
    assert!(matches!(
        within(ws.recv()).await,
        Some(Ok(Message::Binary(b))) if b.len() == 100_000
    ));
    // The next read finds nothing: the buffer goes (recv is cancel safe).
    assert!(
        tokio::time::timeout(Duration::from_millis(50), ws.recv())
            .await
            .is_err()
    );
    assert_eq!(ws.read_buffer_capacity(), 0);
    // And comes back on demand.
    ws.send(Message::text("again")).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("again")
    );
    within(ws.close(None)).await.unwrap();
    within(server).await.unwrap().unwrap();
}

/// A socket that counts its write calls.
struct CountingWrites {
    inner: tokio::io::DuplexStream,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl tokio::io::AsyncRead for CountingWrites {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountingWrites {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn recv_send_echo_answers_a_burst_in_one_write() {
    use ferrosocket_tokio::proto::{Config, Connection};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let (a, mut peer) = tokio::io::duplex(1 << 20);
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let socket = CountingWrites {
        inner: a,
        writes: writes.clone(),
    };
    let mut ws = WebSocketStream::from_raw_socket(socket, Role::Server, StreamConfig::default());
    // 16 masked messages in one write, as a pipelining client sends them.
    let mut client = Connection::new(Role::Client, Config::default());
    for i in 0..16u8 {
        client.send_binary(&[i; 20]).unwrap();
    }
    peer.write_all(&client.take_output()).await.unwrap();

    // The plain echo loop, for the 16 messages of the burst.
    for i in 0..16u8 {
        let m = within(ws.recv()).await.unwrap().unwrap();
        assert_eq!(m, Message::binary(vec![i; 20]));
        ws.send(m).await.unwrap();
    }
    // The last send found nothing buffered: everything went out, in one write.
    assert_eq!(writes.load(std::sync::atomic::Ordering::Relaxed), 1);
    let mut echoed = vec![0; 16 * 22];
    within(peer.read_exact(&mut echoed)).await.unwrap();
    client.receive_data(&echoed);
    for i in 0..16u8 {
        assert!(matches!(
            client.next_event(),
            Some(Ok(ferrosocket_tokio::proto::Event::Binary { data, .. })) if data[..] == [i; 20]
        ));
    }

    // A lone message is answered by send itself, before any further recv.
    let mut client_msg = Connection::new(Role::Client, Config::default());
    client_msg.send_text("alone").unwrap();
    peer.write_all(&client_msg.take_output()).await.unwrap();
    let m = within(ws.recv()).await.unwrap().unwrap();
    ws.send(m).await.unwrap();
    assert_eq!(writes.load(std::sync::atomic::Ordering::Relaxed), 2);
    let mut echoed = vec![0; 7];
    within(peer.read_exact(&mut echoed)).await.unwrap();
    assert_eq!(&echoed, b"\x81\x05alone");
}
