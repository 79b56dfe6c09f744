//! A WebSocket conversation at the frame level: a client's masked frames and a
//! server's answers, encoded, decoded, and printed as hex.
//!
//! `cargo run -p ferrosocket-codec --example frames`

use bytes::BytesMut;
use ferrosocket_codec::{
    CloseCode, CloseFrame, FrameDecoder, FrameHeader, OpCode, encode_frame, mask::simd_backend,
};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    println!("masking kernel on this CPU: {}", simd_backend());
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let masked = |opcode, fin| FrameHeader {
        fin,
        mask: Some(key),
        ..FrameHeader::new(opcode, 0)
    };

    // Client -> server: a text message in two fragments with a ping between them,
    // then a close. Clients mask every frame.
    let mut to_server = BytesMut::new();
    encode_frame(
        masked(OpCode::Text, false),
        "Hel".as_bytes(),
        &mut to_server,
    );
    encode_frame(masked(OpCode::Ping, true), b"rtt", &mut to_server);
    encode_frame(
        masked(OpCode::Continuation, true),
        "lo, κόσμε".as_bytes(),
        &mut to_server,
    );
    let mut close = BytesMut::new();
    CloseFrame::new(CloseCode::NORMAL, "bye")
        .expect("valid close")
        .write_payload(&mut close);
    encode_frame(masked(OpCode::Close, true), &close, &mut to_server);
    println!("client sends {} bytes", to_server.len());

    // Server: decode frame by frame, answer the ping and the close (unmasked).
    let mut decoder = FrameDecoder::with_max_payload_len(1 << 20);
    let mut to_client = BytesMut::new();
    let mut message = Vec::new();
    while let Some(frame) = decoder.decode(&mut to_server).expect("well-formed frames") {
        let h = frame.header;
        println!(
            "  {:<12} fin={} masked={} payload={:?}",
            h.opcode.to_string(),
            h.fin,
            h.mask.is_some(),
            String::from_utf8_lossy(&frame.payload)
        );
        match h.opcode {
            OpCode::Text | OpCode::Continuation => {
                message.extend_from_slice(&frame.payload);
                if h.fin {
                    println!(
                        "  -> message: {:?}",
                        String::from_utf8(message.clone()).expect("utf-8")
                    );
                }
            }
            OpCode::Ping => encode_frame(
                FrameHeader::new(OpCode::Pong, 0),
                &frame.payload,
                &mut to_client,
            ),
            OpCode::Close => {
                let close = CloseFrame::parse(&frame.payload)
                    .expect("valid close")
                    .expect("a code");
                println!("  -> close {} {:?}", close.code(), close.reason());
                let mut echo = BytesMut::new();
                CloseFrame::new(close.code(), "")
                    .expect("echo")
                    .write_payload(&mut echo);
                encode_frame(FrameHeader::new(OpCode::Close, 0), &echo, &mut to_client);
            }
            _ => {}
        }
    }
    println!("server answers: {}", hex(&to_client));
}
