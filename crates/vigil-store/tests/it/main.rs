//! Integration tests of the telemetry store: ingest, dedupe, WAL replay and torn tails,
//! flush, compaction, retention, SQL errors, concurrency, a full disk and the KQL functions.

mod durability;
mod ingest;
mod kql_dynamic;
mod kql_strings;
mod maintenance;
mod sql;
mod util;
