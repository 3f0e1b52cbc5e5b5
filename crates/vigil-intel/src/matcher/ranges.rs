//! Address and network indicators as sorted disjoint ranges.
//!
//! Every `Ip` and `Cidr` indicator is a prefix of the 128-bit address space, IPv4 living in
//! `::ffff:0:0/96` (so a mapped address is its IPv4 address, and a /8 is a /104). Prefixes are
//! nested or disjoint, so one sweep cuts the space into segments, each labelled with its most
//! specific prefix's winning indicator (or [`NONE`]). Each family (IPv4, IPv6) keeps its
//! segments' starts and indices, sorted, and in front of them, over equal blocks of the part
//! of the space its indicators span:
//!
//! - a bitmap of the blocks that any indicator touches (about 32 bits per segment), which
//!   answers most addresses (those that match nothing) with one bit;
//! - a direct index from each block to its first segment, so that the others search only the
//!   few segments of their block.
//!
//! **Invariants:** segments are sorted by start, the first starts at 0, and neighbours carry
//! different indices; every segment with an index lies in the spanned part and its blocks'
//! bits are set; `top[k]` is the segment that holds the first address of block `k`, and the
//! last entry of `top` is the last segment.

use std::cmp::Reverse;

/// No indicator covers the segment.
pub(super) const NONE: u32 = u32::MAX;

/// Where IPv4 lives in the 128-bit space (`::ffff:0:0/96`).
const MAPPED: u128 = 0xffff_0000_0000;
const MAPPED_END: u128 = MAPPED | 0xffff_ffff;

/// The largest direct index: 2^20 entries (4 MiB), reached from about a million segments.
const MAX_TOP_BITS: u32 = 20;

/// One address or network indicator, in the 128-bit space.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prefix {
    pub(super) net: u128,
    pub(super) len: u8,
    pub(super) precedence: u8,
    pub(super) index: u32,
}

impl Prefix {
    fn last(&self) -> u128 {
        self.net | !mask(self.len)
    }
}

fn mask(len: u8) -> u128 {
    crate::normalize::mask128(len)
}

/// Appends a segment, keeping the invariants: a segment at the same start replaces the last
/// one, and one that carries the previous index extends the previous segment instead.
fn emit<T: Copy + PartialEq>(segs: &mut Vec<(T, u32)>, start: T, index: u32) {
    if let Some(last) = segs.last_mut() {
        if last.0 == start {
            last.1 = index;
            let n = segs.len();
            if n >= 2 && segs[n - 2].1 == index {
                segs.pop();
            }
            return;
        }
        if last.1 == index {
            return;
        }
    }
    segs.push((start, index));
}

/// Cuts the 128-bit space into segments labelled with their most specific prefix (among
/// prefixes of the same network, the higher precedence, then the lower index).
fn flatten(mut prefixes: Vec<Prefix>) -> Vec<(u128, u32)> {
    prefixes.sort_unstable_by_key(|p| (p.net, p.len, Reverse(p.precedence), p.index));
    prefixes.dedup_by(|b, a| a.net == b.net && a.len == b.len);
    let mut segs: Vec<(u128, u32)> = vec![(0, NONE)];
    // The prefixes that hold the sweep position, outermost first.
    let mut open: Vec<Prefix> = Vec::new();
    for p in prefixes {
        while let Some(top) = open.last().copied() {
            if top.last() >= p.net {
                break;
            }
            open.pop();
            let outer = open.last().map_or(NONE, |o| o.index);
            emit(&mut segs, top.last() + 1, outer);
        }
        emit(&mut segs, p.net, p.index);
        open.push(p);
    }
    while let Some(top) = open.pop() {
        if top.last() == u128::MAX {
            break;
        }
        let outer = open.last().map_or(NONE, |o| o.index);
        emit(&mut segs, top.last() + 1, outer);
    }
    segs
}

/// The index of the segment holding `addr` in segments sorted by start, the first at 0.
fn holding<T: Copy + PartialOrd>(segs: &[(T, u32)], addr: T) -> usize {
    segs.partition_point(|s| s.0 <= addr) - 1
}

