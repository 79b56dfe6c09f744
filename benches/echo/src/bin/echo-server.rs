//! Echo server for the end-to-end benchmark: one binary, one implementation per
//! run, each written the way its documentation shows (see `benches/echo/README.md`).
//!
//! `echo-server --impl ferrosocket|ferrosocket-feed|ferrosocket-lowmem|tungstenite|fastwebsockets
//! [--addr 127.0.0.1:0]` binds, prints the bound port on stdout and echoes every
//! data message of every connection until it is killed. All run on a tokio
//! current-thread runtime; every accepted socket gets `TCP_NODELAY`. Connection
//! errors (the load generator exits without a closing handshake) end only that
//! connection and are not printed.
#![forbid(unsafe_code)]

use std::io::{self, Write as _};
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The server implementations.
#[derive(Debug, Clone, Copy)]
enum Impl {
    /// `ferrosocket_tokio::accept` + `recv` / `send`.
    Ferrosocket,
    /// `ferrosocket_tokio::accept` + `recv` / `feed`, `flush` when no more input is
    /// buffered.
    FerrosocketFeed,
    /// [`Impl::Ferrosocket`] configured for many compressing connections: it asks
    /// for `server_no_context_takeover` and `client_no_context_takeover` and frees
    /// its compression contexts between messages.
    FerrosocketLowmem,
    /// `tokio_tungstenite::accept_async` + `StreamExt::next` / `SinkExt::send`.
    Tungstenite,
    /// Our handshake, then `fastwebsockets::WebSocket::after_handshake` wrapped in a
    /// `FragmentCollector`, `read_frame` / `write_frame` (their echo example).
    Fastwebsockets,
}

fn main() -> Result<(), BoxError> {
    let mut imp = None;
    let mut addr: SocketAddr = "127.0.0.1:0".parse()?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--impl" => {
                imp = Some(match args.next().as_deref() {
                    Some("ferrosocket") => Impl::Ferrosocket,
                    Some("ferrosocket-feed") => Impl::FerrosocketFeed,
                    Some("ferrosocket-lowmem") => Impl::FerrosocketLowmem,
                    Some("tungstenite") => Impl::Tungstenite,
                    Some("fastwebsockets") => Impl::Fastwebsockets,
                    other => return Err(format!("unknown --impl {other:?}").into()),
                });
            }
            "--addr" => addr = args.next().ok_or("--addr needs a value")?.parse()?,
            _ => {
                return Err(format!(
                    "unknown argument {arg:?}; usage: echo-server --impl \
                     ferrosocket|ferrosocket-feed|ferrosocket-lowmem|tungstenite|fastwebsockets \
                     [--addr ADDR]"
                )
                .into());
            }
        }
    }
    let imp = imp.ok_or("--impl is required")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(imp, addr))
}

async fn serve(imp: Impl, addr: SocketAddr) -> Result<(), BoxError> {
    let listener = TcpListener::bind(addr).await?;
    let port = listener.local_addr()?.port();
    {
        let mut out = io::stdout().lock();
        writeln!(out, "{port}")?;
        out.flush()?;
    }
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        // One spawn per implementation, so that each task is as large as its own
        // future (a single `match` inside the task would make every task as large
        // as the largest of the four, and distort the idle-memory figures).
        // Errors are expected: the load generator drops its sockets.
        match imp {
            Impl::Ferrosocket => tokio::spawn(async move { ferrosocket(socket).await.ok() }),
            Impl::FerrosocketFeed => {
                tokio::spawn(async move { ferrosocket_feed(socket).await.ok() })
            }
            Impl::FerrosocketLowmem => {
                tokio::spawn(async move { ferrosocket_lowmem(socket).await.ok() })
            }
            Impl::Tungstenite => tokio::spawn(async move { tungstenite(socket).await.ok() }),
            Impl::Fastwebsockets => tokio::spawn(async move { fastwebsockets(socket).await.ok() }),
        };
    }
}

/// What a user writes with ferrosocket.
async fn ferrosocket(socket: TcpStream) -> Result<(), BoxError> {
    let mut ws = ferrosocket_tokio::accept(socket).await?;
    while let Some(m) = ws.recv().await {
        let m = m?;
        if m.is_data() {
            ws.send(m).await?;
        }
    }
    Ok(())
}

/// [`ferrosocket`] with the low-memory compression settings
/// (`DeflateConfig::low_memory`: no context takeover either way, idle contexts
/// released).
async fn ferrosocket_lowmem(socket: TcpStream) -> Result<(), BoxError> {
    use ferrosocket_tokio::{DeflateConfig, StreamConfig};
    let config = StreamConfig::default().compression(Some(DeflateConfig::low_memory()));
    let mut ws = ferrosocket_tokio::accept_with_config(socket, config, async |_| {
        ferrosocket_tokio::Accept::new()
    })
    .await?;
    while let Some(m) = ws.recv().await {
        let m = m?;
        if m.is_data() {
            ws.send(m).await?;
        }
    }
    Ok(())
}

/// ferrosocket with batching: queue each echo, write when the input is drained.
async fn ferrosocket_feed(socket: TcpStream) -> Result<(), BoxError> {
    use futures_util::FutureExt as _;
    let mut ws = ferrosocket_tokio::accept(socket).await?;
    loop {
        let next = match ws.recv().now_or_never() {
            Some(next) => next,
            None => {
                ws.flush().await?;
                ws.recv().await
            }
        };
        let Some(m) = next else { break };
        let m = m?;
        if m.is_data() {
            ws.feed(m).await?;
        }
    }
    Ok(())
}

/// What a user writes with tokio-tungstenite.
async fn tungstenite(socket: TcpStream) -> Result<(), BoxError> {
    use futures_util::{SinkExt as _, StreamExt as _};
    let mut ws = tokio_tungstenite::accept_async(socket).await?;
    while let Some(m) = ws.next().await {
        let m = m?;
        if m.is_binary() || m.is_text() {
            ws.send(m).await?;
        }
    }
    Ok(())
}

/// fastwebsockets' echo example, with the upgrade answered by
/// `ferrosocket_tokio::proto::handshake` instead of hyper (lighter, and the same
/// bytes on the wire).
async fn fastwebsockets(mut socket: TcpStream) -> Result<(), BoxError> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    use ferrosocket_tokio::proto::handshake::{Accept, RequestParser, Status};

    let mut parser = RequestParser::new();
    let mut buf = [0u8; 4096];
    let request = loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        match parser.feed(&buf[..n]) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete { value, consumed }) => {
                if consumed != n {
                    return Err("data after the upgrade request, before the 101".into());
                }
                break value;
            }
            Err(e) => {
                socket.write_all(&e.to_response()).await?;
                return Ok(());
            }
        }
    };
    let mut response = Vec::new();
    request.write_accept(&Accept::new(), &mut response)?;
    socket.write_all(&response).await?;

    let ws = WebSocket::after_handshake(socket, Role::Server);
    // Their example wraps the connection task in `unconstrained`; so do we.
    tokio::task::unconstrained(async move {
        let mut ws = FragmentCollector::new(ws);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => break,
                OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                _ => {}
            }
        }
        Ok(())
    })
    .await
}
