//! Extension negotiation (RFC 7692 section 7.1) for both roles, on plain parameter
//! lists.

use core::fmt;

use crate::PerMessageDeflate;
use crate::config::{DeflateConfig, MAX_WINDOW_BITS};

/// The extension token, `permessage-deflate`.
pub const EXTENSION_NAME: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// Owned extension parameters, `(name, value)`, in the order they go on the wire.
pub type Params = Vec<(String, Option<String>)>;

/// Whether an extension token names permessage-deflate (tokens compare ASCII
/// case-insensitively).
#[must_use]
pub fn is_permessage_deflate(name: &str) -> bool {
    name.eq_ignore_ascii_case(EXTENSION_NAME)
}

/// Renders one `permessage-deflate` element of a `Sec-WebSocket-Extensions` header,
/// e.g. `permessage-deflate; client_max_window_bits=12`. A value that is not an HTTP
/// token is quoted (ours never need it).
#[must_use]
pub fn header_value<N: AsRef<str>, V: AsRef<str>>(params: &[(N, Option<V>)]) -> String {
    let mut s = String::from(EXTENSION_NAME);
    for (name, value) in params {
        s.push_str("; ");
        s.push_str(name.as_ref());
        if let Some(value) = value {
            let value = value.as_ref();
            s.push('=');
            if !value.is_empty() && value.bytes().all(is_tchar) {
                s.push_str(value);
            } else {
                s.push('"');
                for c in value.chars() {
                    if c == '"' || c == '\\' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
            }
        }
    }
    s
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Borrows owned parameters in the form the negotiation functions take.
#[must_use]
pub fn borrow_params(params: &[(String, Option<String>)]) -> Vec<(&str, Option<&str>)> {
    params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_deref()))
        .collect()
}

/// Which end of the connection a codec serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that opened the connection and sent the offer.
    Client,
    /// The end that answered.
    Server,
}

/// The parameters both ends agreed on, as effective values: a window parameter that
/// was absent is 15, and `client_no_context_takeover` is true also when the client
/// only offered it (an offer of it is the client's promise, RFC 7692 7.1.1.2).
///
/// Build each end's codec from it with [`into_codec`](Self::into_codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Agreed {
    /// The server resets its compressor (and the client its decompressor) after
    /// every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor (and the server its decompressor) after
    /// every message.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with, 8 to 15.
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with, 8 to 15.
    pub client_max_window_bits: u8,
}

impl Default for Agreed {
    /// `permessage-deflate` without parameters: context takeover and 15-bit windows
    /// both ways.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

impl Agreed {
    /// The codec for the end playing `role`, compressing with `config`'s level and
    /// threshold. Same as [`PerMessageDeflate::new`].
    #[must_use]
    pub fn into_codec(self, role: Role, config: &DeflateConfig) -> PerMessageDeflate {
        PerMessageDeflate::new(self, role, config)
    }

