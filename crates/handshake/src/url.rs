//! WebSocket URLs (RFC 6455 section 3): `ws://`, `wss://` and `ws+unix://`.

use alloc::string::{String, ToString};
use core::fmt;

use crate::{ClientRequest, Key};

/// How to reach the server named by a [`Url`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `ws://`: plain TCP, default port 80.
    Ws,
    /// `wss://`: TLS over TCP, default port 443.
    Wss,
    /// `ws+unix://`: a Unix domain socket (ws4py's form,
    /// `ws+unix:///path/to/socket` or `ws+unix:///path/to/socket:/resource`).
    WsUnix,
}

/// A parsed WebSocket URL.
///
/// ```
/// use ferrosocket_handshake::{Scheme, Url};
///
/// let url = Url::parse("ws://example.com:9001/chat?room=1").unwrap();
/// assert_eq!((url.scheme(), url.host(), url.port()), (Scheme::Ws, "example.com", 9001));
/// assert_eq!(url.target(), "/chat?room=1");
/// assert_eq!(url.authority(), "example.com:9001");
///
/// let v6 = Url::parse("wss://[::1]/").unwrap();
/// assert_eq!((v6.host(), v6.port(), v6.authority()), ("::1", 443, "[::1]:443".to_string()));
///
/// let unix = Url::parse("ws+unix:///run/app.sock:/ws").unwrap();
/// assert_eq!((unix.socket_path(), unix.target()), (Some("/run/app.sock"), "/ws"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    host: String,
    port: u16,
    target: String,
    socket_path: Option<String>,
}

/// Why a string is not a WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ws`, `wss` or `ws+unix`.
    UnsupportedScheme,
    /// No host (or, for `ws+unix`, no socket path).
    MissingHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// A character that may not appear (space, control, `#` fragment, userinfo `@`).
    InvalidCharacter,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnsupportedScheme => "the scheme must be ws, wss or ws+unix",
            Self::MissingHost => "the URL has no host",
            Self::InvalidPort => "the port must be a number from 1 to 65535",
            Self::InvalidCharacter => "the URL has a character that is not allowed here",
        })
    }
}

impl core::error::Error for UrlError {}

impl Url {
    /// Parses `ws://host[:port][/path][?query]`, `wss://...` or
    /// `ws+unix:///socket/path[:/resource]`. Schemes are case-insensitive; fragments
    /// and userinfo are refused (RFC 6455 section 3 forbids fragments).
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        if input.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'#') {
            return Err(UrlError::InvalidCharacter);
        }
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            "ws+unix" => Scheme::WsUnix,
            _ => return Err(UrlError::UnsupportedScheme),
        };
        if scheme == Scheme::WsUnix {
            let (path, target) = match rest.split_once(":/") {
                Some((path, resource)) => (path, alloc::format!("/{resource}")),
                None => (rest, String::from("/")),
            };
            if path.is_empty() {
                return Err(UrlError::MissingHost);
            }
            return Ok(Self {
                scheme,
                host: String::from("localhost"),
                port: 80,
                target,
                socket_path: Some(path.to_string()),
            });
        }
        let (authority, target) = match rest.find(['/', '?']) {
            Some(at) if rest.as_bytes()[at] == b'?' => {
                (&rest[..at], alloc::format!("/{}", &rest[at..]))
            }
            Some(at) => (&rest[..at], rest[at..].to_string()),
            None => (rest, String::from("/")),
        };
        if authority.contains('@') {
            return Err(UrlError::InvalidCharacter);
        }
        let default_port = if scheme == Scheme::Wss { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(UrlError::MissingHost)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UrlError::InvalidPort)?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::MissingHost);
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(port) if port != 0 && p.bytes().all(|b| b.is_ascii_digit()) => port,
                _ => return Err(UrlError::InvalidPort),
            },
        };
        Ok(Self {
            scheme,
            host: host.to_string(),
            port,
            target,
            socket_path: None,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether the connection uses TLS (`wss`).
    pub fn is_secure(&self) -> bool {
        self.scheme == Scheme::Wss
    }

    /// The host: a name or IP literal, without IPv6 brackets (`localhost` for
    /// `ws+unix`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: path and query, at least `/`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The Unix socket path of a `ws+unix` URL.
    pub fn socket_path(&self) -> Option<&str> {
        self.socket_path.as_deref()
    }

    /// `host:port` for connecting a TCP socket (IPv6 bracketed).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            alloc::format!("[{}]:{}", self.host, self.port)
        } else {
            alloc::format!("{}:{}", self.host, self.port)
        }
    }

    /// The opening handshake request for this URL (Host with the port when it is not
    /// the default), to extend with subprotocols, extensions and headers.
    pub fn client_request(&self, key: Key) -> ClientRequest {
        ClientRequest::new(self.host.clone(), self.target.clone(), key)
            .port(self.port, self.is_secure())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let u = Url::parse("WS://h").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.target(), u.is_secure()),
            ("h", 80, "/", false)
        );
        let u = Url::parse("ws://h?x=1").unwrap();
        assert_eq!(u.target(), "/?x=1");
        let u = Url::parse("wss://h:8443/a/b?c").unwrap();
        assert_eq!(
            (u.port(), u.target(), u.is_secure()),
            (8443, "/a/b?c", true)
        );
        assert_eq!(Url::parse("ws+unix:///tmp/s").unwrap().target(), "/");
        assert_eq!(Url::parse("http://h"), Err(UrlError::UnsupportedScheme));
        assert_eq!(Url::parse("h:80"), Err(UrlError::UnsupportedScheme));
        assert_eq!(Url::parse("ws://"), Err(UrlError::MissingHost));
        assert_eq!(Url::parse("ws://:80/"), Err(UrlError::MissingHost));
        assert_eq!(Url::parse("ws://h:0"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("ws://h:65536"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("ws://h:x"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("ws://h:+80"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("ws://[::1]x"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("ws://h/#frag"), Err(UrlError::InvalidCharacter));
        assert_eq!(Url::parse("ws://u@h/"), Err(UrlError::InvalidCharacter));
        assert_eq!(Url::parse("ws://h /"), Err(UrlError::InvalidCharacter));
        assert_eq!(Url::parse("ws+unix://"), Err(UrlError::MissingHost));
    }

    #[test]
    fn client_request_host_header() {
        let key = Key::from_bytes([7; 16]);
        assert_eq!(
            Url::parse("ws://h:80/").unwrap().client_request(key).host(),
            "h"
        );
        assert_eq!(
            Url::parse("ws://h:9001/")
                .unwrap()
                .client_request(key)
                .host(),
            "h:9001"
        );
        assert_eq!(
            Url::parse("wss://[::1]:9/")
                .unwrap()
                .client_request(key)
                .host(),
            "[::1]:9"
        );
    }
}
