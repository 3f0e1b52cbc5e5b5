//! The prefilter's automata: per bucket, one Aho-Corasick automaton per scanned field over the
//! (lowercased) literals the rules need in that field.
//!
//! The scan walks our own copy of the automaton (no iterator, no match positions:
//! only which literals occur matters) whose byte classes fold ASCII case, so an ASCII field is
//! scanned straight from its raw text; a field with other characters is scanned lowercased
//! (see [`crate::matcher::lower_into`]), since Unicode lowercasing can turn a non-ASCII
//! character into an ASCII one.
//!
//! The copy is a complete DFA in a flat table (one dependent load per byte, no failure
//! loop). The fields of an event are scanned together in two lanes (see [`scan_all`]) so that
//! the two chains of loads overlap.

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::{dfa, nfa::contiguous, Anchored, MatchKind, StartKind};

use crate::compile::Slot;
use crate::matcher::{Anchor, Needle};

/// One literal of a field scan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pat {
    /// Global id of the (field, literal) needle, stamped when found (for item gates).
    pub needle: u32,
    /// Where the targets that need it are in [`FieldScan::targets`].
    start: u32,
    end: u32,
}

/// An anchored literal: anchor, byte at the anchored end (see [`anchor_key`]), literal,
/// pattern id.
type AnchoredLit = (Anchor, Option<u8>, Box<[u8]>, u32);

/// The automaton over one field's literals, with ASCII uppercase letters in the column of
/// their lowercase letter, and match states numbered last.
#[derive(Debug)]
pub(crate) struct FieldScan {
    pub slot: Slot,
    /// Number of the scan in the index (set by the index; for [`crate::recent`]).
    pub id: u32,
    /// Byte → column (ASCII case folded).
    class: [u8; 256],
    /// State (premultiplied by the number of columns) + column → next state.
    trans: Vec<u32>,
    /// States from here on are match states.
    first_match: usize,
    /// `ceil(2^32 / stride)`, the stride being the number of columns: match state `s` is
    /// number `(s - first_match) * recip >> 32` (exact: `s - first_match` is a multiple of
    /// the stride, below 2^32).
    recip: u64,
    /// Per match state (in order): where the pattern ids that end there start in
    /// `match_pats` (one more entry at the end: where the last ones end).
    match_at: Vec<u32>,
    /// The pattern ids of the match states, one state after the other.
    match_pats: Vec<u32>,
    /// Pattern id → literal.
    pub pats: Vec<Pat>,
    /// The targets of the literals, one literal after the other.
    targets: Vec<u32>,
    /// Whether the automaton has literals (else only the anchored ones are checked).
    scans: bool,
    /// Anchored literals, with their pattern ids, sorted by anchor and by the byte at their
    /// anchored end (lowercase; `None` for the empty literal).
    anchored: Vec<AnchoredLit>,
}