#[derive(Default)]
pub(super) struct Ranges {
    v4: Family<u32>,
    v6: Family<u128>,
}

/// An address of one family, kept in its own width and compared left-aligned in 128 bits.
trait Addr: Copy + Default + Ord + Into<u128> {
    const WIDTH: u32;
    fn from_aligned(a: u128) -> Self;
}

impl Addr for u32 {
    const WIDTH: u32 = 32;
    fn from_aligned(a: u128) -> u32 {
        (a >> 96) as u32
    }
}

impl Addr for u128 {
    const WIDTH: u32 = 128;
    fn from_aligned(a: u128) -> u128 {
        a
    }
}

/// One family's segments with their block bitmap and block index (see the module docs).
/// Blocks divide the addresses that share the first `skip` bits of `lo`, left-aligned.
#[derive(Default)]
struct Family<T> {
    starts: Box<[T]>,
    index: Box<[u32]>,
    lo: u128,
    skip: u32,
    filter_bits: u32,
    filter: Box<[u64]>,
    top_bits: u32,
    top: Box<[u32]>,
}

impl<T: Addr> Family<T> {
    fn build(segs: Vec<(T, u32)>) -> Family<T> {
        let covered = covered(&segs);
        let (Some(first), Some(last)) = (covered.first(), covered.last()) else {
            return Family::default();
        };
        let n = segs.len();
        let filter_bits = (n.ilog2() + 5).clamp(6, 24);
        let lo = first.0;
        let skip = (lo ^ last.1).leading_zeros().min(128 - filter_bits);
        let top_bits = n.ilog2().clamp(1, MAX_TOP_BITS).min(filter_bits);
        let mut f = Family {
            starts: Box::default(),
            index: Box::default(),
            lo,
            skip,
            filter_bits,
            filter: vec![0u64; (1usize << filter_bits) / 64].into_boxed_slice(),
            top_bits,
            top: Box::default(),
        };
        for &(start, end) in &covered {
            for b in f.block(start, filter_bits)..=f.block(end, filter_bits) {
                f.filter[b / 64] |= 1 << (b % 64);
            }
        }
        let base = if skip == 0 {
            0
        } else {
            lo & !(u128::MAX >> skip)
        };
        let block_len_bits = 128 - skip - top_bits;
        let mut top = Vec::with_capacity((1 << top_bits) + 1);
        let mut seg = 0usize;
        for k in 0..1u128 << top_bits {
            let block_start = T::from_aligned(base | (k << block_len_bits));
            while seg + 1 < n && segs[seg + 1].0 <= block_start {
                seg += 1;
            }
            top.push(seg as u32);
        }
        top.push((n - 1) as u32);
        f.top = top.into_boxed_slice();
        let (starts, index): (Vec<T>, Vec<u32>) = segs.into_iter().unzip();
        f.starts = starts.into_boxed_slice();
        f.index = index.into_boxed_slice();
        f
    }

    /// The block of `bits` bits that holds `addr` (left-aligned, inside the spanned part).
    #[inline]
    fn block(&self, addr: u128, bits: u32) -> usize {
        ((addr << self.skip) >> (128 - bits)) as usize
    }

    /// False when no indicator covers `addr` (left-aligned); true when one may.
    #[inline]
    fn may_cover(&self, addr: u128) -> bool {
        if self.filter.is_empty() || (self.skip > 0 && (addr ^ self.lo) >> (128 - self.skip) != 0) {
            return false;
        }
        let b = self.block(addr, self.filter_bits);
        self.filter[b / 64] & (1 << (b % 64)) != 0
    }

    /// The winning indicator for `addr` (left-aligned), or [`NONE`].
    #[inline]
    fn get(&self, addr: u128) -> u32 {
        if !self.may_cover(addr) {
            return NONE;
        }
        let k = self.block(addr, self.top_bits);
        let (lo, hi) = (self.top[k] as usize, self.top[k + 1] as usize);
        // The answer is the last of segments lo..=hi that starts at or before `addr`.
        let a = T::from_aligned(addr);
        let i = lo + self.starts[lo + 1..=hi].partition_point(|&s| s <= a);
        self.index[i]
    }

