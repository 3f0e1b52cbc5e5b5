//! Evaluation: an [`Evaluator`] holds the per-event field cache (each field is fetched and
//! lowercased at most once per event) and the correlation state, and matches events against
//! one [`RuleSet`].

use crate::compile::{Check, Item, Node, Slot, Source};
use crate::correlation::{CorrState, CorrelationLimits, CorrelationStats};
use crate::event::{Event, FieldRef};
use crate::matcher::{lower_into, ValueTest, View};
use crate::modifiers::MatchKind;
use crate::ruleset::RuleSet;

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

#[derive(Debug, Default)]
struct SlotVal {
    gen: u32,
    lower_gen: u32,
    present: bool,
    null: bool,
    int: Option<i64>,
    raw: String,
    lower: String,
}

impl SlotVal {
    fn view(&self) -> View<'_> {
        View {
            present: self.present,
            null: self.null,
            raw: &self.raw,
            lower: &self.lower,
            int: self.int,
        }
    }
}

/// Matches events against a rule set; holds the scratch space and correlation state.
pub struct Evaluator<'s> {
    set: &'s RuleSet,
    slots: Vec<SlotVal>,
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
    /// Pattern ids the prefilter found in one field.
    hits: Vec<u32>,
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
            slots: (0..set.fields.names.len())
                .map(|_| SlotVal::default())
                .collect(),
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
            for s in &mut self.slots {
                s.gen = 0;
                s.lower_gen = 0;
            }
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
        let set = self.set;
        let Some(bucket) = set.index.bucket(ev.table(), ev.action_type()) else {
            return;
        };
        self.next_gen();
        let gen = self.gen;
        self.gates = !naive;
        let mut cands = std::mem::take(&mut self.candidates);
        cands.clear();
        if naive {
            cands.extend_from_slice(&bucket.all);
        } else {
            for fs in &bucket.scans {
                // ASCII text is scanned raw (the automaton lowercases ASCII as it goes); other
                // text is lowercased first.
                self.load(ev, fs.slot, false);
                let sv = &self.slots[fs.slot as usize];
                if !sv.present || sv.null {
                    continue;
                }
                if !sv.raw.is_ascii() {
                    self.load(ev, fs.slot, true);
                }
                let sv = &self.slots[fs.slot as usize];
                let text = if sv.raw.is_ascii() {
                    &sv.raw
                } else {
                    &sv.lower
                };
                self.stats.scanned_bytes += text.len() as u64;
                let mut hits = std::mem::take(&mut self.hits);
                hits.clear();
                fs.scan(text.as_bytes(), &mut hits);
                self.stats.literal_hits += hits.len() as u64;
                for &p in &hits {
                    let pat = &fs.pats[p as usize];
                    let ns = &mut self.needle_stamp[pat.needle as usize];
                    if *ns == gen {
                        // Seen already: its targets are candidates.
                        continue;
                    }
                    *ns = gen;
                    for &t in pat.targets.iter() {
                        let st = &mut self.target_stamp[t as usize];
                        if *st != gen {
                            *st = gen;
                            cands.push(t);
                        }
                    }
                }
                self.hits = hits;
            }
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
            let hit = self.node(ev, &target.node);
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
            self.correlate(ev, rule, rule, target.ls_target, out);
        }
        self.matched = matched;
    }

    /// Feed the correlations that reference `rule` (itself raised by an event that matched
    /// detection rule `leaf` on log-source target `ls_target`).
    fn correlate<E: Event + ?Sized>(
        &mut self,
        ev: &E,
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
                    if let Some(v) = self.text(ev, s) {
                        key.push_str(&v);
                    }
                }
            }
            let value = match &src.value {
                Some(s) => self.text(ev, s),
                None => None,
            };
            let fired = self.corr.update(
                ci as usize,
                c,
                &key,
                pos,
                ev.timestamp_ms(),
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
                self.correlate(ev, c.rule, leaf, ls_target, out);
            } else {
                self.key = key;
            }
        }
    }

    /// A source's raw text (for group keys and counted values).
    fn text<E: Event + ?Sized>(&mut self, ev: &E, s: &Source) -> Option<String> {
        match s {
            Source::Field(slot) => {
                self.load(ev, *slot, false);
                let sv = &self.slots[*slot as usize];
                (sv.present && !sv.null).then(|| sv.raw.clone())
            }
            _ => {
                self.derived(ev, s, false);
                Some(self.tmp_raw.clone())
            }
        }
    }

    /// Fetch a field into the cache (once per event), lowercasing it if asked.
    fn load<E: Event + ?Sized>(&mut self, ev: &E, slot: Slot, lower: bool) {
        let gen = self.gen;
        let sv = &mut self.slots[slot as usize];
        if sv.gen == gen {
            if lower && sv.lower_gen != gen {
                sv.lower_gen = gen;
                lower_into(&sv.raw, &mut sv.lower);
            }
            return;
        }
        sv.gen = gen;
        sv.raw.clear();
        sv.int = None;
        sv.null = false;
        sv.present = true;
        match ev.field_named(&self.set.fields.keys[slot as usize]) {
            None => sv.present = false,
            Some(FieldRef::Null) => sv.null = true,
            Some(FieldRef::Str(s)) => {
                sv.raw.push_str(s);
                if lower {
                    // Lowercase straight from the event's text.
                    sv.lower_gen = gen;
                    lower_into(s, &mut sv.lower);
                }
                return;
            }
            Some(FieldRef::Int(i)) => {
                use std::fmt::Write;
                let _ = write!(sv.raw, "{i}");
                sv.int = Some(i);
            }
            Some(FieldRef::Bool(b)) => sv.raw.push_str(if b { "true" } else { "false" }),
        }
        if lower {
            sv.lower_gen = gen;
            lower_into(&sv.raw, &mut sv.lower);
        }
    }

    /// Compute a derived source into `tmp_raw` / `tmp_lower`; returns whether it is present.
    fn derived<E: Event + ?Sized>(&mut self, ev: &E, s: &Source, lower: bool) -> bool {
        self.tmp_raw.clear();
        let present = match s {
            Source::Token { slot, index } => {
                self.load(ev, *slot, false);
                let gen = self.gen;
                let sv = &self.slots[*slot as usize];
                if !sv.present || sv.null {
                    false
                } else {
                    // Split the command line once per event, as far as asked.
                    if self.tok_gen != gen || self.tok_slot != *slot {
                        self.tok_gen = gen;
                        self.tok_slot = *slot;
                        self.tok_pos = 0;
                        self.tok_buf.clear();
                        self.toks.clear();
                    }
                    if self.toks.len() <= *index && self.tok_pos < sv.raw.len() {
                        self.tok_pos = argv_split(
                            &sv.raw,
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
                    self.load(ev, *slot, false);
                    let sv = &self.slots[*slot as usize];
                    if sv.present && !sv.null && !sv.raw.is_empty() {
                        if any {
                            self.tmp_raw.push(',');
                        }
                        self.tmp_raw.push_str(algo);
                        self.tmp_raw.push('=');
                        self.tmp_raw.push_str(&sv.raw);
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

    fn node<E: Event + ?Sized>(&mut self, ev: &E, n: &Node) -> bool {
        match n {
            Node::Const(b) => *b,
            Node::And(v) => v.iter().all(|c| self.node(ev, c)),
            Node::Or(v) => v.iter().any(|c| self.node(ev, c)),
            Node::Not(c) => !self.node(ev, c),
            Node::AtLeast(k, v) => {
                let mut hits = 0;
                for c in v {
                    if self.node(ev, c) {
                        hits += 1;
                        if hits >= *k {
                            return true;
                        }
                    }
                }
                false
            }
            Node::Item(item) => self.item(ev, item),
        }
    }

    fn item<E: Event + ?Sized>(&mut self, ev: &E, item: &Item) -> bool {
        if self.gates {
            if let Some(Some(needles)) = self.set.index.gates.get(item.id as usize) {
                let gen = self.gen;
                if !needles
                    .iter()
                    .any(|n| self.needle_stamp[*n as usize] == gen)
                {
                    // None of the literals the item needs is in the event.
                    return false;
                }
            }
        }
        match &item.source {
            Source::Field(slot) => {
                self.load(ev, *slot, item.needs_lower);
                if let Check::FieldRef { .. } = item.check {
                    return self.fieldref(ev, item, *slot);
                }
                check(item, &self.slots[*slot as usize].view())
            }
            Source::Keywords(slots) => {
                for s in slots {
                    self.load(ev, *s, item.needs_lower);
                }
                let slots_v = &self.slots;
                let any_field = |t: &ValueTest| slots_v_match(slots_v, slots, t);
                let r = match &item.check {
                    Check::Tests { tests, all: true } => tests.iter().all(any_field),
                    Check::Tests { tests, all: false } => tests.iter().any(any_field),
                    Check::Exists(want) => {
                        slots.iter().any(|s| self.slots[*s as usize].present) == *want
                    }
                    Check::FieldRef { .. } => false,
                };
                if item.neq {
                    !r
                } else {
                    r
                }
            }
            derived => {
                let present = self.derived(ev, derived, item.needs_lower);
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
    fn fieldref<E: Event + ?Sized>(&mut self, ev: &E, item: &Item, slot: Slot) -> bool {
        let Check::FieldRef {
            others,
            kind,
            cased,
            all,
        } = &item.check
        else {
            return false;
        };
        let sv = &self.slots[slot as usize];
        let present = sv.present && !sv.null;
        let mine = if *cased {
            sv.raw.clone()
        } else {
            sv.lower.clone()
        };
        let mut results = Vec::with_capacity(others.len());
        for o in others {
            let other = match o {
                Source::Field(s) => {
                    self.load(ev, *s, !cased);
                    let osv = &self.slots[*s as usize];
                    (osv.present && !osv.null).then(|| {
                        if *cased {
                            osv.raw.clone()
                        } else {
                            osv.lower.clone()
                        }
                    })
                }
                d => self.derived(ev, d, !cased).then(|| {
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

fn slots_v_match(slots_v: &[SlotVal], slots: &[Slot], t: &ValueTest) -> bool {
    slots
        .iter()
        .any(|s| t.is_match(&slots_v[*s as usize].view()))
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

/// Split a command line in Vigil's quoting (arguments holding whitespace or quotes are
/// written `"..."` with `\"` and `\\` escapes), from byte `from`, until `out` holds `want`
/// arguments: appends them to `buf`, one range each. Returns where it stopped.
pub(crate) fn argv_split(
    cmd: &str,
    from: usize,
    want: usize,
    buf: &mut String,
    out: &mut Vec<(usize, usize)>,
) -> usize {
    let b = cmd.as_bytes();
    let mut i = from;
    while out.len() < want {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return i;
        }
        let start = buf.len();
        if b[i] == b'"' {
            i += 1;
            // Copy runs of plain bytes; unescape `\"` and `\\`.
            let mut run = i;
            while i < b.len() {
                match b[i] {
                    b'\\' if matches!(b.get(i + 1), Some(b'"') | Some(b'\\')) => {
                        buf.push_str(&cmd[run..i]);
                        buf.push(char::from(b[i + 1]));
                        i += 2;
                        run = i;
                    }
                    b'"' => break,
                    _ => i += 1,
                }
            }
            buf.push_str(&cmd[run..i]);
            i = (i + 1).min(b.len());
        } else {
            let s = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            buf.push_str(&cmd[s..i]);
        }
        out.push((start, buf.len()));
    }
    i
}

/// The `n`-th argument of a command line (see [`argv_split`]), written to `out`.
#[cfg(test)]
pub(crate) fn argv_nth(cmd: &str, n: usize, out: &mut String) -> bool {
    let mut buf = String::new();
    let mut toks = Vec::new();
    argv_split(cmd, 0, usize::MAX, &mut buf, &mut toks);
    out.clear();
    match toks.get(n) {
        Some(&(a, b)) => {
            out.push_str(&buf[a..b]);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::argv_nth;

    #[test]
    fn argv_tokens_undo_vigils_quoting() {
        let cmd = r#"sh -c "echo \"hi\" \\ there" """#;
        let mut s = String::new();
        assert!(argv_nth(cmd, 0, &mut s));
        assert_eq!(s, "sh");
        assert!(argv_nth(cmd, 1, &mut s));
        assert_eq!(s, "-c");
        assert!(argv_nth(cmd, 2, &mut s));
        assert_eq!(s, r#"echo "hi" \ there"#);
        assert!(argv_nth(cmd, 3, &mut s));
        assert_eq!(s, "");
        assert!(!argv_nth(cmd, 4, &mut s));
        assert!(argv_nth("  a   b ", 1, &mut s));
        assert_eq!(s, "b");
        assert!(!argv_nth("", 0, &mut s));
    }
}
