//! Echo server on tokio: text comes back as text, binary as binary, on any path.
//! It is the Autobahn testee for the server role (`cargo xtask autobahn`).
//!
//! `cargo run --release -p ferrosocket --example echo_server -- 127.0.0.1:9001`

use ferrosocket::Error;
use ferrosocket::tokio::accept;
use tokio::net::{TcpListener, TcpStream};

async fn echo(tcp: TcpStream) -> Result<(), Error> {
    tcp.set_nodelay(true)?;
    let mut ws = accept(tcp).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        // Pings are answered and the close is echoed by the protocol core.
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "echo_server (tokio) listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = echo(tcp).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}
