//! The literals found in recently scanned field values: many values recur from event to event
//! (images, parent images, accounts, working directories), and scanning one again finds the
//! same literals. An evaluator keeps, per scan of the index and short value, what the last
//! scan of that value found, in a small direct-mapped table; a value found there is not
//! scanned.
//!
//! A scan whose values seldom recur (command lines) is not looked up for a while: each
//! lookup that finds nothing costs a hash and a copy.
//!
//! **Invariant:** an entry holds exactly what scanning its value with its scan finds (a scan
//! is a function of the scan and the value's bytes); it is found only for the same scan and
//! the same bytes, compared in full (the hash only places it).

use crate::event::same;

/// Values longer than this are not kept (long values seldom recur, and keeping one costs a
/// copy).
const MAX_LEN: usize = 64;

/// Number of entries (a power of two).
const SLOTS: usize = 512;

/// Lookups of a scan counted before deciding whether its values recur enough.
const TRIES: u32 = 64;
/// A scan whose values were found less than once in this many lookups is not looked up ...
const RARE: u32 = 4;
/// ... for this many of its values; then it is tried again.
const PAUSE: u32 = 4096;

/// Most literal occurrences an entry keeps (a value with more is not kept).
const MAX_PATS: usize = 6;

/// One value and what its scan found, inline (one cache line or two, no pointer to follow).
#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: u64,
    /// The scan's number plus one (0: empty).
    scan: u32,
    len: u8,
    /// Whether the value is ASCII, and has uppercase letters.
    ascii: bool,
    upper: bool,
    /// Number of pattern ids in `pats`.
    n: u8,
    /// The pattern ids the scan found, one per occurrence.
    pats: [u32; MAX_PATS],
    text: [u8; MAX_LEN],
}

impl Default for Entry {
    fn default() -> Entry {
        Entry {
            hash: 0,
            scan: 0,
            len: 0,
            ascii: false,
            upper: false,
            n: 0,
            pats: [0; MAX_PATS],
            text: [0; MAX_LEN],
        }
    }
}

/// What a recent scan of a value found (see [`Recent::get`]).
pub(crate) struct Found<'a> {
    pub ascii: bool,
    pub upper: bool,
    pub pats: &'a [u32],
}

/// Per scan: how its lookups went.
#[derive(Debug, Default, Clone, Copy)]
struct Rate {
    tries: u32,
    found: u32,
    /// Values left to skip.
    pause: u32,
}

/// The table of recent values.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    slots: Vec<Entry>,
    rates: Vec<Rate>,
}

/// A hash of `text` for scan `scan`, eight bytes at a time (not keyed: an entry is checked
/// in full, so colliding values only evict each other).
#[inline]
fn hash(scan: u32, text: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (u64::from(scan) << 32 | text.len() as u64).wrapping_mul(K);
    let mut words = text.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ h >> 32
}

impl Recent {
    /// A table for an index of `scans` scans.
    pub fn new(scans: usize) -> Recent {
        Recent {
            slots: vec![Entry::default(); SLOTS],
            rates: vec![Rate::default(); scans],
        }
    }

    /// The key of `text` for scan `scan`, if it is to be looked up (and kept): short, and of
    /// a scan whose values recur.
    #[inline]
    pub fn key(&mut self, scan: u32, text: &[u8]) -> Option<u64> {
        if text.len() > MAX_LEN {
            return None;
        }
        let r = self.rates.get_mut(scan as usize)?;
        if r.pause > 0 {
            r.pause -= 1;
            return None;
        }
        Some(hash(scan, text))
    }

