//! Column pruning: every relation keeps only the columns something above it reads. The
//! checker lowers operators naively (a scan has every column of its table); this pass makes
//! the plan, and the SQL emitted from it, carry only what the query uses.

use std::collections::HashSet;

use crate::plan::{Node, Rel, Scalar, SortKey, WindowFunc, WindowKind};

/// Prune `rel`, whose output columns are all needed.
pub fn prune(rel: Rel) -> Rel {
    let all: HashSet<String> = rel.fields.iter().map(|f| f.name.clone()).collect();
    prune_to(rel, &all)
}

/// Column names a scalar reads (not those of its subqueries, which are pruned on their own).
fn columns(s: &Scalar, out: &mut HashSet<String>) {
    if let Scalar::Column(c) = s {
        out.insert(c.clone());
    }
    s.for_each_child(&mut |c| columns(c, out));
}

/// The same scalar with its subqueries pruned.
fn prune_scalar(s: Scalar) -> Scalar {
    s.map_subqueries(&mut |r, _| prune(r))
}

fn sort_columns(keys: &[SortKey], out: &mut HashSet<String>) {
    for k in keys {
        columns(&k.expr, out);
    }
}

fn prune_keys(keys: Vec<SortKey>) -> Vec<SortKey> {
    keys.into_iter()
        .map(|k| SortKey {
            expr: prune_scalar(k.expr),
            ..k
        })
        .collect()
}

fn window_columns(f: &WindowFunc, out: &mut HashSet<String>) {
    for p in &f.partition {
        columns(p, out);
    }
    sort_columns(&f.order, out);
    match &f.func {
        WindowKind::RowNumber => {}
        WindowKind::Lag { expr, default, .. } | WindowKind::Lead { expr, default, .. } => {
            columns(expr, out);
            if let Some(d) = default {
                columns(d, out);
            }
        }
        WindowKind::Agg(call) => columns(call, out),
    }
}

