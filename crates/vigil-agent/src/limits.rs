//! Per-source rate limits with counted drops: a token bucket per sensor family. Nothing is
//! dropped silently; the pipeline reports what each bucket refused as `SensorEventsDropped`.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::sensors::event::Source;

#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
    dropped: u64,
}

#[derive(Debug, Default)]
pub struct Limits {
    buckets: BTreeMap<Source, Bucket>,
}

impl Limits {
    /// `rates`: events per second allowed per source (a burst of one second's worth).
    /// Sources without a rate are not limited.
    pub fn new(rates: &[(Source, u32)]) -> Limits {
        let now = Instant::now();
        let buckets = rates
            .iter()
            .map(|&(s, r)| {
                (
                    s,
                    Bucket {
                        rate: r as f64,
                        tokens: r as f64,
                        last: now,
                        dropped: 0,
                    },
                )
            })
            .collect();
        Limits { buckets }
    }

    /// Whether one more event of `source` may pass now.
    pub fn allow(&mut self, source: Source) -> bool {
        self.allow_at(source, Instant::now())
    }

    fn allow_at(&mut self, source: Source, now: Instant) -> bool {
        let Some(b) = self.buckets.get_mut(&source) else {
            return true;
        };
        let dt = now.saturating_duration_since(b.last).as_secs_f64();
        b.last = now;
        b.tokens = (b.tokens + dt * b.rate).min(b.rate);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            b.dropped += 1;
            false
        }
    }

    /// Drops since the last call, per source (sources with none left out).
    pub fn take_drops(&mut self) -> Vec<(Source, u64)> {
        self.buckets
            .iter_mut()
            .filter(|(_, b)| b.dropped > 0)
            .map(|(s, b)| (*s, std::mem::take(&mut b.dropped)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refuses_over_rate_and_counts() {
        let mut l = Limits::new(&[(Source::File, 10)]);
        let t0 = Instant::now();
        let passed = (0..25).filter(|_| l.allow_at(Source::File, t0)).count();
        assert_eq!(passed, 10);
        assert_eq!(l.take_drops(), vec![(Source::File, 15)]);
        assert!(l.take_drops().is_empty());
        assert!(l.allow_at(Source::File, t0 + Duration::from_millis(200)));
        assert!(l.allow(Source::Process), "unlimited source");
    }
}
