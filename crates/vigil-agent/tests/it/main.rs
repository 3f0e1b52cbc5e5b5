//! Integration tests of the agent. Most load the real eBPF sensors, so they need root; without
//! it each prints "skipped: needs root ..." and returns.

mod asr;
mod av;
mod cli;
mod degraded;
mod files;
mod harness;
mod network;
mod process;
mod protect;
mod security;
mod tamper;
