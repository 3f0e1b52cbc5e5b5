//! Correlation state: per correlation rule, per group key, a sliding window over the matches
//! of the referenced rules.
//!
//! Memory is bounded twice: a window holds at most `bound + 1` entries, where `bound` is the
//! largest number in the rule's condition (enough to decide it exactly), and each correlation
//! holds at most [`CorrelationLimits::max_groups`] groups. Expired groups are swept
//! periodically and whenever the cap is reached; if the cap is still exceeded the least
//! recently updated tenth is evicted and counted in [`CorrelationStats::evicted`].
//!
//! When a correlation fires, its group's window is reset, so a burst raises one alert rather
//! than one per further event.

use std::collections::{HashMap, VecDeque};

use crate::compile::Source;
use crate::parse::{CmpOp, CorrelationKind};

/// Where the group-by values (and the counted value) come from for events of one detection
/// rule target.
#[derive(Debug, Clone)]
pub(crate) struct LeafSources {
    /// One per group-by field; `None` when the field is absent on that target.
    pub group: Vec<Option<Source>>,
    pub value: Option<Source>,
}

/// A compiled correlation rule.
#[derive(Debug, Clone)]
pub(crate) struct CompiledCorrelation {
    /// Index of the rule in the set.
    pub rule: u32,
    pub kind: CorrelationKind,
    pub timespan_ms: i64,
    pub condition: Vec<(CmpOp, i64)>,
    pub n_rules: usize,
    pub group_names: Vec<String>,
    /// (detection rule, target of its log source) → sources.
    pub sources: HashMap<(u32, usize), LeafSources>,
    /// Entries a window keeps.
    pub cap: usize,
}

impl CompiledCorrelation {
    pub fn holds(&self, count: i64) -> bool {
        self.condition.iter().all(|(op, b)| op.holds(count, *b))
    }
}

/// Bounds of the correlation state.
#[derive(Debug, Clone, Copy)]
pub struct CorrelationLimits {
    /// Groups kept per correlation rule.
    pub max_groups: usize,
}

impl Default for CorrelationLimits {
    fn default() -> Self {
        CorrelationLimits {
            max_groups: 100_000,
        }
    }
}

/// Counters of the correlation state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorrelationStats {
    /// Groups currently held (all correlations).
    pub groups: usize,
    /// Groups dropped because their window expired.
    pub expired: u64,
    /// Live groups evicted because a correlation hit `max_groups`.
    pub evicted: u64,
    /// Correlation matches raised.
    pub fired: u64,
}

#[derive(Debug)]
enum Window {
    /// event_count: timestamps.
    Times(VecDeque<i64>),
    /// value_count: value → last time seen.
    Values(HashMap<Box<str>, i64>),
    /// temporal: last time each referenced rule matched.
    Seen(Vec<Option<i64>>),
    /// temporal_ordered: for each position, the latest start of an in-order chain reaching it.
    Chain(Vec<Option<i64>>),
}

#[derive(Debug)]
struct Group {
    last_ms: i64,
    window: Window,
}

/// The mutable correlation state of one evaluator.
#[derive(Debug)]
pub(crate) struct CorrState {
    groups: Vec<HashMap<Box<str>, Group>>,
    updates: Vec<u64>,
    limits: CorrelationLimits,
    expired: u64,
    evicted: u64,
    fired: u64,
}

const SWEEP_EVERY: u64 = 4096;

impl CorrState {
    pub fn new(n: usize, limits: CorrelationLimits) -> CorrState {
        CorrState {
            groups: (0..n).map(|_| HashMap::new()).collect(),
            updates: vec![0; n],
            limits,
            expired: 0,
            evicted: 0,
            fired: 0,
        }
    }

    pub fn stats(&self) -> CorrelationStats {
        CorrelationStats {
            groups: self.groups.iter().map(HashMap::len).sum(),
            expired: self.expired,
            evicted: self.evicted,
            fired: self.fired,
        }
    }