impl FieldScan {
    /// An automaton over `lits` (lowercased, non-empty), each with its needle id and targets;
    /// anchored literals are compared with the ends of the text instead.
    pub fn build(
        slot: Slot,
        mut lits: Vec<(Needle, u32, Vec<u32>)>,
    ) -> Result<FieldScan, aho_corasick::BuildError> {
        // Pattern ids: the automaton's literals first, then the anchored ones.
        lits.sort_by_key(|l| l.0 .0 != Anchor::Anywhere);
        let n_auto = lits.iter().filter(|l| l.0 .0 == Anchor::Anywhere).count();
        let patterns: Vec<&[u8]> = lits[..n_auto].iter().map(|l| l.0 .1.as_slice()).collect();
        let mut anchored: Vec<AnchoredLit> = lits[n_auto..]
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (a, lit) = &l.0;
                (
                    *a,
                    anchor_key(*a, lit),
                    lit.clone().into_boxed_slice(),
                    (n_auto + i) as u32,
                )
            })
            .collect();
        anchored.sort_by_key(|x| (x.0, x.1));
        let full = match dfa::Builder::new()
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(&patterns)
        {
            Ok(a) => explore(&a, &patterns),
            Err(_) => explore(
                &contiguous::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&patterns)?,
                &patterns,
            ),
        };
        let mut all_targets = Vec::new();
        let pats: Vec<Pat> = lits
            .into_iter()
            .map(|(_, needle, targets)| {
                let start = all_targets.len() as u32;
                all_targets.extend(targets);
                Pat {
                    needle,
                    start,
                    end: all_targets.len() as u32,
                }
            })
            .collect();
        let (trans, first_match, matches) = flatten(&full);
        let mut match_at = vec![0u32];
        let mut match_pats = Vec::new();
        for m in &matches {
            match_pats.extend_from_slice(m);
            match_at.push(match_pats.len() as u32);
        }
        Ok(FieldScan {
            slot,
            id: 0,
            scans: n_auto > 0,
            anchored,
            class: full.class,
            trans,
            first_match,
            recip: (1u64 << 32).div_ceil(full.stride as u64),
            match_at,
            match_pats,
            pats,
            targets: all_targets,
        })
    }

    /// The targets that need literal `p`.
    #[inline]
    pub fn targets(&self, p: &Pat) -> &[u32] {
        self.targets
            .get(p.start as usize..p.end as usize)
            .unwrap_or_default()
    }

    /// Number of literals.
    pub fn len(&self) -> usize {
        self.pats.len()
    }

    /// Append to `hits` the pattern id of every literal occurrence in `text` lowercased
    /// (`text` must be ASCII or already lowercased; ASCII letters are folded here).
    #[cfg(test)]
    pub fn scan(&self, text: &[u8], hits: &mut Vec<u32>) {
        let mut v = Vec::new();
        scan_all(&[(self, text)], &mut v);
        hits.extend(v.into_iter().map(|(_, p)| p));
    }

    /// The anchored literals `text` holds (compared with ASCII case folded, as the scan).
    ///
    /// When there are many, only those whose anchored end has the text's byte there (and the
    /// empty ones) are compared, per anchor.
    fn anchored_hits(&self, text: &[u8], job: u32, hits: &mut Vec<(u32, u32)>) {
        let check = |a: Anchor, at: &[u8], lit: &[u8], p: u32, hits: &mut Vec<(u32, u32)>| {
            let n = lit.len();
            let t = match a {
                Anchor::Start | Anchor::FirstArg => at.get(..n),
                Anchor::End => at.len().checked_sub(n).map(|k| &at[k..]),
                Anchor::Whole => (at.len() == n).then_some(at),
                Anchor::Anywhere => None,
            };
            if t.is_some_and(|t| t.eq_ignore_ascii_case(lit)) {
                hits.push((job, p));
            }
        };
        if self.anchored.len() <= 8 {
            // Few: compare them all.
            for (a, _, lit, p) in &self.anchored {
                let at = if *a == Anchor::FirstArg {
                    crate::argv::first_arg(text)
                } else {
                    text
                };
                check(*a, at, lit, *p, hits);
            }
            return;
        }
        let mut rest = &self.anchored[..];
        while let Some(&(a, _, _, _)) = rest.first() {
            let k = rest.partition_point(|x| x.0 == a);
            let (group, next) = rest.split_at(k);
            rest = next;
            let at = if a == Anchor::FirstArg {
                crate::argv::first_arg(text)
            } else {
                text
            };
            let key = anchor_key(a, at);
            let empty = group.partition_point(|x| x.1.is_none());
            let lo = group.partition_point(|x| x.1 < key);
            let hi = lo + group[lo..].partition_point(|x| x.1 == key);
            let same = if key.is_some() { &group[lo..hi] } else { &[] };
            for (a, _, lit, p) in group[..empty].iter().chain(same) {
                check(*a, at, lit, *p, hits);
            }
        }
    }

    /// The state after `s` on byte `b`.
    #[inline(always)]
    fn step(&self, s: usize, b: u8) -> usize {
        let c = self.class[usize::from(b)];
        self.trans.get(s + usize::from(c)).copied().unwrap_or(0) as usize
    }

    #[inline(always)]
    fn found(&self, s: usize, job: u32, hits: &mut Vec<(u32, u32)>) {
        if s >= self.first_match {
            let m = (((s - self.first_match) as u64 * self.recip) >> 32) as usize;
            if let (Some(&a), Some(&b)) = (self.match_at.get(m), self.match_at.get(m + 1)) {
                if let Some(ps) = self.match_pats.get(a as usize..b as usize) {
                    for &p in ps {
                        hits.push((job, p));
                    }
                }
            }
        }
    }
}

/// The byte (ASCII lowercase) at the anchored end of `s`: the last for [`Anchor::End`], else
/// the first.
fn anchor_key(a: Anchor, s: &[u8]) -> Option<u8> {
    let b = if a == Anchor::End {
        s.last()
    } else {
        s.first()
    };
    b.map(u8::to_ascii_lowercase)
}

