//! Echo server on blocking `std::net`, a thread per connection: text comes back as
//! text, binary as binary, on any path.
//!
//! `cargo run --release -p ferrosocket --features blocking --example echo_server_blocking -- 127.0.0.1:9001`

use std::net::{TcpListener, TcpStream};
use std::thread;

use ferrosocket::Error;
use ferrosocket::blocking::accept;

fn echo(tcp: TcpStream) -> Result<(), Error> {
    tcp.set_nodelay(true)?;
    let mut ws = accept(tcp)?;
    while let Some(message) = ws.recv() {
        let message = message?;
        // Pings are answered and the close is echoed by the protocol core.
        if message.is_data() {
            ws.send(message)?;
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!(
        "echo_server (blocking) listening on ws://{}",
        listener.local_addr()?
    );
    for tcp in listener.incoming() {
        let tcp = tcp?;
        thread::spawn(move || {
            let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            if let Err(e) = echo(tcp) {
                eprintln!("{peer}: {e}");
            }
        });
    }
    Ok(())
}
