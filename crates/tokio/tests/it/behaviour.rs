//! The opening and closing handshakes over real loopback TCP, both roles, against
//! the raw peers of ferrosocket-testkit: the same scenarios test the smol,
//! async-std and blocking engines.

use ferrosocket_testkit::behaviour::{Act, Served};
use ferrosocket_tokio::{
    Accept, ClientOptions, Error, StreamConfig, WebSocketStream, accept_with_config, connect_with,
};
use tokio::io::{AsyncRead, AsyncWrite};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Handshake done (or failed): `act` on the stream.
async fn act<S: AsyncRead + AsyncWrite + Unpin>(
    handshake: Result<WebSocketStream<S>, Error>,
    act: Act,
) -> Served {
    let mut served = Served::default();
    let mut ws = match handshake {
        Ok(ws) => ws,
        Err(e) => {
            served.error = Some(e);
            return served;
        }
    };
    if act == Act::Close {
        served.error = crate::within(ws.close(None)).await.err();
        return served;
    }
    while let Some(message) = crate::within(ws.recv()).await {
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

/// Serves one connection on a fresh tokio runtime.
pub(crate) fn serve(listener: std::net::TcpListener, config: StreamConfig, how: Act) -> Served {
    runtime().block_on(async move {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (socket, _) = crate::within(listener.accept()).await.unwrap();
        let accepted = crate::within(accept_with_config(socket, config, async |_: &_| {
            Accept::new()
        }))
        .await;
        act(accepted, how).await
    })
}

/// Connects on a fresh tokio runtime.
fn connect(url: String, config: StreamConfig, how: Act) -> Served {
    runtime().block_on(async move {
        let options = ClientOptions::new().config(config);
        let connected = crate::within(connect_with(&url, options)).await;
        act(connected.map(|(ws, _)| ws), how).await
    })
}

ferrosocket_testkit::behaviour_tests!(serve = serve, connect = connect,);
