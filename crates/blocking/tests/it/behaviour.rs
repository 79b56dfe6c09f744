//! The opening and closing handshakes over real loopback TCP, both roles, against
//! the raw peers of ferrosocket-testkit: the same scenarios test the tokio, smol
//! and async-std engines.

use ferrosocket_blocking::{ClientOptions, StreamConfig, connect_with};
use ferrosocket_testkit::behaviour::{Act, Served};

/// Connects on this thread, then acts.
fn connect(url: String, config: StreamConfig, act: Act) -> Served {
    let mut served = Served::default();
    let mut ws = match connect_with(&url, ClientOptions::new().config(config)) {
        Ok((ws, _)) => ws,
        Err(e) => {
            served.error = Some(e);
            return served;
        }
    };
    if act == Act::Close {
        served.error = ws.close(None).err();
        return served;
    }
    for message in ws {
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

ferrosocket_testkit::behaviour_tests!(serve = crate::timers::serve, connect = connect);
