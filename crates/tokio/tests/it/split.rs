//! Split halves in two tasks.

use bytes::Bytes;
use ferrosocket_tokio::{Message, State, StreamConfig};
use futures_util::StreamExt;

use crate::{duplex_pair, tcp_echo_server, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_in_two_tasks_over_tcp() {
    let (url, server) = tcp_echo_server().await;
    let (ws, _) = within(ferrosocket_tokio::connect(&url)).await.unwrap();
    let (mut reader, mut writer) = ws.split();
    const N: usize = 2000;
    let write_task = tokio::spawn(async move {
        for i in 0..N {
            // Sizes vary so that writes and reads interleave at odd boundaries.
            let body = vec![(i % 256) as u8; i % 3000];
            writer.send(Message::binary(body)).await.unwrap();
        }
        writer
    });
    let read_task = tokio::spawn(async move {
        for i in 0..N {
            match reader.recv().await {
                Some(Ok(Message::Binary(b))) => {
                    assert_eq!(b.len(), i % 3000);
                    assert!(b.iter().all(|&x| x == (i % 256) as u8));
                }
                other => panic!("{i}: {other:?}"),
            }
        }
        reader
    });
    let mut writer = within(write_task).await.unwrap();
    let mut reader = within(read_task).await.unwrap();
    // Closing from the write half; the read half sees the echo and ends.
    writer.close(None).await.unwrap();
    assert!(matches!(
        within(reader.recv()).await,
        Some(Ok(Message::Close(_)))
    ));
    assert!(within(reader.recv()).await.is_none());
    assert_eq!(writer.state(), State::Closed);
    within(server).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_while_the_write_half_is_idle() {
    let (server, mut client) =
        duplex_pair(64 * 1024, StreamConfig::default(), StreamConfig::default()).await;
    let (mut reader, writer) = server.split();
    // The server only reads; its write half sits idle in this task.
    let read_task = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(m) = reader.recv().await {
            if let Message::Ping(_) = m.unwrap() {
                pings += 1;
            }
        }
        pings
    });
    for i in 0..20u8 {
        let payload = Bytes::from(vec![i; 10]);
        client.send(Message::Ping(payload.clone())).await.unwrap();
        assert_eq!(
            within(client.recv()).await.unwrap().unwrap(),
            Message::Pong(payload)
        );
    }
    within(client.close(None)).await.unwrap();
    assert_eq!(within(read_task).await.unwrap(), 20);
    drop(writer);
}

#[tokio::test]
async fn halves_as_stream_and_sink() {
    let (server, mut client) =
        duplex_pair(64 * 1024, StreamConfig::default(), StreamConfig::default()).await;
    let (reader, writer) = server.split();
    // The classic echo: forward the read half into the write half.
    let echo = tokio::spawn(async move {
        reader
            .take_while(|m| std::future::ready(matches!(m, Ok(m) if m.is_data())))
            .forward(writer)
            .await
    });
    for i in 0..10 {
        client.send(Message::text(format!("n{i}"))).await.unwrap();
    }
    for i in 0..10 {
        assert_eq!(
            within(client.next()).await.unwrap().unwrap(),
            Message::text(format!("n{i}"))
        );
    }
    // Forward ends on the close (take_while stops, then it closes the sink).
    client.send(Message::Close(None)).await.unwrap();
    within(echo).await.unwrap().unwrap();
    assert!(matches!(
        within(client.recv()).await,
        Some(Ok(Message::Close(_)))
    ));
    assert!(within(client.recv()).await.is_none());
}

#[tokio::test]
async fn reunite_checks_the_pair() {
    let (a, b) = duplex_pair(1024, StreamConfig::default(), StreamConfig::default()).await;
    let (ra, wa) = a.split();
    let (rb, wb) = b.split();
    let err = ra.reunite(wb).unwrap_err();
    let (ra, wb) = (err.0, err.1);
    assert!(ra.reunite(wa).is_ok());
    assert!(rb.reunite(wb).is_ok());
}
