//! The five timers over real loopback TCP, against the raw misbehaving peers of
//! ferrosocket-testkit: the same scenarios test the tokio and smol engines.

use ferrosocket_blocking::{Accept, Decision, StreamConfig, accept_with_config};
use ferrosocket_testkit::timers::{Act, Served};

/// Serves one connection on this thread.
pub(crate) fn serve(listener: std::net::TcpListener, config: StreamConfig, act: Act) -> Served {
    let mut served = Served::default();
    let (socket, _) = listener.accept().unwrap();
    let mut ws = match accept_with_config(socket, config, |_| Decision::Accept(Accept::new())) {
        Ok(ws) => ws,
        Err(e) => {
            served.error = Some(e);
            return served;
        }
    };
    if act == Act::Close {
        served.error = ws.close(None).err();
        return served;
    }
    while let Some(message) = ws.recv() {
        match message {
            Ok(message) => served.messages.push(message),
            Err(e) => {
                served.error = Some(e);
                break;
            }
        }
    }
    served
}

ferrosocket_testkit::timer_tests!(serve);
