//! The chat room of `examples/chat.rs`, mounted in an axum application:
//! `cargo run --release -p ferrosocket --features axum --example axum_chat [ADDRESS]`,
//! then open <http://127.0.0.1:9000/> in a few browser tabs.
//!
//! axum serves the page (`GET /`) and routes `/chat/{room}/{name}` (and
//! `/chat/{name}`, the room `lobby`) to a ferrosocket [`Server`]
//! (`Server::service`), whose handler, manager and rooms are those of the plain
//! chat example: each text message goes to the room as `name: message`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use ferrosocket::app::{Heartbeat, Server};

#[path = "shared/chat_room.rs"]
mod chat_room;
use chat_room::{PAGE, Participant};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    chat_room::init_logging();
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    // The WebSocket side: a ferrosocket Server with one route and no listener
    // of its own (axum accepts the connections).
    let chat = Server::builder()
        .route("/chat/<room>/<name>", Participant::new)
        .route("/chat/<name>", Participant::new)
        // A ping every 15 s; a tab that answers none within 10 s is dropped.
        .heartbeat(Heartbeat::new(
            Duration::from_secs(15),
            Duration::from_secs(10),
        ))
        .build();
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route_service("/chat/{room}/{name}", chat.service())
        .route_service("/chat/{name}", chat.service());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("chat on http://{}/", listener.local_addr()?);
    // ConnectInfo gives the handlers' Context the remote address.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
