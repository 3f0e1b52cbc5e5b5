//! The exact-value index behind hashes, certificates, domain suffixes and URLs, and the hashing
//! it is keyed by.
//!
//! [`FpTable`] is an open-addressing table whose slots hold a 32-bit fingerprint (the high half
//! of the value's 64-bit hash) and, in a parallel array, a 32-bit payload (an indicator index).
//! Entries are placed in fingerprint order, each at its home `fp * capacity / 2^32` or, when
//! that is taken, just after the previous entry: linear probing in which the table stays sorted
//! (the layout Robin Hood hashing converges to), so a lookup scans from its home and stops at
//! the first empty slot or larger fingerprint, usually within one cache line of fingerprints,
//! even at a load of 0.8. A miss, the common case, reads 4 bytes per slot and no payload.
//!
//! **Invariants:** slots are sorted by fingerprint, empty slots aside; every entry sits at or
//! after its home; between an entry's home and the entry there is no empty slot; the last
//! `WINDOW` slots are empty. The table never holds the key itself: a match on the fingerprint
//! is only a candidate, which the caller confirms against the indicator's value (so the slots
//! cost 10 bytes per value, the filter 1.5).
//!
//! In front of the slots, a split-block Bloom filter (12 bits per entry) turns away most
//! absent values with one read of 32 bytes, in a structure a seventh the size of the slots:
//! with a million indicators, the part of the index that lookups touch stays near the cache.
//!
//! The hashes are seeded per set (from the standard library's random hasher keys), so that a
//! feed cannot line its values up to make lookups slow.

use std::hash::BuildHasher;

/// Fingerprint and payload of an empty slot (`u32::MAX` is never an index).
const EMPTY: u32 = u32::MAX;

/// Slots compared at once, without branches, before any scan (the table ends with as many
/// empty slots, so the window never runs off it).
const WINDOW: usize = 8;

/// Entries per slot at most (load factor 0.8).
const LOAD_NUM: usize = 4;
const LOAD_DEN: usize = 5;

#[derive(Default)]
pub(super) struct FpTable {
    /// Read first by every lookup; most stop there.
    filter: KeyFilter,
    /// Fingerprints, read when the filter lets a lookup through; `payloads` only on a
    /// fingerprint match.
    fps: Box<[u32]>,
    payloads: Box<[u32]>,
    /// The base capacity: homes are `fp * scale >> 32`; the slots may run a little past it.
    scale: u64,
}

impl FpTable {
    /// Builds the table from `(hash, payload)` pairs, payloads below `u32::MAX`, sorted by hash.
    pub(super) fn build(sorted: &[(u64, u32)]) -> FpTable {
        debug_assert!(sorted.windows(2).all(|w| w[0].0 <= w[1].0));
        if sorted.is_empty() {
            return FpTable::default();
        }
        let scale = (sorted.len() * LOAD_DEN).div_ceil(LOAD_NUM) as u64;
        let mut fps = vec![EMPTY; scale as usize];
        let mut payloads = vec![EMPTY; scale as usize];
        let mut next = 0usize;
        for &(h, payload) in sorted {
            debug_assert!(payload != EMPTY);
            let fp = h >> 32;
            let pos = (((fp * scale) >> 32) as usize).max(next);
            if pos >= fps.len() {
                fps.push(EMPTY);
                payloads.push(EMPTY);
            }
            fps[pos] = fp as u32;
            payloads[pos] = payload;
            next = pos + 1;
        }
        fps.resize(fps.len() + WINDOW, EMPTY);
        payloads.resize(payloads.len() + WINDOW, EMPTY);
        FpTable {
            filter: KeyFilter::build(sorted.iter().map(|e| e.0), sorted.len()),
            fps: fps.into_boxed_slice(),
            payloads: payloads.into_boxed_slice(),
            scale,
        }
    }

    #[inline]
    fn home(&self, h: u64) -> usize {
        (((h >> 32) * self.scale) >> 32) as usize
    }

