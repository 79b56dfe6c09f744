//! The ASCII run at the start of a buffer, found with AVX-512 or AVX2.
//!
//! Text on the wire is mostly ASCII (JSON, protocols, logs). A pure OR over 64-byte
//! blocks finds where the ASCII run ends at memory speed, about twice as fast as
//! simdutf8's full check, whose call also costs more per chunk. Only the rest, from
//! the first block holding a non-ASCII byte, goes to simdutf8.
//!
//! [`ascii_prefix`] is the safe entry point. Past the first 64 bytes the buffer is
//! read in 64-byte blocks aligned in memory (no load splits a cache line); the
//! first 64 bytes and the last 64 are read unaligned, overlapping the blocks. Every
//! kernel returns exactly what [`ascii_prefix_scalar`] returns: the length if all is
//! ASCII; else 0 if the first byte >= 0x80 is among the first 64 bytes (or the
//! buffer is shorter than 64); else the start of the aligned block (or of the part
//! after the last block) that holds it. The tests compare them on random buffers at
//! many alignments. `unsafe` in this crate lives only in this module.
#![allow(unsafe_code)]

use crate::is_ascii_short;

/// The granularity of the answer.
const BLOCK: usize = 64;

/// How many bytes at the start of `bytes` are known to be ASCII: `bytes[..n]` is
/// ASCII, and `n == bytes.len()` exactly when all of it is; otherwise `n` is less
/// than 64 bytes short of the first non-ASCII byte, or 0.
/// Where no SIMD kernel is available (not x86_64, or a CPU without AVX2) it returns
/// 0, which leaves all the work to simdutf8.
#[inline]
pub(crate) fn ascii_prefix(bytes: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        match x86::level() {
            x86::Level::Avx512 => {
                // SAFETY: `level` reported AVX-512F: enabled at compile time or
                // detected on the running CPU.
                unsafe { x86::prefix_avx512(bytes) }
            }
            x86::Level::Avx2 => {
                // SAFETY: `level` reported AVX2: enabled at compile time or detected
                // on the running CPU.
                unsafe { x86::prefix_avx2(bytes) }
            }
            x86::Level::None => 0,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = bytes;
        0
    }
}

/// The reference, word-at-a-time and safe (see the [module docs](self) for what it
/// returns). Only the tests call it: without a SIMD kernel, simdutf8's own check is
/// faster than this one followed by simdutf8.
#[cfg(test)]
pub(crate) fn ascii_prefix_scalar(bytes: &[u8]) -> usize {
    let len = bytes.len();
    if len < BLOCK {
        return if is_ascii_short(bytes) { len } else { 0 };
    }
    if !is_ascii_short(&bytes[..BLOCK]) {
        return 0;
    }
    let mut i = head_len(bytes);
    while i + BLOCK <= len {
        if !is_ascii_short(&bytes[i..i + BLOCK]) {
            return i;
        }
        i += BLOCK;
    }
    if i < len && !is_ascii_short(&bytes[len - BLOCK..]) {
        return i;
    }
    len
}

