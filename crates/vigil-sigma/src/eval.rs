//! Evaluation: an [`Evaluator`] holds the per-event field cache (each field is fetched and
//! lowercased at most once per event) and the correlation state, and matches events against
//! one [`RuleSet`].
//!
//! The cache borrows the event's text for the duration of one evaluation (a [`Frame`]); only
//! numbers (formatted) and text with uppercase or non-ASCII characters (lowercased, when a
//! test compares lowercase) are copied, into per-field buffers. The prefilter's part (which
//! targets are candidates) is in `prefilter`.

mod prefilter;

use crate::argv::argv_split;
use crate::ascii::case_of;
use crate::compile::{Check, Item, Node, Slot, Source};
use crate::correlation::{CorrState, CorrelationLimits, CorrelationStats};
use crate::event::{Event, FieldRef};
use crate::index::Bucket;
use crate::matcher::{lower_into, ValueTest, View};
use crate::modifiers::MatchKind;
use crate::recent::Recent;
use crate::ruleset::RuleSet;
use crate::scan::FieldScan;

/// A rule raised by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// Index of the rule in the set ([`RuleSet::rule`]).
    pub rule: u32,
    /// Set for correlation rules.
    pub correlation: Option<CorrelationHit>,
}

/// What a correlation rule saw when it fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationHit {
    /// The group: `field=value` pairs of the group-by fields, joined by `, `.
    pub group: String,
    /// The count the condition was decided on (events, distinct values, or rules seen).
    pub count: u64,
}

/// A field of the event being evaluated.
#[derive(Debug, Clone, Copy)]
struct Val<'e> {
    present: bool,
    null: bool,
    int: Option<i64>,
    /// The event's text; `None`: in the field's buffer (a formatted number).
    raw: Option<&'e str>,
    lower: Lower,
}

/// Where a field's lowercased text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lower {
    /// Not computed (no test asked).
    Unset,
    /// The raw text is its own lowercase.
    Raw,
    /// In the field's buffer.
    Buf,
}

impl Val<'_> {
    const ABSENT: Val<'static> = Val {
        present: false,
        null: false,
        int: None,
        raw: Some(""),
        lower: Lower::Raw,
    };
}

/// Per field: text the event does not hold as such.
#[derive(Debug, Default)]
struct SlotBuf {
    raw: String,
    lower: String,
}

/// One evaluation: the event, and the fields read from it so far.
struct Frame<'e, E: ?Sized> {
    ev: &'e E,
    vals: Vec<Val<'e>>,
}

