//! Payload masking, RFC 6455 section 5.3.
//!
//! [`apply_mask`] is the one function most users need. It takes an inlined scalar path
//! for short buffers (control frames, small messages) and a SIMD kernel for the rest:
//!
//! | target | kernel |
//! |---|---|
//! | x86_64 with `std` | below 32 KiB AVX-512 when the CPU has AVX-512F and VBMI2 (Ice Lake, Zen 4 and later); else AVX2 when it has it (detected once, cached); else SSE2 |
//! | x86_64 without `std` | AVX-512 or AVX2 if enabled at compile time, else SSE2 (baseline) |
//! | aarch64 | NEON (baseline) |
//! | anything else | 8 bytes at a time with `u64` XORs |
//!
//! `unsafe` in this crate lives only in this module's `x86_64` and `aarch64` files,
//! behind the safe functions here; every kernel is tested against
//! [`apply_mask_bytewise`] on random buffers of every length up to 4096, every
//! alignment and every key offset.

mod scalar;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

pub use scalar::{apply_mask_bytewise, apply_mask_word};

/// Buffers shorter than this are masked by the inlined word-at-a-time path.
///
/// Below it the SIMD call (and, on x86_64, the feature check) costs about as much as
/// the work: on an AVX-512 Xeon, 125 bytes take 6.8 ns word-at-a-time and 7.2-7.7 ns
/// through the kernel; measured with `cargo bench -p ferrosocket-benches --bench mask`.
pub const SIMD_THRESHOLD: usize = 128;

/// Masks or unmasks `buf` in place with `key`, starting `offset` bytes into the key.
///
/// Byte `i` of `buf` is XORed with `key[(offset + i) % 4]`. Masking is its own
/// inverse. `offset` lets a payload that arrives in pieces be unmasked piece by piece:
/// pass the number of payload bytes already unmasked.
///
/// ```
/// use ferrosocket_codec::apply_mask;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// // "Hello" masked with that key (RFC 6455 section 5.7).
/// let mut payload = *b"\x7f\x9f\x4d\x51\x58";
/// apply_mask(&mut payload[..2], key, 0);
/// apply_mask(&mut payload[2..], key, 2);
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    if buf.len() < SIMD_THRESHOLD {
        apply_mask_word(buf, key, offset);
    } else {
        apply_mask_simd(buf, key, offset);
    }
}

/// Masks `buf` with the best SIMD kernel for this CPU, whatever its length.
///
/// [`apply_mask`] calls this for buffers of [`SIMD_THRESHOLD`] bytes or more; it is
/// public so benchmarks and tests can reach the kernel directly.
#[inline]
pub fn apply_mask_simd(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let k = scalar::rotate_key(key, offset);
    xor_best(buf, k);
}

/// The kernel [`apply_mask_simd`] uses on this CPU: `"avx2"`, `"sse2"`, `"neon"` or
/// `"scalar"`.
pub fn simd_backend() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx512() {
            "avx512"
        } else if x86::has_avx2() {
            "avx2"
        } else {
            "sse2"
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// Buffers from this size up take the AVX2 kernel even where AVX-512 is available:
/// once a buffer no longer fits the L1 cache, 64-byte stores lose. Measured on a
/// Sapphire Rapids Xeon, repeated in-place masking: AVX-512 1.3-1.5x faster than AVX2
/// from 2 to 48 KiB, 17% slower at 64 KiB and 1 MiB. 32 KiB is the smallest L1 data
/// cache among AVX-512 CPUs with VBMI2 (Zen 4).
#[cfg(target_arch = "x86_64")]
const AVX512_MAX: usize = 32 * 1024;

#[cfg(target_arch = "x86_64")]
#[inline]
fn xor_best(buf: &mut [u8], k: [u8; 4]) {
    if buf.len() < AVX512_MAX && x86::has_avx512() {
        // SAFETY: `has_avx512` returned true: AVX-512F is enabled at compile time or
        // the running CPU reported it.
        #[allow(unsafe_code)]
        unsafe {
            x86_64::xor_avx512(buf, k)
        }
    } else if x86::has_avx2() {
        // SAFETY: `has_avx2` returned true: AVX2 is enabled at compile time or the
        // running CPU reported it.
        #[allow(unsafe_code)]
        unsafe {
            x86_64::xor_avx2(buf, k)
        }
    } else {
        x86_64::xor_sse2(buf, k);
    }
}

#[cfg(target_arch = "aarch64")]
#[inline]
fn xor_best(buf: &mut [u8], k: [u8; 4]) {
    aarch64::xor_neon(buf, k);
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline]
fn xor_best(buf: &mut [u8], k: [u8; 4]) {
    scalar::xor_words(buf, k);
}

/// CPU feature detection for x86_64, done once and cached.
#[cfg(target_arch = "x86_64")]
mod x86 {
    /// Whether AVX2 may be used: fixed at compile time when the target enables it,
    /// detected at run time (once) with `std`, otherwise no.
    #[inline]
    pub(super) fn has_avx2() -> bool {
        #[cfg(target_feature = "avx2")]
        {
            true
        }
        #[cfg(all(not(target_feature = "avx2"), feature = "std"))]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0: not yet detected, 1: no, 2: yes.
            static AVX2: AtomicU8 = AtomicU8::new(0);
            match AVX2.load(Ordering::Relaxed) {
                0 => {
                    let yes = std::is_x86_feature_detected!("avx2");
                    AVX2.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                    yes
                }
                v => v == 2,
            }
        }
        #[cfg(all(not(target_feature = "avx2"), not(feature = "std")))]
        {
            false
        }
    }

    /// Whether the AVX-512 kernel may be used: fixed at compile time when the target
    /// enables AVX-512F, detected at run time (once) with `std`, otherwise no. At run
    /// time it is chosen only on CPUs that also have AVX-512 VBMI2 (Ice Lake and
    /// later, Zen 4 and later), where 512-bit stores do not lower the clock as they
    /// do on Skylake-SP.
    #[inline]
    pub(super) fn has_avx512() -> bool {
        #[cfg(target_feature = "avx512f")]
        {
            true
        }
        #[cfg(all(not(target_feature = "avx512f"), feature = "std"))]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0: not yet detected, 1: no, 2: yes.
            static AVX512: AtomicU8 = AtomicU8::new(0);
            match AVX512.load(Ordering::Relaxed) {
                0 => {
                    let yes = std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("avx512vbmi2");
                    AVX512.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                    yes
                }
                v => v == 2,
            }
        }
        #[cfg(all(not(target_feature = "avx512f"), not(feature = "std")))]
        {
            false
        }
    }
}

#[cfg(test)]
mod tests;
