//! A chat room: `cargo run --release -p ferrosocket --example chat [ADDRESS]`,
//! then open <http://127.0.0.1:9000/> in a few browser tabs.
//!
//! The page is served by the plain-HTTP fallback (404 for any other path); it
//! connects to the WebSocket route `/chat/<name>`, whose capture is the
//! participant's name. Each text message is broadcast to everyone as
//! `name: message` through the server's manager, which never lets a slow
//! participant hold the others up.

use ferrosocket::app::{Captures, Context, Handler, HttpResponse, Item, Server};
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
    // The app layer logs through `tracing`: RUST_LOG=info (or debug, or
    // ferrosocket_app=debug) shows handshakes, rejections, protocol errors,
    // heartbeat drops and slow-consumer closes.
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
    let server = Server::builder()
        .route("/chat/<name>", || Participant {
            name: String::new(),
        })
        .fallback(|request| match request.path() {
            "/" => HttpResponse::html(PAGE),
            _ => HttpResponse::not_found(),
        })
        .build();
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("chat on http://{}/", listener.local_addr()?);
    server.serve(listener).await
}
