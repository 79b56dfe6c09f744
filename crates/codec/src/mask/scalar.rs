//! Safe scalar masking: the reference every SIMD path is tested against.

/// The key as seen from `offset` bytes into it: byte `i` of a buffer starting at
/// that offset is masked with `rotated[i % 4]`.
#[inline(always)]
pub(crate) const fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let o = offset & 3;
    [key[o], key[(o + 1) & 3], key[(o + 2) & 3], key[(o + 3) & 3]]
}

/// Masks (or unmasks) `buf` one byte at a time.
///
/// The simplest correct form of RFC 6455 section 5.3, `buf[i] ^= key[(offset + i) % 4]`.
/// It exists as the reference and benchmark baseline; use [`apply_mask`](crate::apply_mask).
#[inline]
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) & 3];
    }
}

/// Masks (or unmasks) `buf` eight bytes at a time with plain `u64` XORs.
///
/// Portable and safe; this is the path [`apply_mask`](crate::apply_mask) takes for
/// short buffers, where SIMD dispatch would cost more than it saves.
#[inline]
pub fn apply_mask_word(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let k = rotate_key(key, offset);
    xor_words(buf, k);
}

/// XORs `buf` with the repeating 4-byte pattern `k`, `k[0]` at `buf[0]`.
#[inline(always)]
pub(crate) fn xor_words(buf: &mut [u8], k: [u8; 4]) {
    let word = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so the pattern's phase is 0 again.
    let rest = chunks.into_remainder();
    let (four, bytes) = if rest.len() >= 4 {
        rest.split_at_mut(4)
    } else {
        rest.split_at_mut(0)
    };
    if let Ok(four) = <&mut [u8; 4]>::try_from(four) {
        *four = (u32::from_ne_bytes(*four) ^ u32::from_ne_bytes(k)).to_ne_bytes();
    }
    for (byte, m) in bytes.iter_mut().zip(k) {
        *byte ^= m;
    }
}
