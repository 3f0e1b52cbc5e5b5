//! Row order. KQL keeps the order a `sort` (or `top`) made through the operators after it
//! (`project`, `extend`, `where`, `take`); SQL forgets the `ORDER BY` of a derived table. This
//! pass turns each sort into a hidden `__ord` column (`row_number()` in the sort's order),
//! carries it through the order-keeping operators (literal rows are numbered as written), drops it at those that make a new order
//! (`summarize`, `distinct`, `join`, `union`, `mv-expand`), and orders the final result (and
//! every subquery) by it in the outermost `SELECT`.

use crate::plan::{Field, Node, Rel, Scalar, SortKey, WindowFunc, WindowKind};
use crate::types::Type;

/// The hidden column holding the row order.
pub const ORD: &str = "__ord";

/// `rel` with its order made explicit; the result is ordered by its outermost `SELECT`.
pub fn finish(rel: Rel) -> Rel {
    let rel = order(rel);
    if rel.field(ORD).is_none() {
        return rel;
    }
    let fields: Vec<Field> = rel
        .fields
        .iter()
        .filter(|f| f.name != ORD)
        .cloned()
        .collect();
    Rel {
        node: Node::Sort {
            input: Box::new(rel),
            keys: vec![SortKey {
                expr: Scalar::col(ORD),
                descending: false,
                nulls_first: false,
            }],
        },
        fields,
    }
}

/// Without the `__ord` column.
fn strip(rel: Rel) -> Rel {
    if rel.field(ORD).is_none() {
        return rel;
    }
    let names: Vec<String> = rel
        .fields
        .iter()
        .filter(|f| f.name != ORD)
        .map(|f| f.name.clone())
        .collect();
    rel.select(&names)
}

/// `input` with `__ord` numbering its rows in the order of `keys`.
fn numbered(input: Rel, keys: Vec<SortKey>) -> Rel {
    let input = strip(input);
    let mut fields = input.fields.clone();
    fields.push(Field::new(ORD, Type::Long));
    Rel {
        node: Node::Window {
            input: Box::new(input),
            funcs: vec![WindowFunc {
                func: WindowKind::RowNumber,
                partition: Vec::new(),
                order: keys,
            }],
        },
        fields,
    }
}

fn order_scalar(s: Scalar) -> Scalar {
    // A scalar subquery's first row is its first in order; an `in` list has no order.
    s.map_subqueries(&mut |r, in_list| if in_list { strip(order(r)) } else { finish(r) })
}

fn order_keys(keys: Vec<SortKey>) -> Vec<SortKey> {
    keys.into_iter()
        .map(|k| SortKey {
            expr: order_scalar(k.expr),
            ..k
        })
        .collect()
}

/// Make the order of `rel` explicit (see the module doc).
fn order(rel: Rel) -> Rel {
    let Rel { node, fields } = rel;
    match node {
        Node::Scan { .. } | Node::Range { .. } => Rel { node, fields },
        Node::Values { rows } => {
            // Literal rows (`datatable`, `getschema`) come in the order written.
            let ordered = rows.len() > 1;
            let rows = rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut r: Vec<Scalar> = r.into_iter().map(order_scalar).collect();
                    if ordered {
                        r.push(Scalar::long(i as i64));
                    }
                    r
                })
                .collect();
            let mut fields = fields;
            if ordered {
                fields.push(Field::new(ORD, Type::Long));
            }
            Rel {
                node: Node::Values { rows },
                fields,
            }
        }
        Node::Sort { input, keys } => numbered(order(*input), order_keys(keys)),
        Node::Limit { input, count } => {
            // `top`: sort and limit together (a top-k), numbered afterwards.
            if let Node::Sort { .. } = &input.node {
                let Rel { node, .. } = *input;
                let Node::Sort {
                    input: sorted,
                    keys,
                } = node
                else {
                    unreachable!("matched above")
                };
                let keys = order_keys(keys);
                let sorted = strip(order(*sorted));
                let limited = Rel {
                    fields: sorted.fields.clone(),
                    node: Node::Limit {
                        input: Box::new(Rel {
                            fields: sorted.fields.clone(),
                            node: Node::Sort {
                                input: Box::new(sorted),
                                keys: keys.clone(),
                            },
                        }),
                        count,
                    },
                };
                return numbered(limited, keys);
            }
            let input = order(*input);
            Rel {
                fields: input.fields.clone(),
                node: Node::Limit {
                    input: Box::new(input),
                    count,
                },
            }
        }
        Node::Filter { input, predicate } => {
            let input = order(*input);
            Rel {
                fields: input.fields.clone(),
                node: Node::Filter {
                    input: Box::new(input),
                    predicate: order_scalar(predicate),
                },
            }
        }
        Node::Project { input, exprs } => {
            let input = order(*input);
            let mut exprs: Vec<Scalar> = exprs.into_iter().map(order_scalar).collect();
            let mut fields = fields;
            if input.field(ORD).is_some() && !fields.iter().any(|f| f.name == ORD) {
                exprs.push(Scalar::col(ORD));
                fields.push(Field::new(ORD, Type::Long));
            }
            Rel {
                node: Node::Project {
                    input: Box::new(input),
                    exprs,
                },
                fields,
            }
        }
        Node::Window { input, funcs } => {
            let n_in = input.fields.len();
            let input = order(*input);
            let mut out = input.fields.clone();
            out.extend(fields.into_iter().skip(n_in));
            let funcs = funcs
                .into_iter()
                .map(|w| WindowFunc {
                    partition: w.partition.into_iter().map(order_scalar).collect(),
                    order: order_keys(w.order),
                    func: match w.func {
                        WindowKind::Agg(c) => WindowKind::Agg(order_scalar(c)),
                        WindowKind::Lag {
                            expr,
                            offset,
                            default,
                        } => WindowKind::Lag {
                            expr: order_scalar(expr),
                            offset,
                            default: default.map(order_scalar),
                        },
                        WindowKind::Lead {
                            expr,
                            offset,
                            default,
                        } => WindowKind::Lead {
                            expr: order_scalar(expr),
                            offset,
                            default: default.map(order_scalar),
                        },
                        WindowKind::RowNumber => WindowKind::RowNumber,
                    },
                })
                .collect();
            Rel {
                node: Node::Window {
                    input: Box::new(input),
                    funcs,
                },
                fields: out,
            }
        }
        Node::Aggregate { input, keys, aggs } => Rel {
            node: Node::Aggregate {
                input: Box::new(strip(order(*input))),
                keys: keys.into_iter().map(order_scalar).collect(),
                aggs: aggs.into_iter().map(order_scalar).collect(),
            },
            fields,
        },
        Node::Distinct { input } => Rel {
            node: Node::Distinct {
                input: Box::new(strip(order(*input))),
            },
            fields,
        },
        Node::Join {
            left,
            right,
            kind,
            on,
        } => Rel {
            node: Node::Join {
                left: Box::new(strip(order(*left))),
                right: Box::new(strip(order(*right))),
                kind,
                on: on
                    .into_iter()
                    .map(|(l, r)| (order_scalar(l), order_scalar(r)))
                    .collect(),
            },
            fields,
        },
        Node::Union { inputs } => Rel {
            node: Node::Union {
                inputs: inputs.into_iter().map(|i| strip(order(i))).collect(),
            },
            fields,
        },
        Node::Expand {
            input,
            columns,
            index,
            limit,
        } => Rel {
            node: Node::Expand {
                input: Box::new(strip(order(*input))),
                columns,
                index,
                limit,
            },
            fields,
        },
    }
}
