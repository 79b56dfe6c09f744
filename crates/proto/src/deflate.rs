//! permessage-deflate (RFC 7692) on the [`Extension`] hook: the glue between
//! `ferrosocket-deflate` (negotiation and codec, which knows nothing of frames or
//! headers) and a [`Connection`](crate::Connection).
//!
//! The engine (`ferrosocket-io`) negotiates it by itself from its
//! `StreamConfig::compression`. Drivers of a [`WsConnection`](crate::WsConnection)
//! use the three functions here:
//!
//! ```
//! use ferrosocket_proto::deflate::{self, DeflateConfig};
//! use ferrosocket_proto::handshake::{Accept, ClientRequest, Key, RequestParser, Status};
//!
//! let config = DeflateConfig::default();
//! // Client: offer it.
//! let request = ClientRequest::new("example.com", "/", Key::from_bytes([7; 16]))
//!     .extension(deflate::client_offer(&config));
//! let mut head = Vec::new();
//! request.write_to(&mut head)?;
//!
//! // Server: accept the first offer it can honour, install what was agreed.
//! let Status::Complete { value: parsed, .. } = RequestParser::new().feed(&head)? else {
//!     unreachable!()
//! };
//! let (answer, extension) = deflate::server_negotiate(&config, parsed.extensions())
//!     .expect("offer accepted");
//! let accept = Accept::new().extension(answer.clone());
//! # let _ = (accept, extension);
//!
//! // Client: check the answer the server agreed to.
//! let client_side = deflate::client_confirm(&config, &[answer])?;
//! assert!(client_side.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use bytes::BytesMut;
use ferrosocket_codec::{CloseCode, OpCode};
pub use ferrosocket_deflate::{
    Agreed, ConfigError, DeflateConfig, DeflateError, NegotiationError, PerMessageDeflate,
    is_permessage_deflate,
};
use ferrosocket_deflate::{Role as DeflateRole, borrow_params};
use ferrosocket_handshake::ExtensionOffer;

use crate::Role;
use crate::extension::{Extension, ExtensionError, Rsv};

/// permessage-deflate as a connection's [`Extension`]: RSV1 marks a compressed
/// message; control frames are never compressed (the hook never sees them).
#[derive(Debug)]
pub struct Deflate {
    codec: PerMessageDeflate,
}

impl Deflate {
    /// The extension for the end playing `role` of a connection that agreed on
    /// `agreed`, compressing with `config`'s level and threshold.
    #[must_use]
    pub fn new(agreed: Agreed, role: Role, config: &DeflateConfig) -> Self {
        let role = match role {
            Role::Client => DeflateRole::Client,
            Role::Server => DeflateRole::Server,
        };
        Self {
            codec: agreed.into_codec(role, config),
        }
    }

    /// The parameters in force.
    #[must_use]
    pub fn agreed(&self) -> Agreed {
        *self.codec.agreed()
    }
}

fn extension_error(e: DeflateError) -> ExtensionError {
    let message = match e {
        DeflateError::TooBig => "decompressed message too big",
        DeflateError::Corrupt => "invalid permessage-deflate data",
        _ => "permessage-deflate compression failed",
    };
    ExtensionError::new(CloseCode::from(e.close_code()), message)
}

impl Extension for Deflate {
    fn rsv(&self) -> Rsv {
        Rsv::RSV1
    }

    fn encode(
        &mut self,
        _opcode: OpCode,
        input: &[u8],
        message_finished: bool,
        out: &mut BytesMut,
    ) -> Result<Rsv, ExtensionError> {
        let compressed = self
            .codec
            .compress(input, message_finished, out)
            .map_err(extension_error)?;
        Ok(if compressed { Rsv::RSV1 } else { Rsv::NONE })
    }

    fn decode(
        &mut self,
        _rsv: Rsv,
        input: &[u8],
        message_finished: bool,
        out: &mut BytesMut,
        max_len: usize,
    ) -> Result<(), ExtensionError> {
        self.codec
            .decompress(input, message_finished, out, max_len)
            .map_err(extension_error)
    }

    fn release_idle(&mut self) {
        self.codec.release_idle_contexts();
    }
}

/// The extension's name on the wire.
pub const NAME: &str = "permessage-deflate";

/// Client: the `permessage-deflate` element to offer for `config`.
#[must_use]
pub fn client_offer(config: &DeflateConfig) -> ExtensionOffer {
    ExtensionOffer {
        name: NAME.into(),
        params: config.client_offer(),
    }
}

