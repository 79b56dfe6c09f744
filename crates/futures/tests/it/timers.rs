//! The five timers over real loopback TCP on smol and async-std, against the raw
//! misbehaving peers of ferrosocket-testkit: the same scenarios test the tokio and
//! blocking engines.

use ferrosocket_futures::{Accept, Error, StreamConfig, WebSocketStream};
use ferrosocket_testkit::timers::{Act, Served};
use futures_io::{AsyncRead, AsyncWrite};

/// Handshake done (or failed), the server acts on the stream.
async fn act<S: AsyncRead + AsyncWrite + Unpin>(
    accepted: Result<WebSocketStream<S>, Error>,
    act: Act,
) -> Served {
    let mut served = Served::default();
    let mut ws = match accepted {
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

mod smol_rt {
    use super::*;

    fn serve(listener: std::net::TcpListener, config: StreamConfig, how: Act) -> Served {
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

    ferrosocket_testkit::timer_tests!(serve);
}

mod async_std_rt {
    use super::*;

    fn serve(listener: std::net::TcpListener, config: StreamConfig, how: Act) -> Served {
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

    ferrosocket_testkit::timer_tests!(serve);
}