/// Bytes before the first 64-byte boundary in memory (all of them if it is past the
/// end).
#[inline]
fn head_len(bytes: &[u8]) -> usize {
    bytes.as_ptr().align_offset(BLOCK).min(bytes.len())
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::{
        __m256i, __m512i, _mm256_loadu_si256, _mm256_or_si256, _mm256_set1_epi8,
        _mm256_testz_si256, _mm512_loadu_si512, _mm512_or_si512, _mm512_set1_epi32,
        _mm512_test_epi32_mask,
    };

    use super::{BLOCK, head_len, is_ascii_short};

    /// Which variants are ever built depends on the target features and `std`.
    #[allow(dead_code)]
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum Level {
        Avx512,
        Avx2,
        None,
    }

    /// The best kernel this CPU runs: fixed at compile time when the target enables
    /// the feature, else detected once (with `std`) and cached. AVX-512 is taken only
    /// with VBMI2 (Ice Lake, Zen 4 and later), where 512-bit work keeps the clock.
    #[inline]
    pub(super) fn level() -> Level {
        #[cfg(target_feature = "avx512f")]
        {
            Level::Avx512
        }
        #[cfg(all(not(target_feature = "avx512f"), feature = "std"))]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0: not yet detected, 1: none, 2: AVX2, 3: AVX-512.
            static LEVEL: AtomicU8 = AtomicU8::new(0);
            match LEVEL.load(Ordering::Relaxed) {
                3 => Level::Avx512,
                2 => Level::Avx2,
                1 => Level::None,
                _ => {
                    let level = if std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("avx512vbmi2")
                    {
                        Level::Avx512
                    } else if std::is_x86_feature_detected!("avx2") {
                        Level::Avx2
                    } else {
                        Level::None
                    };
                    let code = match level {
                        Level::Avx512 => 3,
                        Level::Avx2 => 2,
                        Level::None => 1,
                    };
                    LEVEL.store(code, Ordering::Relaxed);
                    level
                }
            }
        }
        #[cfg(all(
            not(target_feature = "avx512f"),
            not(feature = "std"),
            target_feature = "avx2"
        ))]
        {
            Level::Avx2
        }
        #[cfg(all(
            not(target_feature = "avx512f"),
            not(feature = "std"),
            not(target_feature = "avx2")
        ))]
        {
            Level::None
        }
    }

    /// [`ascii_prefix_scalar`](super::ascii_prefix_scalar) with AVX-512: the first
    /// 64 bytes, then 256 aligned bytes per step, then aligned 64-byte blocks to find
    /// the one that failed, then the last 64 bytes.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn prefix_avx512(bytes: &[u8]) -> usize {
        let len = bytes.len();
        if len < BLOCK {
            return if is_ascii_short(bytes) { len } else { 0 };
        }
        let p = bytes.as_ptr();
        let mut i = head_len(bytes);
        // SAFETY: AVX-512F is available per this function's contract. `len >= 64`,
        // so the 64 bytes at 0 and at `len - 64` are inside `bytes`; every other load
        // reads 64 bytes at `p + i + k * 64` only when `i + (k + 1) * 64 <= len` (the
        // loop conditions). Unaligned loads accept any address.
        unsafe {
            let high = _mm512_set1_epi32(0x8080_8080_u32 as i32);
            let hit =
                |q: *const u8| _mm512_test_epi32_mask(_mm512_loadu_si512(q.cast()), high) != 0;
            if hit(p) {
                return 0;
            }
            while i + 4 * BLOCK <= len {
                let q = p.add(i).cast::<__m512i>();
                let any = _mm512_or_si512(
                    _mm512_or_si512(_mm512_loadu_si512(q), _mm512_loadu_si512(q.add(1))),
                    _mm512_or_si512(_mm512_loadu_si512(q.add(2)), _mm512_loadu_si512(q.add(3))),
                );
                if _mm512_test_epi32_mask(any, high) != 0 {
                    break;
                }
                i += 4 * BLOCK;
            }
            while i + BLOCK <= len {
                if hit(p.add(i)) {
                    return i;
                }
                i += BLOCK;
            }
            if i < len && hit(p.add(len - BLOCK)) {
                return i;
            }
        }
        len
    }

    /// [`ascii_prefix_scalar`](super::ascii_prefix_scalar) with AVX2: the first 64
    /// bytes, then 128 aligned bytes per step, then aligned 64-byte blocks, then the
    /// last 64 bytes.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn prefix_avx2(bytes: &[u8]) -> usize {
        let len = bytes.len();
        if len < BLOCK {
            return if is_ascii_short(bytes) { len } else { 0 };
        }
        let p = bytes.as_ptr();
        let mut i = head_len(bytes);
        // SAFETY: AVX2 is available per this function's contract. `len >= 64`, so the
        // 64 bytes at 0 and at `len - 64` are inside `bytes`; every other load reads
        // 32 bytes at `p + i + k * 32` only when `i + (k + 1) * 32 <= len` (the loop
        // conditions). Unaligned loads accept any address.
        unsafe {
            let high = _mm256_set1_epi8(0x80_u8 as i8);
            let hit = |q: *const u8| {
                let q = q.cast::<__m256i>();
                let block = _mm256_or_si256(_mm256_loadu_si256(q), _mm256_loadu_si256(q.add(1)));
                _mm256_testz_si256(block, high) == 0
            };
            if hit(p) {
                return 0;
            }
            while i + 2 * BLOCK <= len {
                let q = p.add(i).cast::<__m256i>();
                let any = _mm256_or_si256(
                    _mm256_or_si256(_mm256_loadu_si256(q), _mm256_loadu_si256(q.add(1))),
                    _mm256_or_si256(_mm256_loadu_si256(q.add(2)), _mm256_loadu_si256(q.add(3))),
                );
                if _mm256_testz_si256(any, high) == 0 {
                    break;
                }
                i += 2 * BLOCK;
            }
            while i + BLOCK <= len {
                if hit(p.add(i)) {
                    return i;
                }
                i += BLOCK;
            }
            if i < len && hit(p.add(len - BLOCK)) {
                return i;
            }
        }
        len
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;

    type Kernel = fn(&[u8]) -> usize;

    /// The SIMD kernels this CPU runs.
    fn kernels() -> Vec<(&'static str, Kernel)> {
        let mut v: Vec<(&'static str, Kernel)> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            let level = x86::level();
            if level == x86::Level::Avx512 {
                v.push(("avx512", |b| {
                    // SAFETY: registered only when the CPU has AVX-512F.
                    unsafe { x86::prefix_avx512(b) }
                }));
            }
            if level != x86::Level::None {
                v.push(("avx2", |b| {
                    // SAFETY: both levels imply AVX2 (AVX-512F implies it).
                    unsafe { x86::prefix_avx2(b) }
                }));
            }
        }
        v
    }

    /// xorshift64*, deterministic.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    /// The definition, byte by byte.
    fn reference(bytes: &[u8]) -> usize {
        let head = head_len(bytes);
        match bytes.iter().position(|&b| b >= 0x80) {
            None => bytes.len(),
            Some(at) if at < BLOCK => 0,
            Some(at) => head + (at - head) / BLOCK * BLOCK,
        }
    }

    #[test]
    fn scalar_matches_the_definition() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut buf = [b'a'; 1200];
        for start in [0usize, 5, 31, 63] {
            for len in 0..=1100 {
                let range = start..start + len;
                assert_eq!(ascii_prefix_scalar(&buf[range.clone()]), len);
                for _ in 0..4 {
                    if len == 0 {
                        break;
                    }
                    let at = start + rng.next() as usize % len;
                    buf[at] = 0x80 | rng.next() as u8;
                    let bytes = &buf[range.clone()];
                    assert_eq!(
                        ascii_prefix_scalar(bytes),
                        reference(bytes),
                        "start {start} len {len} at {at}"
                    );
                    buf[at] = b'a';
                }
            }
        }
    }

    /// Every SIMD kernel this CPU runs equals the scalar twin: every length up to
    /// 4096, several start offsets, 0 to 3 non-ASCII bytes at random places, random
    /// ASCII around them (0x7F included).
    #[test]
    fn simd_kernels_match_scalar() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut storage = [0u8; 4096 + 64];
        let kernels = kernels();
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        if std::is_x86_feature_detected!("avx2") {
            assert!(!kernels.is_empty(), "an AVX2 CPU runs a SIMD kernel");
        }
        for len in 0..=4096usize {
            for offset in [0usize, 1, 7, 33, 63] {
                let buf = &mut storage[offset..offset + len];
                for b in buf.iter_mut() {
                    *b = (rng.next() % 0x80) as u8;
                }
                let marks = if len == 0 { 0 } else { rng.next() % 4 };
                for _ in 0..marks {
                    let at = rng.next() as usize % len;
                    buf[at] = 0x80 | rng.next() as u8;
                }
                let want = ascii_prefix_scalar(buf);
                assert_eq!(want, reference(buf));
                let got = ascii_prefix(buf);
                assert!(
                    got == want || got == 0,
                    "dispatch: len {len} got {got} want {want}"
                );
                for (name, kernel) in &kernels {
                    assert_eq!(kernel(buf), want, "{name}: len {len} offset {offset}");
                }
            }
        }
    }
}
