//! Randomness for client masking keys, injected rather than global.

#[cfg(feature = "std")]
use alloc::vec::Vec;

/// A source of random bytes for the masking keys a client puts on every frame.
///
/// RFC 6455 section 5.3 requires each key to be unpredictable to the application
/// (it protects intermediaries from cache poisoning by attacker-chosen payloads), so
/// production code must use a cryptographically secure source: [`OsRandom`], the
/// default under the `std` feature. Servers never mask and never call it.
///
/// Closures `FnMut(&mut [u8])` implement it too, which is handy in tests.
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf);
    }
}

/// The operating system's CSPRNG (through `getrandom`), the default source.
///
/// To amortise the system call, it draws 4 KiB at a time and hands them out (a client
/// takes 4 bytes per frame, so one call serves 1024 frames); the pool is allocated on
/// first use, so a server never pays for it. Requests larger than half the pool go
/// straight to the OS.
///
/// # Panics
///
/// If the operating system cannot provide random bytes at all (as `std`'s
/// `RandomState` does): masking with predictable keys is not an option.
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub struct OsRandom {
    pool: Vec<u8>,
    pos: usize,
}

#[cfg(feature = "std")]
impl OsRandom {
    const POOL: usize = 4096;

    /// A new source; nothing is drawn until the first [`fill`](RandomSource::fill).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            pool: Vec::new(),
            pos: 0,
        }
    }

    fn os_fill(buf: &mut [u8]) {
        if let Err(e) = getrandom::fill(buf) {
            panic!("the operating system's random number generator failed: {e}");
        }
    }
}

#[cfg(feature = "std")]
impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if buf.len() > Self::POOL / 2 {
            return Self::os_fill(buf);
        }
        if self.pool.len() - self.pos < buf.len() {
            self.pool.resize(Self::POOL, 0);
            Self::os_fill(&mut self.pool);
            self.pos = 0;
        }
        let end = self.pos + buf.len();
        buf.copy_from_slice(&self.pool[self.pos..end]);
        // Never hand the same bytes out twice.
        self.pool[self.pos..end].fill(0);
        self.pos = end;
    }
}

/// A deterministic generator (SplitMix64) for tests and reproducible traces.
///
/// **Not for production**: anyone who sees one key can predict the rest, which
/// defeats the purpose of masking. The stream depends only on the seed, not on how
/// it is requested: key `i` of a client connection is bytes `4i..4i+4` of the stream.
///
/// ```
/// use ferrosocket_proto::{RandomSource, SeededRandom};
/// let (mut a, mut b) = (SeededRandom::new(7), SeededRandom::new(7));
/// let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
/// a.fill(&mut x[..3]);
/// a.fill(&mut x[3..]);
/// b.fill(&mut y);
/// assert_eq!(x, y);
/// ```
#[derive(Debug, Clone)]
pub struct SeededRandom {
    state: u64,
    word: [u8; 8],
    used: usize,
}

impl SeededRandom {
    /// A generator whose whole output is determined by `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self {
            state: seed,
            word: [0; 8],
            used: 8,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            if self.used == 8 {
                self.word = self.next_u64().to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "std")]
    #[test]
    fn os_random_pools_and_varies() {
        let mut r = OsRandom::new();
        let mut keys = alloc::vec::Vec::new();
        for _ in 0..2000 {
            let mut k = [0u8; 4];
            r.fill(&mut k);
            keys.push(k);
        }
        keys.sort_unstable();
        keys.dedup();
        assert!(keys.len() > 1990, "keys repeat: {}", keys.len());
        let mut big = [0u8; 5000];
        r.fill(&mut big);
        assert!(big.iter().any(|&b| b != 0));
    }

    #[test]
    fn seeded_is_deterministic_and_seed_dependent() {
        let mut a = SeededRandom::new(1);
        let mut b = SeededRandom::new(2);
        let (mut x, mut y) = ([0u8; 16], [0u8; 16]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_ne!(x, y);
        let mut c = SeededRandom::new(1);
        let mut z = [0u8; 16];
        for chunk in z.chunks_mut(4) {
            c.fill(chunk);
        }
        assert_eq!(x, z);
    }
}
