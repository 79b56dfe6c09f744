use alloc::vec::Vec;

use super::*;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

type Kernel = fn(&mut [u8], [u8; 4], usize);

fn kernels() -> Vec<(&'static str, Kernel)> {
    let mut v: Vec<(&'static str, Kernel)> = Vec::new();
    v.push(("word", apply_mask_word));
    v.push(("dispatch", apply_mask));
    v.push(("simd", apply_mask_simd));
    #[cfg(target_arch = "x86_64")]
    {
        v.push(("sse2", |b, k, o| {
            x86_64::xor_sse2(b, scalar::rotate_key(k, o))
        }));
        if x86::has_avx2() {
            v.push(("avx2", |b, k, o| {
                // SAFETY: only registered when the CPU has AVX2.
                #[allow(unsafe_code)]
                unsafe {
                    x86_64::xor_avx2(b, scalar::rotate_key(k, o))
                }
            }));
        }
        if x86::has_avx512() {
            v.push(("avx512", |b, k, o| {
                // SAFETY: only registered when the CPU has AVX-512F.
                #[allow(unsafe_code)]
                unsafe {
                    x86_64::xor_avx512(b, scalar::rotate_key(k, o))
                }
            }));
        }
    }
    v
}

/// Every kernel equals the bytewise reference for every length 0..=4096, several
/// alignments of the start, and every key offset, on random data and keys.
#[test]
fn kernels_match_bytewise_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut backing = alloc::vec![0u8; 4096 + 64];
    let mut expected = alloc::vec![0u8; 4096];
    for (name, kernel) in kernels() {
        for len in 0..=4096usize {
            // Every misalignment for short buffers, a rotating one for long ones
            // (the loop still covers all 32 over consecutive lengths).
            let aligns: &[usize] = if len <= 256 {
                &[0, 1, 2, 3, 5, 6, 7, 13, 31]
            } else {
                &[len % 32]
            };
            for &align in aligns {
                for offset in 0..4 {
                    let key = (rng.next() as u32).to_ne_bytes();
                    let buf = &mut backing[align..align + len];
                    rng.fill(buf);
                    expected[..len].copy_from_slice(buf);
                    apply_mask_bytewise(&mut expected[..len], key, offset);
                    kernel(buf, key, offset);
                    assert_eq!(
                        buf,
                        &expected[..len],
                        "{name}: len {len} align {align} offset {offset}"
                    );
                }
            }
        }
    }
}

#[test]
fn masking_twice_is_identity() {
    let mut rng = Rng(7);
    let mut buf = alloc::vec![0u8; 1000];
    rng.fill(&mut buf);
    let orig = buf.clone();
    apply_mask(&mut buf, [1, 2, 3, 4], 3);
    assert_ne!(buf, orig);
    apply_mask(&mut buf, [1, 2, 3, 4], 3);
    assert_eq!(buf, orig);
}

#[test]
fn offsets_compose() {
    // Unmasking in two pieces with the running offset equals one piece.
    let mut rng = Rng(11);
    let mut whole = alloc::vec![0u8; 300];
    rng.fill(&mut whole);
    let mut split = whole.clone();
    let key = [0xde, 0xad, 0xbe, 0xef];
    apply_mask(&mut whole, key, 0);
    for cut in [0, 1, 2, 3, 63, 64, 65, 150, 299, 300] {
        let mut s = split.clone();
        let (a, b) = s.split_at_mut(cut);
        apply_mask(a, key, 0);
        apply_mask(b, key, cut);
        assert_eq!(s, whole, "cut at {cut}");
    }
    apply_mask_simd(&mut split, key, 0);
    assert_eq!(split, whole);
}

#[test]
fn backend_is_named() {
    let name = simd_backend();
    assert!(["avx512", "avx2", "sse2", "neon", "scalar"].contains(&name));
}
