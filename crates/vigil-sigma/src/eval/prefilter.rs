//! The prefilter's part of an evaluation: the scanned fields of the event are read, looked up
//! among the recent values (see [`crate::recent`]) or scanned, and the literals found stamped;
//! the targets that need one of them are the candidates.
//!
//! **Invariant:** the literals stamped are exactly those that scanning every scanned field of
//! the event finds, whether a value was scanned now or found among the recent ones.

use super::{case_of, lower_into, recycle_texts, view, Evaluator, Frame, Lower};
use crate::event::Event;
use crate::index::Bucket;
use crate::scan::FieldScan;

/// A field to scan in this event.
#[derive(Debug, Clone, Copy)]
pub(super) struct Job {
    /// The scan in the bucket, and the field's index in the frame's values.
    scan: u32,
    val: u32,
    /// Whether the text is ASCII (scanned raw, else lowercased), and has uppercase letters.
    ascii: bool,
    upper: bool,
    /// Its key among the recent values, if it is to be kept.
    key: Option<u64>,
}

/// Stamp the literal `p` of scan `fs` as found in event `gen`; the first time, its targets
/// become candidates.
#[inline]
fn found(
    fs: &FieldScan,
    p: u32,
    gen: u32,
    needle_stamp: &mut [u32],
    target_stamp: &mut [u32],
    cands: &mut Vec<u32>,
) {
    let Some(pat) = fs.pats.get(p as usize) else {
        return;
    };
    let Some(ns) = needle_stamp.get_mut(pat.needle as usize) else {
        return;
    };
    if *ns == gen {
        // Seen already: its targets are candidates.
        return;
    }
    *ns = gen;
    for &t in fs.targets(pat) {
        if let Some(st) = target_stamp.get_mut(t as usize) {
            if *st != gen {
                *st = gen;
                cands.push(t);
            }
        }
    }
}

impl<'s> Evaluator<'s> {
    /// Append to `cands` the targets of `bucket` that a literal found in the event lets be
    /// true (unsorted; without the targets evaluated always).
    pub(super) fn prefilter<'e, E: Event + ?Sized>(
        &mut self,
        fr: &mut Frame<'e, E>,
        bucket: &'s Bucket,
        cands: &mut Vec<u32>,
    ) {
        let gen = self.gen;
        // Fetch the scanned fields: ASCII text is scanned raw (the automaton lowercases ASCII
        // as it goes); other text is lowercased first. A recent value is not scanned again.
        let mut jobs = std::mem::take(&mut self.jobs);
        jobs.clear();
        let mut literals = 0;
        for (k, fs) in bucket.scans.iter().enumerate() {
            let i = self.load(fr, fs.slot, false);
            let v = &mut fr.vals[i];
            if !v.present || v.null {
                continue;
            }
            let raw = v.raw.unwrap_or(&self.bufs[fs.slot as usize].raw);
            let key = self.recent.key(fs.id, raw.as_bytes());
            if let Some(f) = key.and_then(|h| self.recent.get(fs.id, h, raw.as_bytes())) {
                if v.lower == Lower::Unset && f.ascii && !f.upper {
                    v.lower = Lower::Raw;
                }
                literals += f.pats.len() as u64;
                for &p in f.pats {
                    let (n, t) = (&mut self.needle_stamp, &mut self.target_stamp);
                    found(fs, p, gen, n, t, cands);
                }
                continue;
            }
            let (ascii, upper) = match (v.raw, v.lower) {
                (Some(raw), Lower::Unset) => {
                    let (ascii, upper) = case_of(raw.as_bytes());
                    if ascii && !upper {
                        v.lower = Lower::Raw;
                    }
                    if !ascii {
                        lower_into(raw, &mut self.bufs[fs.slot as usize].lower);
                        v.lower = Lower::Buf;
                    }
                    (ascii, upper)
                }
                (Some(raw), _) => case_of(raw.as_bytes()),
                // A formatted number.
                (None, _) => (true, false),
            };
            jobs.push(Job {
                scan: k as u32,
                val: i as u32,
                ascii,
                upper,
                key,
            });
        }
        let mut hits = std::mem::take(&mut self.hits);
        hits.clear();
        let mut texts = recycle_texts(std::mem::take(&mut self.texts));
        for job in &jobs {
            let fs = &bucket.scans[job.scan as usize];
            let v = view(&fr.vals[job.val as usize], &self.bufs[fs.slot as usize]);
            texts.push((fs, if job.ascii { v.raw } else { v.lower }.as_bytes()));
        }
        crate::scan::scan_all(&texts, &mut hits);
        self.stats.scanned_bytes += texts.iter().map(|t| t.1.len() as u64).sum::<u64>();
        self.stats.literal_hits += literals + hits.len() as u64;
        // Keep what was found in each short value scanned.
        let mut pats = std::mem::take(&mut self.pats);
        for (j, job) in jobs.iter().enumerate() {
            let Some(h) = job.key else { continue };
            let fs = &bucket.scans[job.scan as usize];
            let raw = view(&fr.vals[job.val as usize], &self.bufs[fs.slot as usize]).raw;
            pats.clear();
            pats.extend(hits.iter().filter(|x| x.0 == j as u32).map(|x| x.1));
            self.recent
                .put(fs.id, h, raw.as_bytes(), job.ascii, job.upper, &pats);
        }
        self.pats = pats;
        for &(j, p) in &hits {
            let fs = texts[j as usize].0;
            let (n, t) = (&mut self.needle_stamp, &mut self.target_stamp);
            found(fs, p, gen, n, t, cands);
        }
        self.hits = hits;
        self.jobs = jobs;
        self.texts = recycle_texts(texts);
    }
}
