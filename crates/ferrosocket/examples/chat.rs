//! A chat room: `cargo run --release -p ferrosocket --example chat [ADDRESS]`,
//! then open <http://127.0.0.1:9000/> in a few browser tabs.
//!
//! The page is served by the plain-HTTP fallback (404 for any other path); it
//! connects to the WebSocket route `/chat/<name>`, whose capture is the
//! participant's name. Each text message is broadcast to everyone as
//! `name: message` through the server's manager, which never lets a slow
//! participant hold the others up.

use ferrosocket::app::{HttpResponse, Server};

#[path = "shared/chat_room.rs"]
mod chat_room;
use chat_room::{PAGE, Participant};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    chat_room::init_logging();
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    let server = Server::builder()
        .route("/chat/<name>", Participant::new)
        .fallback(|request| match request.path() {
            "/" => HttpResponse::html(PAGE),
            _ => HttpResponse::not_found(),
        })
        .build();
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("chat on http://{}/", listener.local_addr()?);
    server.serve(listener).await
}
