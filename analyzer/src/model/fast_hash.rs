//! A fast non-cryptographic hasher for the loaders' and analyses' hot maps.
//!
//! `std`'s SipHash costs more than the rest of parsing an STD line when
//! interning thread, lock and variable names, so maps keyed by small integers
//! and short names use this word-at-a-time multiply-rotate hash (the FxHash
//! scheme) with a final avalanche so that low bits spread. It is not DoS
//! resistant: a crafted trace could make names collide, costing time but not
//! correctness (see ROBUSTNESS.md).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher state.
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher {
    hash: u64,
}

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Avalanche (the murmur3 finaliser), as hashbrown uses the top bits.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// A `HashMap` using [`FastHasher`].
pub type FastHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A `HashSet` using [`FastHasher`].
pub type FastHashSet<T> = HashSet<T, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_distinct_keys_apart() {
        let mut m: FastHashMap<String, usize> = FastHashMap::default();
        for i in 0..10_000 {
            m.insert(format!("L{i}"), i);
        }
        m.insert("a".to_owned(), 1);
        m.insert("a\0".to_owned(), 2);
        assert_eq!(m.len(), 10_002);
        assert_eq!(m["L1234"], 1234);
        assert_eq!((m["a"], m["a\0"]), (1, 2));
    }

    #[test]
    fn small_integers_spread_over_low_bits() {
        use std::hash::BuildHasher;
        let b = BuildHasherDefault::<FastHasher>::default();
        let buckets: HashSet<u64> = (0u32..1024).map(|i| b.hash_one(i) & 1023).collect();
        // Random placement of 1024 keys into 1024 buckets fills about 63%.
        assert!(buckets.len() > 550, "{}", buckets.len());
    }
}
