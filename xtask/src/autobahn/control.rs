//! Just enough of a WebSocket client to call the control endpoints of
//! `wstest -m fuzzingserver` (`/getCaseCount`, `/updateReports?agent=...`):
//! one opening handshake, then read frames until the server closes.
//!
//! The client testee asks for the report itself at the end, but wstest
//! records a case only once it has seen that case's connection go away; a
//! client that moves on quickly can request the report before the last case
//! is recorded (seen with case 7.1.6 as the last case). So the xtask asks
//! again until every case is in the report.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::Result;

/// Opens `ws://host:port{path}` and returns the first text message the
/// server sends before it closes the connection.
pub(crate) fn request(host: &str, port: u16, path: &str) -> Result<Option<String>> {
    let err = |e: std::io::Error| format!("ws://{host}:{port}{path}: {e}");
    let mut stream = TcpStream::connect((host, port)).map_err(err)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(err)?;
    // Any 16 bytes, base64; wstest checks only that the key is present.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(err)?;

    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).map_err(err)?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Err(format!(
                "ws://{host}:{port}{path}: no HTTP response to the handshake"
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let status = String::from_utf8_lossy(&buf[..head_end]);
    if !status.starts_with("HTTP/1.1 101") {
        let line = status.lines().next().unwrap_or("");
        return Err(format!(
            "ws://{host}:{port}{path}: handshake refused: {line}"
        ));
    }
    buf.drain(..head_end);

    let mut text = None;
    loop {
        match parse_frame(&buf) {
            Some((opcode, payload, used)) => {
                match opcode {
                    0x1 if text.is_none() => {
                        text = Some(String::from_utf8_lossy(&payload).into_owned());
                    }
                    0x8 => {
                        // Masked empty close frame back; then we are done.
                        let _ = stream.write_all(&[0x88, 0x80, 0, 0, 0, 0]);
                        return Ok(text);
                    }
                    _ => {}
                }
                buf.drain(..used);
            }
            None => {
                let n = stream.read(&mut chunk).map_err(err)?;
                if n == 0 {
                    return Ok(text);
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// `(opcode, unmasked payload, bytes used)` of the first whole frame in `buf`.
fn parse_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask: Option<[u8; 4]> = if b1 & 0x80 != 0 {
        let m = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(m)
    } else {
        None
    };
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let mut payload = buf.get(at..end)?.to_vec();
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Some((b0 & 0x0f, payload, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frames() {
        assert_eq!(
            parse_frame(&[0x81, 3, b'5', b'1', b'7', 0x88]),
            Some((1, b"517".to_vec(), 5))
        );
        assert_eq!(parse_frame(&[0x81, 3, b'5']), None);
        assert_eq!(parse_frame(&[0x88]), None);
        let mut long = vec![0x82, 126, 0x01, 0x00];
        long.extend(std::iter::repeat_n(7, 256));
        assert_eq!(
            parse_frame(&long).map(|f| (f.0, f.1.len(), f.2)),
            Some((2, 256, 260))
        );
        // masked "Hi"
        assert_eq!(
            parse_frame(&[0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2]),
            Some((1, b"Hi".to_vec(), 8))
        );
    }
}
