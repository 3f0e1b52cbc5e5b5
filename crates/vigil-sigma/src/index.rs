//! The index: compiled rule targets dispatched by (table, ActionType), with an Aho-Corasick
//! prefilter over the literals the rules require.
//!
//! For every compiled target the index derives a set of (field, literal) pairs such that the
//! rule can only match if at least one literal occurs in its field: AND picks its most
//! selective child, OR and "N of" take the union of their children, and NOT, numeric, CIDR
//! and existence tests give nothing (regexes give their prefix or suffix literals; a literal
//! shorter than two bytes counts only when anchored at the start or end of the field, or equal
//! to it, and is then compared there rather than scanned for; a value of a command line's first
//! argument gives its start, compared with the start of that argument).
//! Targets
//! with such a set are evaluated only when the prefilter finds one of their literals in the
//! event; the rest ("always") are evaluated on every event of their bucket.
//!
//! The automata (one per scanned field, see `scan`) also hold the literals of every other
//! item of those targets whose field is scanned anyway. Each literal has a global id, stamped
//! when found; an item is false without being evaluated (its *gate*) when one of the sets of
//! literals it requires is absent: its own literals, and, for a value that must match every
//! test (`|all`, or a single regex), each test's literals and each part of a regex
//! (`find\s.*-exec` requires `find` and `-exec`). A rule's other selections, regexes included,
//! are skipped for free.
//!
//! A candidate target is first checked against its own gate, without reading a field:
//! clauses (sets of literals of which one each must have been found) that its items' gates
//! imply, AND concatenating its children's, OR multiplying them out (or, past
//! `MAX_CLAUSES`, keeping the union of one clause of each child), NOT giving none. Most
//! targets the prefilter lets through are rejected there, by a few loads.
//!
//! **Invariant:** a gate (an item's or a target's) is closed only when the item or target is
//! false on the event: the indexed evaluation finds what the naive one does.

use std::collections::HashMap;

use crate::compile::{Item, Node, Slot, Source};
use crate::event::same;
use crate::matcher::{Anchor, Needle, ValueTest};
use crate::scan::FieldScan;

/// The rules that can match events of one (table, ActionType).
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// Targets without required literals: evaluated on every event.
    pub always: Vec<u32>,
    /// The prefilter: one automaton per scanned field.
    pub scans: Vec<FieldScan>,
    /// Every target of the bucket (for the naive evaluation).
    pub all: Vec<u32>,
    /// The table's number (see [`Index::tables`]).
    pub table: u32,
}

#[derive(Debug)]
struct TableEntry {
    name: String,
    /// (ActionType, bucket).
    actions: Vec<(String, usize)>,
}

/// Dispatch from (table, ActionType) to buckets.
#[derive(Debug, Default)]
pub(crate) struct Index {
    tables: Vec<TableEntry>,
    pub buckets: Vec<Bucket>,
    /// Counts for reports: targets with a prefilter, and without.
    pub filtered: usize,
    pub unfiltered: usize,
    /// Per target: whether the prefilter guards it.
    pub guarded: Vec<bool>,
    /// Number of distinct (field, literal) needles.
    pub needles: usize,
    /// Number of scans, over all buckets (each has its number, [`FieldScan::id`]).
    pub scans: usize,
    /// Per item id: where its gate is in `gate_data` (empty: no gate); see [`Index::gate`].
    pub gate_at: Vec<(u32, u32)>,
    /// The gates, one after the other: sets of needles of which one each must have been found
    /// for the item to be true (when every bucket of its target scans them), each set as its
    /// length then its needles.
    pub gate_data: Vec<u32>,
    /// Per target: where its gate is in `target_gate_data` (empty: always open); see
    /// [`Index::target_gate`].
    pub target_gate_at: Vec<(u32, u32)>,
    /// The targets' gates, one after the other, in the form of the items' gates.
    pub target_gate_data: Vec<u32>,
}

/// Most clauses the `Or` of gates multiplies out into; beyond, it is weakened to one clause.
const MAX_CLAUSES: usize = 64;

/// What the index needs to know of one compiled target.
pub(crate) struct TargetRef<'a> {
    pub table: &'a str,
    pub action_types: &'a [String],
    pub node: &'a Node,
}

