//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept`.

use alloc::string::String;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest as _, Sha1};

use crate::HandshakeError;

/// The GUID appended to the key before hashing (RFC 6455 section 1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A client's `Sec-WebSocket-Key`: 16 bytes, sent base64-encoded.
///
/// RFC 6455 requires the bytes to be randomly selected for each connection;
/// [`Key::generate`] (feature `std`) draws them from the operating system.
/// Supplying them yourself with [`Key::from_bytes`] keeps tests deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 16]);

impl Key {
    /// A key made of the given bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw 16 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Decodes a `Sec-WebSocket-Key` header value (surrounding whitespace is
    /// ignored). Fails with [`HandshakeError::InvalidKey`] unless the value is
    /// canonical base64 of exactly 16 bytes.
    pub fn from_base64(value: &[u8]) -> Result<Self, HandshakeError> {
        let value = crate::headers::trim_ows(value);
        if value.len() != 24 {
            return Err(HandshakeError::InvalidKey);
        }
        let mut out = [0u8; 18];
        match STANDARD.decode_slice(value, &mut out) {
            Ok(16) => {
                let mut key = [0u8; 16];
                key.copy_from_slice(out.get(..16).unwrap_or(&[0; 16]));
                Ok(Self(key))
            }
            _ => Err(HandshakeError::InvalidKey),
        }
    }

    /// The header value: base64 of the 16 bytes (24 characters).
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The `Sec-WebSocket-Accept` value a server must answer this key with.
    #[must_use]
    pub fn accept(&self) -> String {
        accept_key(self.to_base64().as_bytes())
    }

    /// A fresh key from the operating system's CSPRNG (via `getrandom`).
    #[cfg(feature = "std")]
    pub fn generate() -> Result<Self, HandshakeError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| HandshakeError::RandomUnavailable)?;
        Ok(Self(bytes))
    }
}

/// A fresh random key; shorthand for [`Key::generate`].
#[cfg(feature = "std")]
pub fn generate_key() -> Result<Key, HandshakeError> {
    Key::generate()
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` header value
/// (as sent, base64 text): base64(SHA-1(key + GUID)), RFC 6455 section 4.2.2.
///
/// ```
/// assert_eq!(
///     ferrosocket_handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
/// );
/// ```
#[must_use]
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(crate::headers::trim_ows(key));
    sha.update(WEBSOCKET_GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let key = Key::from_base64(b"dGhlIHNhbXBsZSBub25jZQ==").unwrap();
        assert_eq!(key.as_bytes(), b"the sample nonce");
        assert_eq!(key.to_base64(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(key.accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn invalid_keys() {
        for bad in [
            &b""[..],
            b"dGhlIHNhbXBsZSBub25jZQ",     // unpadded
            b"dGhlIHNhbXBsZSBub25jZQ=",    // bad padding
            b"dGhlIHNhbXBsZSBub25jZR==",   // non-canonical trailing bits
            b"dGhlIHNhbXBsZSBub25jZXM=",   // 17 bytes
            b"dGhlIHNhbXBsZSBub25j",       // 15 bytes
            b"dGhlIHNhbXBsZSBub25jZQ==AA", // too long
            b"dGhlIHNhbXBsZSBub25j!Q==",   // bad alphabet
        ] {
            assert_eq!(
                Key::from_base64(bad),
                Err(HandshakeError::InvalidKey),
                "{bad:?}"
            );
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn generated_keys_differ() {
        let a = generate_key().unwrap();
        let b = Key::generate().unwrap();
        assert_ne!(a, b);
        assert!(Key::from_base64(a.to_base64().as_bytes()).is_ok());
    }
}
