//! `Sec-WebSocket-Extensions` (RFC 6455 section 9.1) and
//! `Sec-WebSocket-Protocol` lists.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::HandshakeError;
use crate::headers::{is_ows, is_tchar, is_token, list_elements};

/// One element of a `Sec-WebSocket-Extensions` list: an extension name with
/// its parameters, as offered by a client or agreed by a server.
///
/// Grammar (RFC 6455 section 9.1):
///
/// ```text
/// extension       = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
/// ```
///
/// Quoted values are stored unquoted; after unescaping they must be tokens.
/// `permessage-deflate; client_max_window_bits, permessage-deflate` is two
/// offers, the first with a parameter without value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// The parameters in order: `(name, Some(value))` or `(name, None)`.
    pub params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// An extension without parameters.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter without value (builder style).
    #[must_use]
    pub fn with_param(mut self, name: impl Into<String>) -> Self {
        self.params.push((name.into(), None));
        self
    }

    /// Adds a parameter with a value (builder style).
    #[must_use]
    pub fn with_param_value(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), Some(value.into())));
        self
    }

    /// The first parameter named `name` (ASCII case-insensitive): `None` if
    /// absent, `Some(None)` if present without value.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// Parses one `Sec-WebSocket-Extensions` header value into its offers.
    /// Empty list elements are ignored, but at least one extension is
    /// required. Fails with [`HandshakeError::InvalidHeader`] on any
    /// deviation from the grammar.
    pub fn parse_list(value: &[u8]) -> Result<Vec<Self>, HandshakeError> {
        let mut out = Vec::new();
        parse_into(value, &mut out)?;
        if out.is_empty() {
            return Err(invalid());
        }
        Ok(out)
    }

    /// Checks that every name and value is a token, so that the
    /// [`Display`](fmt::Display) form is a valid header value.
    pub(crate) fn check_outgoing(&self) -> Result<(), HandshakeError> {
        let ok = is_token(self.name.as_bytes())
            && self.params.iter().all(|(n, v)| {
                is_token(n.as_bytes()) && v.as_ref().is_none_or(|v| is_token(v.as_bytes()))
            });
        if ok {
            Ok(())
        } else {
            Err(HandshakeError::InvalidOutgoing {
                what: alloc::format!("extension {:?}", self.name),
            })
        }
    }
}

impl fmt::Display for ExtensionOffer {
    /// The header form: `name; param; param=value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            write!(f, "; {name}")?;
            if let Some(value) = value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

const fn invalid() -> HandshakeError {
    HandshakeError::InvalidHeader {
        name: "Sec-WebSocket-Extensions",
    }
}

/// A cursor over a header value.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while self.peek().is_some_and(is_ows) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn token(&mut self) -> Result<&'a str, HandshakeError> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        let token = self.bytes.get(start..self.pos).unwrap_or_default();
        if token.is_empty() {
            return Err(invalid());
        }
        core::str::from_utf8(token).map_err(|_| invalid())
    }

    /// A quoted-string (opening quote not yet consumed), unescaped.
    fn quoted(&mut self) -> Result<String, HandshakeError> {
        let mut out = Vec::new();
        if !self.eat(b'"') {
            return Err(invalid());
        }
        loop {
            match self.peek() {
                None => return Err(invalid()),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if b == b'\t' || b >= 0x20 && b != 0x7f => out.push(b),
                        _ => return Err(invalid()),
                    }
                    self.pos += 1;
                }
                Some(b) if b == b'\t' || b >= 0x20 && b != 0x7f => {
                    out.push(b);
                    self.pos += 1;
                }
                Some(_) => return Err(invalid()),
            }
        }
        // RFC 6455 9.1: the unescaped value must conform to `token`.
        if !is_token(&out) {
            return Err(invalid());
        }
        String::from_utf8(out).map_err(|_| invalid())
    }
}