    /// The answer a server sends for these parameters, spelling out every one that
    /// differs from the default. ([`DeflateConfig::server_accept`] returns its own
    /// answer, which also echoes a `server_max_window_bits=15` the client asked for.)
    #[must_use]
    pub fn to_params(&self) -> Params {
        let mut p = leading_params(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_max_window_bits,
        );
        if self.client_max_window_bits < MAX_WINDOW_BITS {
            p.push((
                CLIENT_MAX_WINDOW_BITS.into(),
                Some(self.client_max_window_bits.to_string()),
            ));
        }
        p
    }
}

/// The parameters an offer and an answer spell the same way: the two
/// `*_no_context_takeover` flags and `server_max_window_bits` below 15.
fn leading_params(
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
) -> Params {
    let mut p = Params::new();
    if server_no_context_takeover {
        p.push((SERVER_NO_CONTEXT_TAKEOVER.into(), None));
    }
    if client_no_context_takeover {
        p.push((CLIENT_NO_CONTEXT_TAKEOVER.into(), None));
    }
    if server_max_window_bits < MAX_WINDOW_BITS {
        p.push((
            SERVER_MAX_WINDOW_BITS.into(),
            Some(server_max_window_bits.to_string()),
        ));
    }
    p
}

/// Why an offer was declined (server) or an answer refused (client).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter permessage-deflate does not define.
    UnknownParam(String),
    /// A parameter given twice.
    DuplicateParam(&'static str),
    /// A missing, unexpected or malformed value: window bits must be exactly one of
    /// `8` to `15` (no sign, no leading zero, no quotes left by the caller), the
    /// `*_no_context_takeover` parameters take none.
    InvalidValue {
        /// The parameter.
        param: &'static str,
        /// The value as received (`None`: it had none).
        value: Option<String>,
    },
    /// Client: the server answered without a parameter that accepting our offer
    /// requires (`server_no_context_takeover`, `server_max_window_bits`).
    MissingParam(&'static str),
    /// Client: the server answered with a larger window than we offered.
    WindowTooLarge {
        /// The parameter.
        param: &'static str,
        /// The limit we offered.
        offered: u8,
        /// What the server answered.
        answered: u8,
    },
    /// Server: the client asks our compressor for a window below
    /// [`DeflateConfig::min_window_bits`] (always the case for 8, which no zlib can
    /// produce).
    WindowTooSmall {
        /// The parameter.
        param: &'static str,
        /// What the client asked for.
        value: u8,
        /// The smallest we accept.
        min: u8,
    },
}

impl NegotiationError {
    /// The close code for a client that refuses the server's answer: 1010
    /// (mandatory extension), which RFC 6455 gives the client for a handshake whose
    /// extensions it cannot go on with. The client fails the connection; if it
    /// already counts as open it sends a close frame with this code, otherwise it
    /// just drops the TCP connection. A server never fails over an offer: it
    /// declines it and tries the next one.
    #[must_use]
    pub const fn close_code(&self) -> u16 {
        1010
    }
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownParam(p) => write!(f, "unknown permessage-deflate parameter {p:?}"),
            Self::DuplicateParam(p) => write!(f, "permessage-deflate parameter {p} repeated"),
            Self::InvalidValue { param, value: None } => {
                write!(f, "permessage-deflate parameter {param} needs a value")
            }
            Self::InvalidValue {
                param,
                value: Some(v),
            } => write!(f, "invalid value {v:?} for permessage-deflate {param}"),
            Self::MissingParam(p) => write!(f, "permessage-deflate parameter {p} missing"),
            Self::WindowTooLarge {
                param,
                offered,
                answered,
            } => write!(
                f,
                "server answered {param}={answered}, above the {offered} offered"
            ),
            Self::WindowTooSmall { param, value, min } => {
                write!(
                    f,
                    "{param}={value} is below the smallest window we use ({min})"
                )
            }
        }
    }
}

impl std::error::Error for NegotiationError {}

/// The four parameters as they appeared in one offer or answer.
#[derive(Debug, Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (legal in an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Window bits exactly as RFC 7692 spells them: `8` to `15`, no sign, no leading
/// zero, no whitespace.
fn window_value(param: &'static str, value: &str) -> Result<u8, NegotiationError> {
    let bits = match value {
        "8" => 8,
        "9" => 9,
        "10" => 10,
        "11" => 11,
        "12" => 12,
        "13" => 13,
        "14" => 14,
        "15" => 15,
        _ => {
            return Err(NegotiationError::InvalidValue {
                param,
                value: Some(value.to_owned()),
            });
        }
    };
    Ok(bits)
}

fn parse(params: &[(&str, Option<&str>)], offer: bool) -> Result<Parsed, NegotiationError> {
    let mut parsed = Parsed::default();
    let mut seen = [false; 4];
    for &(name, value) in params {
        let (index, param) = match name {
            SERVER_NO_CONTEXT_TAKEOVER => (0, SERVER_NO_CONTEXT_TAKEOVER),
            CLIENT_NO_CONTEXT_TAKEOVER => (1, CLIENT_NO_CONTEXT_TAKEOVER),
            SERVER_MAX_WINDOW_BITS => (2, SERVER_MAX_WINDOW_BITS),
            CLIENT_MAX_WINDOW_BITS => (3, CLIENT_MAX_WINDOW_BITS),
            other => return Err(NegotiationError::UnknownParam(other.to_owned())),
        };
        if seen[index] {
            return Err(NegotiationError::DuplicateParam(param));
        }
        seen[index] = true;
        let invalid = || NegotiationError::InvalidValue {
            param,
            value: value.map(str::to_owned),
        };
        match (index, value) {
            (0 | 1, Some(_)) => return Err(invalid()),
            (0, None) => parsed.server_no_context_takeover = true,
            (1, None) => parsed.client_no_context_takeover = true,
            (2, Some(v)) => parsed.server_max_window_bits = Some(window_value(param, v)?),
            (3, Some(v)) => parsed.client_max_window_bits = Some(Some(window_value(param, v)?)),
            // A bare client_max_window_bits is how a client says "you may shrink my
            // window"; in an answer a window is a statement and needs its value.
            (3, None) if offer => parsed.client_max_window_bits = Some(None),
            _ => return Err(invalid()),
        }
    }
    Ok(parsed)
}

