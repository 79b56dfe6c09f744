//! permessage-deflate between our client and server over TCP.

use ferrosocket_tokio::{ClientOptions, DeflateConfig, Message, StreamConfig, connect_with};

use crate::{tcp_echo_server, within};

fn extensions_header(response: &ferrosocket_tokio::Response) -> Option<String> {
    response
        .headers
        .get("Sec-WebSocket-Extensions")
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[tokio::test]
async fn negotiated_by_default_and_messages_round_trip() {
    let (url, server) = tcp_echo_server().await;
    let (mut ws, response) = within(connect_with(&url, ClientOptions::new()))
        .await
        .unwrap();
    let agreed = extensions_header(&response).expect("permessage-deflate agreed");
    assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
    let json = "{\"op\":\"update\",\"id\":12345,\"items\":[1,2,3,4,5]} ".repeat(2000);
    let binary: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for message in [
        Message::text(json.clone()),
        Message::binary(binary.clone()),
        Message::text(""),
        Message::text("short"),
        Message::text(json),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(within(ws.recv()).await.unwrap().unwrap(), message);
    }
    within(ws.close(None)).await.unwrap();
    within(server).await.unwrap().unwrap();
}

#[tokio::test]
async fn off_on_either_side_means_not_agreed() {
    let (url, server) = tcp_echo_server().await;
    let options = ClientOptions::new().config(StreamConfig::default().compression(None));
    let (mut ws, response) = within(connect_with(&url, options)).await.unwrap();
    assert_eq!(extensions_header(&response), None);
    ws.send(Message::text("plain")).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("plain")
    );
    within(ws.close(None)).await.unwrap();
    within(server).await.unwrap().unwrap();
}

#[tokio::test]
async fn no_context_takeover_and_small_windows() {
    let (url, server) = tcp_echo_server().await;
    let deflate = DeflateConfig::new()
        .client_no_context_takeover(true)
        .server_no_context_takeover(true)
        .client_max_window_bits(9)
        .unwrap()
        .server_max_window_bits(10)
        .unwrap();
    let options = ClientOptions::new().config(StreamConfig::default().compression(Some(deflate)));
    let (mut ws, response) = within(connect_with(&url, options)).await.unwrap();
    let agreed = extensions_header(&response).unwrap();
    assert!(agreed.contains("server_no_context_takeover"), "{agreed}");
    assert!(agreed.contains("server_max_window_bits=10"), "{agreed}");
    for i in 0..20 {
        let text = format!("message {i} ").repeat(500);
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(
            within(ws.recv()).await.unwrap().unwrap(),
            Message::text(text)
        );
    }
    within(ws.close(None)).await.unwrap();
    within(server).await.unwrap().unwrap();
}
