//! A small command-line client: connects to a `ws://`, `wss://` (with `--features
//! tls`) or `ws+unix://` URL, sends each further argument as a text message and
//! prints what comes back for it, then closes.
//!
//! ```sh
//! cargo run -p ferrosocket --example echo_server &
//! cargo run -p ferrosocket --example client -- ws://127.0.0.1:9001/ hello world
//! cargo run -p ferrosocket --features tls --example client -- wss://example.org/socket hi
//! ```

use ferrosocket::tokio::connect;
use ferrosocket::{Error, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: client URL [MESSAGE...]");
        std::process::exit(2);
    };
    let (mut ws, response) = connect(&url).await?;
    let secure = if ws.get_ref().is_secure() {
        "TLS"
    } else {
        "plain"
    };
    eprintln!("connected ({secure}), HTTP {}", response.status);
    'messages: for text in args {
        ws.send(Message::text(text)).await?;
        // Pings are answered by the protocol core; wait for the data reply.
        loop {
            match ws.recv().await.transpose()? {
                Some(Message::Text(reply)) => println!("{reply}"),
                Some(Message::Binary(reply)) => println!("({} bytes of binary)", reply.len()),
                Some(_) => continue,
                None => break 'messages,
            }
            break;
        }
    }
    ws.close(None).await?;
    while ws.recv().await.transpose()?.is_some() {}
    Ok(())
}
