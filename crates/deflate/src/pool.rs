//! Idle zlib contexts shared between connections.
//!
//! With [`DeflateConfig::release_idle_contexts`](crate::DeflateConfig::release_idle_contexts)
//! a direction without context takeover gives its context up whenever the
//! connection goes idle. Freeing it and allocating a fresh one for the next message
//! costs an allocation of several hundred KiB and its page faults per message when
//! messages come one at a time; so a freed context is parked here instead (it is
//! reset after every message anyway, so it carries nothing of its connection) and
//! the next connection that needs one of the same kind takes it. At most
//! [`CAP`] of each kind wait: memory follows how many connections are busy at
//! once, not how many are open.

use std::sync::{Mutex, PoisonError};

use flate2::{Compress, Decompress};

/// The most contexts of each kind (compressors, decompressors) kept waiting: 16
/// compressors of a 15-bit window are about 6 MiB.
pub(crate) const CAP: usize = 16;

/// Parked compressors with their level and window bits (a context is only reused
/// with the settings it was made for).
static COMPRESSORS: Mutex<Vec<(u32, u8, Compress)>> = Mutex::new(Vec::new());
/// Parked decompressors (all have a 15-bit window).
static DECOMPRESSORS: Mutex<Vec<Decompress>> = Mutex::new(Vec::new());

/// A parked compressor made with `level` and `bits`, if any.
pub(crate) fn take_compressor(level: u32, bits: u8) -> Option<Compress> {
    let mut pool = COMPRESSORS.lock().unwrap_or_else(PoisonError::into_inner);
    let at = pool
        .iter()
        .rposition(|(l, b, _)| *l == level && *b == bits)?;
    Some(pool.swap_remove(at).2)
}

/// Parks a compressor that has been reset; dropped if the pool is full.
pub(crate) fn put_compressor(level: u32, bits: u8, compressor: Compress) {
    let mut pool = COMPRESSORS.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.len() < CAP {
        pool.push((level, bits, compressor));
        return;
    }
    drop(pool);
    // Freed outside the lock.
    drop(compressor);
}

/// A parked decompressor, if any.
pub(crate) fn take_decompressor() -> Option<Decompress> {
    DECOMPRESSORS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop()
}

/// Parks a decompressor that has been reset; dropped if the pool is full.
pub(crate) fn put_decompressor(decompressor: Decompress) {
    let mut pool = DECOMPRESSORS.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.len() < CAP {
        pool.push(decompressor);
        return;
    }
    drop(pool);
    drop(decompressor);
}

/// How many compressors made with `level` and `bits` are parked.
#[cfg(test)]
pub(crate) fn parked_compressors(level: u32, bits: u8) -> usize {
    COMPRESSORS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(l, b, _)| *l == level && *b == bits)
        .count()
}