impl DeflateConfig {
    /// Client: the parameters of our `permessage-deflate` offer (render them with
    /// [`header_value`]).
    ///
    /// `client_max_window_bits` is always included, without a value at 15 so that a
    /// server may shrink our window, with `=N` below 15. `server_max_window_bits=N`
    /// only below 15. Nothing we offer is something we could not keep: our windows
    /// are 9 to 15 by construction.
    #[must_use]
    pub fn client_offer(&self) -> Params {
        let mut p = leading_params(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_max_window_bits,
        );
        let client_value = (self.client_max_window_bits < MAX_WINDOW_BITS)
            .then(|| self.client_max_window_bits.to_string());
        p.push((CLIENT_MAX_WINDOW_BITS.into(), client_value));
        p
    }

    /// Client: checks the server's answer to [`client_offer`](Self::client_offer)
    /// (the parameters of the one `permessage-deflate` element it selected) and
    /// returns what was agreed.
    ///
    /// # Errors
    ///
    /// The answer is refused, and the caller must fail the connection
    /// ([`NegotiationError::close_code`]), if it has an unknown or repeated
    /// parameter, a malformed value (window bits other than exactly `8`..`15`, a
    /// value on a `*_no_context_takeover`, a window parameter without a value), lacks
    /// `server_no_context_takeover` or `server_max_window_bits` we offered, or names
    /// a window above the one we offered.
    ///
    /// A `client_max_window_bits=8` answer is valid and accepted: zlib cannot
    /// compress with it, so our codec then sends every message uncompressed, which
    /// RFC 7692 allows, rather than silently widening to 9.
    pub fn client_accept(
        &self,
        answer: &[(&str, Option<&str>)],
    ) -> Result<Agreed, NegotiationError> {
        let p = parse(answer, false)?;
        if self.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(NegotiationError::MissingParam(SERVER_NO_CONTEXT_TAKEOVER));
        }
        let offered_server = self.server_max_window_bits;
        let server_max_window_bits = match p.server_max_window_bits {
            Some(bits) if bits > offered_server => {
                return Err(NegotiationError::WindowTooLarge {
                    param: SERVER_MAX_WINDOW_BITS,
                    offered: offered_server,
                    answered: bits,
                });
            }
            Some(bits) => bits,
            None if offered_server < MAX_WINDOW_BITS => {
                return Err(NegotiationError::MissingParam(SERVER_MAX_WINDOW_BITS));
            }
            None => MAX_WINDOW_BITS,
        };
        // We always offer client_max_window_bits, so the server may always answer it.
        let offered_client = self.client_max_window_bits;
        let client_max_window_bits = match p.client_max_window_bits {
            Some(Some(bits)) if bits > offered_client => {
                return Err(NegotiationError::WindowTooLarge {
                    param: CLIENT_MAX_WINDOW_BITS,
                    offered: offered_client,
                    answered: bits,
                });
            }
            Some(Some(bits)) => bits,
            _ => offered_client,
        };
        Ok(Agreed {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        })
    }

    /// Server: goes through the client's `permessage-deflate` offers in the order
    /// they were sent and accepts the first one we can honour, returning the agreed
    /// parameters and the parameters of our answer (render them with
    /// [`header_value`]). `None`: every offer was declined; answer without the
    /// extension.
    ///
    /// An offer that is malformed (see [`server_accept_offer`](Self::server_accept_offer))
    /// is declined, never guessed at, and the next one is tried. This is RFC 7692
    /// section 5: a server MUST decline an offer with an unknown parameter or an
    /// invalid value, and the client's later offers exist exactly so that it can.
    /// Failing the whole handshake (400) instead would punish a client for offering a
    /// variant we do not understand alongside one we do; declining everything at
    /// worst leaves the connection uncompressed, and it is the client's job to fail
    /// it if it insists on the extension.
    pub fn server_accept<'a, I>(&self, offers: I) -> Option<(Agreed, Params)>
    where
        I: IntoIterator<Item = &'a [(&'a str, Option<&'a str>)]>,
    {
        offers
            .into_iter()
            .find_map(|offer| self.server_accept_offer(offer).ok())
    }

    /// Server: accepts or declines one offer, saying why it declines.
    ///
    /// What is agreed: `server_no_context_takeover` if the client asks or we prefer
    /// it; `client_no_context_takeover` if the client offers it (echoed, so that both
    /// ends agree explicitly) or we prefer it; our compressor's window is the smaller
    /// of the client's `server_max_window_bits` and ours; the client's window is
    /// shrunk to our `client_max_window_bits` preference (or to the value it offered,
    /// if smaller) only when the offer includes `client_max_window_bits`, as
    /// RFC 7692 7.1.2.2 requires.
    ///
    /// # Errors
    ///
    /// The offer is declined when it has an unknown or repeated parameter, a
    /// malformed value (window bits other than exactly `8`..`15`, a value on a
    /// `*_no_context_takeover`, `server_max_window_bits` without a value), asks for
    /// `server_max_window_bits` below [`min_window_bits`](Self::min_window_bits)
    /// (always for 8).
    pub fn server_accept_offer(
        &self,
        offer: &[(&str, Option<&str>)],
    ) -> Result<(Agreed, Params), NegotiationError> {
        let p = parse(offer, true)?;
        let server_max_window_bits = match p.server_max_window_bits {
            Some(bits) if bits < self.min_window_bits => {
                return Err(NegotiationError::WindowTooSmall {
                    param: SERVER_MAX_WINDOW_BITS,
                    value: bits,
                    min: self.min_window_bits,
                });
            }
            Some(bits) => bits.min(self.server_max_window_bits),
            None => self.server_max_window_bits,
        };
        let (client_max_window_bits, announce_client) = match p.client_max_window_bits {
            None => (MAX_WINDOW_BITS, false),
            Some(None) => (
                self.client_max_window_bits,
                self.client_max_window_bits < MAX_WINDOW_BITS,
            ),
            Some(Some(bits)) => (bits.min(self.client_max_window_bits), true),
        };
        let agreed = Agreed {
            server_no_context_takeover: p.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        };
        let mut answer = Params::new();
        if agreed.server_no_context_takeover {
            answer.push((SERVER_NO_CONTEXT_TAKEOVER.into(), None));
        }
        if agreed.client_no_context_takeover {
            answer.push((CLIENT_NO_CONTEXT_TAKEOVER.into(), None));
        }
        // Accepting an offered server_max_window_bits means answering it, even at 15.
        if p.server_max_window_bits.is_some() || server_max_window_bits < MAX_WINDOW_BITS {
            answer.push((
                SERVER_MAX_WINDOW_BITS.into(),
                Some(server_max_window_bits.to_string()),
            ));
        }
        if announce_client {
            answer.push((
                CLIENT_MAX_WINDOW_BITS.into(),
                Some(client_max_window_bits.to_string()),
            ));
        }
        Ok((agreed, answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_values_are_exact() {
        for (v, bits) in [("8", 8), ("9", 9), ("12", 12), ("15", 15)] {
            assert_eq!(window_value("x", v), Ok(bits));
        }
        for v in [
            "", "7", "16", "08", "+9", "-9", " 9", "9 ", "0x9", "\"9\"", "١٠",
        ] {
            assert!(window_value("x", v).is_err(), "{v:?}");
        }
    }

    #[test]
    fn header_value_renders_and_quotes() {
        let p: &[(&str, Option<&str>)] = &[("a", None), ("b", Some("12")), ("c", Some("x y\""))];
        assert_eq!(
            header_value(p),
            "permessage-deflate; a; b=12; c=\"x y\\\"\""
        );
        let none: &[(&str, Option<&str>)] = &[];
        assert_eq!(header_value(none), "permessage-deflate");
        assert!(is_permessage_deflate("PerMessage-Deflate"));
        assert!(!is_permessage_deflate("permessage-deflat"));
    }

    #[test]
    fn agreed_to_params_spells_out_non_defaults() {
        assert!(Agreed::default().to_params().is_empty());
        let a = Agreed {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 9,
        };
        assert_eq!(
            header_value(&a.to_params()),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9"
        );
        assert_eq!(
            DeflateConfig::new().client_accept(&borrow_params(&a.to_params())),
            Ok(a)
        );
    }
}
