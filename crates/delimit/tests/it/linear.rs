//! Delimiter scanning resumes where it stopped: data arriving one byte at a time is
//! scanned in linear time. Measured with the reader's work counter, not a clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrosocket_delimit::{DataKind, Framing, Mode, ReadDelimiter, RecordError, RecordFramer};

const MIB: usize = 1 << 20;

/// Pushes `data` one byte at a time, pulling after each; returns the items' bytes.
fn one_byte_at_a_time(reader: &mut ReadDelimiter, kind: DataKind, data: &[u8]) -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    for (i, byte) in data.iter().enumerate() {
        reader
            .push(kind, std::slice::from_ref(byte), i + 1 == data.len())
            .unwrap();
        while let Some(item) = reader.next_item() {
            items.push(item.unwrap().as_bytes().unwrap().to_vec());
        }
    }
    items
}

#[test]
fn a_mebibyte_one_byte_at_a_time_is_scanned_linearly() {
    let delimiter = b"\r\n\r\n";
    let mut data = vec![b'a'; MIB];
    data.extend_from_slice(delimiter);
    let mut reader = ReadDelimiter::with_mode(Mode::delimiter(delimiter))
        .unwrap()
        .buffer_size(2 * MIB);
    let items = one_byte_at_a_time(&mut reader, DataKind::Binary, &data);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].len(), MIB);
    let n = data.len() as u64;
    let scanned = reader.bytes_scanned();
    // Each push re-examines at most `delimiter.len() - 1` old bytes: linear. A
    // rescan of the whole buffer per push would be about n * n / 2 = 2^39.
    assert!(
        scanned <= n * delimiter.len() as u64,
        "scanned {scanned} bytes for {n}"
    );
    assert!(scanned >= n, "every byte looked at");
}

#[test]
fn text_delimiters_over_split_characters_are_linear_too() {
    let unit = "ab€𝄞 ".repeat(1000);
    let data = format!("{unit}¶{unit}¶");
    let mut reader = ReadDelimiter::with_mode(Mode::text_delimiter("¶"))
        .unwrap()
        .buffer_size(MIB);
    let items = one_byte_at_a_time(&mut reader, DataKind::Text, data.as_bytes());
    assert_eq!(items, [unit.as_bytes().to_vec(), unit.as_bytes().to_vec()]);
    assert!(reader.bytes_scanned() <= 2 * data.len() as u64);
}

#[test]
fn many_tiny_messages_cost_constant_work_each() {
    // 100 000 one-byte messages without a delimiter: no per-message walk over what is
    // buffered.
    let n = 100_000;
    let mut reader = ReadDelimiter::with_mode(Mode::delimiter(b"|"))
        .unwrap()
        .buffer_size(MIB);
    for _ in 0..n {
        reader.push(DataKind::Binary, b"m", true).unwrap();
        assert!(reader.next_item().is_none());
    }
    assert_eq!(reader.bytes_scanned(), n);
    reader.push(DataKind::Binary, b"|", true).unwrap();
    assert_eq!(
        reader
            .next_item()
            .unwrap()
            .unwrap()
            .as_bytes()
            .unwrap()
            .len(),
        n as usize
    );
}

/// A length-prefix framer (1 byte, in units of 4 KiB) that counts its calls.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl RecordFramer for Counted {
    fn frame(&mut self, buffered: &[u8]) -> Result<Framing, RecordError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        let Some(&units) = buffered.first() else {
            return Ok(Framing::Need(1));
        };
        let len = usize::from(units) * 4096;
        match (1 + len).checked_sub(buffered.len()) {
            Some(more) if more > 0 => Ok(Framing::Need(more)),
            _ => Ok(Framing::Record { skip: 1, len }),
        }
    }
}

#[test]
fn a_large_variable_record_asks_the_framer_once_per_need() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut reader = ReadDelimiter::with_mode(Mode::Variable(Box::new(Counted(calls.clone()))))
        .unwrap()
        .buffer_size(16);
    let mut data = vec![255u8];
    data.extend(std::iter::repeat_n(b'r', 255 * 4096));
    let items = one_byte_at_a_time(&mut reader, DataKind::Binary, &data);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].len(), 255 * 4096);
    // Once for the prefix, once when the record is complete.
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}
