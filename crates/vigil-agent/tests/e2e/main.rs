//! End to end: the real agent on this host, enrolled over mutual TLS with a real server, while
//! ATT&CK techniques are performed for real (they must raise the right alerts) and while a
//! benign workload runs (it must not raise a high-severity one). Needs root for the eBPF
//! sensors; without it each test prints "skipped: ..." and returns.

mod benign;
mod harness;
mod techniques;