impl Index {
    #[allow(clippy::type_complexity)]
    pub fn build(targets: &[TargetRef<'_>], n_items: u32) -> Index {
        let mut idx = Index::default();
        let mut needle_ids: HashMap<(Slot, Needle), u32> = HashMap::new();
        let mut id_of = |slot: Slot, n: &Needle| -> u32 {
            let next = needle_ids.len() as u32;
            *needle_ids.entry((slot, n.clone())).or_insert(next)
        };
        // Per bucket: required (slot, needle id, target) and the targets' items.
        let mut required_of: Vec<Vec<(Slot, u32, u32)>> = Vec::new();
        let mut items_of: Vec<Vec<(u32, Vec<Vec<(Slot, u32)>>)>> = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let i = i as u32;
            let req = required(t.node);
            match &req {
                Some(_) => idx.filtered += 1,
                None => idx.unfiltered += 1,
            }
            idx.guarded.push(req.is_some());
            let mut items = Vec::new();
            collect_items(t.node, &mut items);
            let items: Vec<(u32, Vec<Vec<(Slot, u32)>>)> = items
                .into_iter()
                .filter_map(|it| {
                    let groups = item_gate(it)?;
                    Some((
                        it.id,
                        groups
                            .into_iter()
                            .map(|g| g.into_iter().map(|(s, n)| (s, id_of(s, &n))).collect())
                            .collect(),
                    ))
                })
                .collect();
            for a in t.action_types {
                let b = idx.bucket_mut(t.table, a, &mut required_of, &mut items_of);
                idx.buckets[b].all.push(i);
                match &req {
                    Some(list) => {
                        for (slot, n) in list {
                            required_of[b].push((*slot, id_of(*slot, n), i));
                        }
                    }
                    None => idx.buckets[b].always.push(i),
                }
                items_of[b].extend(items.iter().cloned());
            }
        }
        let mut literal: Vec<Needle> =
            vec![(crate::matcher::Anchor::Anywhere, Vec::new()); needle_ids.len()];
        for ((_, n), id) in &needle_ids {
            literal[*id as usize] = n.clone();
        }
        idx.needles = literal.len();
        // Gates: an item is gated if every bucket holding it scans all its needles.
        let mut gate_ok: HashMap<u32, bool> = HashMap::new();
        let mut gate_needles: HashMap<u32, Vec<Vec<u32>>> = HashMap::new();
        for (b, (req, items)) in required_of.into_iter().zip(items_of).enumerate() {
            let mut slots: Vec<(usize, Slot)> = Vec::new();
            for (s, _, _) in &req {
                match slots.iter_mut().find(|(_, x)| x == s) {
                    Some(e) => e.0 += 1,
                    None => slots.push((1, *s)),
                }
            }
            slots.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let slots: Vec<Slot> = slots.into_iter().map(|(_, s)| s).collect();
            // (slot, needle, target or u32::MAX for gate-only literals).
            let mut entries: Vec<(Slot, u32, u32)> = req;
            for (item, groups) in items {
                let scanned = groups.iter().flatten().all(|(s, _)| slots.contains(s));
                let ok = gate_ok.entry(item).or_insert(true);
                *ok &= scanned;
                if scanned {
                    gate_needles.entry(item).or_insert_with(|| {
                        groups
                            .iter()
                            .map(|g| g.iter().map(|(_, n)| *n).collect())
                            .collect()
                    });
                    entries.extend(groups.iter().flatten().map(|(s, n)| (*s, *n, u32::MAX)));
                }
            }
            match build_scans(&slots, entries, &literal) {
                Ok(scans) => idx.buckets[b].scans = scans,
                Err(targets) => {
                    idx.buckets[b].always.extend(targets);
                    // Nothing is scanned in this bucket: no gate may rely on it.
                    for v in gate_ok.values_mut() {
                        *v = false;
                    }
                }
            }
            let always = &mut idx.buckets[b].always;
            always.sort_unstable();
            always.dedup();
        }
        for fs in idx.buckets.iter_mut().flat_map(|b| b.scans.iter_mut()) {
            fs.id = idx.scans as u32;
            idx.scans += 1;
        }
        idx.gate_at = vec![(0, 0); n_items as usize];
        let mut gated: Vec<(u32, Vec<Vec<u32>>)> = gate_ok
            .into_iter()
            .filter(|(_, ok)| *ok)
            .filter_map(|(item, _)| Some((item, gate_needles.remove(&item)?)))
            .collect();
        gated.sort_unstable_by_key(|g| g.0);
        for (item, groups) in gated {
            if item as usize >= idx.gate_at.len() || groups.is_empty() {
                continue;
            }
            let start = idx.gate_data.len() as u32;
            for mut n in groups {
                n.sort_unstable();
                n.dedup();
                idx.gate_data.push(n.len() as u32);
                idx.gate_data.extend(n);
            }
            idx.gate_at[item as usize] = (start, idx.gate_data.len() as u32);
        }
        for t in targets {
            let start = idx.target_gate_data.len() as u32;
            let mut clauses = idx.clauses(t.node);
            clauses.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            clauses.dedup();
            for c in clauses {
                idx.target_gate_data.push(c.len() as u32);
                idx.target_gate_data.extend(c);
            }
            idx.target_gate_at
                .push((start, idx.target_gate_data.len() as u32));
        }
        idx
    }

