//! Write back-pressure: a peer that does not read makes `send` wait.

use std::time::Duration;

use ferrosocket_tokio::{Message, StreamConfig};
use futures_util::SinkExt;

use crate::duplex_pair;

const LIMIT: usize = 4096;

#[tokio::test]
async fn send_waits_for_a_peer_that_does_not_read() {
    // Uncompressed, so that queued bytes are the messages' own sizes.
    let config = StreamConfig::default()
        .write_buffer_limit(LIMIT)
        .compression(None);
    // A pipe holding 1 KiB: the peer never reads it.
    let (mut server, client) = duplex_pair(1024, config, StreamConfig::default()).await;
    let message = vec![0x55u8; 1000];
    let mut sent = 0;
    loop {
        let send = server.send(Message::binary(message.clone()));
        match tokio::time::timeout(Duration::from_millis(100), send).await {
            Ok(result) => result.unwrap(),
            Err(_) => break, // pending: back-pressure
        }
        sent += 1;
        assert!(sent < 100, "send never waited");
    }
    // The socket took about its buffer, the queue stays near its limit.
    assert!(server.write_buffer_len() <= LIMIT + message.len() + 16);
    drop(client);
}

#[tokio::test]
async fn sink_poll_ready_waits_at_the_limit() {
    // Uncompressed, so that queued bytes are the messages' own sizes.
    let config = StreamConfig::default()
        .write_buffer_limit(LIMIT)
        .compression(None);
    let (mut server, client) = duplex_pair(1024, config, StreamConfig::default()).await;
    let message = vec![0xaau8; 500];
    let mut fed = 0;
    loop {
        // feed = poll_ready + start_send, no flush: the queue grows to the limit,
        // then poll_ready writes what the pipe takes and waits.
        let feed = server.feed(Message::binary(message.clone()));
        match tokio::time::timeout(Duration::from_millis(100), feed).await {
            Ok(result) => result.unwrap(),
            Err(_) => break,
        }
        fed += 1;
        assert!(fed < 100, "feed never waited");
    }
    assert!(fed * 502 >= LIMIT, "fed {fed} messages");
    assert!(server.write_buffer_len() <= LIMIT + message.len() + 16);
    // SinkExt::feed goes through the same poll_ready.
    let sink_feed = SinkExt::feed(&mut server, Message::binary(message.clone()));
    assert!(
        tokio::time::timeout(Duration::from_millis(100), sink_feed)
            .await
            .is_err()
    );
    drop(client);
}

#[tokio::test]
async fn queue_drains_once_the_peer_reads() {
    // Uncompressed, so that queued bytes are the messages' own sizes.
    let config = StreamConfig::default()
        .write_buffer_limit(LIMIT)
        .compression(None);
    let (mut server, mut client) = duplex_pair(1024, config, StreamConfig::default()).await;
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while n < 50 {
            match client.recv().await {
                Some(Ok(Message::Binary(b))) if b.len() == 1000 => n += 1,
                other => panic!("{other:?}"),
            }
        }
        client
    });
    for _ in 0..50 {
        server.send(Message::binary(vec![1u8; 1000])).await.unwrap();
    }
    assert_eq!(server.write_buffer_len(), 0);
    crate::within(reader).await.unwrap();
}