    /// The payloads whose fingerprint equals `h`'s: the candidates for the value hashed.
    ///
    /// Most lookups find none, and learn it from the filter (one block of 32 bytes), or else
    /// from the window of slots at their home: no equal fingerprint there, and the window's
    /// last slot larger (or empty). Neither test branches on the data but once, nearly always
    /// the same way, so the processor runs on into the next lookup while this one's cache
    /// miss is outstanding.
    #[inline]
    pub(super) fn candidates(&self, h: u64) -> Candidates<'_> {
        let fp = (h >> 32) as u32;
        let home = self.home(h);
        let none = Candidates {
            table: self,
            fp,
            pos: usize::MAX,
        };
        if !self.filter.may_contain(h) {
            return none;
        }
        let Some(window) = self.fps.get(home..home + WINDOW) else {
            return none;
        };
        let equal = window.iter().fold(false, |any, &x| any | (x == fp));
        if !equal && window[WINDOW - 1] > fp {
            return none;
        }
        Candidates {
            table: self,
            fp,
            pos: home,
        }
    }

    /// The first candidate for `h` that `confirm` accepts.
    #[inline]
    pub(super) fn find(&self, h: u64, confirm: impl FnMut(&u32) -> bool) -> Option<u32> {
        self.candidates(h).find(confirm)
    }

    /// Starts fetching the filter block `h`'s lookup starts with.
    #[inline]
    pub(super) fn prefetch(&self, h: u64) {
        if let Some(block) = self.filter.blocks.get(self.filter.block(h)) {
            prefetch(block);
        }
    }

    pub(super) fn bytes(&self) -> usize {
        self.filter.blocks.len() * 32 + self.fps.len() * 4 + self.payloads.len() * 4
    }
}

/// Filter bits per entry: about 0.5% of absent values get past the filter.
const FILTER_BITS_PER_KEY: usize = 12;

/// Word salts of the split-block Bloom filter (the constants Parquet's filters use).
const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// One filter block, aligned so that it never straddles two cache lines.
#[derive(Default, Clone, Copy)]
#[repr(align(32))]
struct Block([u32; 8]);

/// A split-block Bloom filter over the entries' hashes: the high half of a hash picks a block
/// of eight 32-bit words, the low half one bit in each word (through the salts). No false
/// negatives; about 12 bits per entry.
#[derive(Default)]
struct KeyFilter {
    blocks: Box<[Block]>,
}

impl KeyFilter {
    fn build(hashes: impl Iterator<Item = u64>, n: usize) -> KeyFilter {
        let len = (n * FILTER_BITS_PER_KEY).div_ceil(256).max(1);
        let mut f = KeyFilter {
            blocks: vec![Block::default(); len].into_boxed_slice(),
        };
        for h in hashes {
            let (b, mask) = (f.block(h), KeyFilter::mask(h));
            for (word, bit) in f.blocks[b].0.iter_mut().zip(mask) {
                *word |= bit;
            }
        }
        f
    }

    #[inline]
    fn block(&self, h: u64) -> usize {
        (((h >> 32) * self.blocks.len() as u64) >> 32) as usize
    }

    #[inline]
    fn mask(h: u64) -> [u32; 8] {
        let low = h as u32;
        SALT.map(|salt| 1 << (low.wrapping_mul(salt) >> 27))
    }

    /// False when `h` was never inserted.
    #[inline]
    fn may_contain(&self, h: u64) -> bool {
        let Some(block) = self.blocks.get(self.block(h)) else {
            return false;
        };
        block
            .0
            .iter()
            .zip(KeyFilter::mask(h))
            .fold(true, |all, (word, bit)| all & (word & bit != 0))
    }
}

/// See [`FpTable::candidates`].
pub(super) struct Candidates<'t> {
    table: &'t FpTable,
    fp: u32,
    pos: usize,
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        loop {
            let slot_fp = *self.table.fps.get(self.pos)?;
            if slot_fp > self.fp {
                self.pos = usize::MAX;
                return None;
            }
            self.pos += 1;
            if slot_fp == self.fp {
                let payload = self.table.payloads[self.pos - 1];
                // An empty slot (fingerprint u32::MAX) ends the run like a larger fingerprint.
                if payload == EMPTY {
                    self.pos = usize::MAX;
                    return None;
                }
                return Some(payload);
            }
        }
    }
}

/// A hint to fetch `p`'s cache line (nothing on other architectures).
#[inline]
pub(super) fn prefetch<T>(p: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    // SAFETY: prefetching has no effect on memory or program state; the address is a live
    // reference in any case.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = p;
}

const K0: u64 = 0xf2a7_4de4_52e6_b439;
const K1: u64 = 0x6513_270e_269e_0d37;
const K2: u64 = 0xd23f_0824_128b_2f33;

/// The folded 128-bit product: the mixing step of the hashes below.
#[inline]
fn mix(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// Per-set hash keys.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seeds {
    pub(super) digest: u64,
    pub(super) text: u64,
}

impl Seeds {
    pub(super) fn random() -> Seeds {
        let s = std::collections::hash_map::RandomState::new();
        Seeds {
            digest: s.hash_one(K0) | 1,
            text: s.hash_one(K1),
        }
    }
}

/// Hash of a digest given by its first 64 bits (digests are uniform already; the seed keeps
/// a crafted feed from clustering them).
#[inline]
pub(super) fn hash_digest(seed: u64, prefix: u64) -> u64 {
    mix(prefix ^ seed, K2)
}

