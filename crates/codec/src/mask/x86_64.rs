//! SSE2 and AVX2 masking kernels.
//!
//! Each kernel XORs a buffer with a repeating 4-byte pattern whose phase is 0 at
//! `buf[0]` (the caller rotates the key). No scalar loop handles the ends: the first
//! and last vector of the buffer are loaded (unaligned) and masked *before* the
//! aligned body runs, and stored *after* it. Where they overlap the body, they store
//! the same bytes the body wrote (original XOR mask), so any length from one vector
//! up is covered with at most two unaligned accesses.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, __m256i, __m512i, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128,
    _mm256_load_si256, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_store_si256,
    _mm256_storeu_si256, _mm256_xor_si256, _mm512_load_si512, _mm512_loadu_si512,
    _mm512_set1_epi32, _mm512_store_si512, _mm512_storeu_si512, _mm512_xor_si512,
};

use super::scalar::xor_words;

/// The pattern as seen `at` bytes into the buffer, as the little-endian `u32` that
/// `_mm*_set1_epi32` repeats.
#[inline(always)]
fn pattern_at(k: [u8; 4], at: usize) -> i32 {
    u32::from_le_bytes(k).rotate_right(8 * (at & 3) as u32) as i32
}

/// XOR with SSE2, 16 bytes at a time. SSE2 is part of the x86_64 baseline, so this is
/// always available and safe to call.
#[inline]
pub(crate) fn xor_sse2(buf: &mut [u8], k: [u8; 4]) {
    let len = buf.len();
    if len < 16 {
        return xor_words(buf, k);
    }
    let p = buf.as_mut_ptr();
    let tail_at = len - 16;
    // SAFETY: SSE2 is baseline on x86_64. `len >= 16`, so the 16 bytes at 0 and at
    // `len - 16` are in bounds; every body access `i` satisfies `i + 16 <= len`
    // (checked by the loop condition). Unaligned loads/stores accept any address.
    // The head and tail are loaded before the body writes anything and stored after,
    // so every byte ends up as original XOR mask exactly once in effect.
    unsafe {
        let head = _mm_xor_si128(
            _mm_loadu_si128(p.cast::<__m128i>()),
            _mm_set1_epi32(pattern_at(k, 0)),
        );
        let tail = _mm_xor_si128(
            _mm_loadu_si128(p.add(tail_at).cast::<__m128i>()),
            _mm_set1_epi32(pattern_at(k, tail_at)),
        );
        let body = _mm_set1_epi32(pattern_at(k, 16));
        let mut i = 16;
        while i + 16 <= len {
            let q = p.add(i).cast::<__m128i>();
            _mm_storeu_si128(q, _mm_xor_si128(_mm_loadu_si128(q), body));
            i += 16;
        }
        _mm_storeu_si128(p.cast::<__m128i>(), head);
        _mm_storeu_si128(p.add(tail_at).cast::<__m128i>(), tail);
    }
}

