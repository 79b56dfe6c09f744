//! Echo server on async-std: text comes back as text, binary as binary, on any path.
//! async-std is discontinued upstream (RUSTSEC-2025-0052); smol is its successor.
//!
//! `cargo run --release -p ferrosocket --features async-std --example echo_server_async_std -- 127.0.0.1:9001`

use async_std::net::{TcpListener, TcpStream};
use ferrosocket::Error;
use ferrosocket::async_std::accept;

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

async fn serve() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "echo_server (async-std) listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (tcp, peer) = listener.accept().await?;
        async_std::task::spawn(async move {
            if let Err(e) = echo(tcp).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

fn main() -> std::io::Result<()> {
    async_std::task::block_on(serve())
}