/// Lowercases the ASCII letters among 8 bytes at once.
#[inline]
pub(super) fn lower8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let low7 = x & !HIGH;
    // The high bit of each byte of `ge_a` is set when the byte is >= 'A', of `gt_z` when > 'Z'
    // (no carries: each 7-bit byte plus at most 0x3f stays below 0x100).
    let ge_a = low7 + ONES * u64::from(0x80 - b'A');
    let gt_z = low7 + ONES * u64::from(0x80 - b'Z' - 1);
    let upper = ge_a & !gt_z & !x & HIGH;
    x | (upper >> 2)
}

/// Continues hash `h` over `bytes` (ASCII-lowercased first when `FOLD`), eight at a time.
#[inline]
pub(super) fn hash_bytes<const FOLD: bool>(mut h: u64, bytes: &[u8]) -> u64 {
    let fold = |w: u64| if FOLD { lower8(w) } else { w };
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = mix(fold(w) ^ K0, h ^ K1);
    }
    // The last 0 to 7 bytes, zero-padded (assembled by shifts: a copy into a buffer would
    // call memcpy and stall the load that follows).
    let w = chunks
        .remainder()
        .iter()
        .enumerate()
        .fold(0u64, |w, (k, &b)| w | u64::from(b) << (8 * k));
    mix(fold(w) ^ K0, h ^ K1 ^ (bytes.len() as u64).wrapping_mul(K2))
}

/// Calls `each(hash, start)` for the suffixes of `host` that start at a label boundary,
/// shortest first, while it returns true; `hash` is the hash of `host[start..]`,
/// case-insensitive. The hash of a suffix chains its labels from the right, so each suffix
/// costs only its first label.
#[inline]
pub(super) fn for_each_suffix(seed: u64, host: &[u8], mut each: impl FnMut(u64, usize) -> bool) {
    let mut h = seed;
    let mut end = host.len();
    loop {
        let start = host[..end]
            .iter()
            .rposition(|&b| b == b'.')
            .map_or(0, |dot| dot + 1);
        h = hash_bytes::<true>(h, &host[start..end]);
        if !each(h, start) || start == 0 {
            return;
        }
        end = start - 1;
    }
}

/// The hash of a whole domain name, as `for_each_suffix` computes it for the full name.
pub(super) fn hash_domain(seed: u64, name: &[u8]) -> u64 {
    let mut out = 0;
    for_each_suffix(seed, name, |h, _| {
        out = h;
        true
    });
    out
}

/// Hex digit values; 0xff for anything else.
static HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The value of one hex digit.
#[inline]
pub(super) fn hex_value(b: u8) -> Option<u8> {
    let v = HEX[usize::from(b)];
    (v != 0xff).then_some(v)
}

/// A key for the first 16 hex digits of `s`, the same whatever their case (one byte per
/// digit pair: the first eight digits' values in the low nibbles, the next eight's in the
/// high ones); None if `s` is shorter or one of them is not hex. Eight digits at a time.
#[inline]
pub(super) fn hex_prefix(s: &[u8]) -> Option<u64> {
    let a = u64::from_le_bytes(s.get(..8)?.try_into().ok()?);
    let b = u64::from_le_bytes(s.get(8..16)?.try_into().ok()?);
    let (va, ok_a) = hex_digits8(a);
    let (vb, ok_b) = hex_digits8(b);
    (ok_a & ok_b).then_some(va | vb << 4)
}

