//! What the chat examples (`chat.rs`, `axum_chat.rs`) share: the participant
//! handler and the log setup. Included with `#[path]`; not an example itself.

use ferrosocket::app::{Captures, Context, Handler, Item};
use ferrosocket::{CloseCode, Message};

/// The page, compiled into the binary.
pub(crate) const PAGE: &str = include_str!("../chat.html");

/// One participant of the room.
pub(crate) struct Participant {
    name: String,
}

impl Participant {
    /// A participant whose name the route's capture gives on connect.
    pub(crate) fn new() -> Self {
        Self {
            name: String::new(),
        }
    }
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
