//! Compile-time decisions: tests on a target's constants and on fields the target lacks,
//! values of constant fields that Vigil never collects, and constant folding.
//!
//! A value of a constant field (auditd `type`, `SYSCALL`) that no target has makes the rule
//! `unsupported` (`neq` tests aside, decided as any other), unless the mapping lists it under
//! `unsupported_values`: then the record never occurs in Vigil's telemetry, and a test on it
//! is *never true*, decided when the rule is compiled like `type: PATH` on the EXECVE target,
//! so that the rest of the rule can match (`1 of selection_*` with an `ADD_USER` selection
//! loads through its other selections).
//!
//! A test whose decision depends on such values is compiled as a *marker*: `settle` turns it
//! into its constant, while the tree with markers left open tells whether the rule relies on
//! them. A rule that can then never match, or that folding alone makes true on every event of
//! a target (`not selection` of such a value), is unsupported with the value's reason.

use std::sync::Arc;

use crate::compile::{value_tests, Check, Ctx, Item, Node, Source};
use crate::mapping::LogsourceMap;
use crate::matcher::{lower_into, ValueTest, View};
use crate::modifiers::{parse_mods, MatchKind};
use crate::parse::{Detection, FieldItem, Search};
use crate::Issue;

/// A value of a constant field that no Vigil event carries, with the mapping's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Never {
    field: String,
    value: String,
    reason: String,
}

impl Never {
    /// Why a rule that needs this value is unsupported.
    pub fn issue(&self) -> Issue {
        Issue::unsupported(format!("`{}: {}`: {}", self.field, self.value, self.reason))
    }

    /// For the load report of a rule that loads without it.
    pub fn note(&self) -> String {
        format!("`{}: {}` ({})", self.field, self.value, self.reason)
    }
}

/// The load report's reason for a loaded file with these notes (`Never::note`, per rule):
/// empty without any.
pub(crate) fn loaded_note<'a>(notes: impl Iterator<Item = &'a String>) -> String {
    let mut v: Vec<&str> = notes.map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    if v.is_empty() {
        return String::new();
    }
    format!("loaded; never true here: {}", v.join(", "))
}

/// Whether the tests of a value on `field` miss the constant of every target that has one
/// (`false` if no target has `field` as a constant).
fn misses_constants(field: &str, tests: &[ValueTest], map: &LogsourceMap) -> bool {
    let mut constant = false;
    for c in map.targets.iter().filter_map(|t| t.constant(field)) {
        constant = true;
        let mut lower = String::new();
        let view = const_view(c, &mut lower);
        if tests.iter().any(|t| t.is_match(&view)) {
            return false;
        }
    }
    constant
}

/// Whether the tests of the value `text` on `field` are never true: no target has it as a
/// constant, and the mapping says why (`unsupported_values`).
pub(crate) fn is_never(field: &str, text: &str, tests: &[ValueTest], map: &LogsourceMap) -> bool {
    map.value_reason(field, text).is_some() && misses_constants(field, tests, map)
}