/// An empty vector of another lifetime, reusing the allocation (collecting a vector's
/// iterator into a vector of a type of the same layout is done in place).
fn recycle<'a, 'b>(mut v: Vec<Val<'a>>) -> Vec<Val<'b>> {
    v.clear();
    v.into_iter().map(|_| Val::ABSENT).collect()
}

/// An empty vector of texts of another lifetime, reusing the allocation (as [`recycle`]).
// `filter` would keep the element type, whose lifetime is what changes here.
#[allow(clippy::unnecessary_filter_map)]
fn recycle_texts<'s, 'b>(mut v: Vec<(&'s FieldScan, &[u8])>) -> Vec<(&'s FieldScan, &'b [u8])> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// The view of a field read into `v`, with its buffers `b`.
fn view<'a>(v: &'a Val<'_>, b: &'a SlotBuf) -> View<'a> {
    let raw = v.raw.unwrap_or(&b.raw);
    View {
        present: v.present,
        null: v.null,
        raw,
        lower: match v.lower {
            Lower::Unset => "",
            Lower::Raw => raw,
            Lower::Buf => &b.lower,
        },
        int: v.int,
    }
}

/// Matches events against a rule set; holds the scratch space and correlation state.
pub struct Evaluator<'s> {
    set: &'s RuleSet,
    /// Per field slot: (event `gen` it was read in, its index in the frame's values).
    seen: Vec<(u32, u32)>,
    /// Per table and field slot: the hint of [`Event::field_hinted`] (events of one table
    /// usually have their columns in the same order, events of different tables do not).
    hints: Vec<u32>,
    /// Where the hints of the event's table start.
    hint_base: usize,
    bufs: Vec<SlotBuf>,
    /// The storage of [`Frame::vals`] between events.
    vals: Vec<Val<'static>>,
    gen: u32,
    target_stamp: Vec<u32>,
    rule_stamp: Vec<u32>,
    /// Needles found in this event (`gen`), for item gates.
    needle_stamp: Vec<u32>,
    /// Whether gates apply (not in the naive evaluation, which does not scan).
    gates: bool,
    candidates: Vec<u32>,
    matched: Vec<(u32, u32)>,
    tmp_raw: String,
    tmp_lower: String,
    /// (job, pattern id) the prefilter found.
    hits: Vec<(u32, u32)>,
    /// The fields to scan in this event.
    jobs: Vec<prefilter::Job>,
    /// The storage of the scans' texts between events (see [`recycle_texts`]).
    texts: Vec<(&'s FieldScan, &'static [u8])>,
    /// What recent values of the scanned fields held.
    recent: Recent,
    /// The literals found in one value (scratch).
    pats: Vec<u32>,
    /// The arguments of the command line `tok_slot`, split in event `tok_gen`.
    tok_gen: u32,
    tok_slot: Slot,
    tok_buf: String,
    toks: Vec<(usize, usize)>,
    tok_pos: usize,
    key: String,
    corr: CorrState,
    include_referenced: bool,
    stats: EvalStats,
    /// Per rule: (times evaluated, times matched, ns spent), when profiling.
    profile: Option<Vec<(u64, u64, u64)>>,
}

/// Counters of an evaluator's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalStats {
    /// Events dispatched to a bucket of rules.
    pub events: u64,
    /// Rule targets evaluated (candidates of the prefilter plus those without literals).
    pub evaluated: u64,
    /// Rule targets that matched.
    pub matched: u64,
    /// Literal occurrences the prefilter found.
    pub literal_hits: u64,
    /// Bytes the prefilter scanned.
    pub scanned_bytes: u64,
}

