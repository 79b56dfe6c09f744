//! Autobahn testee for the client role, on smol (see `autobahn_client.rs`).
//!
//! `cargo run --release -p ferrosocket --features smol --example autobahn_client_smol -- ws://127.0.0.1:9002`

use ferrosocket::smol::connect;
use ferrosocket::{Error, Message};

async fn case_count(base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let (mut ws, _) = connect(&format!("{base}/getCaseCount")).await?;
    let count = match ws.recv().await.transpose()? {
        Some(Message::Text(text)) => text.as_str().parse()?,
        other => return Err(format!("unexpected answer to getCaseCount: {other:?}").into()),
    };
    ws.close(None).await.ok();
    Ok(count)
}

async fn run_case(url: &str) -> Result<(), Error> {
    let (mut ws, _) = connect(url).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        // Pings are answered and the close is echoed by the protocol core.
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9002".into());
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "ferrosocket".into());
    let count = case_count(&base).await?;
    eprintln!("autobahn_client (smol): {count} cases as agent {agent}");
    for case in 1..=count {
        if let Err(e) = run_case(&format!("{base}/runCase?case={case}&agent={agent}")).await {
            eprintln!("case {case}: {e}");
        }
    }
    let (mut ws, _) = connect(&format!("{base}/updateReports?agent={agent}")).await?;
    ws.close(None).await.ok();
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(run())
}
