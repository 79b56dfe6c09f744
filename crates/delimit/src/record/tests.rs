//! Unit tests of the record types and the length-prefix framer.

use super::*;

#[test]
fn length_prefixed_frames_each_width() {
    let cases: [(Prefix, &[u8]); 3] = [
        (Prefix::U8, b"\x03abcX"),
        (Prefix::U16, b"\x00\x03abcX"),
        (Prefix::U32, b"\x00\x00\x00\x03abcX"),
    ];
    for (prefix, wire) in cases {
        let mut f = LengthPrefixed::new(prefix);
        let w = prefix.width();
        for cut in 0..w {
            assert_eq!(f.frame(&wire[..cut]), Ok(Framing::Need(w - cut)));
        }
        for cut in w..w + 3 {
            assert_eq!(f.frame(&wire[..cut]), Ok(Framing::Need(w + 3 - cut)));
        }
        let record = Framing::Record { skip: w, len: 3 };
        assert_eq!(f.frame(&wire[..w + 3]), Ok(record));
        assert_eq!(f.frame(wire), Ok(record), "more than one record's bytes");
    }
}

#[test]
fn length_prefixed_limits() {
    assert_eq!(LengthPrefixed::new(Prefix::U8).limit(), 255);
    assert_eq!(LengthPrefixed::new(Prefix::U16).limit(), 65_535);
    assert_eq!(LengthPrefixed::new(Prefix::U32).limit(), 16 << 20);
    // A limit above what the prefix can say is capped.
    assert_eq!(LengthPrefixed::new(Prefix::U8).max_len(1000).limit(), 255);
    let mut f = LengthPrefixed::new(Prefix::U32).max_len(u64::MAX);
    assert_eq!(f.limit(), u64::from(u32::MAX));
    assert_eq!(
        f.frame(b"\xff\xff\xff\xff"),
        Ok(Framing::Need(usize::try_from(u32::MAX).unwrap()))
    );
    let mut f = LengthPrefixed::new(Prefix::U16).max_len(2);
    assert_eq!(
        f.frame(b"\x00\x03"),
        Err(RecordError::TooLong { len: 3, max: 2 })
    );
    assert_eq!(f.prefix(), Prefix::U16);
}

#[test]
fn length_prefixed_encodes_or_refuses() {
    let f = LengthPrefixed::new(Prefix::U8);
    let mut out = Vec::new();
    f.encode(b"hi", &mut out).unwrap();
    f.encode(b"", &mut out).unwrap();
    assert_eq!(out, b"\x02hi\x00");
    let err = f.encode(&[0; 256], &mut out).unwrap_err();
    assert_eq!(err, RecordError::TooLong { len: 256, max: 255 });
    assert_eq!(err.close_code(), 1009);
    assert_eq!(out.len(), 4, "nothing appended on error");
    let mut out = Vec::new();
    LengthPrefixed::new(Prefix::U32)
        .encode(b"abc", &mut out)
        .unwrap();
    assert_eq!(out, b"\x00\x00\x00\x03abc");
}

#[test]
fn byte_arrays_are_records() {
    assert_eq!(<[u8; 3]>::decode(b"abc"), Ok(*b"abc"));
    assert!(<[u8; 3]>::decode(b"ab").is_err());
    assert_eq!(b"xyz".to_bytes(), b"xyz");
    assert_eq!(encode_records(&[*b"ab", *b"cd"]), b"abcd");
}

#[test]
fn records_erase_and_restore_the_type() {
    let records = Records::of::<[u8; 4]>();
    assert_eq!(records.size(), 4);
    assert!(records.is::<[u8; 4]>());
    assert!(!records.is::<[u8; 2]>());
    assert!(records.type_name().contains("u8"));
    assert!(format!("{records:?}").contains("size: 4"));
    let any = records.decode(b"wxyz").unwrap();
    assert!(any.is::<[u8; 4]>());
    assert!(format!("{any:?}").contains("AnyRecord"));
    assert_eq!(any.type_name(), records.type_name());
    assert_eq!(any.downcast::<[u8; 4]>().unwrap(), *b"wxyz");
}

#[test]
fn record_errors_have_codes_and_messages() {
    let invalid = RecordError::invalid("bad tag");
    assert_eq!(invalid.close_code(), 1007);
    assert_eq!(invalid.to_string(), "invalid record: bad tag");
    assert_eq!(Prefix::U16.max_value(), 65_535);
}