impl<'s> Evaluator<'s> {
    /// An evaluator with the default correlation limits.
    pub fn new(set: &'s RuleSet) -> Evaluator<'s> {
        Evaluator::with_limits(set, CorrelationLimits::default())
    }

    /// An evaluator with explicit correlation limits.
    pub fn with_limits(set: &'s RuleSet, limits: CorrelationLimits) -> Evaluator<'s> {
        Evaluator {
            set,
            seen: vec![(0, 0); set.fields.names.len()],
            hints: vec![0; set.fields.names.len() * set.index.tables()],
            hint_base: 0,
            bufs: (0..set.fields.names.len())
                .map(|_| SlotBuf::default())
                .collect(),
            vals: Vec::new(),
            gen: 0,
            target_stamp: vec![0; set.targets.len()],
            rule_stamp: vec![0; set.rules.len()],
            needle_stamp: vec![0; set.index.needles],
            gates: false,
            candidates: Vec::new(),
            matched: Vec::new(),
            tmp_raw: String::new(),
            tmp_lower: String::new(),
            hits: Vec::new(),
            jobs: Vec::new(),
            texts: Vec::new(),
            recent: Recent::new(set.index.scans),
            pats: Vec::new(),
            tok_gen: 0,
            tok_slot: 0,
            tok_buf: String::new(),
            toks: Vec::new(),
            tok_pos: 0,
            key: String::new(),
            corr: CorrState::new(set.correlations.len(), limits),
            include_referenced: false,
            stats: EvalStats::default(),
            profile: None,
        }
    }

    /// Also report matches of rules that only feed correlations (`generate: false`), e.g. to
    /// test them.
    pub fn include_referenced(mut self, yes: bool) -> Self {
        self.include_referenced = yes;
        self
    }

    /// Count, per rule, how often it is evaluated and how often it matches (see
    /// [`Evaluator::profile`]); for finding rules whose literals do not filter well.
    pub fn with_profile(mut self) -> Self {
        self.profile = Some(vec![(0, 0, 0); self.set.rules.len()]);
        self
    }

    /// Per rule index: (times evaluated, times matched, nanoseconds spent evaluating it), if
    /// profiling.
    pub fn profile(&self) -> Option<&[(u64, u64, u64)]> {
        self.profile.as_deref()
    }

    /// Counters of the work done so far.
    pub fn stats(&self) -> EvalStats {
        self.stats
    }

    /// Counters of the correlation state.
    pub fn correlation_stats(&self) -> CorrelationStats {
        self.corr.stats()
    }

    fn next_gen(&mut self) {
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            self.seen.iter_mut().for_each(|s| *s = (0, 0));
            self.target_stamp.iter_mut().for_each(|s| *s = 0);
            self.rule_stamp.iter_mut().for_each(|s| *s = 0);
            self.needle_stamp.iter_mut().for_each(|s| *s = 0);
            self.tok_gen = 0;
            self.gen = 1;
        }
    }

    /// Match one event, appending what it raises to `out` (in rule order).
    pub fn evaluate<E: Event + ?Sized>(&mut self, ev: &E, out: &mut Vec<Detection>) {
        self.run(ev, out, false)
    }

    /// The baseline: every rule of the event's table and ActionType is evaluated, without the
    /// literal prefilter. Same results as [`Evaluator::evaluate`].
    pub fn evaluate_naive<E: Event + ?Sized>(&mut self, ev: &E, out: &mut Vec<Detection>) {
        self.run(ev, out, true)
    }

    fn run<E: Event + ?Sized>(&mut self, ev: &E, out: &mut Vec<Detection>, naive: bool) {
        let Some(bucket) = self.set.index.bucket(ev.table(), ev.action_type()) else {
            return;
        };
        let mut fr = Frame {
            ev,
            vals: recycle(std::mem::take(&mut self.vals)),
        };
        self.run_frame(&mut fr, bucket, out, naive);
        self.vals = recycle(fr.vals);
    }

    fn run_frame<'e, E: Event + ?Sized>(
        &mut self,
        fr: &mut Frame<'e, E>,
        bucket: &'s Bucket,
        out: &mut Vec<Detection>,
        naive: bool,
    ) {
        let set = self.set;
        self.next_gen();
        self.hint_base = bucket.table as usize * set.fields.names.len();
        let gen = self.gen;
        self.gates = !naive;
        let mut cands = std::mem::take(&mut self.candidates);
        cands.clear();
        if naive {
            cands.extend_from_slice(&bucket.all);
        } else {
            self.prefilter(fr, bucket, &mut cands);
            cands.extend_from_slice(&bucket.always);
            // In target order, as the naive evaluation (which target of a rule raises it
            // decides the correlation fields).
            cands.sort_unstable();
        }
        self.matched.clear();
        self.stats.events += 1;
        self.stats.evaluated += cands.len() as u64;
        for &t in &cands {
            let target = &set.targets[t as usize];
            if self.rule_stamp[target.rule as usize] == gen {
                continue;
            }
            let started = self.profile.is_some().then(std::time::Instant::now);
            // The gates first (no field read): a closed one may decide the target.
            let hit = (!self.gates || self.groups_open(set.index.target_gate(t)))
                && self.node(fr, &target.node);
            if let (Some(p), Some(t0)) = (&mut self.profile, started) {
                let e = &mut p[target.rule as usize];
                e.0 += 1;
                e.1 += u64::from(hit);
                e.2 += t0.elapsed().as_nanos() as u64;
            }
            if hit {
                self.rule_stamp[target.rule as usize] = gen;
                self.matched.push((target.rule, t));
            }
        }
        self.candidates = cands;
        self.stats.matched += self.matched.len() as u64;
        if self.matched.is_empty() {
            return;
        }
        self.matched.sort_unstable();
        let matched = std::mem::take(&mut self.matched);
        for &(rule, t) in &matched {
            if self.include_referenced || set.emit[rule as usize] {
                out.push(Detection {
                    rule,
                    correlation: None,
                });
            }
            let target = &set.targets[t as usize];
            self.correlate(fr, rule, rule, target.ls_target, out);
        }
        self.matched = matched;
    }

