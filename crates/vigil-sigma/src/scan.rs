//! The prefilter's automata: per bucket, one Aho-Corasick automaton per scanned field over the
//! (lowercased) literals the rules need in that field.
//!
//! The scan walks a flat copy of the automaton's transitions (no iterator, no match positions:
//! only which literals occur matters) whose byte classes fold ASCII case, so an ASCII field is scanned
//! straight from its raw text; a field with other characters is scanned lowercased (see
//! [`crate::matcher::lower_into`]), since Unicode lowercasing can turn a non-ASCII character
//! into an ASCII one.

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::{dfa, nfa::contiguous, Anchored, MatchKind, StartKind};

use crate::compile::Slot;

/// One literal of a field scan.
#[derive(Debug)]
pub(crate) struct Pat {
    /// Global id of the (field, literal) needle, stamped when found (for item gates).
    pub needle: u32,
    /// The targets that need it.
    pub targets: Box<[u32]>,
}

/// The automaton over one field's literals: a DFA in a flat transition table, with ASCII
/// uppercase letters in the class of their lowercase letter, and match states numbered last.
#[derive(Debug)]
pub(crate) struct FieldScan {
    pub slot: Slot,
    /// Byte → column (ASCII case folded).
    class: [u8; 256],
    /// State (premultiplied by the number of columns) + column → next state.
    trans: Vec<u32>,
    /// States from here on are match states.
    first_match: u32,
    stride: u32,
    /// Per match state (in order): the pattern ids that end there.
    matches: Vec<Box<[u32]>>,
    /// Pattern id → literal.
    pub pats: Vec<Pat>,
}

impl FieldScan {
    /// An automaton over `lits` (lowercased, non-empty), each with its needle id and targets.
    pub fn build(
        slot: Slot,
        lits: Vec<(Vec<u8>, u32, Vec<u32>)>,
    ) -> Result<FieldScan, aho_corasick::BuildError> {
        let patterns: Vec<&[u8]> = lits.iter().map(|(l, _, _)| l.as_slice()).collect();
        let (class, trans, first_match, stride, matches) = match dfa::Builder::new()
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(&patterns)
        {
            Ok(a) => flatten(&a, &patterns),
            Err(_) => flatten(
                &contiguous::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&patterns)?,
                &patterns,
            ),
        };
        let pats: Vec<Pat> = lits
            .into_iter()
            .map(|(_, needle, targets)| Pat {
                needle,
                targets: targets.into_boxed_slice(),
            })
            .collect();
        Ok(FieldScan {
            slot,
            class,
            trans,
            first_match,
            stride,
            matches,
            pats,
        })
    }

    /// Number of literals.
    pub fn len(&self) -> usize {
        self.pats.len()
    }

    /// Append to `hits` the pattern id of every literal occurrence in `text` lowercased
    /// (`text` must be ASCII or already lowercased; ASCII letters are folded here).
    ///
    /// Not inlined: the loop keeps its state in registers when it calls nothing.
    #[inline(never)]
    pub fn scan(&self, text: &[u8], hits: &mut Vec<u32>) {
        let (trans, class, first_match) = (self.trans.as_slice(), &self.class, self.first_match);
        let mut s = 0u32;
        for &b in text {
            s = trans
                .get((s + u32::from(class[usize::from(b)])) as usize)
                .copied()
                .unwrap_or(0);
            if s >= first_match {
                let m = ((s - first_match) / self.stride) as usize;
                if let Some(ps) = self.matches.get(m) {
                    hits.extend_from_slice(ps);
                }
            }
        }
    }
}

type Flat = ([u8; 256], Vec<u32>, u32, u32, Vec<Box<[u32]>>);

/// Copy an automaton over `patterns` into a flat table: states reachable from the unanchored
/// start (which becomes state 0), non-match states first.
fn flatten<A: Automaton>(a: &A, patterns: &[&[u8]]) -> Flat {
    use std::collections::HashMap;
    let Ok(start) = a.start_state(Anchored::No) else {
        return ([0; 256], vec![0], 1, 1, Vec::new());
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
    let mut ids: HashMap<StateID, usize> = HashMap::from([(start, 0)]);
    let mut states = vec![start];
    let mut i = 0;
    while i < states.len() {
        let s = states[i];
        for &b in &reps {
            let n = a.next_state(Anchored::No, s, b);
            if let std::collections::hash_map::Entry::Vacant(e) = ids.entry(n) {
                e.insert(states.len());
                states.push(n);
            }
        }
        i += 1;
    }
    let stride = reps.len() as u32;
    // Renumber: the start first, match states last.
    let is_match = |s: StateID| a.is_special(s) && a.is_match(s);
    let mut order: Vec<usize> = (0..states.len()).collect();
    order.sort_by_key(|&k| (is_match(states[k]) && k != 0, k));
    let mut new_id = vec![0u32; states.len()];
    for (n, &k) in order.iter().enumerate() {
        new_id[k] = n as u32 * stride;
    }
    let mut trans = vec![0u32; states.len() * stride as usize];
    let mut matches = Vec::new();
    let mut first_match = (states.len() as u32) * stride;
    for (n, &k) in order.iter().enumerate() {
        let s = states[k];
        for (c, &b) in reps.iter().enumerate() {
            let next = a.next_state(Anchored::No, s, b);
            trans[n * stride as usize + c] = new_id[ids[&next]];
        }
        if is_match(s) && k != 0 {
            first_match = first_match.min(n as u32 * stride);
            matches.push(
                (0..a.match_len(s))
                    .map(|j| a.match_pattern(s, j).as_u32())
                    .collect(),
            );
        }
    }
    (class, trans, first_match, stride, matches)
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
            (b"/bin/sh".to_vec(), 0, vec![1]),
            (b"sh".to_vec(), 1, vec![2]),
            (b"bin".to_vec(), 2, vec![]),
            (b"\xc3\xa9t\xc3\xa9".to_vec(), 3, vec![3]),
        ];
        let s = FieldScan::build(0, lits).unwrap();
        assert_eq!(found(&s, "/usr/BIN/SH -c x"), vec![0, 1, 2]);
        assert_eq!(found(&s, "bash"), vec![1]);
        assert_eq!(found(&s, "été"), vec![3]);
        assert_eq!(found(&s, "none"), Vec::<u32>::new());
        assert_eq!(s.len(), 4);
    }
}
