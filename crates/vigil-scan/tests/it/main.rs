//! vigil-scan's integration tests: the engine on generated samples (EICAR, every team rule's
//! positive and negative, archives, limits, hash lists, broken rule files, hostile bytes)
//! and the quarantine vault. Nothing here is real malware: samples are built in the tests.

mod common;
mod detection;
mod fuzz;
mod limits;
mod quarantine;
mod team_rules;