    /// Clauses that every event on which `n` is true satisfies, from its items' gates: sets
    /// of needles of which one each has been found (none: no condition; an empty clause: `n`
    /// is never true). An `Or` multiplies its children's clauses out, or, when that makes too
    /// many, keeps one clause: the union of each child's shortest; "at least k of" counts as
    /// all of them when k is their number, else as their `Or`; a negation gives nothing. Each
    /// of these is implied by `n`, so a target whose clauses are not all satisfied is false.
    fn clauses(&self, n: &Node) -> Vec<Vec<u32>> {
        let never = || vec![Vec::new()];
        let is_never = |c: &Vec<Vec<u32>>| c.iter().any(Vec::is_empty);
        match n {
            Node::Const(true) | Node::Not(_) => Vec::new(),
            Node::Const(false) => never(),
            Node::Item(i) => {
                let mut out = Vec::new();
                let mut gate = self.gate(i.id);
                while let Some((&len, rest)) = gate.split_first() {
                    let (group, next) = rest.split_at((len as usize).min(rest.len()));
                    out.push(group.to_vec());
                    gate = next;
                }
                out
            }
            Node::AtLeast(k, v) if *k >= v.len() => self.clauses(&Node::And(v.clone())),
            Node::And(v) => {
                let mut out = Vec::new();
                for c in v {
                    let c = self.clauses(c);
                    if is_never(&c) {
                        return c;
                    }
                    out.extend(c);
                }
                out
            }
            Node::Or(v) | Node::AtLeast(_, v) => {
                let mut parts = Vec::new();
                for c in v {
                    let c = self.clauses(c);
                    if c.is_empty() {
                        // A child without condition: nor has the `Or`.
                        return c;
                    }
                    if !is_never(&c) {
                        parts.push(c);
                    }
                }
                if parts.is_empty() {
                    return never();
                }
                let product = parts
                    .iter()
                    .try_fold(1usize, |n, p| n.checked_mul(p.len()))
                    .filter(|n| *n <= MAX_CLAUSES);
                if product.is_none() {
                    let mut one: Vec<u32> = parts
                        .iter()
                        .filter_map(|p| p.iter().min_by_key(|c| c.len()))
                        .flatten()
                        .copied()
                        .collect();
                    one.sort_unstable();
                    one.dedup();
                    return vec![one];
                }
                let mut out: Vec<Vec<u32>> = vec![Vec::new()];
                for p in parts {
                    out = out
                        .iter()
                        .flat_map(|a| {
                            p.iter().map(move |b| {
                                let mut c: Vec<u32> = a.iter().chain(b).copied().collect();
                                c.sort_unstable();
                                c.dedup();
                                c
                            })
                        })
                        .collect();
                }
                out
            }
        }
    }

    /// The gate of target `t`, in the form of an item's (empty: open whatever the literals
    /// found): clauses implied by its items' gates (see [`Index::clauses`]).
    #[inline]
    pub fn target_gate(&self, t: u32) -> &[u32] {
        match self.target_gate_at.get(t as usize) {
            Some(&(a, b)) => self
                .target_gate_data
                .get(a as usize..b as usize)
                .unwrap_or_default(),
            None => &[],
        }
    }

    /// The gate of item `item`: its sets of needles, each as its length then its needles
    /// (empty: no gate).
    #[inline]
    pub fn gate(&self, item: u32) -> &[u32] {
        match self.gate_at.get(item as usize) {
            Some(&(a, b)) => self
                .gate_data
                .get(a as usize..b as usize)
                .unwrap_or_default(),
            None => &[],
        }
    }