/// Keep the columns of `rel` named in `needed` (and whatever computing them reads).
fn prune_to(rel: Rel, needed: &HashSet<String>) -> Rel {
    let Rel { node, fields } = rel;
    match node {
        Node::Scan { table } => {
            let mut kept: Vec<_> = fields
                .iter()
                .filter(|f| needed.contains(&f.name))
                .cloned()
                .collect();
            // SQL needs a column to select even when only rows are counted.
            if kept.is_empty() {
                kept.extend(fields.into_iter().take(1));
            }
            Rel {
                fields: kept,
                node: Node::Scan { table },
            }
        }
        Node::Values { rows } => Rel {
            node: Node::Values {
                rows: rows
                    .into_iter()
                    .map(|r| r.into_iter().map(prune_scalar).collect())
                    .collect(),
            },
            fields,
        },
        n @ Node::Range { .. } => Rel { node: n, fields },
        Node::Filter { input, predicate } => {
            let mut want = needed.clone();
            columns(&predicate, &mut want);
            let input = prune_to(*input, &want);
            Rel {
                fields: input.fields.clone(),
                node: Node::Filter {
                    input: Box::new(input),
                    predicate: prune_scalar(predicate),
                },
            }
        }
        Node::Project { input, exprs } => {
            let mut kept_fields = Vec::new();
            let mut kept_exprs = Vec::new();
            let first = fields.first().cloned().zip(exprs.first().cloned());
            for (f, e) in fields.into_iter().zip(exprs) {
                if needed.contains(&f.name) {
                    kept_fields.push(f);
                    kept_exprs.push(e);
                }
            }
            if kept_fields.is_empty() {
                if let Some((f, e)) = first {
                    kept_fields.push(f);
                    kept_exprs.push(e);
                }
            }
            let mut want = HashSet::new();
            for e in &kept_exprs {
                columns(e, &mut want);
            }
            let input = prune_to(*input, &want);
            Rel {
                node: Node::Project {
                    input: Box::new(input),
                    exprs: kept_exprs.into_iter().map(prune_scalar).collect(),
                },
                fields: kept_fields,
            }
        }
        Node::Aggregate { input, keys, aggs } => {
            let n_keys = keys.len();
            let mut kept_fields: Vec<_> = fields[..n_keys].to_vec();
            let mut kept_aggs = Vec::new();
            for (f, a) in fields.into_iter().skip(n_keys).zip(aggs) {
                if needed.contains(&f.name) {
                    kept_fields.push(f);
                    kept_aggs.push(a);
                }
            }
            let mut want = HashSet::new();
            for e in keys.iter().chain(&kept_aggs) {
                columns(e, &mut want);
            }
            let input = prune_to(*input, &want);
            Rel {
                node: Node::Aggregate {
                    input: Box::new(input),
                    keys: keys.into_iter().map(prune_scalar).collect(),
                    aggs: kept_aggs.into_iter().map(prune_scalar).collect(),
                },
                fields: kept_fields,
            }
        }
        Node::Distinct { input } => {
            let want: HashSet<String> = input.fields.iter().map(|f| f.name.clone()).collect();
            let input = prune_to(*input, &want);
            Rel {
                fields: input.fields.clone(),
                node: Node::Distinct {
                    input: Box::new(input),
                },
            }
        }
        Node::Sort { input, keys } => {
            let mut want = needed.clone();
            sort_columns(&keys, &mut want);
            let input = prune_to(*input, &want);
            Rel {
                fields: input.fields.clone(),
                node: Node::Sort {
                    input: Box::new(input),
                    keys: prune_keys(keys),
                },
            }
        }
        Node::Limit { input, count } => {
            let input = prune_to(*input, needed);
            Rel {
                fields: input.fields.clone(),
                node: Node::Limit {
                    input: Box::new(input),
                    count,
                },
            }
        }
        Node::Join {
            left,
            right,
            kind,
            on,
        } => {
            // Output columns map positionally onto the sides' columns.
            let sides_out: Vec<&Rel> = match kind {
                crate::plan::JoinKind::LeftSemi | crate::plan::JoinKind::LeftAnti => vec![&left],
                crate::plan::JoinKind::RightSemi | crate::plan::JoinKind::RightAnti => {
                    vec![&right]
                }
                _ => vec![&left, &right],
            };
            let mut want_left = HashSet::new();
            let mut want_right = HashSet::new();
            let mut pos = 0;
            for side in &sides_out {
                let is_left = std::ptr::eq(*side, &*left);
                for f in &side.fields {
                    if fields.get(pos).is_some_and(|o| needed.contains(&o.name)) {
                        if is_left {
                            want_left.insert(f.name.clone());
                        } else {
                            want_right.insert(f.name.clone());
                        }
                    }
                    pos += 1;
                }
            }
            for (l, r) in &on {
                columns(l, &mut want_left);
                columns(r, &mut want_right);
            }
            // Output fields follow the kept side columns, keeping their output names.
            let mut out_fields = Vec::new();
            let mut pos = 0;
            for side in &sides_out {
                let is_left = std::ptr::eq(*side, &*left);
                for f in &side.fields {
                    let keep = if is_left {
                        want_left.contains(&f.name)
                    } else {
                        want_right.contains(&f.name)
                    };
                    if keep {
                        if let Some(o) = fields.get(pos) {
                            out_fields.push(o.clone());
                        }
                    }
                    pos += 1;
                }
            }
            // The emitter maps each side's columns positionally onto the output: keep exactly
            // the wanted ones, in their original order.
            let exact = |side: Rel, want: &HashSet<String>| -> Rel {
                let names: Vec<String> = side
                    .fields
                    .iter()
                    .filter(|f| want.contains(&f.name))
                    .map(|f| f.name.clone())
                    .collect();
                let pruned = prune_to(side, want);
                if pruned.fields.iter().map(|f| &f.name).eq(names.iter()) {
                    return pruned;
                }
                pruned.select(&names)
            };
            let left = exact(*left, &want_left);
            let right = exact(*right, &want_right);
            Rel {
                node: Node::Join {
                    left: Box::new(left),
                    right: Box::new(right),
                    kind,
                    on: on
                        .into_iter()
                        .map(|(l, r)| (prune_scalar(l), prune_scalar(r)))
                        .collect(),
                },
                fields: out_fields,
            }
        }
        Node::Union { inputs } => {
            let inputs: Vec<Rel> = inputs.into_iter().map(|i| prune_to(i, needed)).collect();
            Rel {
                node: Node::Union { inputs },
                fields: fields
                    .into_iter()
                    .filter(|f| needed.contains(&f.name))
                    .collect(),
            }
        }
        Node::Expand {
            input,
            columns: expansions,
            index,
            limit,
        } => {
            let mut want = needed.clone();
            for e in &expansions {
                want.insert(e.column.clone());
            }
            let input = prune_to(*input, &want);
            let out_fields = fields
                .into_iter()
                .filter(|f| {
                    input.field(&f.name).is_some() || index.as_deref() == Some(f.name.as_str())
                })
                .collect();
            Rel {
                node: Node::Expand {
                    input: Box::new(input),
                    columns: expansions,
                    index,
                    limit,
                },
                fields: out_fields,
            }
        }
        Node::Window { input, funcs } => {
            let n_in = input.fields.len();
            let mut kept_funcs = Vec::new();
            let mut kept_window_fields = Vec::new();
            for (f, w) in fields[n_in..].iter().zip(funcs) {
                if needed.contains(&f.name) {
                    kept_window_fields.push(f.clone());
                    kept_funcs.push(w);
                }
            }
            let mut want: HashSet<String> = needed.clone();
            for w in &kept_funcs {
                window_columns(w, &mut want);
            }
            let input = prune_to(*input, &want);
            let mut out_fields = input.fields.clone();
            out_fields.extend(kept_window_fields);
            let funcs = kept_funcs
                .into_iter()
                .map(|w| WindowFunc {
                    partition: w.partition.into_iter().map(prune_scalar).collect(),
                    order: prune_keys(w.order),
                    func: match w.func {
                        WindowKind::Agg(c) => WindowKind::Agg(prune_scalar(c)),
                        other => other,
                    },
                })
                .collect();
            if out_fields.len() == input.fields.len() {
                // No window function is read: the node disappears.
                return input;
            }
            Rel {
                node: Node::Window {
                    input: Box::new(input),
                    funcs,
                },
                fields: out_fields,
            }
        }
    }
}
