//! Owned header fields, HTTP token helpers and outgoing-value checks.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::HandshakeError;

/// The header fields of a parsed message, in the order received. Lookups are
/// ASCII case-insensitive.
///
/// Names are HTTP tokens (hence ASCII); values are the raw bytes with
/// surrounding whitespace removed, since HTTP allows bytes outside ASCII.
///
/// Stored compactly: every name and value in one buffer, and one index entry per
/// field (two allocations, whatever the number of fields), since a server keeps
/// each connection's request for the connection's life.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Names and values, back to back.
    bytes: Vec<u8>,
    /// Per field: where its name ends and where its value ends in `bytes` (the
    /// name starts where the previous value ended).
    fields: Vec<(u32, u32)>,
}

impl core::fmt::Debug for Headers {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(n, v)| (n, alloc::string::String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

impl Headers {
    /// An empty header list.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// Appends a field. No validation is done here; this type stores what
    /// was received. (A header list past 4 GiB in all is not stored whole.)
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        let (name, value) = (name.into(), value.into());
        let total = self.bytes.len() + name.len() + value.len();
        if u32::try_from(total).is_err() {
            return;
        }
        self.bytes.extend_from_slice(name.as_bytes());
        let name_end = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&value);
        self.fields.push((name_end, self.bytes.len() as u32));
    }

    /// Number of header fields (a name repeated on several lines counts
    /// once per line).
    #[must_use]
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there is no header field.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The value of the first field named `name` (case-insensitive).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// The value of the first field named `name`, if it is valid UTF-8.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The values of every field named `name` (case-insensitive), in order.
    pub fn get_all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether a field named `name` is present.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether the comma-separated lists in every field named `name`
    /// contain `token` (ASCII case-insensitive), as for `Connection` or
    /// `Upgrade`.
    #[must_use]
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|value| {
            list_elements(value).any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
        })
    }

    /// All fields in received order.
    pub fn iter(&self) -> HeadersIter<'_> {
        HeadersIter {
            headers: self,
            next: 0,
        }
    }

    /// The only value of a field that must not be repeated.
    pub(crate) fn single(&self, name: &'static str) -> Result<Option<&[u8]>, HandshakeError> {
        let mut all = self.get_all(name);
        let first = all.next();
        if all.next().is_some() {
            return Err(HandshakeError::DuplicateHeader { name });
        }
        Ok(first)
    }

    /// Field `i`: its name and value.
    fn field(&self, i: usize) -> Option<(&str, &[u8])> {
        let &(name_end, value_end) = self.fields.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.fields[i - 1].1 as usize,
        };
        let name = &self.bytes[start..name_end as usize];
        let value = &self.bytes[name_end as usize..value_end as usize];
        // Names were pushed as `String`s: always UTF-8.
        Some((core::str::from_utf8(name).unwrap_or_default(), value))
    }
}

/// The fields of [`Headers`], in received order: `(name, value)`.
#[derive(Debug, Clone)]
pub struct HeadersIter<'a> {
    headers: &'a Headers,
    next: usize,
}

impl<'a> Iterator for HeadersIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let field = self.headers.field(self.next)?;
        self.next += 1;
        Some(field)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.headers.fields.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for HeadersIter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = HeadersIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `tchar` of RFC 9110 section 5.6.2.
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `s` is a non-empty HTTP token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Optional whitespace (space or horizontal tab).
pub(crate) const fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without leading and trailing spaces and tabs.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// The non-empty, trimmed elements of a comma-separated list
/// (empty elements are ignored, RFC 9110 section 5.6.1.2).
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Refuses header values that would allow response splitting or are not
/// valid field content: CR, LF, NUL, other controls except HTAB, and DEL.
pub(crate) fn check_outgoing_value(what: &str, value: &[u8]) -> Result<(), HandshakeError> {
    if value
        .iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
    {
        Ok(())
    } else {
        Err(HandshakeError::InvalidOutgoing {
            what: what.to_string(),
        })
    }
}

/// Refuses header names that are not tokens and names in `reserved`.
pub(crate) fn check_outgoing_name(name: &str, reserved: &[&str]) -> Result<(), HandshakeError> {
    if is_token(name.as_bytes()) && !reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        Ok(())
    } else {
        Err(HandshakeError::InvalidOutgoing {
            what: alloc::format!("header name {name:?}"),
        })
    }
}

/// Appends `name: value\r\n`.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_ordered() {
        let mut h = Headers::new();
        h.push("Sec-WebSocket-Protocol", "a, b");
        h.push("host", "x");
        h.push("sec-websocket-protocol", "c");
        assert_eq!(h.get("HOST"), Some(&b"x"[..]));
        let all: Vec<_> = h.get_all("SEC-WEBSOCKET-PROTOCOL").collect();
        assert_eq!(all, [&b"a, b"[..], &b"c"[..]]);
        assert_eq!(h.len(), 3);
        assert!(h.contains_token("sec-websocket-protocol", "B"));
        assert!(!h.contains_token("sec-websocket-protocol", "d"));
        assert_eq!(h.single("Host"), Ok(Some(&b"x"[..])));
        assert_eq!(
            h.single("Sec-WebSocket-Protocol"),
            Err(HandshakeError::DuplicateHeader {
                name: "Sec-WebSocket-Protocol"
            })
        );
    }

    #[test]
    fn trimming_and_lists() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        let e: Vec<_> = list_elements(b" keep-alive ,, Upgrade,").collect();
        assert_eq!(e, [&b"keep-alive"[..], &b"Upgrade"[..]]);
    }

    #[test]
    fn outgoing_checks() {
        assert!(check_outgoing_value("x", b"fine\tvalue").is_ok());
        assert!(check_outgoing_value("x", b"a\r\nInjected: 1").is_err());
        assert!(check_outgoing_value("x", b"a\nb").is_err());
        assert!(check_outgoing_value("x", b"a\0b").is_err());
        assert!(check_outgoing_name("X-Ok", &[]).is_ok());
        assert!(check_outgoing_name("Bad Name", &[]).is_err());
        assert!(check_outgoing_name("upgrade", &["Upgrade"]).is_err());
    }
}