    #[allow(clippy::type_complexity)]
    fn bucket_mut(
        &mut self,
        table: &str,
        action: &str,
        required: &mut Vec<Vec<(Slot, u32, u32)>>,
        items: &mut Vec<Vec<(u32, Vec<Vec<(Slot, u32)>>)>>,
    ) -> usize {
        let ti = match self.tables.iter().position(|t| t.name == table) {
            Some(i) => i,
            None => {
                self.tables.push(TableEntry {
                    name: table.to_string(),
                    actions: Vec::new(),
                });
                self.tables.len() - 1
            }
        };
        if let Some((_, b)) = self.tables[ti].actions.iter().find(|(a, _)| a == action) {
            return *b;
        }
        self.buckets.push(Bucket {
            table: ti as u32,
            ..Bucket::default()
        });
        required.push(Vec::new());
        items.push(Vec::new());
        let b = self.buckets.len() - 1;
        self.tables[ti].actions.push((action.to_string(), b));
        b
    }

    /// Per (table, ActionType): targets always evaluated, and the prefilter's scans as
    /// (field slot, number of literals).
    #[allow(clippy::type_complexity)]
    pub fn summary(&self) -> Vec<(String, String, usize, Vec<(Slot, usize)>)> {
        let mut out = Vec::new();
        for t in &self.tables {
            for (a, b) in &t.actions {
                let bk = &self.buckets[*b];
                out.push((
                    t.name.clone(),
                    a.clone(),
                    bk.always.len(),
                    bk.scans.iter().map(|s| (s.slot, s.len())).collect(),
                ));
            }
        }
        out
    }

    /// Number of tables.
    pub fn tables(&self) -> usize {
        self.tables.len()
    }

    /// The bucket of an event (a few tables of a few ActionTypes each: comparing the names
    /// is cheaper than hashing them).
    pub fn bucket(&self, table: &str, action: Option<&str>) -> Option<&Bucket> {
        let t = self
            .tables
            .iter()
            .find(|t| same(t.name.as_bytes(), table.as_bytes()))?;
        let action = action?.as_bytes();
        t.actions
            .iter()
            .find(|(a, _)| same(a.as_bytes(), action))
            .map(|(_, b)| &self.buckets[*b])
    }
}

/// Build a bucket's scans from (field, needle id, target) entries (`u32::MAX`: a gate-only
/// literal), one per field of `slots`. On failure, returns the targets to evaluate always.
fn build_scans(
    slots: &[Slot],
    mut entries: Vec<(Slot, u32, u32)>,
    literal: &[Needle],
) -> Result<Vec<FieldScan>, Vec<u32>> {
    entries.sort_unstable();
    entries.dedup();
    let mut scans = Vec::new();
    for &slot in slots {
        // Needle ids are per (field, literal): one pattern each.
        let mut lits: Vec<(Needle, u32, Vec<u32>)> = Vec::new();
        for &(s, needle, t) in entries.iter().filter(|e| e.0 == slot) {
            if lits.last().is_none_or(|l| l.1 != needle) {
                lits.push((literal[needle as usize].clone(), needle, Vec::new()));
            }
            if t != u32::MAX {
                if let Some(l) = lits.last_mut() {
                    l.2.push(t);
                }
            }
            debug_assert_eq!(s, slot);
        }
        if lits.is_empty() {
            continue;
        }
        match FieldScan::build(slot, lits) {
            Ok(scan) => scans.push(scan),
            // Patterns are non-empty byte strings, so building does not fail; if it ever did,
            // the bucket's targets would be evaluated on every event rather than lost.
            Err(_) => {
                return Err(entries
                    .iter()
                    .map(|e| e.2)
                    .filter(|t| *t != u32::MAX)
                    .collect())
            }
        }
    }
    Ok(scans)
}

fn collect_items<'n>(n: &'n Node, out: &mut Vec<&'n Item>) {
    match n {
        Node::Item(i) => out.push(i),
        Node::And(v) | Node::Or(v) | Node::AtLeast(_, v) => {
            v.iter().for_each(|c| collect_items(c, out))
        }
        Node::Not(c) => collect_items(c, out),
        Node::Const(_) => {}
    }
}