/// Scan every job's text with its automaton, appending (job index, pattern id) to `hits` for
/// every literal occurrence (texts ASCII or already lowercased, as [`FieldScan::scan`]).
///
/// A step is one load that depends on the previous step: the jobs are spread over two lanes
/// of about equal length, scanned in lockstep, so that the two chains of loads overlap.
///
/// Not inlined: the loop keeps its state in registers when it calls nothing.
#[inline(never)]
pub(crate) fn scan_all(jobs: &[(&FieldScan, &[u8])], hits: &mut Vec<(u32, u32)>) {
    const MAX: usize = 16;
    // Lanes: job indices, each job into the lane with fewer bytes so far.
    let mut lanes = [[0u8; MAX]; 2];
    let mut count = [0usize; 2];
    let mut bytes = [0usize; 2];
    for (j, &(fs, text)) in jobs.iter().enumerate() {
        if !fs.anchored.is_empty() {
            fs.anchored_hits(text, j as u32, hits);
        }
        if !fs.scans {
            continue;
        }
        let l = usize::from(bytes[1] < bytes[0]);
        if j >= 2 * MAX || count[l] == MAX {
            // Too many fields for the lanes: on its own.
            let mut s = 0;
            for &b in text {
                s = fs.step(s, b);
                fs.found(s, j as u32, hits);
            }
            continue;
        }
        lanes[l][count[l]] = j as u8;
        count[l] += 1;
        bytes[l] += text.len();
    }
    let job = |l: usize, k: usize| {
        let j = usize::from(lanes[l][k]);
        let (fs, text) = jobs[j];
        (fs, text, j as u32)
    };
    let (mut ka, mut kb) = (0, 0);
    let mut a = (count[0] > 0).then(|| job(0, 0));
    let mut b = (count[1] > 0).then(|| job(1, 0));
    let (mut pa, mut pb, mut sa, mut sb) = (0usize, 0usize, 0usize, 0usize);
    while let (Some((fa, ta, ja)), Some((fb, tb, jb))) = (a, b) {
        let n = (ta.len() - pa).min(tb.len() - pb);
        for (&x, &y) in ta[pa..pa + n].iter().zip(&tb[pb..pb + n]) {
            sa = fa.step(sa, x);
            sb = fb.step(sb, y);
            fa.found(sa, ja, hits);
            fb.found(sb, jb, hits);
        }
        pa += n;
        pb += n;
        if pa == ta.len() {
            ka += 1;
            a = (ka < count[0]).then(|| job(0, ka));
            (pa, sa) = (0, 0);
        }
        if pb == tb.len() {
            kb += 1;
            b = (kb < count[1]).then(|| job(1, kb));
            (pb, sb) = (0, 0);
        }
    }
    // The rest of the longer lane.
    for (l, mut k, mut cur, mut p, mut s) in [(0, ka, a, pa, sa), (1, kb, b, pb, sb)] {
        while let Some((fs, text, j)) = cur {
            for &x in &text[p..] {
                s = fs.step(s, x);
                fs.found(s, j, hits);
            }
            k += 1;
            cur = (k < count[l]).then(|| job(l, k));
            (p, s) = (0, 0);
        }
    }
}

/// An automaton explored into a full table, states in breadth-first order from the start.
struct Full {
    class: [u8; 256],
    stride: usize,
    /// State × column → state.
    trans: Vec<u32>,
    /// Per state: the pattern ids that end there (empty for non-match states).
    matches: Vec<Box<[u32]>>,
}

/// Explore the states reachable from the unanchored start (which becomes state 0).
fn explore<A: Automaton>(a: &A, patterns: &[&[u8]]) -> Full {
    let Ok(start) = a.start_state(Anchored::No) else {
        return Full {
            class: [0; 256],
            stride: 1,
            trans: vec![0],
            matches: vec![Box::default()],
        };
    };
    let fold = |b: u8| b.to_ascii_lowercase();
    // Columns: a byte that occurs in no literal leads back to the start from every state, so
    // all such bytes share column 0; every other byte (ASCII case folded) has its own.
    let mut class = [0u8; 256];
    let mut reps: Vec<u8> = vec![0];
    let mut used = [false; 256];
    for p in patterns {
        for &b in p.iter() {
            used[usize::from(fold(b))] = true;
        }
    }
    if let Some(unused) = (0..=255u8).find(|b| !used[usize::from(fold(*b))]) {
        reps[0] = unused;
    }
    for b in 0..=255u8 {
        let f = fold(b);
        if used[usize::from(f)] {
            let c = match reps.iter().position(|r| *r == f) {
                Some(c) => c,
                None => {
                    reps.push(f);
                    reps.len() - 1
                }
            };
            class[usize::from(b)] = c as u8;
        }
    }
    // Reachable states, breadth first.
    // Our number of each automaton state seen (`u32::MAX`: not yet), by its id (ids are
    // indices into the automaton's own tables: dense enough for a vector).
    let mut ids: Vec<u32> = Vec::new();
    let number = |ids: &mut Vec<u32>, s: StateID, next: usize| -> Option<u32> {
        let k = s.as_usize();
        if k >= ids.len() {
            ids.resize(k + 1, u32::MAX);
        }
        match ids[k] {
            u32::MAX => {
                ids[k] = next as u32;
                None
            }
            id => Some(id),
        }
    };
    number(&mut ids, start, 0);
    let mut states = vec![start];
    let stride = reps.len();
    let mut trans = Vec::new();
    let mut i = 0;
    while i < states.len() {
        let s = states[i];
        for &b in &reps {
            let n = a.next_state(Anchored::No, s, b);
            let id = match number(&mut ids, n, states.len()) {
                Some(id) => id,
                None => {
                    states.push(n);
                    (states.len() - 1) as u32
                }
            };
            trans.push(id);
        }
        i += 1;
    }
    let matches = states
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            if k != 0 && a.is_special(s) && a.is_match(s) {
                (0..a.match_len(s))
                    .map(|j| a.match_pattern(s, j).as_u32())
                    .collect()
            } else {
                Box::default()
            }
        })
        .collect();
    Full {
        class,
        stride,
        trans,
        matches,
    }
}

