//! 5,000 clients join the chat room at once (handshake, one message, the reply,
//! close), the probe that once saw most of them closed with 1008 by a
//! queue-length policy: every one must get its reply now.
#![cfg(all(feature = "tokio", feature = "app"))]

#[path = "../examples/shared/chat_room.rs"]
#[allow(dead_code)]
mod chat_room;

use std::time::{Duration, Instant};

use chat_room::Participant;
use ferrosocket::Message;
use ferrosocket::app::Server;
use ferrosocket::tokio::connect_with;
use ferrosocket::{ClientOptions, StreamConfig};

const JOINERS: usize = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_concurrent_joiners_all_get_their_reply() {
    let server = Server::builder()
        .route("/chat/<room>/<name>", Participant::new)
        .build();
    // A backlog for a crowd (the kernel caps it at somaxconn): with the default
    // 1024, SYNs beyond it are retried by the clients' kernels after 1, 3, 7 s.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(8192).unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let started = Instant::now();
    let mut joiners = Vec::new();
    for i in 0..JOINERS {
        joiners.push(tokio::spawn(async move {
            let url = format!("ws://{addr}/chat/lobby/u{i}");
            // The crowd's handshakes queue behind each other on a shared 2-core
            // machine: the joiners wait as long as it takes (each is still
            // bounded), what matters is that none is refused or closed.
            let options = ClientOptions::new()
                .config(StreamConfig::default().handshake_timeout(Some(Duration::from_secs(120))));
            let (mut ws, _) = match connect_with(&url, options).await {
                Ok(connected) => connected,
                Err(e) => return Err(format!("u{i}: connect: {e}")),
            };
            let said = format!("hello from u{i}");
            ws.send(Message::text(said.clone()))
                .await
                .map_err(|e| e.to_string())?;
            let reply = format!("u{i}: {said}");
            loop {
                match tokio::time::timeout(Duration::from_secs(120), ws.recv()).await {
                    Ok(Some(Ok(Message::Text(t)))) if t.as_str() == reply => break,
                    Ok(Some(Ok(_))) => {}
                    other => return Err(format!("u{i}: before its reply: {other:?}")),
                }
            }
            let _ = ws.close(None).await;
            Ok(())
        }));
    }
    let mut failed = Vec::new();
    for joiner in joiners {
        if let Err(e) = joiner.await.unwrap() {
            failed.push(e);
        }
    }
    println!(
        "{} of {JOINERS} joiners got their reply in {:.1} s",
        JOINERS - failed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    server.shutdown();
    serving.await.unwrap().unwrap();
}
