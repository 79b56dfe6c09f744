//! The RFC 6455 WebSocket wire format, section 5, and nothing else.
//!
//! This crate parses and encodes frame headers, masks payloads with SIMD, splits whole
//! frames out of a [`bytes::BytesMut`] without copying (or decodes them in place in any
//! `&mut [u8]`, lending the payload: [`FrameDecoder::decode_in_place`]), and knows the
//! close codes of section 7.4. It does no I/O, holds no connection state, knows nothing of the
//! opening handshake or of extensions (RSV bits are reported, not judged), and pulls
//! in no runtime: it builds as `no_std` + `alloc` with `default-features = false`.
//!
//! In the ferrosocket workspace it is the bottom layer: `ferrosocket-proto` builds the
//! connection state machine on it, and the runtime adapters sit on that.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use ferrosocket_codec::{CloseCode, CloseFrame, FrameDecoder, FrameHeader, OpCode, encode_frame};
//!
//! // A client masks every frame it sends.
//! let mut wire = BytesMut::new();
//! let masked = |opcode| FrameHeader { mask: Some([0xa1, 0xb2, 0xc3, 0xd4]), ..FrameHeader::new(opcode, 0) };
//! encode_frame(masked(OpCode::Text), "héllo".as_bytes(), &mut wire);
//! let mut close = BytesMut::new();
//! CloseFrame::new(CloseCode::NORMAL, "done").unwrap().write_payload(&mut close);
//! encode_frame(masked(OpCode::Close), &close, &mut wire);
//!
//! // A server decodes them, with a 1 MiB limit on any frame's payload.
//! let mut decoder = FrameDecoder::with_max_payload_len(1 << 20);
//! let text = decoder.decode(&mut wire).unwrap().unwrap();
//! assert_eq!(text.header.opcode, OpCode::Text);
//! assert_eq!(&text.payload[..], "héllo".as_bytes());
//! let close = decoder.decode(&mut wire).unwrap().unwrap();
//! let close = CloseFrame::parse(&close.payload).unwrap().unwrap();
//! assert_eq!((close.code(), close.reason()), (CloseCode::NORMAL, "done"));
//! ```
//!
//! # Features
//!
//! - `std` (default): runtime CPU detection for masking (AVX2 on x86_64). Without it,
//!   masking uses the kernels the compile-time target features allow.
//!
//! # Safety
//!
//! `unsafe` appears only in the SIMD kernels under `mask`, each block with a `SAFETY`
//! comment, behind safe functions with a scalar twin they are tested against.
#![no_std]
#![doc(test(attr(deny(warnings))))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod close;
mod error;
mod frame;
mod header;
pub mod mask;
mod opcode;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON_LEN};
pub use error::FrameError;
pub use frame::{DEFAULT_MAX_PAYLOAD_LEN, Frame, FrameDecoder, FrameRef, encode_frame};
pub use header::{
    EncodedHeader, FrameHeader, HeaderStatus, MAX_CONTROL_PAYLOAD_LEN, MAX_HEADER_LEN,
};
pub use mask::apply_mask;
pub use opcode::OpCode;

pub use bytes;