    fn bytes(&self) -> usize {
        self.starts.len() * std::mem::size_of::<T>()
            + self.index.len() * 4
            + self.filter.len() * 8
            + self.top.len() * 4
    }
}

/// The inclusive ranges, left-aligned in 128 bits, of the segments that name an indicator.
fn covered<T: Addr>(segs: &[(T, u32)]) -> Vec<(u128, u128)> {
    let align = 128 - T::WIDTH;
    let low_bits = if align == 0 { 0 } else { u128::MAX >> T::WIDTH };
    let mut out = Vec::new();
    for (k, &(start, index)) in segs.iter().enumerate() {
        if index == NONE {
            continue;
        }
        let end = match segs.get(k + 1) {
            Some(next) => ((next.0.into() << align) - 1) | low_bits,
            None => u128::MAX,
        };
        out.push((start.into() << align, end));
    }
    out
}

impl Ranges {
    pub(super) fn build(prefixes: Vec<Prefix>) -> Ranges {
        if prefixes.is_empty() {
            return Ranges::default();
        }
        let segs = flatten(prefixes);

        let first = holding(&segs, MAPPED);
        let mut v4: Vec<(u32, u32)> = vec![(0, segs[first].1)];
        for &(start, index) in &segs[first + 1..] {
            if start > MAPPED_END {
                break;
            }
            emit(&mut v4, (start - MAPPED) as u32, index);
        }

        // IPv6 without the mapped block, which lookups never reach.
        let mut v6: Vec<(u128, u32)> = Vec::new();
        for &(start, index) in segs.iter().take_while(|s| s.0 < MAPPED) {
            emit(&mut v6, start, index);
        }
        let after = segs[holding(&segs, MAPPED_END + 1)].1;
        emit(&mut v6, MAPPED_END + 1, after);
        for &(start, index) in segs.iter().filter(|s| s.0 > MAPPED_END + 1) {
            emit(&mut v6, start, index);
        }
        Ranges {
            v4: Family::build(v4),
            v6: Family::build(v6),
        }
    }

    /// The winning indicator for an IPv4 address, or [`NONE`].
    #[inline]
    pub(super) fn v4(&self, addr: u32) -> u32 {
        self.v4.get(u128::from(addr) << 96)
    }

    /// The winning indicator for an IPv6 address (not a mapped one), or [`NONE`].
    #[inline]
    pub(super) fn v6(&self, addr: u128) -> u32 {
        self.v6.get(addr)
    }

    pub(super) fn bytes(&self) -> usize {
        self.v4.bytes() + self.v6.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(net: u128, len: u8, index: u32) -> Prefix {
        Prefix {
            net,
            len,
            precedence: 1,
            index,
        }
    }

    fn v4(a: [u8; 4]) -> u128 {
        MAPPED | u128::from(u32::from_be_bytes(a))
    }

    impl<T: Addr> Family<T> {
        fn segments(&self) -> Vec<(T, u32)> {
            self.starts
                .iter()
                .copied()
                .zip(self.index.iter().copied())
                .collect()
        }
    }

    #[test]
    fn nested_networks_cut_into_segments() {
        // 10/8 ⊃ 10.1/16 ⊃ 10.1.2.3/32, and 10.200/16 beside the /16.
        let segs = flatten(vec![
            p(v4([10, 1, 2, 3]), 128, 2),
            p(v4([10, 0, 0, 0]), 104, 0),
            p(v4([10, 1, 0, 0]), 112, 1),
            p(v4([10, 200, 0, 0]), 112, 3),
        ]);
        let at = |a| segs[holding(&segs, v4(a))].1;
        assert_eq!(at([9, 255, 255, 255]), NONE);
        assert_eq!(at([10, 0, 0, 0]), 0);
        assert_eq!(at([10, 1, 0, 0]), 1);
        assert_eq!(at([10, 1, 2, 2]), 1);
        assert_eq!(at([10, 1, 2, 3]), 2);
        assert_eq!(at([10, 1, 2, 4]), 1);
        assert_eq!(at([10, 2, 0, 0]), 0);
        assert_eq!(at([10, 200, 255, 255]), 3);
        assert_eq!(at([10, 201, 0, 0]), 0);
        assert_eq!(at([11, 0, 0, 0]), NONE);
        assert!(segs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1));
    }

