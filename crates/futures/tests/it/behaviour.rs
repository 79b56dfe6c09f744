//! The opening and closing handshakes over real loopback TCP on smol and
//! async-std, both roles, against the raw peers of ferrosocket-testkit: the same
//! scenarios test the tokio and blocking engines.

use ferrosocket_futures::{Accept, ClientOptions, Error, StreamConfig, WebSocketStream};
use ferrosocket_testkit::behaviour::{Act, Served};
use futures_io::{AsyncRead, AsyncWrite};

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
        served.error = ws.close(None).await.err();
        return served;
    }
    while let Some(message) = ws.recv().await {
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

pub(crate) mod smol_rt {
    use super::*;

    pub(crate) fn serve(listener: std::net::TcpListener, config: StreamConfig, how: Act) -> Served {
        smol::block_on(async move {
            let listener = smol::net::TcpListener::try_from(listener).unwrap();
            let (socket, _) = listener.accept().await.unwrap();
            let accepted =
                ferrosocket_futures::smol::accept_with_config(socket, config, async |_: &_| {
                    Accept::new()
                })
                .await;
            act(accepted, how).await
        })
    }

    fn connect(url: String, config: StreamConfig, how: Act) -> Served {
        smol::block_on(async move {
            let options = ClientOptions::new().config(config);
            let connected = ferrosocket_futures::smol::connect_with(&url, options).await;
            act(connected.map(|(ws, _)| ws), how).await
        })
    }

    ferrosocket_testkit::behaviour_tests!(serve = serve, connect = connect,);
}

pub(crate) mod async_std_rt {
    use super::*;

    pub(crate) fn serve(listener: std::net::TcpListener, config: StreamConfig, how: Act) -> Served {
        async_std::task::block_on(async move {
            let listener = async_std::net::TcpListener::from(listener);
            let (socket, _) = listener.accept().await.unwrap();
            let accepted = ferrosocket_futures::async_std::accept_with_config(
                socket,
                config,
                async |_: &_| Accept::new(),
            )
            .await;
            act(accepted, how).await
        })
    }

    fn connect(url: String, config: StreamConfig, how: Act) -> Served {
        async_std::task::block_on(async move {
            let options = ClientOptions::new().config(config);
            let connected = ferrosocket_futures::async_std::connect_with(&url, options).await;
            act(connected.map(|(ws, _)| ws), how).await
        })
    }

    ferrosocket_testkit::behaviour_tests!(serve = serve, connect = connect,);
}
