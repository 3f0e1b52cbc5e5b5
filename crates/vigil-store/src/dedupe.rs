//! Which sequence numbers of which agent run are stored: per (device id, boot id), a sorted
//! list of disjoint half-open ranges. Agents send in order, so adjacent ranges are merged and
//! the list of a run usually holds one range.
//!
//! Ranges of records whose WAL write is not yet durable are *reservations*: they count as
//! stored (so a concurrent append of the same rows is a duplicate), carry the WAL position of
//! their record (so that duplicate's caller can wait for the same fsync), and are removed again
//! if that fsync fails.

use std::collections::{HashMap, VecDeque};

/// Disjoint, non-adjacent half-open ranges `[start, end)`, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SeqRanges {
    ranges: Vec<(u64, u64)>,
}

impl SeqRanges {
    #[cfg(test)]
    pub fn from_ranges(list: impl IntoIterator<Item = (u64, u64)>) -> SeqRanges {
        let mut r = SeqRanges::default();
        for (s, e) in list {
            r.insert(s, e);
        }
        r
    }

    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// The parts of `[start, end)` that are not in the set.
    pub fn missing(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cur = start;
        // The first range that ends after `start`.
        let i = self.ranges.partition_point(|&(_, e)| e <= start);
        for &(s, e) in &self.ranges[i..] {
            if cur >= end || s >= end {
                break;
            }
            if s > cur {
                out.push((cur, s));
            }
            cur = cur.max(e);
        }
        if cur < end {
            out.push((cur, end));
        }
        out
    }

