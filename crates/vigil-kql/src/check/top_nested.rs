//! `top-nested`: the top values of a column by an aggregation, then within each of them the
//! top values of the next column, and so on.
//!
//! Level `i` aggregates by the columns of levels `1..=i`, ranks within the values of the
//! levels above (a `row_number` window) and keeps the first `N`; it joins the levels above on
//! their columns, so that only the kept parents keep children.

use crate::ast::TopNestedLevel;
use crate::plan::{BinOp, Field, JoinKind, Node, Rel, Scalar, SortKey, WindowFunc, WindowKind};
use crate::span::{DiagKind, Span};
use crate::types::Type;

use super::names;
use super::Checker;

impl Checker<'_> {
    pub(super) fn top_nested(
        &mut self,
        input: Rel,
        levels: &[TopNestedLevel],
        span: Span,
    ) -> Option<Rel> {
        if levels.is_empty() {
            self.error(
                DiagKind::Syntax,
                span,
                "top-nested needs at least one level",
            );
            return None;
        }
        // The level columns, computed once: __tn_k{i}.
        let mut exprs: Vec<Scalar> = input.fields.iter().map(|f| Scalar::col(&f.name)).collect();
        let mut fields = input.fields.clone();
        let mut names_out = Vec::new();
        for (i, level) in levels.iter().enumerate() {
            if let Some(o) = &level.others {
                self.unsupported(o.span, "top-nested 'with others'");
                return None;
            }
            let (s, t) = self.scalar(&level.of.expr, &input)?;
            exprs.push(s);
            fields.push(Field::new(format!("__tn_k{i}"), t));
            let key_name = level
                .of
                .names
                .first()
                .map(|n| n.name.clone())
                .or_else(|| names::derived_name(&level.of.expr))
                .unwrap_or_else(|| format!("Column{}", i + 1));
            let agg_name = level
                .by
                .names
                .first()
                .map_or_else(|| format!("aggregated_{key_name}"), |n| n.name.clone());
            names_out.push((key_name, agg_name));
        }
        let base = Rel {
            node: Node::Project {
                input: Box::new(input.clone()),
                exprs,
            },
            fields,
        };
        let mut result: Option<Rel> = None;
        for (i, level) in levels.iter().enumerate() {
            let keys: Vec<String> = (0..=i).map(|k| format!("__tn_k{k}")).collect();
            let outs = self.aggregate_outputs(&level.by.expr, &input)?;
            let [(_, agg, agg_ty)]: [(String, Scalar, Type); 1] = match outs.try_into() {
                Ok(one) => one,
                Err(_) => {
                    self.error(
                        DiagKind::Type,
                        level.by.expr.span,
                        "top-nested ranks by one aggregation with one result column",
                    );
                    return None;
                }
            };
            let agg_col = format!("__tn_a{i}");
            let mut agg_fields: Vec<Field> = keys
                .iter()
                .map(|k| {
                    base.field(k)
                        .cloned()
                        .unwrap_or_else(|| Field::new(k.clone(), Type::Null))
                })
                .collect();
            agg_fields.push(Field::new(agg_col.clone(), agg_ty));
            let aggregated = Rel {
                node: Node::Aggregate {
                    input: Box::new(base.clone()),
                    keys: keys.iter().map(|k| Scalar::col(k)).collect(),
                    aggs: vec![agg],
                },
                fields: agg_fields.clone(),
            };
            // Rank within the parent values; keep the first N.
            let kept = match &level.count {
                None => aggregated,
                Some(n) => {
                    let n = self.count_arg(n)?;
                    let rank = format!("__tn_r{i}");
                    let mut wfields = agg_fields.clone();
                    wfields.push(Field::new(rank.clone(), Type::Long));
                    let ranked = Rel {
                        node: Node::Window {
                            input: Box::new(aggregated),
                            funcs: vec![WindowFunc {
                                func: WindowKind::RowNumber,
                                partition: keys[..i].iter().map(|k| Scalar::col(k)).collect(),
                                order: vec![SortKey {
                                    expr: Scalar::col(&agg_col),
                                    descending: level.descending,
                                    nulls_first: !level.descending,
                                }],
                            }],
                        },
                        fields: wfields.clone(),
                    };
                    let filtered = Rel {
                        node: Node::Filter {
                            input: Box::new(ranked),
                            predicate: Scalar::bin(
                                BinOp::Le,
                                Scalar::col(&rank),
                                Scalar::long(n as i64),
                            ),
                        },
                        fields: wfields,
                    };
                    let names: Vec<String> = agg_fields.iter().map(|f| f.name.clone()).collect();
                    filtered.select(&names)
                }
            };
            result = Some(match result {
                None => kept,
                Some(parents) => {
                    // Children of the kept parents only: join on the parents' columns.
                    let parent_keys: Vec<String> = (0..i).map(|k| format!("__tn_k{k}")).collect();
                    let mut joined_fields = parents.fields.clone();
                    let child_cols: Vec<String> = vec![format!("__tn_k{i}"), agg_col.clone()];
                    for f in &kept.fields {
                        let name = if child_cols.contains(&f.name) {
                            f.name.clone()
                        } else {
                            format!("{}__child", f.name)
                        };
                        joined_fields.push(Field::new(name, f.ty));
                    }
                    let joined = Rel {
                        node: Node::Join {
                            left: Box::new(parents),
                            right: Box::new(kept),
                            kind: JoinKind::Inner,
                            on: parent_keys
                                .iter()
                                .map(|k| (Scalar::col(k), Scalar::col(k)))
                                .collect(),
                        },
                        fields: joined_fields.clone(),
                    };
                    let names: Vec<String> = joined_fields
                        .iter()
                        .filter(|f| !f.name.ends_with("__child"))
                        .map(|f| f.name.clone())
                        .collect();
                    joined.select(&names)
                }
            });
        }
        let result = result?;
        // Output: each level's value and aggregation, named as KQL does.
        let mut exprs = Vec::new();
        let mut fields: Vec<Field> = Vec::new();
        for (i, (key_name, agg_name)) in names_out.iter().enumerate() {
            for (col, name) in [
                (format!("__tn_k{i}"), key_name),
                (format!("__tn_a{i}"), agg_name),
            ] {
                let ty = result.field(&col).map_or(Type::Null, |f| f.ty);
                let mut name = name.clone();
                while fields.iter().any(|f| f.name == name) {
                    name.push('1');
                }
                exprs.push(Scalar::col(&col));
                fields.push(Field::new(name, ty));
            }
        }
        Some(Rel {
            node: Node::Project {
                input: Box::new(result),
                exprs,
            },
            fields,
        })
    }
}