/// The values of constant fields that the detections select and no target has: never true
/// when the mapping gives a reason (deduplicated, in the order of the rule); any other makes
/// the rule unsupported.
pub(crate) fn never_values(
    dets: &[&Detection],
    map: &LogsourceMap,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Never>, Issue> {
    fn items<'d>(s: &'d Search, out: &mut Vec<&'d FieldItem>) {
        match s {
            Search::All(v) => out.extend(v.iter()),
            Search::Any(v) => v.iter().for_each(|s| items(s, out)),
        }
    }
    let mut all = Vec::new();
    for d in dets {
        for (_, s) in &d.searches {
            items(s, &mut all);
        }
    }
    let mut out: Vec<Never> = Vec::new();
    for item in all {
        let Some(field) = &item.field else { continue };
        if map.targets.iter().all(|t| t.constant(field).is_none()) {
            continue;
        }
        let mods = parse_mods(&item.modifiers, &item.key)?;
        if mods.neq || mods.fieldref || matches!(mods.kind, MatchKind::Exists) {
            continue;
        }
        for v in &item.values {
            let Some(text) = v.text() else { continue };
            let tests = value_tests(v, &mods, &item.key, ctx)?;
            if !misses_constants(field, &tests, map) {
                continue;
            }
            let Some(reason) = map.value_reason(field, &text) else {
                let mut known: Vec<&str> = map
                    .targets
                    .iter()
                    .filter_map(|t| t.constant(field))
                    .collect();
                known.sort();
                known.dedup();
                return Err(Issue::unsupported(format!(
                    "`{field}: {text}`: no Vigil event carries this value (known: {})",
                    known.join(", ")
                )));
            };
            let n = Never {
                field: field.clone(),
                value: text.to_string(),
                reason: reason.to_string(),
            };
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    Ok(out)
}

fn const_view<'a>(c: &'a str, lower: &'a mut String) -> View<'a> {
    lower_into(c, lower);
    View {
        present: true,
        null: false,
        raw: c,
        lower,
        int: c.parse().ok(),
    }
}

/// An item decided at compile time, on a constant or (`None`) an absent field. `never`: values
/// left out of `check` as never true; if the decision depends on them, the item is a marker.
pub(crate) fn decided(check: &Check, neq: bool, constant: Option<&str>, never: bool) -> Node {
    let value = decide(check, neq, constant, never.then_some(false));
    if never && decide(check, neq, constant, Some(true)) != value {
        return marker(value);
    }
    Node::Const(value)
}

/// Decide an item; `never` is what the tests of the values left out of `check` give.
fn decide(check: &Check, neq: bool, constant: Option<&str>, never: Option<bool>) -> bool {
    let mut lower = String::new();
    let view = match constant {
        Some(c) => const_view(c, &mut lower),
        None => View::ABSENT,
    };
    let r = match check {
        Check::Exists(want) => view.present == *want,
        Check::Tests { tests, all } => {
            if *all {
                tests.iter().all(|t| t.is_match(&view)) && never != Some(false)
            } else {
                tests.iter().any(|t| t.is_match(&view)) || never == Some(true)
            }
        }
        Check::FieldRef { .. } => false,
    };
    if neq {
        view.present && !r
    } else {
        r
    }
}

/// The id of a marker item. Markers never reach the index: `compile_rule` settles them.
const MARKER: u32 = u32::MAX;

/// A test decided (to `value`) by never-true values: an item to `fold`, a constant to `settle`.
fn marker(value: bool) -> Node {
    Node::Item(Arc::new(Item {
        id: MARKER,
        source: Source::Keywords(Vec::new()),
        check: Check::Exists(value),
        neq: false,
        needs_lower: false,
        needles: None,
        also: Vec::new(),
    }))
}

/// Replace markers by their decisions (then `fold` again).
pub(crate) fn settle(n: Node) -> Node {
    let all = |v: Vec<Node>| v.into_iter().map(settle).collect();
    match n {
        Node::Item(i) if i.id == MARKER => Node::Const(matches!(i.check, Check::Exists(true))),
        Node::And(v) => Node::And(all(v)),
        Node::Or(v) => Node::Or(all(v)),
        Node::AtLeast(k, v) => Node::AtLeast(k, all(v)),
        Node::Not(c) => Node::Not(Box::new(settle(*c))),
        other => other,
    }
}

/// Constant folding.
pub(crate) fn fold(n: Node) -> Node {
    match n {
        Node::And(v) => {
            let mut out = Vec::new();
            for c in v.into_iter().map(fold) {
                match c {
                    Node::Const(true) => {}
                    Node::Const(false) => return Node::Const(false),
                    Node::And(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Node::Const(true),
                1 => out.remove(0),
                _ => Node::And(out),
            }
        }
        Node::Or(v) => {
            let mut out = Vec::new();
            for c in v.into_iter().map(fold) {
                match c {
                    Node::Const(false) => {}
                    Node::Const(true) => return Node::Const(true),
                    Node::Or(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Node::Const(false),
                1 => out.remove(0),
                _ => Node::Or(out),
            }
        }
        Node::Not(c) => match fold(*c) {
            Node::Const(b) => Node::Const(!b),
            other => Node::Not(Box::new(other)),
        },
        Node::AtLeast(n, v) => {
            let mut need = n;
            let mut out = Vec::new();
            for c in v.into_iter().map(fold) {
                match c {
                    Node::Const(true) => need = need.saturating_sub(1),
                    Node::Const(false) => {}
                    other => out.push(other),
                }
            }
            if need == 0 {
                Node::Const(true)
            } else if need > out.len() {
                Node::Const(false)
            } else if need == 1 {
                fold(Node::Or(out))
            } else if need == out.len() {
                fold(Node::And(out))
            } else {
                Node::AtLeast(need, out)
            }
        }
        other => other,
    }
}
