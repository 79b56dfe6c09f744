//! Echo server written with the application layer: a `Handler` that writes back
//! every message it reads (text as text, binary as binary) on any path. It is the
//! Autobahn testee for the app layer (`cargo xtask autobahn --runtime app`): the
//! app layer must be as conformant as the streams under it.
//!
//! `cargo run --release -p ferrosocket --example echo_server_app -- 127.0.0.1:9001`
//! (listens on `ws://127.0.0.1:9001/`)

use ferrosocket::app::{Context, Handler, Item, Server};

struct Echo;

impl Handler for Echo {
    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        // Whole messages (the default read delimiter); pings are answered and the
        // close is echoed by the protocol core.
        let _ = match data {
            Item::Text(text) => ctx.write(text),
            Item::Binary(bytes) => ctx.write(bytes),
            _ => Ok(()),
        };
    }
}

#[tokio::main(flavor = "current_thread")]
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
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!(
        "echo_server_app (app layer on tokio) listening on ws://{}",
        listener.local_addr()?
    );
    // wstest connects to `/` (its cases differ only in what they send).
    let server = Server::builder().route("/", || Echo).build();
    server.serve(listener).await
}
