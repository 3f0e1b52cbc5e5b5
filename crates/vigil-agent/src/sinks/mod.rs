//! Outputs for finished rows.

pub mod jsonl;
