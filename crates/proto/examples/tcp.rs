//! A WebSocket echo server and a client over `std::net::TcpStream`, both driven by
//! `WsConnection`: opening handshake, a few messages echoed, close handshake.
//!
//! Run with `cargo run -p ferrosocket-proto --example tcp`.

use std::error::Error;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use ferrosocket_proto::handshake::{Accept, ClientRequest, Key};
use ferrosocket_proto::{CloseCode, Config, Event, State, WsConnection};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Reads what the socket has into the connection, then writes what it wants sent.
fn pump(ws: &mut WsConnection, stream: &mut TcpStream) -> Result<()> {
    let mut buf = [0u8; 16 * 1024];
    match stream.read(&mut buf)? {
        0 => ws.receive_eof(),
        n => ws.receive_data(&buf[..n]),
    }
    Ok(())
}

fn flush(ws: &mut WsConnection, stream: &mut TcpStream) -> Result<()> {
    stream.write_all(&ws.take_output())?;
    Ok(())
}

fn server(listener: TcpListener) -> Result<()> {
    let (mut stream, _) = listener.accept()?;
    let mut ws = WsConnection::server(Config::default());
    while ws.state() != State::Closed {
        pump(&mut ws, &mut stream)?;
        while let Some(event) = ws.next_event() {
            match event? {
                Event::Request(request) => {
                    println!("server: request for {}", request.path());
                    ws.accept(&Accept::new())?;
                }
                Event::Text { data, .. } => ws.send_text(data.as_str())?,
                Event::Binary { data, .. } => ws.send_binary(&data)?,
                Event::Close { code, reason, .. } => println!("server: close {code} {reason:?}"),
                _ => {}
            }
        }
        flush(&mut ws, &mut stream)?;
    }
    // The server closes the TCP connection first (RFC 6455 section 7.1.1).
    Ok(())
}

fn client(addr: std::net::SocketAddr) -> Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    let request = ClientRequest::new(addr.to_string(), "/echo", Key::generate()?);
    let mut ws = WsConnection::client(&request, Config::default())?;
    flush(&mut ws, &mut stream)?;
    let messages = ["hello", "κόσμε", "bye for now"];
    let mut echoed = 0;
    while ws.state() != State::Closed {
        pump(&mut ws, &mut stream)?;
        while let Some(event) = ws.next_event() {
            match event? {
                Event::Accept(_) => {
                    for m in messages {
                        ws.send_text(m)?;
                    }
                    ws.send_binary(&[0xde, 0xad, 0xbe, 0xef])?;
                }
                Event::Text { data, .. } => {
                    println!("client: echo {data}");
                    assert_eq!(data, messages[echoed]);
                    echoed += 1;
                }
                Event::Binary { data, .. } => {
                    println!("client: echo {:02x?}", &data[..]);
                    ws.close(CloseCode::NORMAL, "done")?;
                }
                Event::Close { code, .. } => println!("client: closed with {code}"),
                other => return Err(format!("unexpected {other:?}").into()),
            }
        }
        flush(&mut ws, &mut stream)?;
    }
    assert_eq!(echoed, messages.len());
    // Wait for the server to close the TCP connection.
    while stream.read(&mut [0u8; 64])? != 0 {}
    Ok(())
}

fn main() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || server(listener));
    client(addr)?;
    server.join().map_err(|_| "server thread panicked")??;
    println!("done");
    Ok(())
}
