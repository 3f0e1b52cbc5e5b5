//! vigil-scan: the scanning engine of next-generation protection and the quarantine vault.
//!
//! - `Engine` (`engine.rs`): YARA-X rules (the team pack from `content/yara`, embedded at build
//!   time, plus operator rule directories; `rules.rs`) and SHA-256 allow/block lists.
//! - `Scanner` (`scanner.rs`): one thread's scanner; walks zip, tar and gzip archives
//!   (`archive.rs`) within `Limits` (`limits.rs`, accounted in `budget.rs`); reports the
//!   shebang interpreter of scripts (`script.rs`). Results in `result.rs`.
//! - `Quarantine` (`quarantine/`): an encrypted vault with list, restore and delete.
//!
//! Invariants: this crate knows nothing of the agent or fanotify (the agent calls it); a scan
//! never panics on hostile input and always ends with a verdict within its limits; the
//! quarantine either completes (the original is removed only after the encrypted copy is on
//! disk) or leaves the file where it was.

mod archive;
mod budget;
mod engine;
mod error;
mod limits;
mod quarantine;
mod result;
mod rules;
mod scanner;
pub mod script;

pub use engine::{Engine, EngineBuilder, HashLists, RuleInfo};
pub use error::{EngineError, QuarantineError};
pub use limits::Limits;
pub use quarantine::{Quarantine, QuarantineEntry, QuarantineId, RestoreOptions};
pub use result::{Detection, DetectionSource, Limit, RuleMatch, ScanResult, Severity, Verdict};
pub use rules::{EngineReport, RuleFileReport, YARA_X_VERSION};
pub use scanner::Scanner;