    /// Record a match of the rule at `pos` of correlation `ci` in group `key`; returns the
    /// count when the correlation fires.
    pub fn update(
        &mut self,
        ci: usize,
        c: &CompiledCorrelation,
        key: &str,
        pos: usize,
        ts: i64,
        value: Option<&str>,
    ) -> Option<u64> {
        self.updates[ci] += 1;
        let span = c.timespan_ms;
        if self.updates[ci] % SWEEP_EVERY == 0 {
            self.expired += sweep(&mut self.groups[ci], ts, span) as u64;
        }
        let map = &mut self.groups[ci];
        if !map.contains_key(key) && map.len() >= self.limits.max_groups {
            self.expired += sweep(map, ts, span) as u64;
            if map.len() >= self.limits.max_groups {
                self.evicted += evict_oldest(map) as u64;
            }
        }
        let group = map.entry(key.into()).or_insert_with(|| Group {
            last_ms: ts,
            window: match c.kind {
                CorrelationKind::EventCount => Window::Times(VecDeque::new()),
                CorrelationKind::ValueCount => Window::Values(HashMap::new()),
                CorrelationKind::Temporal => Window::Seen(vec![None; c.n_rules]),
                CorrelationKind::TemporalOrdered => Window::Chain(vec![None; c.n_rules]),
            },
        });
        group.last_ms = group.last_ms.max(ts);
        let within = |t: i64| ts - t <= span;
        let count: i64 = match &mut group.window {
            Window::Times(q) => {
                q.push_back(ts);
                while q.front().is_some_and(|t| !within(*t)) || q.len() > c.cap {
                    q.pop_front();
                }
                q.len() as i64
            }
            Window::Values(m) => {
                let Some(v) = value else {
                    // value_count ignores events without the counted field.
                    return None;
                };
                m.retain(|_, t| within(*t));
                m.insert(v.into(), ts);
                while m.len() > c.cap {
                    let oldest = m.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone());
                    match oldest {
                        Some(k) => m.remove(&k),
                        None => break,
                    };
                }
                m.len() as i64
            }
            Window::Seen(seen) => {
                if let Some(s) = seen.get_mut(pos) {
                    *s = Some(ts);
                }
                seen.iter().flatten().filter(|t| within(**t)).count() as i64
            }
            Window::Chain(chain) => {
                if pos == 0 {
                    chain[0] = Some(ts);
                } else if let Some(Some(start)) = chain.get(pos - 1).copied() {
                    if within(start) {
                        chain[pos] = Some(chain[pos].map_or(start, |s| s.max(start)));
                    }
                }
                // The longest in-order prefix still inside the window.
                chain.iter().take_while(|s| s.is_some_and(within)).count() as i64
            }
        };
        if c.holds(count) {
            map.remove(key);
            self.fired += 1;
            Some(count as u64)
        } else {
            None
        }
    }
}

fn sweep(map: &mut HashMap<Box<str>, Group>, now: i64, span: i64) -> usize {
    let before = map.len();
    map.retain(|_, g| now - g.last_ms <= span);
    before - map.len()
}

