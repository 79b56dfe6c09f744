//! A chat room: `cargo run --release -p ferrosocket --example chat [ADDRESS]
//! [--runtime tokio|smol|blocking]`, then open <http://127.0.0.1:9000/> in a few
//! browser tabs. (`smol` and `blocking` need the facade's `smol` and `blocking`
//! features: `--features smol,blocking`.)
//!
//! The page is served by the plain-HTTP fallback (404 for any other path); it
//! connects to the WebSocket route `/chat/<room>/<name>` (`/chat/<name>` is the
//! room `lobby`), whose captures are the room and the participant's name. Each
//! room is a topic of the server's manager: a text message is published to the
//! room as `name: message`, and a slow participant never holds the others up.
//!
//! The same `Server` and the same handler run on each runtime: only the
//! listener (and who drives it) changes.

use std::time::Duration;

use ferrosocket::app::{Heartbeat, HttpResponse, Server};

#[path = "shared/chat_room.rs"]
mod chat_room;
use chat_room::{PAGE, Participant};

fn main() -> std::io::Result<()> {
    chat_room::init_logging();
    let mut address = "127.0.0.1:9000".to_owned();
    let mut runtime = "tokio".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runtime" => runtime = args.next().unwrap_or_default(),
            _ => address = arg,
        }
    }
    let server = Server::builder()
        .route("/chat/<room>/<name>", Participant::new)
        .route("/chat/<name>", Participant::new)
        // A ping every 15 s; a tab that answers none within 10 s is dropped.
        .heartbeat(Heartbeat::new(
            Duration::from_secs(15),
            Duration::from_secs(10),
        ))
        .fallback(|request| match request.path() {
            "/" => HttpResponse::html(PAGE),
            _ => HttpResponse::not_found(),
        })
        .build();
    match runtime.as_str() {
        "tokio" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let listener = tokio::net::TcpListener::bind(&address).await?;
                println!("chat on http://{}/ (tokio)", listener.local_addr()?);
                server.serve(listener).await
            }),
        #[cfg(feature = "smol")]
        "smol" => smol::block_on(async {
            let listener = smol::net::TcpListener::bind(&address).await?;
            println!("chat on http://{}/ (smol)", listener.local_addr()?);
            server.serve(listener).await
        }),
        #[cfg(feature = "blocking")]
        "blocking" => {
            let listener = std::net::TcpListener::bind(&address)?;
            println!("chat on http://{}/ (threads)", listener.local_addr()?);
            server.serve_blocking(listener)
        }
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "--runtime {other}: this build has tokio, smol (feature smol), blocking (feature blocking)"
            ),
        )),
    }
}