/// (field, literal) pairs of an item: one must occur for the item to be true.
fn item_literals(item: &Item) -> Option<Vec<(Slot, Needle)>> {
    let needles = item.needles.as_ref()?;
    let slots: Vec<Slot> = match &item.source {
        Source::Field(s) => vec![*s],
        Source::Token { slot, .. } => vec![*slot],
        Source::Keywords(s) => s.clone(),
        Source::Hashes(_) => return None,
    };
    let mut out = Vec::new();
    for s in slots {
        for n in needles {
            out.push((s, n.clone()));
        }
    }
    Some(out)
}

/// Sets of (field, literal) pairs of an item, of which one each must occur for the item to be
/// true: its literals, and the other sets its tests require.
fn item_gate(item: &Item) -> Option<Vec<Vec<(Slot, Needle)>>> {
    let mut groups: Vec<Vec<(Slot, Needle)>> = item_literals(item).into_iter().collect();
    if let Source::Field(s) = &item.source {
        for set in &item.also {
            groups.push(set.iter().map(|n| (*s, n.clone())).collect());
        }
    }
    (!groups.is_empty()).then_some(groups)
}

/// (field, literal) pairs of which at least one must occur for `node` to be true.
pub(crate) fn required(node: &Node) -> Option<Vec<(Slot, Needle)>> {
    match node {
        Node::Const(_) | Node::Not(_) => None,
        Node::Item(item) => item_literals(item),
        Node::And(children) => children
            .iter()
            .filter_map(required)
            .max_by_key(|list| score(list)),
        Node::Or(children) | Node::AtLeast(_, children) => {
            let mut out = Vec::new();
            for c in children {
                out.extend(required(c)?);
            }
            Some(out)
        }
    }
}

/// Higher is more selective: long shortest literal first, then few literals.
fn score(list: &[(Slot, Needle)]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = list.iter().map(|(_, n)| n.1.len()).min().unwrap_or(0);
    (shortest.min(12), std::cmp::Reverse(list.len()))
}

/// Needles for the prefilter: for OR, one per value (every value must have one); for AND, the
/// best single value's. A value whose literals are too short to scan for gives its anchored
/// literal (`startswith`, `endswith`, exact), checked at the ends of the field, if it has one.
pub(crate) fn needles_of(tests: &[ValueTest], all: bool, source: &Source) -> Option<Vec<Needle>> {
    const MIN: usize = 2;
    let ok = |n: &Vec<Needle>| {
        n.iter().all(|(a, x)| {
            (x.len() >= MIN || (*a != Anchor::Anywhere && !x.is_empty()))
                // An unquoted argument may contain `"` or `\` that the command line escapes.
                && !(matches!(source, Source::Token { .. }) && x.iter().any(|b| *b == b'"' || *b == b'\\'))
        })
    };
    // The ends of a token are not the ends of its field; the start of the first one is the
    // start of the field's first argument.
    let anchors = matches!(source, Source::Field(_) | Source::Keywords(_));
    let first_arg = matches!(source, Source::Token { index: 0, .. });
    let per_test: Vec<Option<Vec<Needle>>> = tests
        .iter()
        .map(|t| {
            // Literals too short to scan for are compared with the start of the first argument.
            let arg = first_arg
                .then(|| t.anchored_needles())
                .flatten()
                .and_then(|v| {
                    v.into_iter()
                        .map(|(a, l)| {
                            matches!(a, Anchor::Start | Anchor::Whole)
                                .then_some((Anchor::FirstArg, l))
                        })
                        .collect::<Option<Vec<Needle>>>()
                })
                .filter(ok);
            match t.needles().filter(ok) {
                Some(n) => Some(n),
                None if anchors => t.anchored_needles().filter(ok),
                None => arg,
            }
        })
        .collect();
    if matches!(source, Source::Hashes(_)) {
        return None;
    }
    if all {
        per_test
            .into_iter()
            .flatten()
            .max_by_key(|n| n.iter().map(|x| x.1.len()).min().unwrap_or(0))
    } else {
        let mut out = Vec::new();
        for n in per_test {
            out.extend(n?);
        }
        out.sort();
        out.dedup();
        (!out.is_empty()).then_some(out)
    }
}

