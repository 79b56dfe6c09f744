//! Text and binary never mix silently: each case is `MixedTypes` with close code
//! 1003, consumes nothing, and `EntireMessage` still hands over all the data.

use ferrosocket_delimit::{DataKind, DelimitError, Item, Mode, Prefix, ReadDelimiter};

use DataKind::{Binary, Text};

struct Case {
    name: &'static str,
    mode: fn() -> Mode,
    pushes: &'static [(DataKind, &'static [u8], bool)],
    expected: DataKind,
    found: DataKind,
}

fn cases() -> Vec<Case> {
    #[cfg_attr(not(feature = "regex"), allow(unused_mut))]
    let mut cases = vec![
        Case {
            name: "text delimiter on binary",
            mode: || Mode::text_delimiter("\n"),
            pushes: &[(Binary, b"a\nb", true)],
            expected: Text,
            found: Binary,
        },
        Case {
            name: "non-UTF-8 byte delimiter on text",
            mode: || Mode::delimiter(b"\xff"),
            pushes: &[(Text, b"a", true)],
            expected: Binary,
            found: Text,
        },
        Case {
            name: "fixed records on text",
            mode: Mode::records::<[u8; 2]>,
            pushes: &[(Text, b"ab", true)],
            expected: Binary,
            found: Text,
        },
        Case {
            name: "variable records on text",
            mode: || Mode::length_prefixed(Prefix::U16),
            pushes: &[(Text, b"\x00\x01a", true)],
            expected: Binary,
            found: Text,
        },
        Case {
            name: "binary after a partial text line",
            mode: || Mode::delimiter("\n"),
            pushes: &[(Text, b"line\npart", true), (Binary, b"\n", true)],
            expected: Text,
            found: Binary,
        },
        Case {
            name: "text after a partial byte count",
            mode: || Mode::Bytes(4),
            pushes: &[(Binary, b"12345", true), (Text, b"678", true)],
            expected: Binary,
            found: Text,
        },
        Case {
            name: "text after a partial record",
            mode: Mode::records::<[u8; 2]>,
            pushes: &[(Binary, b"123", true), (Text, b"4", true)],
            expected: Binary,
            found: Text,
        },
        Case {
            name: "an empty binary message after a partial text item",
            mode: || Mode::delimiter(","),
            pushes: &[(Text, b"a", true), (Binary, b"", true)],
            expected: Text,
            found: Binary,
        },
        Case {
            name: "a message of the other type before this one ended (whole messages)",
            mode: || Mode::EntireMessage,
            pushes: &[(Text, b"ab", false), (Binary, b"c", true)],
            expected: Text,
            found: Binary,
        },
        Case {
            name: "a message of the other type before this one ended (chunks)",
            mode: || Mode::Chunks,
            pushes: &[(Text, b"ab\xe2", false), (Binary, b"c", true)],
            expected: Text,
            found: Binary,
        },
    ];
    #[cfg(feature = "regex")]
    {
        use ferrosocket_delimit::RegexMode;
        cases.push(Case {
            name: "text regex on binary",
            mode: || Mode::Regex(RegexMode::text_search(",").unwrap()),
            pushes: &[(Binary, b"a,b", true)],
            expected: Text,
            found: Binary,
        });
        cases.push(Case {
            name: "binary regex on text",
            mode: || Mode::Regex(RegexMode::binary_match("a").unwrap()),
            pushes: &[(Text, b"a", true)],
            expected: Binary,
            found: Text,
        });
        cases.push(Case {
            name: "binary after a partial regex item",
            mode: || Mode::Regex(RegexMode::text_search(";").unwrap()),
            pushes: &[(Text, b"a;b", true), (Binary, b";", true)],
            expected: Text,
            found: Binary,
        });
    }
    cases
}

#[test]
fn mixed_types_are_refused_with_1003() {
    for case in cases() {
        let mut reader = ReadDelimiter::with_mode((case.mode)()).unwrap();
        let mut total = Vec::new();
        let mut handed = 0;
        let mut err = None;
        for &(kind, data, fin) in case.pushes {
            reader.push(kind, data, fin).unwrap();
            total.extend_from_slice(data);
            while let Some(item) = reader.next_item() {
                match item {
                    Ok(_) => handed += 1,
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
        }
        let expected = DelimitError::MixedTypes {
            expected: case.expected,
            found: case.found,
        };
        assert_eq!(err.as_ref(), Some(&expected), "{}", case.name);
        assert_eq!(expected.close_code(), 1003);
        // Asking again: the same error, nothing consumed.
        let before = reader.buffered().to_vec();
        assert_eq!(
            reader.next_item().unwrap().unwrap_err(),
            expected,
            "{}",
            case.name
        );
        assert_eq!(reader.buffered(), before, "{}", case.name);
        assert!(handed <= 1, "{}", case.name);
        assert!(total.ends_with(&before), "{}", case.name);
        // The data is all there: a mode that can take it hands over what comes first,
        // in order, and take_buffered the rest.
        reader.set_mode(Mode::Chunks).unwrap();
        let mut rest = Vec::new();
        while let Some(Ok(item)) = reader.next_item() {
            rest.extend_from_slice(item.as_bytes().unwrap());
        }
        for piece in reader.take_buffered() {
            rest.extend_from_slice(&piece.data);
        }
        assert_eq!(rest, before, "{}", case.name);
    }
}

#[test]
fn items_keep_the_type_of_their_data() {
    for mode in [
        || Mode::EntireMessage,
        || Mode::Chunks,
        || Mode::delimiter(","),
        || Mode::Bytes(1),
    ] {
        let mut reader = ReadDelimiter::with_mode(mode()).unwrap();
        reader.push(Text, b"t,", true).unwrap();
        reader.push(Binary, b"b,", true).unwrap();
        let kinds: Vec<_> = std::iter::from_fn(|| reader.next_item())
            .map(|item| item.unwrap())
            .filter(|item| item.as_bytes() != Some(b","))
            .map(|item| match item {
                Item::Text(_) => Text,
                Item::Binary(_) => Binary,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds.first(), Some(&Text));
        assert_eq!(kinds.last(), Some(&Binary));
    }
}
