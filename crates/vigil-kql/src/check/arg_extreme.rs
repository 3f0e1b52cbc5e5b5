//! `arg_max` / `arg_min` in `summarize`: the row with the greatest (least) value per group.
//! Alone, it is a `row_number` window keeping rank 1; together with other aggregations, every
//! output is a window function over the group and one row per group is kept.

use crate::ast::{ExprKind, NamedExpr};
use crate::plan::{BinOp, Field, Node, Rel, Scalar, SortKey, WindowFunc, WindowKind};
use crate::span::DiagKind;
use crate::types::Type;

use super::aggregate::{is_arg_extreme, is_star};
use super::names;
use super::Checker;

impl Checker<'_> {
    /// `summarize arg_max(By, Cols...) by Keys`: a row_number over each group ordered by `By`,
    /// keeping rank 1.
    pub(super) fn arg_extreme(
        &mut self,
        input: Rel,
        keys: Vec<Scalar>,
        key_fields: Vec<Field>,
        item: &NamedExpr,
    ) -> Option<Rel> {
        let ExprKind::Call { name, args } = &item.expr.kind else {
            return None;
        };
        let descending = matches!(name.name.as_str(), "arg_max" | "argmax");
        let Some(by) = args.first() else {
            self.error(
                DiagKind::Type,
                item.span,
                format!("{}() needs the expression to maximise", name.name),
            );
            return None;
        };
        let (by_s, by_t) = self.scalar(by, &input)?;
        let by_name = names::derived_name(by).unwrap_or_else(|| {
            if descending {
                "max_".to_string()
            } else {
                "min_".to_string()
            }
        });
        // Columns returned: `*` → every column; otherwise the named ones.
        let mut extra: Vec<(String, Scalar, Type)> = Vec::new();
        let star = args.len() == 2 && is_star(&args[1]) || args.len() == 1;
        if args.len() > 1 && !star {
            for a in &args[1..] {
                let (s, t) = self.scalar(a, &input)?;
                let n =
                    names::derived_name(a).unwrap_or_else(|| format!("Column{}", extra.len() + 1));
                extra.push((n, s, t));
            }
        }
        // Window over the input with the computed columns.
        let rn = "__arg_rank";
        let by_col = "__arg_by";
        let mut exprs: Vec<Scalar> = input.fields.iter().map(|f| Scalar::col(&f.name)).collect();
        let mut fields = input.fields.clone();
        exprs.push(by_s);
        fields.push(Field::new(by_col, by_t));
        let key_cols: Vec<String> = (0..keys.len()).map(|i| format!("__arg_key{i}")).collect();
        for ((k, c), kf) in keys.iter().zip(&key_cols).zip(&key_fields) {
            exprs.push(k.clone());
            fields.push(Field::new(c.clone(), kf.ty));
        }
        for (i, (_, s, t)) in extra.iter().enumerate() {
            exprs.push(s.clone());
            fields.push(Field::new(format!("__arg_col{i}"), *t));
        }
        let projected = Rel {
            node: Node::Project {
                input: Box::new(input.clone()),
                exprs,
            },
            fields: fields.clone(),
        };
        let mut wfields = fields.clone();
        wfields.push(Field::new(rn, Type::Long));
        let windowed = Rel {
            node: Node::Window {
                input: Box::new(projected),
                funcs: vec![WindowFunc {
                    func: WindowKind::RowNumber,
                    partition: key_cols.iter().map(|c| Scalar::col(c)).collect(),
                    order: vec![SortKey {
                        expr: Scalar::col(by_col),
                        descending,
                        nulls_first: false,
                    }],
                }],
            },
            fields: wfields.clone(),
        };
        let filtered = Rel {
            node: Node::Filter {
                input: Box::new(windowed),
                predicate: Scalar::bin(BinOp::Eq, Scalar::col(rn), Scalar::long(1)),
            },
            fields: wfields,
        };
        // Output: keys, the maximised value, then the columns.
        let mut out_exprs = Vec::new();
        let mut out_fields: Vec<Field> = Vec::new();
        for (kf, c) in key_fields.iter().zip(&key_cols) {
            out_exprs.push(Scalar::col(c));
            out_fields.push(kf.clone());
        }
        let push = |out_exprs: &mut Vec<Scalar>,
                    out_fields: &mut Vec<Field>,
                    name: String,
                    s: Scalar,
                    t: Type| {
            if !out_fields.iter().any(|f| f.name == name) {
                out_exprs.push(s);
                out_fields.push(Field::new(name, t));
            }
        };
        let by_out = item.names.first().map_or(by_name, |n| n.name.clone());
        push(
            &mut out_exprs,
            &mut out_fields,
            by_out,
            Scalar::col(by_col),
            by_t,
        );
        if star {
            for f in &input.fields {
                push(
                    &mut out_exprs,
                    &mut out_fields,
                    f.name.clone(),
                    Scalar::col(&f.name),
                    f.ty,
                );
            }
        } else {
            for (i, (n, _, t)) in extra.iter().enumerate() {
                let n = item.names.get(i + 1).map_or(n.clone(), |x| x.name.clone());
                push(
                    &mut out_exprs,
                    &mut out_fields,
                    n,
                    Scalar::col(&format!("__arg_col{i}")),
                    *t,
                );
            }
        }
        Some(Rel {
            node: Node::Project {
                input: Box::new(filtered),
                exprs: out_exprs,
            },
            fields: out_fields,
        })
    }

    /// `summarize arg_max(...), count(), ... by Keys`: each output a window function over its
    /// group (arg_max's columns `first_value` in the order of its expression), one row kept
    /// per group.
    pub(super) fn window_summarize(
        &mut self,
        input: Rel,
        keys: Vec<Scalar>,
        key_fields: Vec<Field>,
        aggregates: &[NamedExpr],
    ) -> Option<Rel> {
        let mut exprs: Vec<Scalar> = input.fields.iter().map(|f| Scalar::col(&f.name)).collect();
        let mut fields = input.fields.clone();
        let key_cols: Vec<String> = (0..keys.len()).map(|i| format!("__arg_key{i}")).collect();
        for ((k, c), kf) in keys.iter().zip(&key_cols).zip(&key_fields) {
            exprs.push(k.clone());
            fields.push(Field::new(c.clone(), kf.ty));
        }
        let partition: Vec<Scalar> = key_cols.iter().map(|c| Scalar::col(c)).collect();
        // (output name, window function, type) in output order.
        let mut outs: Vec<(String, WindowKind, Vec<SortKey>, Type)> = Vec::new();
        for (j, a) in aggregates.iter().enumerate() {
            if let ExprKind::Call { name, args } = &a.expr.kind {
                if is_arg_extreme(&a.expr) {
                    let descending = matches!(name.name.as_str(), "arg_max" | "argmax");
                    let Some(by) = args.first() else {
                        self.error(
                            DiagKind::Type,
                            a.span,
                            format!("{}() needs the expression to maximise", name.name),
                        );
                        return None;
                    };
                    let (by_s, by_t) = self.scalar(by, &input)?;
                    let by_col = format!("__arg_by{j}");
                    exprs.push(by_s);
                    fields.push(Field::new(by_col.clone(), by_t));
                    let order = vec![SortKey {
                        expr: Scalar::col(&by_col),
                        descending,
                        nulls_first: false,
                    }];
                    let by_name = a
                        .names
                        .first()
                        .map(|n| n.name.clone())
                        .or_else(|| names::derived_name(by))
                        .unwrap_or_else(|| format!("{}_", if descending { "max" } else { "min" }));
                    let extreme = Scalar::call(
                        if descending { "max" } else { "min" },
                        vec![Scalar::col(&by_col)],
                    );
                    outs.push((by_name, WindowKind::Agg(extreme), Vec::new(), by_t));
                    let star = args.len() == 1 || (args.len() == 2 && is_star(&args[1]));
                    let cols: Vec<(String, Scalar, Type)> = if star {
                        input
                            .fields
                            .iter()
                            .map(|f| (f.name.clone(), Scalar::col(&f.name), f.ty))
                            .collect()
                    } else {
                        let mut v = Vec::new();
                        for (m, x) in args[1..].iter().enumerate() {
                            let (s, t) = self.scalar(x, &input)?;
                            let col = format!("__arg_col{j}_{m}");
                            exprs.push(s);
                            fields.push(Field::new(col.clone(), t));
                            let n = a
                                .names
                                .get(m + 1)
                                .map(|n| n.name.clone())
                                .or_else(|| names::derived_name(x))
                                .unwrap_or_else(|| format!("Column{}", m + 1));
                            v.push((n, Scalar::col(&col), t));
                        }
                        v
                    };
                    for (n, s, t) in cols {
                        outs.push((
                            n,
                            WindowKind::Agg(Scalar::call("first_value", vec![s])),
                            order.clone(),
                            t,
                        ));
                    }
                    continue;
                }
            }
            let results = self.aggregate_outputs(&a.expr, &input)?;
            for (i, (n, s, t)) in results.into_iter().enumerate() {
                let n = a.names.get(i).map_or(n, |x| x.name.clone());
                outs.push((n, WindowKind::Agg(s), Vec::new(), t));
            }
        }
        let projected = Rel {
            node: Node::Project {
                input: Box::new(input),
                exprs,
            },
            fields: fields.clone(),
        };
        let mut funcs = vec![WindowFunc {
            func: WindowKind::RowNumber,
            partition: partition.clone(),
            order: vec![],
        }];
        let mut wfields = fields.clone();
        wfields.push(Field::new("__arg_rank", Type::Long));
        for (i, (_, kind, order, t)) in outs.iter().enumerate() {
            funcs.push(WindowFunc {
                func: kind.clone(),
                partition: partition.clone(),
                order: order.clone(),
            });
            wfields.push(Field::new(format!("__arg_out{i}"), *t));
        }
        let windowed = Rel {
            node: Node::Window {
                input: Box::new(projected),
                funcs,
            },
            fields: wfields.clone(),
        };
        let filtered = Rel {
            node: Node::Filter {
                input: Box::new(windowed),
                predicate: Scalar::bin(BinOp::Eq, Scalar::col("__arg_rank"), Scalar::long(1)),
            },
            fields: wfields,
        };
        let mut out_exprs = Vec::new();
        let mut out_fields: Vec<Field> = Vec::new();
        for (kf, c) in key_fields.iter().zip(&key_cols) {
            out_exprs.push(Scalar::col(c));
            out_fields.push(kf.clone());
        }
        for (i, (n, _, _, t)) in outs.iter().enumerate() {
            // A name taken by an earlier column gets a number, as in KQL (`ReportId1`).
            let mut name = n.clone();
            let mut k = 1;
            while out_fields.iter().any(|f| f.name == name) {
                name = format!("{n}{k}");
                k += 1;
            }
            out_exprs.push(Scalar::col(&format!("__arg_out{i}")));
            out_fields.push(Field::new(name, *t));
        }
        Some(Rel {
            node: Node::Project {
                input: Box::new(filtered),
                exprs: out_exprs,
            },
            fields: out_fields,
        })
    }
}