/// Sets of literals of which a value matching every test (`all`, or a single test) contains one
/// each: every test's needles, and the parts of a regex. Each literal is long enough to scan.
pub(crate) fn also_of(tests: &[ValueTest], all: bool) -> Vec<Vec<Needle>> {
    if !all && tests.len() != 1 {
        return Vec::new();
    }
    let mut out: Vec<Vec<Needle>> = Vec::new();
    for t in tests {
        if let ValueTest::Regex(r) = t {
            for set in &r.literals.all_of {
                out.push(set.iter().map(|l| (Anchor::Anywhere, l.clone())).collect());
            }
        }
        if let Some(n) = t.needles() {
            out.push(n);
        }
    }
    out.retain(|set| {
        !set.is_empty()
            && set
                .iter()
                .all(|(a, l)| *a == Anchor::Anywhere && l.len() >= 2)
    });
    for set in &mut out {
        set.sort();
        set.dedup();
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::compile::Check;

    fn item(id: u32) -> Node {
        Node::Item(Arc::new(Item {
            id,
            source: Source::Field(0),
            check: Check::Exists(true),
            neq: false,
            needs_lower: false,
            needles: None,
            also: Vec::new(),
        }))
    }

    /// The gates read exactly: an item is open when each of its sets has a needle found.
    fn open(idx: &Index, n: &Node, found: &[bool]) -> bool {
        match n {
            Node::Const(b) => *b,
            Node::And(v) => v.iter().all(|c| open(idx, c, found)),
            Node::Or(v) => v.iter().any(|c| open(idx, c, found)),
            Node::AtLeast(k, v) => v.iter().filter(|c| open(idx, c, found)).count() >= *k,
            Node::Not(_) => true,
            Node::Item(i) => {
                let mut gate = idx.gate(i.id);
                while let Some((&len, rest)) = gate.split_first() {
                    let (group, next) = rest.split_at(len as usize);
                    if !group.iter().any(|n| found[*n as usize]) {
                        return false;
                    }
                    gate = next;
                }
                true
            }
        }
    }

    fn satisfied(clauses: &[Vec<u32>], found: &[bool]) -> bool {
        clauses.iter().all(|c| c.iter().any(|n| found[*n as usize]))
    }

    /// On random trees over items with random gates: whenever the items' gates let a target
    /// be true, its clauses hold (and, on small trees of AND and OR, which are not weakened,
    /// the other way round too).
    #[test]
    fn target_gates_hold_whenever_the_item_gates_let_the_target_be_true() {
        let mut r = 0x853c_49e6_748f_ea9bu64;
        let mut rnd = move |n: u64| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r % n
        };
        const NEEDLES: u64 = 10;
        const ITEMS: u32 = 6;
        fn tree(rnd: &mut impl FnMut(u64) -> u64, depth: u32, exact: bool) -> Node {
            let leaf = depth == 0 || rnd(3) == 0;
            if leaf {
                return match rnd(10) {
                    0 if !exact => Node::Const(true),
                    _ => item(rnd(u64::from(ITEMS)) as u32),
                };
            }
            // Exact trees stay small enough not to be weakened (at most 16 clauses).
            let kids: Vec<Node> = (0..1 + rnd(if exact { 2 } else { 3 }))
                .map(|_| tree(rnd, depth - 1, exact))
                .collect();
            match rnd(if exact { 2 } else { 4 }) {
                0 => Node::And(kids),
                1 => Node::Or(kids),
                2 => Node::Not(Box::new(
                    kids.into_iter().next().unwrap_or(Node::Const(true)),
                )),
                _ => Node::AtLeast(1 + rnd(kids.len() as u64) as usize, kids),
            }
        }
        for round in 0..400 {
            let mut idx = Index {
                gate_at: vec![(0, 0); ITEMS as usize],
                ..Index::default()
            };
            for it in 0..ITEMS as usize {
                let start = idx.gate_data.len() as u32;
                for _ in 0..rnd(3) {
                    let n = 1 + rnd(3);
                    idx.gate_data.push(n as u32);
                    idx.gate_data.extend((0..n).map(|_| rnd(NEEDLES) as u32));
                }
                idx.gate_at[it] = (start, idx.gate_data.len() as u32);
            }
            let exact = round % 2 == 0;
            let t = tree(&mut rnd, if exact { 2 } else { 3 }, exact);
            let clauses = idx.clauses(&t);
            for _ in 0..64 {
                let found: Vec<bool> = (0..NEEDLES).map(|_| rnd(3) == 0).collect();
                let o = open(&idx, &t, &found);
                let s = satisfied(&clauses, &found);
                assert!(!o || s, "{t:?} {clauses:?} {found:?}");
                if exact {
                    assert_eq!(o, s, "{t:?} {clauses:?} {found:?}");
                }
            }
        }
    }
}
