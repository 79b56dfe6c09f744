//! The chat examples' participant handler (`examples/shared/chat_room.rs`) over
//! real sockets: rooms are topics of the manager, so a message reaches its room
//! and no other; joins and leaves are announced to the room only.
#![cfg(all(feature = "tokio", feature = "app"))]

#[path = "../examples/shared/chat_room.rs"]
#[allow(dead_code)]
mod chat_room;

use std::time::Duration;

use chat_room::Participant;
use ferrosocket::app::Server;
use ferrosocket::tokio::{MaybeTlsStream, WebSocketStream, connect};
use ferrosocket::{Message, StreamConfig};

type Ws = WebSocketStream<MaybeTlsStream>;

async fn text(ws: &mut Ws) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.recv())
            .await
            .expect("a message in time")
        {
            Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn messages_stay_in_their_room() {
    let server = Server::builder()
        .route("/chat/<room>/<name>", Participant::new)
        .route("/chat/<name>", Participant::new)
        .config(StreamConfig::default())
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });

    let (mut alice, _) = connect(&format!("ws://{addr}/chat/r1/alice"))
        .await
        .unwrap();
    assert_eq!(text(&mut alice).await, "* welcome to r1, alice: 1 here");
    let (mut bob, _) = connect(&format!("ws://{addr}/chat/r1/bob")).await.unwrap();
    assert_eq!(text(&mut bob).await, "* welcome to r1, bob: 2 here");
    assert_eq!(text(&mut alice).await, "* bob joined");
    let (mut carol, _) = connect(&format!("ws://{addr}/chat/carol")).await.unwrap();
    assert_eq!(text(&mut carol).await, "* welcome to lobby, carol: 1 here");

    alice.send(Message::text("hi r1")).await.unwrap();
    assert_eq!(text(&mut alice).await, "alice: hi r1");
    assert_eq!(text(&mut bob).await, "alice: hi r1");
    // Carol, in another room, sees only her own.
    carol.send(Message::text("anyone?")).await.unwrap();
    assert_eq!(text(&mut carol).await, "carol: anyone?");

    bob.close(None).await.unwrap();
    assert_eq!(text(&mut alice).await, "* bob left");
    assert_eq!(server.manager().subscribers("r1"), 1);
    drop((alice, carol));
    server.shutdown();
    serving.await.unwrap().unwrap();
}