/// Evict the least recently updated tenth (at least one group).
fn evict_oldest(map: &mut HashMap<Box<str>, Group>) -> usize {
    let n = (map.len() / 10).max(1);
    let mut ages: Vec<(i64, Box<str>)> = map.iter().map(|(k, g)| (g.last_ms, k.clone())).collect();
    ages.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
    for (_, k) in ages.into_iter().take(n) {
        map.remove(&k);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corr(kind: CorrelationKind, cond: Vec<(CmpOp, i64)>, n_rules: usize) -> CompiledCorrelation {
        let cap = cond.iter().map(|(_, b)| *b).max().unwrap_or(n_rules as i64) as usize + 1;
        CompiledCorrelation {
            rule: 0,
            kind,
            timespan_ms: 10_000,
            condition: cond,
            n_rules,
            group_names: vec![],
            sources: HashMap::new(),
            cap: cap.max(n_rules + 1),
        }
    }

    #[test]
    fn event_count_slides_and_resets() {
        let c = corr(CorrelationKind::EventCount, vec![(CmpOp::Gte, 3)], 1);
        let mut s = CorrState::new(1, CorrelationLimits::default());
        assert_eq!(s.update(0, &c, "k", 0, 0, None), None);
        assert_eq!(s.update(0, &c, "k", 0, 1_000, None), None);
        // The first event left the window: still two.
        assert_eq!(s.update(0, &c, "k", 0, 10_500, None), None);
        assert_eq!(s.update(0, &c, "k", 0, 11_000, None), Some(3));
        // Reset after firing.
        assert_eq!(s.update(0, &c, "k", 0, 11_001, None), None);
        // Groups are separate.
        assert_eq!(s.update(0, &c, "other", 0, 11_002, None), None);
        assert_eq!(s.stats().fired, 1);
    }

    #[test]
    fn value_count_counts_distinct_values() {
        let c = corr(CorrelationKind::ValueCount, vec![(CmpOp::Gt, 2)], 1);
        let mut s = CorrState::new(1, CorrelationLimits::default());
        assert_eq!(s.update(0, &c, "k", 0, 0, Some("a")), None);
        assert_eq!(s.update(0, &c, "k", 0, 1, Some("a")), None);
        assert_eq!(s.update(0, &c, "k", 0, 2, Some("b")), None);
        assert_eq!(s.update(0, &c, "k", 0, 3, None), None);
        assert_eq!(s.update(0, &c, "k", 0, 4, Some("c")), Some(3));
    }

    #[test]
    fn temporal_needs_every_rule_in_the_window() {
        let c = corr(CorrelationKind::Temporal, vec![(CmpOp::Gte, 2)], 2);
        let mut s = CorrState::new(1, CorrelationLimits::default());
        assert_eq!(s.update(0, &c, "k", 1, 0, None), None);
        assert_eq!(s.update(0, &c, "k", 1, 5, None), None);
        assert_eq!(
            s.update(0, &c, "k", 0, 20_000, None),
            None,
            "rule 1 expired"
        );
        assert_eq!(s.update(0, &c, "k", 1, 20_001, None), Some(2));
    }

    #[test]
    fn temporal_ordered_needs_the_order() {
        let c = corr(CorrelationKind::TemporalOrdered, vec![(CmpOp::Gte, 2)], 2);
        let mut s = CorrState::new(1, CorrelationLimits::default());
        assert_eq!(s.update(0, &c, "k", 1, 0, None), None, "b before a");
        assert_eq!(s.update(0, &c, "k", 0, 1, None), None);
        assert_eq!(s.update(0, &c, "k", 1, 2, None), Some(2));
        assert_eq!(s.update(0, &c, "k", 0, 3, None), None);
        assert_eq!(s.update(0, &c, "k", 1, 20_000, None), None, "too late");
    }

    #[test]
    fn groups_are_capped_and_evictions_counted() {
        let c = corr(CorrelationKind::EventCount, vec![(CmpOp::Gte, 100)], 1);
        let mut s = CorrState::new(1, CorrelationLimits { max_groups: 50 });
        for i in 0..1000 {
            s.update(0, &c, &format!("g{i}"), 0, i, None);
        }
        let st = s.stats();
        assert!(st.groups <= 50, "{st:?}");
        assert!(st.evicted >= 950 - 50, "{st:?}");
        // Expired groups are swept before anything is evicted.
        let mut s = CorrState::new(1, CorrelationLimits { max_groups: 10 });
        for i in 0..100 {
            s.update(0, &c, &format!("g{i}"), 0, i * 20_000, None);
        }
        let st = s.stats();
        assert_eq!(st.evicted, 0, "{st:?}");
        assert!(st.expired >= 89, "{st:?}");
    }
}
