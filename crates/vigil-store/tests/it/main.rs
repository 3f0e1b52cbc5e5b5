//! Integration tests of the telemetry store: ingest, dedupe, WAL replay and torn tails,
//! flush, compaction, retention, SQL errors, concurrency and a full disk.

mod durability;
mod ingest;
mod maintenance;
mod sql;
mod util;
