//! `evaluate bag_unpack(...)` and `evaluate pivot(...)`: plugins whose output columns depend on
//! the data (the keys of the bags, the values of the pivot column).
//!
//! They compile in two phases. The first compilation finds no keys in the options, so it
//! records a *discovery*: a small query giving the distinct keys (at most
//! [`MAX_DISCOVERED`]), keyed by the operator's position in the text. The caller runs it and
//! compiles again with the keys in [`Options::discovered`](super::Options); now the plugin
//! lowers to ordinary columns.

use crate::ast::{Expr, ExprKind, Literal, OpParam};
use crate::plan::{BinOp, Expansion, Field, Lit, Node, Rel, Scalar};
use crate::span::{DiagKind, Span};
use crate::types::Type;

use super::operators::with_column;
use super::Checker;

/// Keys a plugin may turn into columns.
pub const MAX_DISCOVERED: usize = 1000;

impl Checker<'_> {
    pub(super) fn evaluate(
        &mut self,
        input: Rel,
        _params: &[OpParam],
        plugin: &crate::ast::Ident,
        args: &[Expr],
        span: Span,
    ) -> Option<Rel> {
        match plugin.name.as_str() {
            "bag_unpack" => self.bag_unpack(input, args, span),
            "pivot" => self.pivot(input, args, span),
            other => {
                self.unsupported(span, &format!("evaluate {other}"));
                None
            }
        }
    }

    /// The keys discovered for the operator at `span`, or a recorded discovery of them from
    /// `keys` (a relation whose one string column holds them).
    fn discovered(&mut self, span: Span, keys: Rel) -> Option<Vec<String>> {
        if let Some(found) = self.options.discovered.get(&span.start) {
            return Some(found.clone());
        }
        let distinct = Rel {
            fields: keys.fields.clone(),
            node: Node::Distinct {
                input: Box::new(keys),
            },
        };
        let limited = Rel {
            fields: distinct.fields.clone(),
            node: Node::Limit {
                input: Box::new(distinct),
                count: MAX_DISCOVERED as u64 + 1,
            },
        };
        self.discoveries.push((span.start, limited));
        None
    }

    fn bag_unpack(&mut self, input: Rel, args: &[Expr], span: Span) -> Option<Rel> {
        let Some(bag) = args.first() else {
            self.error(
                DiagKind::Type,
                span,
                "bag_unpack needs the dynamic column to unpack",
            );
            return None;
        };
        let ExprKind::Name(column) = &bag.kind else {
            self.error(
                DiagKind::Type,
                bag.span,
                "bag_unpack unpacks a column: name it",
            );
            return None;
        };
        let (col, ty) = self.scalar(bag, &input)?;
        if ty != Type::Dynamic {
            self.error(
                DiagKind::Type,
                bag.span,
                format!("bag_unpack needs a dynamic column, not a {ty}"),
            );
            return None;
        }
        let prefix = match args.get(1).map(|a| &a.kind) {
            Some(ExprKind::Literal(Literal::String(p))) => p.clone(),
            Some(_) => {
                self.error(
                    DiagKind::Type,
                    args[1].span,
                    "bag_unpack's prefix is a string",
                );
                return None;
            }
            None => String::new(),
        };
        // Discovery: the distinct keys of the bags.
        let keys_col = "__bag_keys";
        let with_keys = with_column(
            input.clone().select(std::slice::from_ref(column)),
            keys_col,
            Scalar::call("kql_bag_keys", vec![col.clone()]),
            Type::Dynamic,
        );
        let expanded = Rel {
            fields: vec![
                Field::new(column.clone(), Type::Dynamic),
                Field::new(keys_col, Type::Dynamic),
            ],
            node: Node::Expand {
                input: Box::new(with_keys),
                columns: vec![Expansion {
                    column: keys_col.into(),
                    pairs: false,
                }],
                index: None,
                limit: None,
            },
        };
        let key_rel = Rel {
            fields: vec![Field::new("key", Type::String)],
            node: Node::Project {
                exprs: vec![Scalar::call(
                    "kql_dyn_to_string",
                    vec![Scalar::col(keys_col)],
                )],
                input: Box::new(expanded),
            },
        };
        let keys = self.discovered(span, key_rel)?;
        self.too_many(&keys, span)?;
        // The input's other columns, then one dynamic column per key.
        let mut exprs = Vec::new();
        let mut fields: Vec<Field> = Vec::new();
        for f in input.fields.iter().filter(|f| &f.name != column) {
            exprs.push(Scalar::col(&f.name));
            fields.push(f.clone());
        }
        for k in keys.iter().filter(|k| !k.is_empty()) {
            let mut name = format!("{prefix}{k}");
            while fields.iter().any(|f| f.name == name) {
                name.push('1');
            }
            exprs.push(Scalar::call(
                "kql_dyn_get",
                vec![col.clone(), Scalar::string(k)],
            ));
            fields.push(Field::new(name, Type::Dynamic));
        }
        Some(Rel {
            node: Node::Project {
                input: Box::new(input),
                exprs,
            },
            fields,
        })
    }

    /// `pivot(Column [, Aggregation(x) [, Keys...]])`: one row per key combination, one column
    /// per value of `Column`, holding the aggregation over the rows with that value.
    fn pivot(&mut self, input: Rel, args: &[Expr], span: Span) -> Option<Rel> {
        let Some(pivot_col) = args.first() else {
            self.error(
                DiagKind::Type,
                span,
                "pivot needs the column whose values become columns",
            );
            return None;
        };
        let (value, vt) = self.scalar(pivot_col, &input)?;
        let value = self.to_string_value(value, vt);
        let key_rel = Rel {
            fields: vec![Field::new("key", Type::String)],
            node: Node::Project {
                exprs: vec![value.clone()],
                input: Box::new(input.clone()),
            },
        };
        let values = self.discovered(span, key_rel)?;
        self.too_many(&values, span)?;
        let agg_expr = args.get(1).cloned().unwrap_or_else(|| Expr {
            kind: ExprKind::Call {
                name: crate::ast::Ident {
                    name: "count".into(),
                    span,
                },
                args: vec![],
            },
            span,
        });
        let outs = self.aggregate_outputs(&agg_expr, &input)?;
        let [(_, agg, agg_ty)]: [(String, Scalar, Type); 1] = match outs.try_into() {
            Ok(one) => one,
            Err(_) => {
                self.error(
                    DiagKind::Type,
                    agg_expr.span,
                    "pivot takes an aggregation with one result column",
                );
                return None;
            }
        };
        let mut keys = Vec::new();
        let mut fields = Vec::new();
        for k in &args[2.min(args.len())..] {
            let (s, t) = self.scalar(k, &input)?;
            let Some(name) = super::names::derived_name(k) else {
                self.error(
                    DiagKind::Type,
                    k.span,
                    "pivot's grouping columns must be column names",
                );
                return None;
            };
            keys.push(s);
            fields.push(Field::new(name, t));
        }
        let mut aggs = Vec::new();
        for v in &values {
            let only = Scalar::bin(BinOp::Eq, value.clone(), Scalar::string(v));
            let filtered = match agg.clone() {
                Scalar::Call {
                    func,
                    args,
                    distinct,
                    filter,
                } => Scalar::Call {
                    func,
                    args,
                    distinct,
                    filter: Some(Box::new(match filter {
                        Some(f) => Scalar::bin(BinOp::And, *f, only),
                        None => only,
                    })),
                },
                _ => {
                    self.error(
                        DiagKind::Type,
                        agg_expr.span,
                        "pivot's aggregation must be one aggregation function",
                    );
                    return None;
                }
            };
            aggs.push(filtered);
            fields.push(Field::new(v.clone(), agg_ty));
        }
        if aggs.is_empty() && keys.is_empty() {
            // No value and no key: one empty row has nothing to show; SQL needs a column.
            aggs.push(Scalar::Lit(Lit::Null(Type::Long)));
            fields.push(Field::new("Column1", Type::Long));
        }
        Some(Rel {
            node: Node::Aggregate {
                input: Box::new(input),
                keys,
                aggs,
            },
            fields,
        })
    }

    fn too_many(&mut self, keys: &[String], span: Span) -> Option<()> {
        if keys.len() > MAX_DISCOVERED {
            self.error(
                DiagKind::NotSupported,
                span,
                format!(
                    "the data has more than {MAX_DISCOVERED} distinct keys to turn into columns"
                ),
            );
            return None;
        }
        Some(())
    }
}
