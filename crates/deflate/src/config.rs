//! What an endpoint wants from permessage-deflate, for either role.

use core::fmt;

/// The smallest LZ77 window (base-2 logarithm) our own compressor can use.
///
/// RFC 7692 allows 8, but zlib (and zlib-rs) cannot produce a raw deflate stream
/// with a 256-byte window: asked for 8 they either refuse or silently use 9, which
/// would break the agreement. See the crate documentation for what happens when a
/// peer insists on 8.
pub const MIN_WINDOW_BITS: u8 = 9;

/// The largest LZ77 window (base-2 logarithm): 32 KiB, the deflate maximum and what
/// an absent `*_max_window_bits` parameter means.
pub const MAX_WINDOW_BITS: u8 = 15;

/// Default compression level: 1, the fastest real compression.
///
/// In zlib-rs level 1 is a quick matcher with the fixed Huffman codes. Measured on
/// JSON-like text: about 1.2 GB/s per core on 1 KiB messages and 0.7 GB/s on 64 KiB
/// ones, against 0.3 GB/s and under 0.1 GB/s for level 6. The price is ratio on
/// large messages (64 KiB of JSON shrinks to 25% instead of 15%); on small messages
/// sent with context takeover, the common WebSocket case, the ratio is the same as
/// level 6's (repeats of earlier messages dominate). Raise it with
/// [`DeflateConfig::level`] when bandwidth costs more than CPU.
pub const DEFAULT_LEVEL: u32 = 1;

/// Default threshold: messages shorter than 32 bytes are sent uncompressed.
///
/// Below that size deflate's fixed cost (at least one byte of block header, plus
/// Huffman codes that rarely pay for themselves) usually makes the message longer,
/// and the CPU is wasted either way.
pub const DEFAULT_THRESHOLD: usize = 32;

/// A setting was out of range; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A window size outside [`MIN_WINDOW_BITS`]`..=`[`MAX_WINDOW_BITS`].
    WindowBits(u8),
    /// A compression level above 9.
    Level(u32),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WindowBits(bits) => write!(
                f,
                "window bits {bits} outside {MIN_WINDOW_BITS}..={MAX_WINDOW_BITS} \
                 (8 is valid in RFC 7692 but no zlib can compress with it)"
            ),
            Self::Level(level) => write!(f, "compression level {level} outside 0..=9"),
        }
    }
}

impl std::error::Error for ConfigError {}

const fn window(bits: u8) -> Result<u8, ConfigError> {
    if bits >= MIN_WINDOW_BITS && bits <= MAX_WINDOW_BITS {
        Ok(bits)
    } else {
        Err(ConfigError::WindowBits(bits))
    }
}