/// XOR with AVX2: unaligned first and last 32 bytes, and between them an aligned body
/// of 128 bytes per iteration, then 32 at a time.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn xor_avx2(buf: &mut [u8], k: [u8; 4]) {
    let len = buf.len();
    if len < 32 {
        return xor_sse2(buf, k);
    }
    let p = buf.as_mut_ptr();
    let tail_at = len - 32;
    // First 32-byte boundary at or after p; `< 32 <= len`.
    let start = p.align_offset(32);
    let end = start + (len - start) / 32 * 32;
    // SAFETY: AVX2 is available per this function's contract. `len >= 32`, so the 32
    // bytes at 0 and at `len - 32` are in bounds for the unaligned accesses. The body
    // runs from `start` (32-byte aligned) to `end <= len` in whole 32-byte steps, so
    // each aligned access is in bounds and aligned. Head and tail are loaded before
    // the body writes and stored after it; where they overlap the body they store the
    // same values (original XOR mask at the same phase).
    unsafe {
        let head = _mm256_xor_si256(
            _mm256_loadu_si256(p.cast::<__m256i>()),
            _mm256_set1_epi32(pattern_at(k, 0)),
        );
        let tail = _mm256_xor_si256(
            _mm256_loadu_si256(p.add(tail_at).cast::<__m256i>()),
            _mm256_set1_epi32(pattern_at(k, tail_at)),
        );
        let body = _mm256_set1_epi32(pattern_at(k, start));
        let mut i = start;
        while i + 128 <= end {
            let q = p.add(i).cast::<__m256i>();
            let a = _mm256_xor_si256(_mm256_load_si256(q), body);
            let b = _mm256_xor_si256(_mm256_load_si256(q.add(1)), body);
            let c = _mm256_xor_si256(_mm256_load_si256(q.add(2)), body);
            let d = _mm256_xor_si256(_mm256_load_si256(q.add(3)), body);
            _mm256_store_si256(q, a);
            _mm256_store_si256(q.add(1), b);
            _mm256_store_si256(q.add(2), c);
            _mm256_store_si256(q.add(3), d);
            i += 128;
        }
        while i < end {
            let q = p.add(i).cast::<__m256i>();
            _mm256_store_si256(q, _mm256_xor_si256(_mm256_load_si256(q), body));
            i += 32;
        }
        _mm256_storeu_si256(p.cast::<__m256i>(), head);
        _mm256_storeu_si256(p.add(tail_at).cast::<__m256i>(), tail);
    }
}

/// XOR with AVX-512: unaligned first and last 64 bytes, and between them an aligned
/// body of 256 bytes per iteration, then 64 at a time; the AVX2 kernel below 64 bytes.
///
/// # Safety
/// The CPU must support AVX-512F (which implies AVX2).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn xor_avx512(buf: &mut [u8], k: [u8; 4]) {
    let len = buf.len();
    if len < 64 {
        // SAFETY: AVX-512F implies AVX2, available per this function's contract.
        return unsafe { xor_avx2(buf, k) };
    }
    let p = buf.as_mut_ptr();
    let tail_at = len - 64;
    // First 64-byte boundary at or after p; `< 64 <= len`.
    let start = p.align_offset(64);
    let end = start + (len - start) / 64 * 64;
    // SAFETY: AVX-512F is available per this function's contract. `len >= 64`, so the
    // 64 bytes at 0 and at `len - 64` are in bounds for the unaligned accesses. The
    // body runs from `start` (64-byte aligned) to `end <= len` in whole 64-byte steps,
    // so each aligned access is in bounds and aligned. Head and tail are loaded before
    // the body writes and stored after it; where they overlap the body they store the
    // same values (original XOR mask at the same phase).
    unsafe {
        let head = _mm512_xor_si512(
            _mm512_loadu_si512(p.cast::<__m512i>()),
            _mm512_set1_epi32(pattern_at(k, 0)),
        );
        let tail = _mm512_xor_si512(
            _mm512_loadu_si512(p.add(tail_at).cast::<__m512i>()),
            _mm512_set1_epi32(pattern_at(k, tail_at)),
        );
        let body = _mm512_set1_epi32(pattern_at(k, start));
        let mut i = start;
        while i + 256 <= end {
            let q = p.add(i).cast::<__m512i>();
            let a = _mm512_xor_si512(_mm512_load_si512(q), body);
            let b = _mm512_xor_si512(_mm512_load_si512(q.add(1)), body);
            let c = _mm512_xor_si512(_mm512_load_si512(q.add(2)), body);
            let d = _mm512_xor_si512(_mm512_load_si512(q.add(3)), body);
            _mm512_store_si512(q, a);
            _mm512_store_si512(q.add(1), b);
            _mm512_store_si512(q.add(2), c);
            _mm512_store_si512(q.add(3), d);
            i += 256;
        }
        while i < end {
            let q = p.add(i).cast::<__m512i>();
            _mm512_store_si512(q, _mm512_xor_si512(_mm512_load_si512(q), body));
            i += 64;
        }
        _mm512_storeu_si512(p.cast::<__m512i>(), head);
        _mm512_storeu_si512(p.add(tail_at).cast::<__m512i>(), tail);
    }
}
