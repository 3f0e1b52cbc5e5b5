//! Outputs for finished rows: JSON lines (stdout or a file), or the server uplink.

pub mod jsonl;

use std::time::Duration;

use vigil_schema::Row;
use vigil_uplink::{Health, Uplink};

use crate::pipeline::Pipeline;

/// Where the run loop sends rows.
pub enum Sink {
    Jsonl(jsonl::JsonlSink),
    Uplink(Uplink),
}

impl Sink {
    pub fn write(&mut self, rows: &[Row]) -> std::io::Result<()> {
        match self {
            Sink::Jsonl(j) => j.write(rows),
            Sink::Uplink(u) => {
                u.send(rows.to_vec());
                Ok(())
            }
        }
    }

    /// Once a second: report what the uplink lost and tell it the agent's health.
    pub fn tick(&mut self, pipeline: &mut Pipeline, health: Health, out: &mut Vec<Row>) {
        if let Sink::Uplink(u) = self {
            let lost = u.take_dropped();
            if lost > 0 {
                pipeline.dropped(
                    "uplink",
                    lost,
                    "spool bound reached or batch refused by the server",
                    out,
                );
            }
            u.set_health(health);
        }
    }

    /// Uplink state for `vigil-agent status`.
    pub fn status(&self) -> Option<serde_json::Value> {
        match self {
            Sink::Jsonl(_) => None,
            Sink::Uplink(u) => {
                let s = u.stats();
                Some(serde_json::json!({
                    "connected": s.connected,
                    "batches_acked": s.batches_acked,
                    "events_acked": s.events_acked,
                    "duplicates_reported": s.duplicates_reported,
                    "spool_bytes": s.spool_bytes,
                    "spool_pending_events": s.spool_pending_events,
                    "last_error": s.last_error,
                }))
            }
        }
    }

    /// Deliver what is still queued (the uplink gets `grace` to reach the server; what it
    /// cannot deliver stays spooled for the next run).
    pub fn close(self, grace: Duration) {
        if let Sink::Uplink(u) = self {
            u.shutdown(grace);
        }
    }
}