/// Server: goes through the client's offers (all of `Sec-WebSocket-Extensions`, in
/// order; other extensions are skipped) and accepts the first `permessage-deflate`
/// offer `config` can honour: the element to put in the answer and the extension to
/// install. `None`: declined (malformed or unacceptable offers, or none at all);
/// answer without it.
#[must_use]
pub fn server_negotiate(
    config: &DeflateConfig,
    offers: &[ExtensionOffer],
) -> Option<(ExtensionOffer, Deflate)> {
    let borrowed: Vec<Vec<(&str, Option<&str>)>> = offers
        .iter()
        .filter(|o| is_permessage_deflate(&o.name))
        .map(|o| borrow_params(&o.params))
        .collect();
    let (agreed, params) = config.server_accept(borrowed.iter().map(Vec::as_slice))?;
    let answer = ExtensionOffer {
        name: NAME.into(),
        params,
    };
    Some((answer, Deflate::new(agreed, Role::Server, config)))
}

/// Client: checks the extensions the server agreed to (after an offer from
/// [`client_offer`]): the extension to install, or `None` if the server did not
/// agree to `permessage-deflate`.
///
/// # Errors
///
/// The answer is one the client must fail the connection for (RFC 7692 section 7.1:
/// an unknown or repeated parameter, a bad value, a window larger than offered, the
/// extension twice, or another extension we never offered); see
/// [`NegotiationError::close_code`].
pub fn client_confirm(
    config: &DeflateConfig,
    agreed: &[ExtensionOffer],
) -> Result<Option<Deflate>, ConfirmError> {
    let mut found = None;
    for e in agreed {
        if !is_permessage_deflate(&e.name) {
            return Err(ConfirmError::NotOffered(e.name.clone()));
        }
        if found.is_some() {
            return Err(ConfirmError::Repeated);
        }
        let params = config
            .client_accept(&borrow_params(&e.params))
            .map_err(ConfirmError::Answer)?;
        found = Some(Deflate::new(params, Role::Client, config));
    }
    Ok(found)
}

/// Why a client refuses the server's `Sec-WebSocket-Extensions` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfirmError {
    /// The answer's `permessage-deflate` parameters are not acceptable.
    Answer(NegotiationError),
    /// `permessage-deflate` was agreed more than once.
    Repeated,
    /// The server agreed to an extension we did not offer.
    NotOffered(String),
}

impl ConfirmError {
    /// The close code for failing the connection (1010: the server did not agree
    /// to the extension as we offered it).
    #[must_use]
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::Answer(e) => CloseCode::from(e.close_code()),
            _ => CloseCode::MANDATORY_EXTENSION,
        }
    }
}

impl core::fmt::Display for ConfirmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Answer(e) => write!(f, "refused permessage-deflate answer: {e}"),
            Self::Repeated => f.write_str("permessage-deflate agreed more than once"),
            Self::NotOffered(name) => write!(f, "the server agreed to {name:?}, never offered"),
        }
    }
}

