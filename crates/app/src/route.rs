//! Path patterns with typed captures: `/ws/<name>/<id:int>`.

use std::fmt;

/// A route's path pattern: literal segments and typed captures.
///
/// Segments are separated by `/`. A segment `<name>` or `<name:str>` captures
/// any non-empty segment (percent-decoded, it must be UTF-8), `<name:int>` a
/// decimal `i64` (an optional `-`, then digits); anything else must match
/// literally. The query string is not part of the match.
///
/// ```
/// use ferrosocket_app::{Capture, Pattern};
/// let pattern = Pattern::parse("/ws/<name>/<id:int>")?;
/// let captures = pattern.matches("/ws/ada%20l/42").unwrap();
/// assert_eq!(captures.str("name"), Some("ada l"));
/// assert_eq!(captures.int("id"), Some(42));
/// assert_eq!(captures.get("id"), Some(&Capture::Int(42)));
/// assert!(pattern.matches("/ws/ada/x").is_none());
/// assert!(pattern.matches("/ws/ada").is_none());
/// # Ok::<(), ferrosocket_app::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Str(String),
    Int(String),
}

/// A pattern that does not parse: it says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid route pattern: {}", self.0)
    }
}

impl std::error::Error for PatternError {}

impl Pattern {
    /// Parses a pattern.
    ///
    /// # Errors
    ///
    /// A pattern that does not start with `/`, a capture with an empty or
    /// repeated name, or an unknown type (`str` and `int` exist).
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(PatternError(format!("{pattern:?} does not start with '/'")));
        };
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for part in rest.split('/') {
            let segment = match part.strip_prefix('<').and_then(|p| p.strip_suffix('>')) {
                Some(inner) => {
                    let (name, kind) = inner.split_once(':').unwrap_or((inner, "str"));
                    if name.is_empty() || names.contains(&name) {
                        return Err(PatternError(format!(
                            "{pattern:?}: empty or repeated capture name {name:?}"
                        )));
                    }
                    names.push(name);
                    match kind {
                        "str" => Segment::Str(name.to_owned()),
                        "int" => Segment::Int(name.to_owned()),
                        other => {
                            return Err(PatternError(format!(
                                "{pattern:?}: unknown capture type {other:?} (str, int)"
                            )));
                        }
                    }
                }
                None if part.contains(['<', '>']) => {
                    return Err(PatternError(format!(
                        "{pattern:?}: a capture must be a whole segment: {part:?}"
                    )));
                }
                None => Segment::Literal(part.to_owned()),
            };
            segments.push(segment);
        }
        Ok(Self {
            source: pattern.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The captures if `path` (a request path, without the query) matches.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let rest = path.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let mut captures = Captures::default();
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(literal) => {
                    if percent_decode(part)? != *literal {
                        return None;
                    }
                }
                Segment::Str(name) => {
                    if part.is_empty() {
                        return None;
                    }
                    captures
                        .values
                        .push((name.clone(), Capture::Str(percent_decode(part)?)));
                }
                Segment::Int(name) => {
                    let digits = part.strip_prefix('-').unwrap_or(part);
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    captures
                        .values
                        .push((name.clone(), Capture::Int(part.parse().ok()?)));
                }
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(captures)
    }
}

/// Decodes `%XX` escapes; `None` for a bad escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One captured value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capture {
    /// A `<name>` / `<name:str>` capture, percent-decoded.
    Str(String),
    /// A `<name:int>` capture.
    Int(i64),
}

/// The values a route's [`Pattern`] captured from the request path, handed to
/// [`Handler::on_connect`](super::Handler::on_connect).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures {
    values: Vec<(String, Capture)>,
}

impl Captures {
    /// The capture called `name`.
    pub fn get(&self, name: &str) -> Option<&Capture> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// The text of the `str` capture called `name`.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Capture::Str(s) => Some(s),
            Capture::Int(_) => None,
        }
    }

    /// The value of the `int` capture called `name`.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Capture::Int(i) => Some(*i),
            Capture::Str(_) => None,
        }
    }

    /// The captures in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Capture)> {
        self.values.iter().map(|(n, c)| (n.as_str(), c))
    }

    /// How many values were captured.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let root = Pattern::parse("/").unwrap();
        assert!(root.matches("/").unwrap().is_empty());
        assert!(root.matches("/x").is_none());
        let p = Pattern::parse("/a/<n:int>").unwrap();
        assert_eq!(p.matches("/a/-7").unwrap().int("n"), Some(-7));
        assert!(p.matches("/a/99999999999999999999").is_none());
        assert!(p.matches("/a/").is_none());
        assert!(p.matches("/a/1/").is_none());
        assert!(Pattern::parse("x").is_err());
        assert!(Pattern::parse("/<a>/<a>").is_err());
        assert!(Pattern::parse("/<a:float>").is_err());
        assert!(Pattern::parse("/x<a>").is_err());
        let s = Pattern::parse("/<s>").unwrap();
        assert!(s.matches("/%ff").is_none());
        assert!(s.matches("/%4").is_none());
        assert_eq!(s.matches("/%C3%A9").unwrap().str("s"), Some("é"));
    }
}