    /// Feed the correlations that reference `rule` (itself raised by an event that matched
    /// detection rule `leaf` on log-source target `ls_target`).
    fn correlate<'e, E: Event + ?Sized>(
        &mut self,
        fr: &mut Frame<'e, E>,
        rule: u32,
        leaf: u32,
        ls_target: usize,
        out: &mut Vec<Detection>,
    ) {
        let set = self.set;
        for &(ci, pos) in &set.rule_to_corr[rule as usize] {
            let c = &set.correlations[ci as usize];
            let Some(src) = c.sources.get(&(leaf, ls_target)) else {
                continue;
            };
            let mut key = std::mem::take(&mut self.key);
            key.clear();
            for (i, g) in src.group.iter().enumerate() {
                if i > 0 {
                    key.push('\u{1f}');
                }
                if let Some(s) = g {
                    if let Some(v) = self.text(fr, s) {
                        key.push_str(&v);
                    }
                }
            }
            let value = match &src.value {
                Some(s) => self.text(fr, s),
                None => None,
            };
            let fired = self.corr.update(
                ci as usize,
                c,
                &key,
                pos,
                fr.ev.timestamp_ms(),
                value.as_deref(),
            );
            if let Some(count) = fired {
                if self.include_referenced || set.emit[c.rule as usize] {
                    let group = c
                        .group_names
                        .iter()
                        .zip(key.split('\u{1f}'))
                        .map(|(n, v)| format!("{n}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    out.push(Detection {
                        rule: c.rule,
                        correlation: Some(CorrelationHit { group, count }),
                    });
                }
                self.key = key;
                self.correlate(fr, c.rule, leaf, ls_target, out);
            } else {
                self.key = key;
            }
        }
    }

    /// A source's raw text (for group keys and counted values).
    fn text<'e, E: Event + ?Sized>(&mut self, fr: &mut Frame<'e, E>, s: &Source) -> Option<String> {
        match s {
            Source::Field(slot) => {
                let v = self.view(fr, *slot, false);
                (v.present && !v.null).then(|| v.raw.to_string())
            }
            _ => {
                self.derived(fr, s, false);
                Some(self.tmp_raw.clone())
            }
        }
    }

    /// Read a field into the frame (once per event), lowercasing it if asked; returns its
    /// index in the frame's values.
    fn load<'e, E: Event + ?Sized>(
        &mut self,
        fr: &mut Frame<'e, E>,
        slot: Slot,
        lower: bool,
    ) -> usize {
        let (g, at) = self.seen[slot as usize];
        let i = if g == self.gen {
            at as usize
        } else {
            let name = &self.set.fields.keys[slot as usize];
            let hint = &mut self.hints[self.hint_base + slot as usize];
            let v = match fr.ev.field_hinted(name, hint) {
                None => Val::ABSENT,
                Some(FieldRef::Null) => Val {
                    present: true,
                    null: true,
                    ..Val::ABSENT
                },
                Some(FieldRef::Str(s)) => Val {
                    present: true,
                    null: false,
                    int: None,
                    raw: Some(s),
                    lower: Lower::Unset,
                },
                Some(FieldRef::Int(i)) => {
                    use std::fmt::Write;
                    let b = &mut self.bufs[slot as usize].raw;
                    b.clear();
                    let _ = write!(b, "{i}");
                    Val {
                        present: true,
                        null: false,
                        int: Some(i),
                        raw: None,
                        lower: Lower::Raw,
                    }
                }
                Some(FieldRef::Bool(b)) => Val {
                    present: true,
                    raw: Some(if b { "true" } else { "false" }),
                    ..Val::ABSENT
                },
            };
            fr.vals.push(v);
            let i = fr.vals.len() - 1;
            self.seen[slot as usize] = (self.gen, i as u32);
            i
        };
        let v = &mut fr.vals[i];
        if lower && v.lower == Lower::Unset {
            let raw = v.raw.unwrap_or_default();
            if let (true, false) = case_of(raw.as_bytes()) {
                v.lower = Lower::Raw;
            } else {
                lower_into(raw, &mut self.bufs[slot as usize].lower);
                v.lower = Lower::Buf;
            }
        }
        i
    }

    /// [`Evaluator::load`], then the field's view.
    fn view<'a, 'e: 'a, E: Event + ?Sized>(
        &'a mut self,
        fr: &'a mut Frame<'e, E>,
        slot: Slot,
        lower: bool,
    ) -> View<'a> {
        let i = self.load(fr, slot, lower);
        view(&fr.vals[i], &self.bufs[slot as usize])
    }

    /// Compute a derived source into `tmp_raw` / `tmp_lower`; returns whether it is present.
    fn derived<'e, E: Event + ?Sized>(
        &mut self,
        fr: &mut Frame<'e, E>,
        s: &Source,
        lower: bool,
    ) -> bool {
        self.tmp_raw.clear();
        let present = match s {
            Source::Token { slot, index } => {
                let i = self.load(fr, *slot, false);
                let gen = self.gen;
                let v = &fr.vals[i];
                if !v.present || v.null {
                    false
                } else {
                    let raw = view(v, &self.bufs[*slot as usize]).raw;
                    // Split the command line once per event, as far as asked.
                    if self.tok_gen != gen || self.tok_slot != *slot {
                        self.tok_gen = gen;
                        self.tok_slot = *slot;
                        self.tok_pos = 0;
                        self.tok_buf.clear();
                        self.toks.clear();
                    }
                    if self.toks.len() <= *index && self.tok_pos < raw.len() {
                        self.tok_pos = argv_split(
                            raw,
                            self.tok_pos,
                            *index + 1,
                            &mut self.tok_buf,
                            &mut self.toks,
                        );
                    }
                    match self.toks.get(*index) {
                        Some(&(a, b)) => {
                            self.tmp_raw.push_str(&self.tok_buf[a..b]);
                            true
                        }
                        None => false,
                    }
                }
            }
            Source::Hashes(list) => {
                let mut any = false;
                for (algo, slot) in list {
                    let i = self.load(fr, *slot, false);
                    let v = view(&fr.vals[i], &self.bufs[*slot as usize]);
                    if v.present && !v.null && !v.raw.is_empty() {
                        if any {
                            self.tmp_raw.push(',');
                        }
                        self.tmp_raw.push_str(algo);
                        self.tmp_raw.push('=');
                        self.tmp_raw.push_str(v.raw);
                        any = true;
                    }
                }
                any
            }
            Source::Field(_) | Source::Keywords(_) => false,
        };
        if lower {
            lower_into(&self.tmp_raw, &mut self.tmp_lower);
        }
        present
    }

    fn node<'e, E: Event + ?Sized>(&mut self, fr: &mut Frame<'e, E>, n: &Node) -> bool {
        match n {
            Node::Const(b) => *b,
            Node::And(v) => v.iter().all(|c| self.node(fr, c)),
            Node::Or(v) => v.iter().any(|c| self.node(fr, c)),
            Node::Not(c) => !self.node(fr, c),
            Node::AtLeast(k, v) => {
                let mut hits = 0;
                for c in v {
                    if self.node(fr, c) {
                        hits += 1;
                        if hits >= *k {
                            return true;
                        }
                    }
                }
                false
            }
            Node::Item(item) => self.item(fr, item),
        }
    }

    /// Whether the item's gate is open: each set of literals of which it needs one has one
    /// found in the event.
    fn gate_open(&self, item: &Item) -> bool {
        self.groups_open(self.set.index.gate(item.id))
    }

    /// Whether each of the sets of needles `gate` (each as its length then its needles) has
    /// one found in the event.
    fn groups_open(&self, mut gate: &[u32]) -> bool {
        let gen = self.gen;
        let stamp = &self.needle_stamp;
        while let Some((&len, rest)) = gate.split_first() {
            let (group, next) = rest.split_at((len as usize).min(rest.len()));
            if !group.iter().any(|n| stamp[*n as usize] == gen) {
                return false;
            }
            gate = next;
        }
        true
    }

    fn item<'e, E: Event + ?Sized>(&mut self, fr: &mut Frame<'e, E>, item: &Item) -> bool {
        if self.gates && !self.gate_open(item) {
            // A set of literals of which the item needs one is absent from the event.
            return false;
        }
        match &item.source {
            Source::Field(slot) => {
                let i = self.load(fr, *slot, item.needs_lower);
                if let Check::FieldRef { .. } = item.check {
                    return self.fieldref(fr, item, *slot);
                }
                check(item, &view(&fr.vals[i], &self.bufs[*slot as usize]))
            }
            Source::Keywords(slots) => {
                for s in slots {
                    self.load(fr, *s, item.needs_lower);
                }
                // Every field was read in this event: `seen` has its index.
                let (vals, bufs, seen) = (&fr.vals, &self.bufs, &self.seen);
                let val = |s: Slot| view(&vals[seen[s as usize].1 as usize], &bufs[s as usize]);
                let any_field = |t: &ValueTest| slots.iter().any(|s| t.is_match(&val(*s)));
                let r = match &item.check {
                    Check::Tests { tests, all: true } => tests.iter().all(any_field),
                    Check::Tests { tests, all: false } => tests.iter().any(any_field),
                    Check::Exists(want) => slots.iter().any(|s| val(*s).present) == *want,
                    Check::FieldRef { .. } => false,
                };
                if item.neq {
                    !r
                } else {
                    r
                }
            }
            derived => {
                let present = self.derived(fr, derived, item.needs_lower);
                let view = if present {
                    View {
                        present: true,
                        null: false,
                        raw: &self.tmp_raw,
                        lower: &self.tmp_lower,
                        int: None,
                    }
                } else {
                    View::ABSENT
                };
                check(item, &view)
            }
        }
    }

    /// `fieldref`: compare a field with other fields of the same event.
    fn fieldref<'e, E: Event + ?Sized>(
        &mut self,
        fr: &mut Frame<'e, E>,
        item: &Item,
        slot: Slot,
    ) -> bool {
        let Check::FieldRef {
            others,
            kind,
            cased,
            all,
        } = &item.check
        else {
            return false;
        };
        let v = self.view(fr, slot, !cased);
        let present = v.present && !v.null;
        let mine = if *cased { v.raw } else { v.lower }.to_string();
        let mut results = Vec::with_capacity(others.len());
        for o in others {
            let other = match o {
                Source::Field(s) => {
                    let ov = self.view(fr, *s, !cased);
                    (ov.present && !ov.null)
                        .then(|| if *cased { ov.raw } else { ov.lower }.to_string())
                }
                d => self.derived(fr, d, !cased).then(|| {
                    if *cased {
                        self.tmp_raw.clone()
                    } else {
                        self.tmp_lower.clone()
                    }
                }),
            };
            let r = present
                && other.is_some_and(|o| match kind {
                    MatchKind::Contains => mine.contains(o.as_str()),
                    MatchKind::StartsWith => mine.starts_with(o.as_str()),
                    MatchKind::EndsWith => mine.ends_with(o.as_str()),
                    _ => mine == o,
                });
            results.push(r);
        }
        let r = if *all {
            !results.is_empty() && results.iter().all(|r| *r)
        } else {
            results.iter().any(|r| *r)
        };
        if item.neq {
            present && !r
        } else {
            r
        }
    }
}

fn check(item: &Item, v: &View<'_>) -> bool {
    let r = match &item.check {
        Check::Tests { tests, all: true } => tests.iter().all(|t| t.is_match(v)),
        Check::Tests { tests, all: false } => tests.iter().any(|t| t.is_match(v)),
        Check::Exists(want) => v.present == *want,
        Check::FieldRef { .. } => false,
    };
    if item.neq {
        v.present && !v.null && !r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::recycle_texts;

    /// Recycling keeps the allocation: no allocation per event.
    #[test]
    fn recycled_texts_keep_their_capacity() {
        let v: Vec<(&crate::scan::FieldScan, &[u8])> = Vec::with_capacity(16);
        let w = recycle_texts(v);
        assert_eq!(w.capacity(), 16);
    }
}