impl core::error::Error for ConfirmError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Connection, Event, SeededRandom};

    fn pair(config: &DeflateConfig) -> (Connection, Connection) {
        let (answer, server_ext) =
            server_negotiate(config, &[client_offer(config)]).expect("accepted");
        let client_ext = client_confirm(config, &[answer]).unwrap().unwrap();
        let client = Connection::with_random(Role::Client, Config::default(), SeededRandom::new(1))
            .with_extension(client_ext);
        let server = Connection::with_random(Role::Server, Config::default(), SeededRandom::new(2))
            .with_extension(server_ext);
        (client, server)
    }

    #[test]
    fn messages_round_trip_compressed_with_rsv1() {
        let (mut client, mut server) = pair(&DeflateConfig::default());
        let text = "hello hello hello hello hello hello hello hello";
        client.send_text(text).unwrap();
        let wire = client.take_output();
        assert_eq!(wire[0], 0x80 | 0x40 | 0x01, "FIN, RSV1, text");
        assert!(wire.len() < text.len());
        server.receive_data(&wire);
        match server.next_event() {
            Some(Ok(Event::Text { data, .. })) => assert_eq!(data.as_str(), text),
            other => panic!("{other:?}"),
        }
        // Short messages stay uncompressed (threshold), and still arrive.
        server.send_binary(b"tiny").unwrap();
        let wire = server.take_output();
        assert_eq!(wire[0], 0x82, "FIN, no RSV1, binary");
        client.receive_data(&wire);
        assert!(
            matches!(client.next_event(), Some(Ok(Event::Binary { data, .. })) if &data[..] == b"tiny")
        );
        // Pings are never compressed.
        client
            .ping(b"ping ping ping ping ping ping ping ping ping ping")
            .unwrap();
        let wire = client.take_output();
        assert_eq!(wire[0], 0x89);
    }

    /// With `release_idle_contexts`, `Connection::release_idle_memory` frees the
    /// zlib state of the directions without context takeover between messages, and
    /// the next message still round-trips.
    #[test]
    fn idle_memory_is_released_through_the_connection() {
        let config = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .release_idle_contexts(true);
        let (mut client, mut server) = pair(&config);
        let allocated = |c: &Connection| {
            let dbg = alloc::format!("{c:?}");
            (
                dbg.contains(" compressor_allocated: true"),
                dbg.contains("decompressor_allocated: true"),
            )
        };
        let text = "compress me, compress me, compress me, compress me, compress me";
        for _ in 0..3 {
            server.send_text(text).unwrap();
            client.receive_data(&server.take_output());
            assert!(
                matches!(client.next_event(), Some(Ok(Event::Text { data, .. })) if data.as_str() == text)
            );
            assert_eq!(allocated(&server), (true, false));
            assert_eq!(allocated(&client), (false, true));
            server.release_idle_memory();
            client.release_idle_memory();
            assert_eq!(allocated(&server), (false, false));
            assert_eq!(allocated(&client), (false, false));
        }
        // Without the setting the contexts stay.
        let (mut client, mut server) = pair(&config.clone().release_idle_contexts(false));
        server.send_text(text).unwrap();
        client.receive_data(&server.take_output());
        assert!(client.next_event().is_some());
        server.release_idle_memory();
        assert_eq!(allocated(&server), (true, false));
    }

    #[test]
    fn a_bomb_closes_with_1009() {
        let (mut client, _) = pair(&DeflateConfig::default());
        let small = Config::default().max_message_size(1 << 16);
        let config = DeflateConfig::default();
        let (_, server_ext) = server_negotiate(&config, &[client_offer(&config)]).unwrap();
        let mut server = Connection::with_random(Role::Server, small, SeededRandom::new(2))
            .with_extension(server_ext);
        client.send_binary(&alloc::vec![0u8; 1 << 20]).unwrap();
        let wire = client.take_output();
        assert!(
            wire.len() < 64 * 1024,
            "1 MiB of zeros: {} bytes",
            wire.len()
        );
        server.receive_data(&wire);
        match server.next_event() {
            Some(Err(e)) => assert_eq!(e.close_code(), Some(CloseCode::MESSAGE_TOO_BIG)),
            other => panic!("{other:?}"),
        }
        assert_eq!(&server.output()[..4], b"\x88\x02\x03\xf1");
    }

    #[test]
    fn corrupt_data_closes_with_1007() {
        let (_, mut server) = pair(&DeflateConfig::default());
        // FIN + RSV1 + binary, masked with a zero key, carrying garbage (block type
        // 3 is invalid deflate).
        server.receive_data(b"\xc2\x83\0\0\0\0\xff\xff\xff");
        match server.next_event() {
            Some(Err(e)) => assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn client_refuses_bad_answers() {
        let config = DeflateConfig::default();
        let bad = ExtensionOffer::new(NAME).with_param_value("server_max_window_bits", "16");
        let e = client_confirm(&config, &[bad]).map(|_| ()).unwrap_err();
        assert_eq!(e.close_code(), CloseCode::MANDATORY_EXTENSION);
        let twice = [ExtensionOffer::new(NAME), ExtensionOffer::new(NAME)];
        assert_eq!(
            client_confirm(&config, &twice).map(|_| ()),
            Err(ConfirmError::Repeated)
        );
        let other = [ExtensionOffer::new("x-other")];
        assert!(matches!(
            client_confirm(&config, &other),
            Err(ConfirmError::NotOffered(_))
        ));
        assert!(client_confirm(&config, &[]).unwrap().is_none());
    }

    #[test]
    fn server_declines_and_takes_the_next_offer() {
        let config = DeflateConfig::default();
        let offers = [
            ExtensionOffer::new("x-webkit-deflate-frame"),
            ExtensionOffer::new(NAME).with_param_value("server_max_window_bits", "8"),
            ExtensionOffer::new(NAME).with_param("unknown"),
            ExtensionOffer::new(NAME).with_param("server_no_context_takeover"),
        ];
        let (answer, ext) = server_negotiate(&config, &offers).unwrap();
        assert_eq!(
            alloc::format!("{answer}"),
            "permessage-deflate; server_no_context_takeover"
        );
        assert!(ext.agreed().server_no_context_takeover);
        assert!(server_negotiate(&config, &offers[..3]).is_none());
    }
}
