//! Evaluation order: the children of AND, OR and "N of" are sorted cheapest first, so that a
//! cheap test that decides the node spares the costly ones (regexes above all). Tests have no
//! side effects, so the order does not change a result.

use std::sync::Arc;

use crate::compile::{Check, Item, Node, Source};

/// Sort every AND, OR and "N of" in `n` by cost (stable: equal costs keep rule order).
pub(crate) fn cheap_first(n: Node) -> Node {
    match n {
        Node::And(v) => Node::And(sorted(v)),
        Node::Or(v) => Node::Or(sorted(v)),
        Node::AtLeast(k, v) => Node::AtLeast(k, sorted(v)),
        Node::Not(c) => Node::Not(Box::new(cheap_first(*c))),
        other => other,
    }
}

fn sorted(v: Vec<Node>) -> Vec<Node> {
    let mut v: Vec<(u32, Node)> = v
        .into_iter()
        .map(cheap_first)
        .map(|c| (cost(&c), c))
        .collect();
    v.sort_by_key(|(c, _)| *c);
    v.into_iter().map(|(_, c)| c).collect()
}

/// Relative cost of evaluating a node in the worst case.
fn cost(n: &Node) -> u32 {
    match n {
        Node::Const(_) => 0,
        Node::Item(i) => item_cost(i),
        Node::Not(c) => cost(c),
        Node::And(v) | Node::Or(v) | Node::AtLeast(_, v) => {
            v.iter().map(cost).fold(0u32, u32::saturating_add)
        }
    }
}

fn item_cost(i: &Arc<Item>) -> u32 {
    let check = match &i.check {
        Check::Exists(_) => 1,
        Check::Tests { tests, .. } => tests
            .iter()
            .map(|t| t.cost())
            .fold(0u32, u32::saturating_add),
        Check::FieldRef { others, .. } => 4 + others.len() as u32,
    };
    let cost = match &i.source {
        Source::Field(_) => check,
        Source::Token { .. } | Source::Hashes(_) => check.saturating_add(4),
        Source::Keywords(s) => check.saturating_mul(s.len() as u32),
    };
    // An item with literals is usually decided by the prefilter's gate for free.
    if i.needles.is_some() {
        cost.min(2)
    } else {
        cost
    }
}
