//! NEON masking kernel (NEON is part of the aarch64 baseline).
#![allow(unsafe_code)]

use core::arch::aarch64::{vdupq_n_u32, veorq_u8, vld1q_u8, vreinterpretq_u8_u32, vst1q_u8};

use super::scalar::xor_words;

/// XOR with NEON, 16 bytes at a time.
#[inline]
pub(crate) fn xor_neon(buf: &mut [u8], k: [u8; 4]) {
    let mut chunks = buf.chunks_exact_mut(16);
    // SAFETY: NEON is enabled on every aarch64 target this crate builds for; the
    // intrinsic only builds a register value.
    let pattern = unsafe { vreinterpretq_u8_u32(vdupq_n_u32(u32::from_ne_bytes(k))) };
    for chunk in &mut chunks {
        let p = chunk.as_mut_ptr();
        // SAFETY: `chunk` is exactly 16 writable bytes; vld1q/vst1q have no
        // alignment requirement beyond u8; NEON is baseline on aarch64.
        unsafe { vst1q_u8(p, veorq_u8(vld1q_u8(p), pattern)) };
    }
    xor_words(chunks.into_remainder(), k);
}