/// Renumber (the start first, match states last) into the flat table of premultiplied states.
fn flatten(f: &Full) -> (Vec<u32>, usize, Vec<Box<[u32]>>) {
    let n = f.matches.len();
    let stride = f.stride;
    let is_match = |k: usize| !f.matches[k].is_empty();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&k| (is_match(k), k));
    let mut new_id = vec![0u32; n];
    for (m, &k) in order.iter().enumerate() {
        new_id[k] = (m * stride) as u32;
    }
    let first_match = order.iter().position(|&k| is_match(k)).unwrap_or(n) * stride;
    let matches = order
        .iter()
        .filter(|&&k| is_match(k))
        .map(|&k| f.matches[k].clone())
        .collect();
    let mut trans = Vec::with_capacity(n * stride);
    for &k in &order {
        trans.extend(
            f.trans[k * stride..(k + 1) * stride]
                .iter()
                .map(|&t| new_id[t as usize]),
        );
    }
    (trans, first_match, matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(s: &FieldScan, text: &str) -> Vec<u32> {
        let mut v = Vec::new();
        s.scan(text.as_bytes(), &mut v);
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn overlapping_literals_are_all_found_case_insensitively() {
        let lits = vec![
            ((Anchor::Anywhere, b"/bin/sh".to_vec()), 0, vec![1]),
            ((Anchor::Anywhere, b"sh".to_vec()), 1, vec![2]),
            ((Anchor::Anywhere, b"bin".to_vec()), 2, vec![]),
            (
                (Anchor::Anywhere, b"\xc3\xa9t\xc3\xa9".to_vec()),
                3,
                vec![3],
            ),
        ];
        let s = FieldScan::build(0, lits).unwrap();
        assert_eq!(found(&s, "/usr/BIN/SH -c x"), vec![0, 1, 2]);
        assert_eq!(found(&s, "bash"), vec![1]);
        assert_eq!(found(&s, "été"), vec![3]);
        assert_eq!(found(&s, "none"), Vec::<u32>::new());
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn anchored_literals_are_compared_with_the_ends() {
        let lits = vec![
            ((Anchor::End, b" ".to_vec()), 0, vec![0]),
            ((Anchor::Start, b"[".to_vec()), 1, vec![1]),
            ((Anchor::Whole, b"w".to_vec()), 2, vec![2]),
            ((Anchor::Anywhere, b"sh".to_vec()), 3, vec![3]),
        ];
        let s = FieldScan::build(0, lits).unwrap();
        // Pattern ids: the automaton's first.
        assert_eq!(s.pats[0].needle, 3);
        let needles = |text: &str| -> Vec<u32> {
            found(&s, text)
                .into_iter()
                .map(|p| s.pats[p as usize].needle)
                .collect()
        };
        assert_eq!(needles("/bin/bash "), vec![3, 0]);
        assert_eq!(needles("[kworker/0] x"), vec![1]);
        assert_eq!(needles("W"), vec![2]);
        assert_eq!(needles("ww"), Vec::<u32>::new());
        assert_eq!(needles(""), Vec::<u32>::new());
        assert_eq!(needles(" [x"), Vec::<u32>::new());
        // Only anchored literals: no automaton to run.
        let s = FieldScan::build(0, vec![((Anchor::End, b"/x".to_vec()), 0, vec![])]).unwrap();
        assert_eq!(found(&s, "/A/X"), vec![0]);
        assert_eq!(found(&s, "/x/a"), Vec::<u32>::new());
    }

    /// The anchored literals found (by anchor, then by the byte at the anchored end) are
    /// exactly those a comparison with every literal finds.
    #[test]
    fn anchored_lookup_agrees_with_comparing_every_literal() {
        let mut r = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |n: u64| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r % n
        };
        let alphabet = b"aB \"x";
        let anchors = [Anchor::Start, Anchor::End, Anchor::Whole, Anchor::FirstArg];
        let mut lits = Vec::new();
        for i in 0..120u32 {
            let len = 1 + rnd(3) as usize;
            let l: Vec<u8> = (0..len)
                .map(|_| alphabet[rnd(5) as usize].to_ascii_lowercase())
                .collect();
            lits.push(((anchors[rnd(4) as usize], l), i, vec![]));
        }
        lits.sort();
        lits.dedup_by(|a, b| a.0 == b.0);
        let s = FieldScan::build(0, lits.clone()).unwrap();
        for _ in 0..3000 {
            let len = rnd(6) as usize;
            let text: Vec<u8> = (0..len).map(|_| alphabet[rnd(5) as usize]).collect();
            let mut want: Vec<u32> = lits
                .iter()
                .filter(|((a, l), _, _)| {
                    let at = match a {
                        Anchor::FirstArg => crate::argv::first_arg(&text),
                        _ => &text[..],
                    };
                    let t = match a {
                        Anchor::Start | Anchor::FirstArg => at.get(..l.len()),
                        Anchor::End => at.len().checked_sub(l.len()).map(|k| &at[k..]),
                        Anchor::Whole => (at.len() == l.len()).then_some(at),
                        Anchor::Anywhere => None,
                    };
                    t.is_some_and(|t| t.eq_ignore_ascii_case(l))
                })
                .map(|l| l.1)
                .collect();
            want.sort_unstable();
            let mut got: Vec<u32> = found(&s, std::str::from_utf8(&text).unwrap())
                .into_iter()
                .map(|p| s.pats[p as usize].needle)
                .collect();
            got.sort_unstable();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&text));
        }
    }

    /// The table finds exactly what the aho-corasick crate finds, on many literals sharing
    /// prefixes and suffixes, one field at a time and many fields in lanes.
    #[test]
    fn table_agrees_with_aho_corasick() {
        let mut r = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: u64| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r % n
        };
        let alphabet = b"abc/-. xyz0";
        let mut lits: Vec<Vec<u8>> = Vec::new();
        for _ in 0..400 {
            let len = 2 + rnd(9) as usize;
            lits.push((0..len).map(|_| alphabet[rnd(11) as usize]).collect());
        }
        lits.sort();
        lits.dedup();
        let s = FieldScan::build(
            0,
            lits.iter()
                .enumerate()
                .map(|(i, l)| ((Anchor::Anywhere, l.clone()), i as u32, vec![]))
                .collect(),
        )
        .unwrap();
        let ac = aho_corasick::AhoCorasick::new(&lits).unwrap();
        let mut texts = Vec::new();
        for _ in 0..2000 {
            let len = rnd(40) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    let b = alphabet[rnd(11) as usize];
                    if rnd(3) == 0 {
                        b.to_ascii_uppercase()
                    } else {
                        b
                    }
                })
                .collect();
            let mut want: Vec<u32> = ac
                .find_overlapping_iter(&text.to_ascii_lowercase())
                .map(|m| m.pattern().as_u32())
                .collect();
            want.sort_unstable();
            want.dedup();
            let mut got = Vec::new();
            s.scan(&text, &mut got);
            got.sort_unstable();
            got.dedup();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&text));
            texts.push((text, want));
        }
        // Many fields at once, in lanes: each job's hits are its own.
        for n in [1, 2, 3, 7, 40] {
            for chunk in texts.chunks(n) {
                let jobs: Vec<(&FieldScan, &[u8])> =
                    chunk.iter().map(|(t, _)| (&s, t.as_slice())).collect();
                let mut hits = Vec::new();
                scan_all(&jobs, &mut hits);
                for (j, (_, want)) in chunk.iter().enumerate() {
                    let mut got: Vec<u32> = hits
                        .iter()
                        .filter(|h| h.0 == j as u32)
                        .map(|h| h.1)
                        .collect();
                    got.sort_unstable();
                    got.dedup();
                    assert_eq!(&got, want);
                }
            }
        }
    }
}
