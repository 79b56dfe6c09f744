//! What the chat examples (`chat.rs`, `axum_chat.rs`) share: the participant
//! handler and the log setup. Included with `#[path]`; not an example itself.

use ferrosocket::app::{Captures, Context, Handler, Item};
use ferrosocket::{CloseCode, Message};

/// The page, compiled into the binary.
pub(crate) const PAGE: &str = include_str!("../chat.html");

/// One participant of a room: the route `/chat/<room>/<name>` (or
/// `/chat/<name>` for the room `lobby`). Each room is a topic of the server's
/// manager.
pub(crate) struct Participant {
    name: String,
    room: String,
}

impl Participant {
    /// A participant whose room and name the route's captures give on connect.
    pub(crate) fn new() -> Self {
        Self {
            name: String::new(),
            room: String::new(),
        }
    }
}

impl Handler for Participant {
    fn on_connect(&mut self, ctx: &mut Context, captures: &Captures) {
        let name = captures.str("name").unwrap_or("anonymous").trim();
        self.name = name.chars().take(32).collect();
        let room = captures.str("room").unwrap_or("lobby").trim();
        self.room = room.chars().take(32).collect();
        if self.name.is_empty() || self.room.is_empty() {
            let _ = ctx.close(CloseCode::POLICY_VIOLATION, "a room and a name are needed");
            return;
        }
        ctx.subscribe(&self.room);
        let present = ctx.manager().subscribers(&self.room);
        let _ = ctx.write(format!(
            "* welcome to {}, {}: {present} here",
            self.room, self.name
        ));
        ctx.publish(&self.room, format!("* {} joined", self.name));
    }

    fn on_read(&mut self, ctx: &mut Context, data: Item) {
        match data {
            Item::Text(text) => {
                ctx.manager()
                    .publish(&self.room, Message::text(format!("{}: {text}", self.name)));
            }
            _ => {
                let _ = ctx.close(CloseCode::UNSUPPORTED_DATA, "text only");
            }
        }
    }

    fn on_close(&mut self, ctx: &mut Context, _code: CloseCode, _reason: &str) {
        if !self.name.is_empty() && !self.room.is_empty() {
            ctx.publish(&self.room, format!("* {} left", self.name));
        }
    }
}

/// The app layer logs through `tracing`: RUST_LOG=info (or debug, or
/// ferrosocket_app=debug) shows handshakes, rejections, protocol errors,
/// heartbeat drops and slow-consumer closes.
pub(crate) fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}
