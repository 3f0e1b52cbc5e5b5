//! Vigil's Sigma engine: Sigma v2 rules, filters and correlation rules, mapped onto Vigil's
//! tables and matched against events.
//!
//! # Design
//!
//! **Parse** (`parse`, `condition`, `modifiers`): YAML files (one or many documents; the
//! legacy `action: global | reset | repeat` collections are merged first) become rules,
//! filters and correlation rules. Only the shape is checked here.
//!
//! **Map** (`mapping`): a rule's log source selects one or more *targets* from the field
//! mapping (`content/sigma/mapping-linux.yml`, data rather than code): a Vigil table, the
//! ActionTypes it covers, the Sigma field → column map, and *constants* (fields whose value a
//! target implies, such as auditd's `type` or network's `Initiated`). A log source Vigil does
//! not collect, or a field the mapping does not know, makes the rule `unsupported` with the
//! reason; invalid Sigma is an `error`.
//!
//! **Compile** (`compile`, `matcher`, `fold`): the rule is compiled once per target into a
//! boolean tree of field tests. Modifiers become patterns (exact, prefix, suffix, substring,
//! glob, regex, CIDR, numeric, null, exists, field reference); value transformations
//! (`windash`, `expand`, `utf16*`, `base64*`) are applied at compile time. Tests on constants
//! and on fields absent from a target are decided then, and the tree is folded: a rule
//! selecting `type: PATH` is never evaluated on process events. A constant's value that the
//! mapping lists as not collected (`type: ADD_USER`) is never true: the rest of the rule
//! loads, unless the rule then never matches or matches every event only because of it.
//!
//! **Index** (`index`, `scan`, `factors`, `order`): compiled targets are bucketed by (table,
//! ActionType). In each bucket, one Aho-Corasick automaton per scanned field, flattened into a
//! table that folds ASCII case, holds the literals the rules require (a rule can only match
//! if one of its literals occurs; regexes give the literals every match contains, anywhere in
//! the pattern, spanning its parts: `/(\.{3,}|\s+\.)/` requires `/.` or `./`); literals too
//! short to scan for (one character) are kept when anchored (`startswith`, `endswith`, exact,
//! a regex anchored at the start) and compared with the ends of the field instead (or, for the
//! first argument of a command line, with its start); rules without such literals are
//! evaluated always. A candidate target is first checked against clauses of literals that its
//! items imply, without reading a field. The children of AND and OR are sorted cheapest first,
//! regexes last.
//!
//! **Evaluate** (`eval`, `ascii`, `recent`): per event, the bucket is found, each prefilter
//! field is fetched once and scanned (raw when ASCII, else lowercased; the fields of an event
//! in two interleaved lanes; a short value that recurs is not scanned again: what its last
//! scan found is kept), and only the candidate rules are evaluated, reading fields (where the
//! events of a table had each field is kept as a hint) through a per-event cache that borrows
//! the event's text and lowercases a field (into a buffer) only when a test needs it and the
//! text has uppercase or non-ASCII characters. Output is rule indices ([`Detection`]).
//!
//! **Correlate** (`correlation`): matches of rules referenced by correlation rules update
//! per-group sliding windows (`event_count`, `value_count`, `temporal`, `temporal_ordered`),
//! bounded per group by the condition and per rule by a group cap, with counted evictions.
//!
//! **Check** (`check`) reports per file `loaded | unsupported | error` with the reason (for a
//! loaded file, the values decided never true, if any), and
//! **golden** runs the team's golden test files against a rule set.

mod argv;
mod ascii;
mod check;
mod compile;
mod condition;
mod correlation;
mod eval;
mod event;
mod factors;
mod fold;
pub mod golden;
mod index;
mod mapping;
mod matcher;
mod modifiers;
mod order;
mod parse;
mod recent;
mod ruleset;
mod scan;

pub use check::{check_dir, CheckFile, CheckReport, CheckTotals};
pub use correlation::{CorrelationLimits, CorrelationStats};
pub use eval::{CorrelationHit, Detection, EvalStats, Evaluator};
pub use event::{name_hash, Event, FieldName, FieldRef, OwnedEvent, Value};
pub use mapping::{Mapping, MappingError, LINUX_MAPPING};
pub use parse::{CorrelationKind, LogSource};
pub use ruleset::{BucketSummary, FileReport, LoadReport, Loader, RuleInfo, RuleKind, RuleSet};

/// Whether a file (or rule) loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Loaded,
    /// Valid Sigma that Vigil cannot run (log source not collected, field not carried).
    Unsupported,
    /// Not valid Sigma, or not loadable (bad regex, unknown modifier, broken reference).
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Loaded => "loaded",
            Status::Unsupported => "unsupported",
            Status::Error => "error",
        }
    }
}

/// A problem with a rule: invalid, or unsupported by Vigil. The message is lowercase, without
/// a trailing period, and names the part of the rule at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    invalid: bool,
    message: String,
}

impl Issue {
    pub(crate) fn invalid(m: impl Into<String>) -> Issue {
        Issue {
            invalid: true,
            message: m.into(),
        }
    }

    pub(crate) fn unsupported(m: impl Into<String>) -> Issue {
        Issue {
            invalid: false,
            message: m.into(),
        }
    }

    /// Prefix the message with where it happened.
    pub(crate) fn context(self, at: impl AsRef<str>) -> Issue {
        Issue {
            invalid: self.invalid,
            message: format!("{}: {}", at.as_ref(), self.message),
        }
    }

    /// `true` for invalid Sigma, `false` for unsupported.
    pub fn is_invalid(&self) -> bool {
        self.invalid
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Issue {}
