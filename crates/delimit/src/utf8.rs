//! The one UTF-8 question the reader asks itself: does the data end inside a
//! character?

/// How many trailing bytes of `bytes` are the start of a character that is not
/// complete yet (0 to 3): the bytes to hold back until the rest arrives.
///
/// Only the shape of the last bytes is looked at, not their validity: invalid data
/// is reported when an item is made from it.
pub(crate) fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if byte & 0xC0 == 0x80 {
            // A continuation byte: the lead byte is further back.
            continue;
        }
        let width = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if width > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::incomplete_tail;

    #[test]
    fn complete_text_holds_nothing_back() {
        assert_eq!(incomplete_tail(b""), 0);
        assert_eq!(incomplete_tail(b"abc"), 0);
        assert_eq!(incomplete_tail("a€".as_bytes()), 0);
        assert_eq!(incomplete_tail("𝄞".as_bytes()), 0);
        assert_eq!(incomplete_tail("é".as_bytes()), 0);
    }

    #[test]
    fn every_prefix_of_a_character_is_held_back() {
        for c in ['é', '€', '𝄞'] {
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            for cut in 1..bytes.len() {
                let mut data = b"xy".to_vec();
                data.extend_from_slice(&bytes[..cut]);
                assert_eq!(incomplete_tail(&data), cut, "{c} cut after {cut}");
            }
        }
    }

    #[test]
    fn stray_continuation_bytes_are_not_held_back() {
        assert_eq!(incomplete_tail(b"\x80\x80\x80"), 0);
        assert_eq!(incomplete_tail(b"a\x80\x80\x80"), 0);
        assert_eq!(incomplete_tail(b"\xff"), 0);
    }
}