/// What this endpoint asks for and accepts in permessage-deflate negotiation, and how
/// it compresses once agreed. One value serves both roles; each setting documents
/// what it means for a client and for a server.
///
/// Every setting is valid by construction: setters that take a number check it and
/// return a [`ConfigError`] instead of clamping.
///
/// ```
/// use ferrosocket_deflate::DeflateConfig;
///
/// let config = DeflateConfig::new()
///     .level(6)?
///     .threshold(64)
///     .client_max_window_bits(12)?
///     .server_no_context_takeover(true);
/// assert_eq!(config.get_level(), 6);
/// assert!(DeflateConfig::new().server_max_window_bits(8).is_err());
/// # Ok::<(), ferrosocket_deflate::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    pub(crate) level: u32,
    pub(crate) threshold: usize,
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: u8,
    pub(crate) client_max_window_bits: u8,
    pub(crate) min_window_bits: u8,
    pub(crate) release_idle: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl DeflateConfig {
    /// The defaults: level [`DEFAULT_LEVEL`], threshold [`DEFAULT_THRESHOLD`],
    /// context takeover both ways, 15-bit windows both ways, no extra demands, idle
    /// contexts released (which matters only for a direction that ends up without
    /// context takeover). See [`low_memory`](Self::low_memory) for a server with
    /// many connections.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            level: DEFAULT_LEVEL,
            threshold: DEFAULT_THRESHOLD,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
            min_window_bits: MIN_WINDOW_BITS,
            release_idle: true,
        }
    }

    /// The settings for a server with many connections: no context takeover in
    /// either direction (asked of the client too) and idle contexts released, so
    /// an idle connection holds no zlib state at all (about 7 KiB per connection
    /// against about 340 KiB with context takeover, measured with browser-like
    /// clients). The price is compression ratio: every message is compressed on
    /// its own. Speed is about the same: measured 0.94-1.29x the default's
    /// messages per second, since released contexts are reused by the next
    /// message of any connection.
    #[must_use]
    pub const fn low_memory() -> Self {
        Self::new()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .release_idle_contexts(true)
    }

    /// The deflate compression level, 0 (stored blocks only) to 9 (best).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Level`] above 9.
    pub const fn level(mut self, level: u32) -> Result<Self, ConfigError> {
        if level > 9 {
            return Err(ConfigError::Level(level));
        }
        self.level = level;
        Ok(self)
    }

    /// Messages whose length is known to be below `bytes` are sent uncompressed
    /// (RSV1 clear). 0 compresses everything, even empty messages.
    #[must_use]
    pub const fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// `server_no_context_takeover`.
    ///
    /// * Client: offer it, i.e. require the server to reset its compressor after
    ///   every message (the client's decompressor then never needs the previous
    ///   message's window). A server answer must then include it.
    /// * Server: always answer with it, i.e. reset our own compressor after every
    ///   message even when the client did not ask. When the client asks, the server
    ///   includes it regardless of this setting (RFC 7692 7.1.1.1).
    #[must_use]
    pub const fn server_no_context_takeover(mut self, yes: bool) -> Self {
        self.server_no_context_takeover = yes;
        self
    }

    /// `client_no_context_takeover`.
    ///
    /// * Client: offer it, a promise that our compressor resets after every message
    ///   whatever the server answers.
    /// * Server: always answer with it, forbidding the client's compressor to keep
    ///   context, so our decompressor starts afresh for every message. When the client
    ///   offers it, the server echoes it regardless of this setting, so that both sides
    ///   agree explicitly.
    #[must_use]
    pub const fn client_no_context_takeover(mut self, yes: bool) -> Self {
        self.client_no_context_takeover = yes;
        self
    }

    /// `server_max_window_bits`, 9 to 15 (default 15).
    ///
    /// * Client: below 15, offer `server_max_window_bits=N`: the server must not
    ///   compress with a larger window (this saves the server memory, not us: our
    ///   decompressor always has a 32 KiB window, see [`PerMessageDeflate`](crate::PerMessageDeflate)).
    ///   A server answer above N fails the connection.
    /// * Server: the largest window our compressor uses; below 15 it is announced in
    ///   the answer even when the client did not ask. A client asking for less gets
    ///   less (down to [`min_window_bits`](Self::min_window_bits)).
    ///
    /// # Errors
    ///
    /// [`ConfigError::WindowBits`] outside 9..=15.
    pub const fn server_max_window_bits(mut self, bits: u8) -> Result<Self, ConfigError> {
        match window(bits) {
            Ok(bits) => {
                self.server_max_window_bits = bits;
                Ok(self)
            }
            Err(e) => Err(e),
        }
    }

    /// `client_max_window_bits`, 9 to 15 (default 15).
    ///
    /// * Client: the largest window our compressor uses. The offer always carries
    ///   `client_max_window_bits` so that the server may shrink it: without a value at
    ///   15, with `=N` (a promise to use at most N) below.
    /// * Server: the window we ask the client to compress with, when its offer lets
    ///   us (it includes `client_max_window_bits`, as RFC 7692 7.1.2.2 requires).
    ///   This spares the client memory; ours does not depend on it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::WindowBits`] outside 9..=15.
    pub const fn client_max_window_bits(mut self, bits: u8) -> Result<Self, ConfigError> {
        match window(bits) {
            Ok(bits) => {
                self.client_max_window_bits = bits;
                Ok(self)
            }
            Err(e) => Err(e),
        }
    }

    /// Server: the smallest window a client may impose on our compressor with
    /// `server_max_window_bits`, 9 to 15 (default 9). Offers asking for less are
    /// declined and the next offer is tried. An offer of 8 is always declined: no
    /// zlib can honour it (see the crate documentation). Ignored by clients.
    ///
    /// # Errors
    ///
    /// [`ConfigError::WindowBits`] outside 9..=15.
    pub const fn min_window_bits(mut self, bits: u8) -> Result<Self, ConfigError> {
        match window(bits) {
            Ok(bits) => {
                self.min_window_bits = bits;
                Ok(self)
            }
            Err(e) => Err(e),
        }
    }

    /// Memory cap for directions that reset their context after every message
    /// (no context takeover): when true (the default), the zlib state of such a
    /// direction is given up when the connection goes idle
    /// ([`PerMessageDeflate::release_idle_contexts`](crate::PerMessageDeflate::release_idle_contexts),
    /// which the stream adapters call whenever they wait for the peer) and taken
    /// again for the next message, so that an idle connection holds none. Given-up
    /// contexts wait in a process-wide pool (at most 16 of each kind) for the next
    /// message of any connection, which spares the allocation and its page faults.
    /// False: the state is reset in place after each message and kept.
    ///
    /// A direction with context takeover keeps its state for the connection's
    /// lifetime whatever this says. The sizes at stake, with zlib-rs: a compressor
    /// holds about 370 KiB with a 15-bit window (about 240 KiB with 9 bits: its hash
    /// table and buffers do not shrink with the window), a decompressor about 40 KiB
    /// whatever the window; a server short of memory asks for no context takeover
    /// ([`low_memory`](Self::low_memory)).
    #[must_use]
    pub const fn release_idle_contexts(mut self, yes: bool) -> Self {
        self.release_idle = yes;
        self
    }

    /// The compression level.
    #[must_use]
    pub const fn get_level(&self) -> u32 {
        self.level
    }

    /// The compression threshold in bytes.
    #[must_use]
    pub const fn get_threshold(&self) -> usize {
        self.threshold
    }

    /// The `server_no_context_takeover` preference.
    #[must_use]
    pub const fn get_server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }

    /// The `client_no_context_takeover` preference.
    #[must_use]
    pub const fn get_client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }

    /// The `server_max_window_bits` preference.
    #[must_use]
    pub const fn get_server_max_window_bits(&self) -> u8 {
        self.server_max_window_bits
    }

    /// The `client_max_window_bits` preference.
    #[must_use]
    pub const fn get_client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }

    /// The smallest server window a server accepts.
    #[must_use]
    pub const fn get_min_window_bits(&self) -> u8 {
        self.min_window_bits
    }

    /// Whether idle reset contexts are freed.
    #[must_use]
    pub const fn get_release_idle_contexts(&self) -> bool {
        self.release_idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_refuse_out_of_range_values() {
        for bits in [0, 7, 8, 16, 255] {
            assert_eq!(
                DeflateConfig::new().server_max_window_bits(bits),
                Err(ConfigError::WindowBits(bits))
            );
            assert_eq!(
                DeflateConfig::new().client_max_window_bits(bits),
                Err(ConfigError::WindowBits(bits))
            );
            assert_eq!(
                DeflateConfig::new().min_window_bits(bits),
                Err(ConfigError::WindowBits(bits))
            );
        }
        for bits in 9..=15 {
            let c = DeflateConfig::new()
                .server_max_window_bits(bits)
                .and_then(|c| c.client_max_window_bits(bits))
                .and_then(|c| c.min_window_bits(bits))
                .unwrap();
            assert_eq!(c.get_server_max_window_bits(), bits);
            assert_eq!(c.get_client_max_window_bits(), bits);
            assert_eq!(c.get_min_window_bits(), bits);
        }
        assert_eq!(DeflateConfig::new().level(10), Err(ConfigError::Level(10)));
        assert_eq!(DeflateConfig::new().level(0).unwrap().get_level(), 0);
        assert!(ConfigError::WindowBits(8).to_string().contains("9..=15"));
    }

    #[test]
    fn defaults_are_documented_ones() {
        let c = DeflateConfig::default();
        assert_eq!(c, DeflateConfig::new());
        assert_eq!(c.get_level(), DEFAULT_LEVEL);
        assert_eq!(c.get_threshold(), DEFAULT_THRESHOLD);
        assert!(!c.get_server_no_context_takeover() && !c.get_client_no_context_takeover());
        assert_eq!(
            (
                c.get_server_max_window_bits(),
                c.get_client_max_window_bits()
            ),
            (15, 15)
        );
        assert_eq!(c.get_min_window_bits(), 9);
        assert!(c.get_release_idle_contexts());
        let low = DeflateConfig::low_memory();
        assert!(low.get_server_no_context_takeover() && low.get_client_no_context_takeover());
        assert!(low.get_release_idle_contexts());
    }
}