/// Appends the offers of one header value to `out`.
pub(crate) fn parse_into(
    value: &[u8],
    out: &mut Vec<ExtensionOffer>,
) -> Result<(), HandshakeError> {
    let mut c = Cursor {
        bytes: value,
        pos: 0,
    };
    loop {
        c.skip_ows();
        match c.peek() {
            None => return Ok(()),
            Some(b',') => {
                c.pos += 1;
                continue;
            }
            Some(_) => {}
        }
        let mut ext = ExtensionOffer::new(c.token()?);
        loop {
            c.skip_ows();
            if !c.eat(b';') {
                break;
            }
            c.skip_ows();
            let name = c.token()?;
            c.skip_ows();
            let value = if c.eat(b'=') {
                c.skip_ows();
                if c.peek() == Some(b'"') {
                    Some(c.quoted()?)
                } else {
                    Some(c.token()?.into())
                }
            } else {
                None
            };
            ext.params.push((name.into(), value));
        }
        out.push(ext);
        match c.peek() {
            None => return Ok(()),
            Some(b',') => c.pos += 1,
            Some(_) => return Err(invalid()),
        }
    }
}

/// Appends the subprotocols of one `Sec-WebSocket-Protocol` value to `out`.
pub(crate) fn parse_subprotocols(
    value: &[u8],
    out: &mut Vec<String>,
) -> Result<(), HandshakeError> {
    let start = out.len();
    for element in list_elements(value) {
        if !is_token(element) {
            return Err(HandshakeError::InvalidHeader {
                name: "Sec-WebSocket-Protocol",
            });
        }
        out.push(String::from_utf8_lossy(element).into_owned());
    }
    if out.len() == start {
        return Err(HandshakeError::InvalidHeader {
            name: "Sec-WebSocket-Protocol",
        });
    }
    Ok(())
}

/// Joins extensions into one header value.
pub(crate) fn join_extensions(extensions: &[ExtensionOffer]) -> String {
    let mut s = String::new();
    for (i, e) in extensions.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = fmt::write(&mut s, format_args!("{e}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn two_offers() {
        let offers = ExtensionOffer::parse_list(
            b"permessage-deflate; client_max_window_bits, permessage-deflate",
        )
        .unwrap();
        assert_eq!(
            offers,
            vec![
                ExtensionOffer::new("permessage-deflate").with_param("client_max_window_bits"),
                ExtensionOffer::new("permessage-deflate"),
            ]
        );
    }

    #[test]
    fn values_and_quotes() {
        let offers =
            ExtensionOffer::parse_list(b"foo ; a = 1 ;b=\"x\\yz\";c, bar;d=\"10\" ,, baz\t;e")
                .unwrap();
        assert_eq!(offers.len(), 3);
        assert_eq!(offers[0].param("a"), Some(Some("1")));
        assert_eq!(offers[0].param("B"), Some(Some("xyz")));
        assert_eq!(offers[0].param("c"), Some(None));
        assert_eq!(offers[0].param("zz"), None);
        assert_eq!(offers[1].param("d"), Some(Some("10")));
        assert_eq!(offers[2], ExtensionOffer::new("baz").with_param("e"));
        assert_eq!(offers[0].to_string(), "foo; a=1; b=xyz; c");
    }

    #[test]
    fn malformed() {
        for bad in [
            &b""[..],
            b" , ",
            b";a",
            b"foo;",
            b"foo;=1",
            b"foo;a=",
            b"foo;a=\"1",
            b"foo;a=\"has space\"",
            b"foo;a=\"\"",
            b"foo bar",
            b"foo;a=1 2",
            b"foo;a=\"1\"x",
            b"f\xc3\xa9",
            b"foo;a=\"\\",
            b"foo;a=(1)",
        ] {
            assert_eq!(
                ExtensionOffer::parse_list(bad),
                Err(invalid()),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn subprotocol_lists() {
        let mut v = Vec::new();
        parse_subprotocols(b"chat, superchat ,", &mut v).unwrap();
        parse_subprotocols(b"v2.json", &mut v).unwrap();
        assert_eq!(v, ["chat", "superchat", "v2.json"]);
        assert!(parse_subprotocols(b"a b", &mut v).is_err());
        assert!(parse_subprotocols(b" , ", &mut v).is_err());
        assert!(parse_subprotocols(b"a/b", &mut v).is_err());
    }
}
