//! The five timers over real loopback TCP, against the raw misbehaving peers of
//! ferrosocket-testkit: the same scenarios test the smol and blocking engines.

use ferrosocket_testkit::timers::{Act, Served};
use ferrosocket_tokio::{Accept, StreamConfig, accept_with_config};

/// Serves one connection on a fresh tokio runtime.
fn serve(listener: std::net::TcpListener, config: StreamConfig, act: Act) -> Served {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let mut served = Served::default();
        let (socket, _) = crate::within(listener.accept()).await.unwrap();
        crate::within(async {
            let mut ws = match accept_with_config(socket, config, async |_: &_| Accept::new()).await
            {
                Ok(ws) => ws,
                Err(e) => return served.error = Some(e),
            };
            if act == Act::Close {
                served.error = ws.close(None).await.err();
                return;
            }
            while let Some(message) = ws.recv().await {
                match message {
                    Ok(message) => served.messages.push(message),
                    Err(e) => return served.error = Some(e),
                }
            }
        })
        .await;
        served
    })
}

ferrosocket_testkit::timer_tests!(serve);
