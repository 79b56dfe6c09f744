//! The client side of the handler API on tokio: [`connect`], [`connect_with`].

use tokio::task::JoinHandle;

use crate::Error;
use crate::tokio::ClientOptions;

use super::{Context, Handler, Manager};

/// Connects to a `ws://` URL and runs `handler` on the connection in a new task
/// (events as on a server, without [`on_handshake`](Handler::on_handshake);
/// [`on_connect`](Handler::on_connect) gets no captures). The task's
/// [`JoinHandle`] gives the handler back once [`on_close`](Handler::on_close)
/// has run. The connection belongs to a new [`Manager`] of its own; see
/// [`connect_with`] to share one.
///
/// # Errors
///
/// Those of [`ferrosocket::tokio::connect`](crate::tokio::connect): the handler
/// never runs.
pub async fn connect<H: Handler>(url: &str, handler: H) -> Result<JoinHandle<H>, Error> {
    connect_with(url, ClientOptions::default(), &Manager::new(), handler).await
}

/// [`connect`] with options (headers, subprotocols, settings) and the manager
/// the connection joins (e.g. to broadcast to many client connections).
///
/// # Errors
///
/// As [`connect`].
pub async fn connect_with<H: Handler>(
    url: &str,
    options: ClientOptions,
    manager: &Manager,
    mut handler: H,
) -> Result<JoinHandle<H>, Error> {
    let (ws, response) = crate::tokio::connect_with(url, options).await?;
    let path = crate::proto::stream::parse_url(url)
        .map(|u| u.target().split('?').next().unwrap_or("/").to_owned())
        .unwrap_or_default();
    let registration = manager.register();
    let mut ctx = Context::new(registration.id, manager.clone(), path);
    ctx.response_headers = Some(response.headers);
    ctx.local_addr = ws.get_ref().local_addr().ok();
    ctx.remote_addr = ws.get_ref().peer_addr().ok();
    Ok(tokio::spawn(async move {
        super::driver::run(ws, &mut handler, ctx, registration, None).await;
        handler
    }))
}