    /// Add `[start, end)`, merging with overlapping and adjacent ranges.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // Ranges that overlap or touch [start, end) are a contiguous run [i, j).
        let i = self.ranges.partition_point(|&(_, e)| e < start);
        let j = self.ranges.partition_point(|&(s, _)| s <= end);
        if i == j {
            self.ranges.insert(i, (start, end));
            return;
        }
        let merged = (start.min(self.ranges[i].0), end.max(self.ranges[j - 1].1));
        self.ranges.splice(i..j, [merged]);
    }

    /// Remove `[start, end)`.
    pub fn remove(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let i = self.ranges.partition_point(|&(_, e)| e <= start);
        let j = self.ranges.partition_point(|&(s, _)| s < end);
        if i >= j {
            return;
        }
        let mut keep = Vec::with_capacity(2);
        let (first_s, _) = self.ranges[i];
        let (_, last_e) = self.ranges[j - 1];
        if first_s < start {
            keep.push((first_s, start));
        }
        if last_e > end {
            keep.push((end, last_e));
        }
        self.ranges.splice(i..j, keep);
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// A reservation whose WAL record is not yet known to be durable.
#[derive(Debug)]
struct Pending {
    device: String,
    boot: String,
    start: u64,
    end: u64,
    lsn: u64,
}

/// The stored sequence ranges of every agent run, with the reservations in flight.
#[derive(Debug, Default)]
pub(crate) struct Dedupe {
    runs: HashMap<String, HashMap<String, SeqRanges>>,
    pending: VecDeque<Pending>,
}

/// The stored ranges of every run: (device id, boot id, ranges).
pub(crate) type DedupeSnapshot = Vec<(String, String, Vec<(u64, u64)>)>;

impl Dedupe {
    pub fn from_snapshot(snapshot: &DedupeSnapshot) -> Dedupe {
        let mut d = Dedupe::default();
        for (device, boot, ranges) in snapshot {
            for &(s, e) in ranges {
                d.insert(device, boot, s, e);
            }
        }
        d
    }

    fn ranges_mut(&mut self, device: &str, boot: &str) -> &mut SeqRanges {
        if !self.runs.contains_key(device) {
            self.runs.insert(device.to_string(), HashMap::new());
        }
        let boots = self.runs.get_mut(device).expect("inserted above");
        if !boots.contains_key(boot) {
            boots.insert(boot.to_string(), SeqRanges::default());
        }
        boots.get_mut(boot).expect("inserted above")
    }

    /// The parts of `[start, end)` not yet stored or reserved, and the highest WAL position of
    /// a reservation in flight that overlaps the range (0 if none).
    pub fn check(&self, device: &str, boot: &str, start: u64, end: u64) -> (Vec<(u64, u64)>, u64) {
        let missing = match self.runs.get(device).and_then(|b| b.get(boot)) {
            Some(r) => r.missing(start, end),
            None => vec![(start, end)],
        };
        let wait = self
            .pending
            .iter()
            .filter(|p| p.device == device && p.boot == boot && p.start < end && start < p.end)
            .map(|p| p.lsn)
            .max()
            .unwrap_or(0);
        (missing, wait)
    }

    /// Mark ranges as stored (replay, or loading the state file).
    pub fn insert(&mut self, device: &str, boot: &str, start: u64, end: u64) {
        self.ranges_mut(device, boot).insert(start, end);
    }

    /// Reserve ranges for a record written at WAL position `lsn`.
    pub fn reserve(&mut self, device: &str, boot: &str, ranges: &[(u64, u64)], lsn: u64) {
        for &(start, end) in ranges {
            self.ranges_mut(device, boot).insert(start, end);
            self.pending.push_back(Pending {
                device: device.to_string(),
                boot: boot.to_string(),
                start,
                end,
                lsn,
            });
        }
    }

    /// Forget reservations whose record is durable (WAL position ≤ `durable`).
    pub fn settle(&mut self, durable: u64) {
        while self.pending.front().is_some_and(|p| p.lsn <= durable) {
            self.pending.pop_front();
        }
    }

    /// Remove the reservations of records after `durable`: their write or fsync failed.
    pub fn rollback(&mut self, durable: u64) {
        while self.pending.back().is_some_and(|p| p.lsn > durable) {
            let p = self.pending.pop_back().expect("checked above");
            let ranges = self.ranges_mut(&p.device, &p.boot);
            ranges.remove(p.start, p.end);
            if ranges.is_empty() {
                if let Some(boots) = self.runs.get_mut(&p.device) {
                    boots.remove(&p.boot);
                    if boots.is_empty() {
                        self.runs.remove(&p.device);
                    }
                }
            }
        }
    }

    /// Every stored range (reservations included), sorted by device and boot.
    pub fn snapshot(&self) -> DedupeSnapshot {
        let mut out: DedupeSnapshot = self
            .runs
            .iter()
            .flat_map(|(device, boots)| {
                boots
                    .iter()
                    .map(move |(boot, r)| (device.clone(), boot.clone(), r.ranges().to_vec()))
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_ranges_merge() {
        let mut r = SeqRanges::default();
        r.insert(0, 10);
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(25, 30);
        assert_eq!(r.ranges(), &[(0, 20), (25, 40)]);
        r.insert(15, 26);
        assert_eq!(r.ranges(), &[(0, 40)]);
    }

    #[test]
    fn missing_finds_the_gaps() {
        let r = SeqRanges::from_ranges([(10, 20), (30, 40)]);
        assert_eq!(r.missing(0, 50), vec![(0, 10), (20, 30), (40, 50)]);
        assert_eq!(r.missing(12, 18), vec![]);
        assert_eq!(r.missing(15, 35), vec![(20, 30)]);
        assert_eq!(r.missing(40, 45), vec![(40, 45)]);
        assert_eq!(r.missing(5, 10), vec![(5, 10)]);
    }

    #[test]
    fn remove_splits_ranges() {
        let mut r = SeqRanges::from_ranges([(0, 100)]);
        r.remove(10, 20);
        assert_eq!(r.ranges(), &[(0, 10), (20, 100)]);
        r.remove(0, 10);
        r.remove(90, 200);
        assert_eq!(r.ranges(), &[(20, 90)]);
        r.remove(0, 1000);
        assert!(r.is_empty());
    }

    #[test]
    fn reservations_roll_back_and_settle() {
        let mut d = Dedupe::default();
        d.insert("dev", "b1", 0, 10);
        d.reserve("dev", "b1", &[(10, 20)], 5);
        d.reserve("dev", "b2", &[(0, 5)], 6);
        // A concurrent duplicate sees the reservation and the WAL position to wait for.
        assert_eq!(d.check("dev", "b1", 15, 25), (vec![(20, 25)], 5));
        d.rollback(5);
        assert_eq!(d.check("dev", "b2", 0, 5), (vec![(0, 5)], 0));
        assert_eq!(d.check("dev", "b1", 0, 20), (vec![], 5));
        d.settle(5);
        assert_eq!(d.check("dev", "b1", 0, 20), (vec![], 0));
        assert_eq!(
            d.snapshot(),
            vec![("dev".to_string(), "b1".to_string(), vec![(0, 20)])]
        );
    }
}
