//! A hasher for the runtime's per-thread tables, whose keys are a few integers (addresses, ids,
//! codes) the program itself made, never text from a server.
//!
//! Written here rather than taken from a crate: it is a multiply-and-rotate over whole words, a
//! dozen lines, and the tables it serves are looked up on every call, where the standard SipHash
//! (built to resist keys chosen by an attacker) costs more than the rest of the lookup. No key of
//! these tables comes from outside the process, so that resistance buys nothing here.

use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by small integer tuples, hashed with [`IdHasher`].
pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Mixes each word into the state by rotating, xoring and multiplying by an odd constant.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // Fold the high bits down: the table picks its bucket from the low ones.
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash(k: impl Hash) -> u64 {
        BuildHasherDefault::<IdHasher>::default().hash_one(k)
    }

    #[test]
    fn close_keys_spread_over_low_bits() {
        // Neighbouring addresses and ids must not share buckets: count distinct low bytes.
        let lows: std::collections::HashSet<u64> = (0..256usize)
            .map(|i| hash((7u64, 0x5555_0000 + i * 8, 12usize)) & 0xff)
            .collect();
        assert!(lows.len() > 150, "{} distinct of 256", lows.len());
        assert_ne!(hash((1u64, 2usize)), hash((2u64, 1usize)));
        assert_ne!(hash([0u8; 3].as_slice()), hash([0u8; 4].as_slice()));
    }

    #[test]
    fn a_map_keeps_what_it_is_given() {
        let mut m: IdMap<(usize, u16), u32> = IdMap::default();
        for i in 0..1000u16 {
            m.insert((usize::from(i) * 16, i % 7), u32::from(i));
        }
        for i in 0..1000u16 {
            assert_eq!(m.get(&(usize::from(i) * 16, i % 7)), Some(&u32::from(i)));
        }
        assert_eq!(m.get(&(16, 0)), None);
    }
}
