//! Multi-host tests: simulated agents in their own network namespace reach a server over a
//! veth link (needs root and `ip`; skipped with a printed reason otherwise).

mod netns;
