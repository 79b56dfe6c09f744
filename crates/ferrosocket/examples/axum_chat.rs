//! The chat room of `examples/chat.rs`, mounted in an axum application:
//! `cargo run --release -p ferrosocket --features axum --example axum_chat [ADDRESS]`,
//! then open <http://127.0.0.1:9000/> in a few browser tabs.
//!
//! axum serves the page (`GET /`) and routes `/chat/{name}` to a ferrosocket
//! [`Server`] (`Server::service`), whose handler, manager and broadcast are
//! those of the plain chat example: the participant's name is the route's
//! capture; each text message goes to everyone as `name: message`.

use std::net::SocketAddr;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use ferrosocket::app::{Captures, Context, Handler, Item, Server};
use ferrosocket::{CloseCode, Message};

/// The page, compiled into the binary.
const PAGE: &str = include_str!("chat.html");

/// One participant of the room.
struct Participant {
    name: String,
}

impl Handler for Participant {
    fn on_connect(&mut self, ctx: &mut Context, captures: &Captures) {
        let name = captures.str("name").unwrap_or("anonymous").trim();
        self.name = name.chars().take(32).collect();
        if self.name.is_empty() {
            let _ = ctx.close(CloseCode::POLICY_VIOLATION, "a name is needed");
            return;
        }
        let present = ctx.manager().len();
        let _ = ctx.write(format!("* welcome, {}: {present} here", self.name));
        ctx.manager()
            .broadcast_except(ctx.id(), format!("* {} joined", self.name));
    }

    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        match data {
            Item::Text(text) => {
                ctx.manager()
                    .broadcast(Message::text(format!("{}: {text}", self.name)));
            }
            _ => {
                let _ = ctx.close(CloseCode::UNSUPPORTED_DATA, "text only");
            }
        }
    }

    fn on_close(&mut self, ctx: &mut Context, _code: CloseCode, _reason: &str) {
        if !self.name.is_empty() {
            ctx.manager()
                .broadcast_except(ctx.id(), format!("* {} left", self.name));
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // RUST_LOG=info (or debug) shows the app layer's handshakes and closes.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    // The WebSocket side: a ferrosocket Server with one route and no listener
    // of its own (axum accepts the connections).
    let chat = Server::builder()
        .route("/chat/<name>", || Participant {
            name: String::new(),
        })
        .build();
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
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