/// The values of eight hex digits, one per byte, and whether all eight are hex digits.
#[inline]
fn hex_digits8(x: u64) -> (u64, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    // For bytes below 0x80, the high bit of `at_least(x, k)` says byte >= k (no carries: the
    // sums stay below 0x100); bytes from 0x80 up are refused by `!x & HIGH`.
    let at_least = |x: u64, k: u8| x + ONES * u64::from(0x80 - k);
    let low7 = x & !HIGH;
    let digit = at_least(low7, b'0') & !at_least(low7, b'9' + 1);
    let lower = low7 | (ONES * 0x20);
    let letter = at_least(lower, b'a') & !at_least(lower, b'f' + 1);
    let ok = (digit | letter) & !x & HIGH == HIGH;
    let letter_bit = (letter & HIGH) >> 7;
    ((x & (ONES * 0x0f)) + letter_bit * 9, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower8_matches_bytewise_lowercase() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..100_000 {
            x = x
                .wrapping_mul(0x5851_f42d_4c95_7f2d)
                .wrapping_add(1442695040888963407);
            let bytes = x.to_le_bytes();
            let want = u64::from_le_bytes(bytes.map(|b| b.to_ascii_lowercase()));
            assert_eq!(lower8(x), want, "{bytes:?}");
        }
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b; 8]);
            assert_eq!(lower8(w), u64::from_le_bytes([b.to_ascii_lowercase(); 8]));
        }
    }

    #[test]
    fn hex_prefix_reads_16_digits_in_any_case() {
        let key = hex_prefix(b"0123456789abcdefff").unwrap();
        assert_eq!(hex_prefix(b"0123456789ABCDEF"), Some(key));
        assert_eq!(hex_prefix(b"0123456789abcdef"), Some(key));
        assert_ne!(hex_prefix(b"1023456789abcdef"), Some(key));
        assert_eq!(hex_prefix(b"0123456789abcde"), None);
        // Every byte that is not a hex digit, at every position, is refused.
        for pos in 0..16 {
            for b in 0..=255u8 {
                let mut s = *b"0123456789abcdef";
                s[pos] = b;
                assert_eq!(
                    hex_prefix(&s).is_some(),
                    b.is_ascii_hexdigit(),
                    "{b:#x} at {pos}"
                );
            }
        }
        // Distinct digits, distinct keys; the same digits in another case, the same key.
        let mut x = 0x243f_6a88_85a3_08d3u64;
        let mut seen = std::collections::HashMap::new();
        for _ in 0..20_000 {
            x = x.wrapping_mul(0x5851_f42d_4c95_7f2d).wrapping_add(1);
            let text = format!("{x:016x}");
            let key = hex_prefix(text.as_bytes()).unwrap();
            assert_eq!(hex_prefix(text.to_uppercase().as_bytes()), Some(key));
            assert_eq!(*seen.entry(key).or_insert(x), x);
        }
    }

    #[test]
    fn suffix_hashes_fold_case_and_follow_labels() {
        let seed = 99;
        let mut seen = Vec::new();
        for_each_suffix(seed, b"A.Evil.COM", |h, start| {
            seen.push((h, start));
            true
        });
        assert_eq!(seen.iter().map(|s| s.1).collect::<Vec<_>>(), [7, 2, 0]);
        assert_eq!(seen[0].0, hash_domain(seed, b"com"));
        assert_eq!(seen[1].0, hash_domain(seed, b"evil.com"));
        assert_eq!(seen[2].0, hash_domain(seed, b"a.evil.com"));
        assert_ne!(
            hash_domain(seed, b"evil.com"),
            hash_domain(seed, b"evilc.om")
        );
        assert_ne!(
            hash_domain(seed, b"abcdefgh.x"),
            hash_domain(seed, b"abcdefgh.x\0")
        );
        assert_ne!(
            hash_bytes::<false>(seed, b"ab"),
            hash_bytes::<false>(seed, b"ab\0")
        );
        assert_eq!(
            hash_bytes::<true>(seed, b"AbC"),
            hash_bytes::<true>(seed, b"abc")
        );
        assert_ne!(
            hash_bytes::<false>(seed, b"AbC"),
            hash_bytes::<false>(seed, b"abc")
        );
    }

    #[test]
    fn the_filter_keeps_every_entry_and_few_others() {
        let hashes: Vec<u64> = (0..20_000u64).map(|i| mix(i ^ K1, K2)).collect();
        let f = KeyFilter::build(hashes.iter().copied(), hashes.len());
        assert!(hashes.iter().all(|&h| f.may_contain(h)));
        let passed = (0..100_000u64)
            .map(|i| mix(i ^ K0, K1))
            .filter(|&h| f.may_contain(h))
            .count();
        assert!(passed < 1_500, "{passed} of 100000 absent hashes passed");
        assert!(!KeyFilter::default().may_contain(1));
    }

    #[test]
    fn table_finds_every_entry_and_stops_early() {
        let mut entries: Vec<(u64, u32)> = (0..5000u32)
            .map(|i| (mix(u64::from(i) ^ K1, K2), i))
            .collect();
        // Duplicated fingerprints: both must be reachable.
        entries.push((entries[10].0, 9999));
        entries.sort_unstable();
        let t = FpTable::build(&entries);
        for &(h, p) in &entries {
            assert_eq!(t.find(h, |&q| q == p), Some(p));
        }
        assert_eq!(t.find(entries[0].0 ^ (1 << 40), |_| true), None);
        assert!(FpTable::default().find(123, |_| true).is_none());
        // Extreme fingerprints sit at the ends.
        let t = FpTable::build(&[(0, 1), (u64::MAX - 5, 2)]);
        assert_eq!(t.find(0, |_| true), Some(1));
        assert_eq!(t.find(u64::MAX - 5, |_| true), Some(2));
        // Same fingerprint, other value: a candidate that the caller turns down.
        assert_eq!(t.find(u64::MAX, |&p| p == 3), None);
    }
}