    #[test]
    fn the_ipv6_filter_keeps_every_covered_address() {
        let mut prefixes = Vec::new();
        for i in 0..500u32 {
            let net = (0x2001_0db8u128 << 96) | (u128::from(i.wrapping_mul(0x9e37_79b9)) << 64);
            prefixes.push(p(net, [48u8, 64, 128][i as usize % 3], i));
        }
        prefixes.push(p(0xfe80u128 << 112, 10, 999));
        let segs = flatten(prefixes.clone());
        let r = Ranges::build(prefixes);
        for &(start, _) in &segs {
            for probe in [start.saturating_sub(1), start, start.saturating_add(1)] {
                if !(MAPPED..=MAPPED_END).contains(&probe) {
                    let want = segs[holding(&segs, probe)].1;
                    assert_eq!(r.v6(probe), want, "{probe:x}");
                }
            }
        }
        for &(start, end) in &covered(&r.v6.segments()) {
            for a in [start, end, start + (end - start) / 2] {
                assert!(r.v6.may_cover(a), "{a:x}");
                assert_ne!(r.v6(a), NONE);
            }
        }
        assert_eq!(r.v6(0x2001_0db9u128 << 96), NONE);
        assert_eq!(r.v6(1), NONE);
    }

    #[test]
    fn the_whole_space_and_its_last_address() {
        let segs = flatten(vec![p(0, 0, 0), p(u128::MAX, 128, 1)]);
        assert_eq!(segs, vec![(0, 0), (u128::MAX, 1)]);
        let r = Ranges::build(vec![
            p(0, 0, 0),
            p(u128::MAX, 128, 1),
            p(v4([1, 2, 3, 4]), 128, 2),
        ]);
        assert_eq!(r.v4(0), 0);
        assert_eq!(r.v4(0x0102_0304), 2);
        assert_eq!(r.v4(u32::MAX), 0);
        assert_eq!(r.v6(0), 0);
        assert_eq!(r.v6(u128::MAX), 1);
        assert_eq!(r.v6(u128::MAX - 1), 0);
    }

    #[test]
    fn the_direct_index_agrees_with_bisection() {
        let mut prefixes = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..3000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = [8u8, 16, 20, 24, 32, 32, 32][(x % 7) as usize];
            let net = (x >> 32) as u32 & (u32::MAX << (32 - len));
            prefixes.push(p(MAPPED | u128::from(net), 96 + len, i));
        }
        let segs = flatten(prefixes.clone());
        let r = Ranges::build(prefixes);
        assert!(r.v4.top.len() > 2);
        for &(start, _) in segs.iter().filter(|s| s.0 >= MAPPED && s.0 <= MAPPED_END) {
            for probe in [start.saturating_sub(1), start, start + 1] {
                if (MAPPED..=MAPPED_END).contains(&probe) {
                    let want = segs[holding(&segs, probe)].1;
                    assert_eq!(r.v4((probe - MAPPED) as u32), want, "{probe:x}");
                }
            }
        }
        // The filter never hides a covered address, and hides most others.
        for &(start, end) in &covered(&r.v4.segments()) {
            for a in [start, end, start + (end - start) / 2] {
                assert!(r.v4.may_cover(a), "{a:x}");
            }
        }
        // Sparse addresses: the filter answers for most others.
        let sparse: Vec<Prefix> = (0..2000u32)
            .map(|i| p(MAPPED | u128::from(i.wrapping_mul(0x9e37_79b9)), 128, i))
            .collect();
        let r = Ranges::build(sparse);
        let hidden = (0..10_000u32)
            .map(|k| k.wrapping_mul(0x85eb_ca6b) ^ 0x1234_5678)
            .filter(|&a| !r.v4.may_cover(u128::from(a) << 96))
            .count();
        assert!(hidden > 9_000, "{hidden}");
        assert_eq!(r.v4(0x9e37_79b9), 1);
        assert_eq!(Ranges::default().v4(5), NONE);
        assert_eq!(Ranges::default().v6(5), NONE);
    }
}
