//! `make-series Agg [default=d] on Axis from A to B step S by Keys`: per group, one array per
//! aggregation with a value for every bin of `[A, B)`, and the array of bin starts.
//!
//! The rows of `[A, B)` are aggregated by the keys and the bin index; a second aggregation
//! collects `{"i": index, "v": value}` points per group, which `kql_series_fill` turns into
//! the dense array (the default where a bin had no rows). The bounds and step must be
//! constants (after `ago()`/`now()` are fixed), so that the bins are known when compiling.

use crate::ast::{Expr, MakeSeriesAgg, NamedExpr};
use crate::plan::{BinOp, Field, Lit, Node, Rel, Scalar};
use crate::span::{DiagKind, Span};
use crate::types::Type;

use super::names;
use super::Checker;

/// The most bins a series may have (as `kql_series_fill` allows).
const MAX_BINS: i64 = 100_000;

impl Checker<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn make_series(
        &mut self,
        input: Rel,
        aggregates: &[MakeSeriesAgg],
        axis: &Expr,
        from: Option<&Expr>,
        to: Option<&Expr>,
        step: &Expr,
        by: &[NamedExpr],
        span: Span,
    ) -> Option<Rel> {
        let (Some(from), Some(to)) = (from, to) else {
            self.unsupported(span, "make-series without both 'from' and 'to'");
            return None;
        };
        let empty = super::empty_rel();
        let (ax, ax_ty) = self.scalar(axis, &input)?;
        let (f, _) = self.scalar(from, &empty)?;
        let (t, _) = self.scalar(to, &empty)?;
        let (s, _) = self.scalar(step, &empty)?;
        // Bounds and step as integers of the axis's unit (nanoseconds for datetimes).
        let constant = |v: &Scalar| match v {
            Scalar::Lit(Lit::DateTime(n) | Lit::Timespan(n) | Lit::Long(n)) => Some(*n),
            Scalar::Lit(Lit::Int(n)) => Some(i64::from(*n)),
            _ => None,
        };
        let (Some(lo), Some(hi), Some(width)) = (constant(&f), constant(&t), constant(&s)) else {
            self.error(
                DiagKind::NotSupported,
                from.span.to(step.span),
                "make-series needs constant from, to and step",
            );
            return None;
        };
        if width <= 0 || hi <= lo {
            self.error(
                DiagKind::Type,
                step.span,
                "make-series needs from < to and a positive step",
            );
            return None;
        }
        let n = (hi - lo + width - 1) / width;
        if n > MAX_BINS {
            self.error(
                DiagKind::NotSupported,
                step.span,
                format!("make-series would make {n} bins (at most {MAX_BINS})"),
            );
            return None;
        }
        // Rows of [from, to): datetime bounds stay literals, so that partitions are pruned.
        let (lo_lit, hi_lit) = match ax_ty {
            Type::DateTime => (Lit::DateTime(lo), Lit::DateTime(hi)),
            _ => (Lit::Long(lo), Lit::Long(hi)),
        };
        let inside = Scalar::bin(
            BinOp::And,
            Scalar::bin(BinOp::Ge, ax.clone(), Scalar::Lit(lo_lit)),
            Scalar::bin(BinOp::Lt, ax.clone(), Scalar::Lit(hi_lit)),
        );
        // The axis as an integer: nanoseconds for datetimes, the number for longs.
        let axis_int = match ax_ty {
            Type::DateTime => Scalar::TsToNanos(Box::new(ax)),
            Type::Long | Type::Int => self.convert(ax, ax_ty, Type::Long, axis.span)?,
            other => {
                self.error(
                    DiagKind::Type,
                    axis.span,
                    format!("make-series needs a datetime or whole-number axis, not {other}"),
                );
                return None;
            }
        };
        let filtered = Rel {
            fields: input.fields.clone(),
            node: Node::Filter {
                input: Box::new(input.clone()),
                predicate: inside,
            },
        };
        let index = Scalar::bin(
            BinOp::Div,
            Scalar::bin(BinOp::Sub, axis_int, Scalar::long(lo)),
            Scalar::long(width),
        );
        // First aggregation: by the keys and the bin.
        let mut keys = Vec::new();
        let mut key_fields = Vec::new();
        for (i, b) in by.iter().enumerate() {
            let (k, kt) = self.scalar(&b.expr, &input)?;
            let name = b
                .names
                .first()
                .map(|x| x.name.clone())
                .or_else(|| names::derived_name(&b.expr))
                .unwrap_or_else(|| format!("Column{}", i + 1));
            keys.push(k);
            key_fields.push(Field::new(name, kt));
        }
        let mut first_keys = keys.clone();
        first_keys.push(index);
        let mut first_fields: Vec<Field> = key_fields
            .iter()
            .enumerate()
            .map(|(i, f)| Field::new(format!("__ms_k{i}"), f.ty))
            .collect();
        first_fields.push(Field::new("__ms_i", Type::Long));
        let mut first_aggs = Vec::new();
        let mut outs = Vec::new();
        for (j, a) in aggregates.iter().enumerate() {
            let results = self.aggregate_outputs(&a.expr, &input)?;
            let [(default_name, agg, agg_ty)]: [(String, Scalar, Type); 1] =
                match results.try_into() {
                    Ok(one) => one,
                    Err(_) => {
                        self.error(
                            DiagKind::Type,
                            a.expr.span,
                            "make-series takes aggregations with one result column",
                        );
                        return None;
                    }
                };
            let default = match &a.default {
                Some(d) => {
                    let (v, vt) = self.scalar(d, &empty)?;
                    match v {
                        Scalar::Lit(_) => self.to_dynamic(v, vt),
                        _ => {
                            self.error(
                                DiagKind::Type,
                                d.span,
                                "a make-series default is a constant",
                            );
                            return None;
                        }
                    }
                }
                None => Scalar::Lit(Lit::Dynamic("0".into())),
            };
            first_aggs.push(agg);
            first_fields.push(Field::new(format!("__ms_a{j}"), agg_ty));
            let name = a.name.as_ref().map_or(default_name, |x| x.name.clone());
            outs.push((name, agg_ty, default));
        }
        let first = Rel {
            node: Node::Aggregate {
                input: Box::new(filtered),
                keys: first_keys,
                aggs: first_aggs,
            },
            fields: first_fields,
        };
        // Second aggregation: the points of each group, filled into arrays.
        let mut fields = key_fields.clone();
        let mut aggs = Vec::new();
        for (j, (name, ty, default)) in outs.into_iter().enumerate() {
            let value = self.to_dynamic(Scalar::col(&format!("__ms_a{j}")), ty);
            let point = Scalar::call(
                "kql_bag_pack",
                vec![
                    Scalar::string("i"),
                    Scalar::call("kql_to_json", vec![Scalar::col("__ms_i")]),
                    Scalar::string("v"),
                    value,
                ],
            );
            let points = Scalar::call("kql_make_list", vec![point]);
            aggs.push(Scalar::call(
                "kql_series_fill",
                vec![points, Scalar::long(n), default],
            ));
            fields.push(Field::new(name, Type::Dynamic));
        }
        // The bin starts, known now.
        let starts: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                let v = lo + i * width;
                match ax_ty {
                    Type::DateTime => {
                        serde_json::Value::String(vigil_schema::Timestamp(v).to_string())
                    }
                    _ => serde_json::Value::from(v),
                }
            })
            .collect();
        aggs.push(Scalar::Lit(Lit::Dynamic(
            serde_json::Value::Array(starts).to_string(),
        )));
        let axis_name = names::derived_name(axis).unwrap_or_else(|| "Column1".into());
        fields.push(Field::new(axis_name, Type::Dynamic));
        let second_keys = (0..key_fields.len())
            .map(|i| Scalar::col(&format!("__ms_k{i}")))
            .collect();
        Some(Rel {
            node: Node::Aggregate {
                input: Box::new(first),
                keys: second_keys,
                aggs,
            },
            fields,
        })
    }
}