    /// What the last scan of `text` (of key `h`) by scan `scan` found, if it is still kept.
    #[inline]
    pub fn get(&mut self, scan: u32, h: u64, text: &[u8]) -> Option<Found<'_>> {
        let e = self.slots.get((h as usize) & (SLOTS - 1))?;
        let hit = e.scan == scan + 1
            && e.hash == h
            && same(e.text.get(..usize::from(e.len)).unwrap_or_default(), text);
        if let Some(r) = self.rates.get_mut(scan as usize) {
            r.tries += 1;
            r.found += u32::from(hit);
            if r.tries == TRIES {
                if r.found * RARE < r.tries {
                    r.pause = PAUSE;
                }
                (r.tries, r.found) = (0, 0);
            }
        }
        hit.then_some(Found {
            ascii: e.ascii,
            upper: e.upper,
            pats: e.pats.get(..usize::from(e.n)).unwrap_or_default(),
        })
    }

    /// Keep what scan `scan` found in `text` (of key `h`): `pats`, replacing the entry in
    /// its place (unless there are too many).
    pub fn put(&mut self, scan: u32, h: u64, text: &[u8], ascii: bool, upper: bool, pats: &[u32]) {
        let (Some(e), Some(t), Some(p)) = (
            self.slots.get_mut((h as usize) & (SLOTS - 1)),
            Some(text).filter(|t| t.len() <= MAX_LEN),
            Some(pats).filter(|p| p.len() <= MAX_PATS),
        ) else {
            return;
        };
        e.scan = scan + 1;
        e.hash = h;
        e.len = t.len() as u8;
        e.text[..t.len()].copy_from_slice(t);
        e.ascii = ascii;
        e.upper = upper;
        e.n = p.len() as u8;
        e.pats[..p.len()].copy_from_slice(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(r: &mut Recent, scan: u32, text: &[u8]) -> Option<Vec<u32>> {
        let h = r.key(scan, text)?;
        r.get(scan, h, text).map(|f| f.pats.to_vec())
    }

    fn put(r: &mut Recent, scan: u32, text: &[u8], pats: &[u32]) {
        if let Some(h) = r.key(scan, text) {
            r.put(scan, h, text, true, false, pats);
        }
    }

    #[test]
    fn values_are_found_only_for_their_scan_and_bytes() {
        let mut r = Recent::new(8);
        put(&mut r, 3, b"/usr/bin/bash", &[1, 2]);
        assert_eq!(get(&mut r, 3, b"/usr/bin/bash"), Some(vec![1, 2]));
        assert_eq!(get(&mut r, 4, b"/usr/bin/bash"), None);
        assert_eq!(get(&mut r, 3, b"/usr/bin/bas"), None);
        assert_eq!(get(&mut r, 3, b"/usr/bin/basH"), None);
        // Nothing found is worth keeping too.
        put(&mut r, 3, b"", &[]);
        assert_eq!(get(&mut r, 3, b""), Some(vec![]));
        // Values with many literals are not kept.
        put(&mut r, 3, b"many", &[1; MAX_PATS + 1]);
        assert_eq!(get(&mut r, 3, b"many"), None);
        // Long values are not kept, nor values of scans the table does not know.
        let long = vec![b'a'; MAX_LEN + 1];
        put(&mut r, 3, &long, &[7]);
        assert_eq!(get(&mut r, 3, &long), None);
        put(&mut r, 8, b"x", &[7]);
        assert_eq!(get(&mut r, 8, b"x"), None);
    }

    #[test]
    fn evicted_values_are_not_found_and_kept_ones_are_right() {
        let mut r = Recent::new(7);
        for i in 0..5000u32 {
            let t = format!("/home/u{i}/x");
            put(&mut r, i % 7, t.as_bytes(), &[i]);
        }
        let mut kept = 0;
        // The latest first: the earliest were evicted.
        for i in (0..5000u32).rev() {
            let t = format!("/home/u{i}/x");
            if let Some(p) = get(&mut r, i % 7, t.as_bytes()) {
                assert_eq!(p, vec![i]);
                kept += 1;
            }
        }
        assert!(kept > 0 && kept <= SLOTS, "{kept}");
    }

    /// A scan whose values do not recur is paused, then tried again.
    #[test]
    fn scans_whose_values_do_not_recur_are_paused() {
        let mut r = Recent::new(2);
        for i in 0..TRIES {
            let t = format!("unique {i}");
            assert!(get(&mut r, 0, t.as_bytes()).is_none());
            put(&mut r, 0, t.as_bytes(), &[]);
        }
        put(&mut r, 1, b"again", &[5]);
        let t = b"unique 0";
        let mut skipped = 0;
        while r.key(0, t).is_none() {
            skipped += 1;
            assert!(skipped <= PAUSE, "never tried again");
        }
        // The last put of the loop was the first value skipped.
        assert_eq!(skipped, PAUSE - 1);
        // The other scan is not paused.
        assert_eq!(get(&mut r, 1, b"again"), Some(vec![5]));
    }
}
