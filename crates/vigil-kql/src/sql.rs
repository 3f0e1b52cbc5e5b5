//! SQL emitters for the plan. `Dialect::DataFusion` is the embedded store's; every `kql_*`
//! function is provided by `vigil-store`.
//!
//! Each relation becomes one `SELECT` over its input as a derived table; DataFusion's
//! optimizer flattens the nesting, pushes filters down to the scans (so `Timestamp` bounds
//! still prune partitions) and drops unused columns.

use std::fmt::Write;

use crate::plan::{Expansion, JoinKind, Lit, Node, Rel, Scalar, SortKey, WindowFunc, WindowKind};
use crate::types::Type;

/// The SQL dialects Vigil emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    DataFusion,
}

/// The SQL text of `rel`.
pub fn emit(rel: &Rel, dialect: Dialect) -> String {
    // One dialect so far: the ClickHouse one comes with the scale-out backend.
    match dialect {
        Dialect::DataFusion => {}
    }
    let mut e = Emitter {
        next_alias: 0,
        qualifier: None,
    };
    e.rel(rel)
}

struct Emitter {
    next_alias: usize,
    /// Prefix for column references (join conditions).
    qualifier: Option<&'static str>,
}

/// `"name"` with embedded quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn string_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

const TS_TYPE: &str = "'Timestamp(Nanosecond, Some(\"UTC\"))'";

fn sql_type(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "BOOLEAN",
        Type::Int => "INT",
        Type::Long | Type::Timespan => "BIGINT",
        Type::Real => "DOUBLE",
        Type::String | Type::Dynamic | Type::Guid | Type::Null => "VARCHAR",
        Type::DateTime => "TIMESTAMP",
    }
}

impl Emitter {
    fn alias(&mut self) -> String {
        self.next_alias += 1;
        format!("t{}", self.next_alias)
    }

    fn from(&mut self, input: &Rel) -> String {
        let inner = self.rel(input);
        let alias = self.alias();
        format!("({inner}) AS {alias}")
    }

    fn select_list(&mut self, rel: &Rel, exprs: &[Scalar]) -> String {
        let mut out = String::new();
        for (i, (field, expr)) in rel.fields.iter().zip(exprs).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let e = self.scalar(expr);
            let _ = write!(out, "{e} AS {}", ident(&field.name));
        }
        out
    }

    fn star(rel: &Rel) -> String {
        if rel.fields.is_empty() {
            return "*".to_string();
        }
        rel.fields
            .iter()
            .map(|f| ident(&f.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn rel(&mut self, rel: &Rel) -> String {
        match &rel.node {
            Node::Scan { table } => {
                let cols: Vec<String> = rel
                    .fields
                    .iter()
                    .map(|f| match f.ty {
                        // KQL strings are never null.
                        Type::String => format!("kql_str({0}) AS {0}", ident(&f.name)),
                        _ => ident(&f.name),
                    })
                    .collect();
                format!("SELECT {} FROM {}", cols.join(", "), ident(table))
            }
            Node::Values { rows } => {
                if rows.is_empty() {
                    let cols: Vec<String> = rel
                        .fields
                        .iter()
                        .map(|f| {
                            format!(
                                "{} AS {}",
                                self.scalar(&Scalar::Lit(Lit::Null(f.ty))),
                                ident(&f.name)
                            )
                        })
                        .collect();
                    return format!("SELECT {} WHERE false", cols.join(", "));
                }
                let selects: Vec<String> = rows
                    .iter()
                    .map(|row| format!("SELECT {}", self.select_list(rel, row)))
                    .collect();
                selects.join(" UNION ALL ")
            }
            Node::Range { from, to, step } => {
                let name = ident(&rel.fields[0].name);
                let f = self.scalar(from);
                let t = self.scalar(to);
                let s = self.scalar(step);
                let inner = match rel.fields[0].ty {
                    Type::DateTime => format!(
                        "SELECT arrow_cast(unnest(kql_range_list(arrow_cast({f}, 'Int64'), arrow_cast({t}, 'Int64'), {s})), {TS_TYPE}) AS {name}"
                    ),
                    _ => format!("SELECT unnest(kql_range_list({f}, {t}, {s})) AS {name}"),
                };
                inner
            }
            Node::Filter { input, predicate } => {
                let from = self.from(input);
                let p = self.scalar(predicate);
                format!("SELECT {} FROM {from} WHERE {p}", Self::star(rel))
            }
            Node::Project { input, exprs } => {
                let from = self.from(input);
                let list = self.select_list(rel, exprs);
                format!("SELECT {list} FROM {from}")
            }
            Node::Aggregate { input, keys, aggs } => {
                let from = self.from(input);
                let all: Vec<Scalar> = keys.iter().chain(aggs).cloned().collect();
                let list = self.select_list(rel, &all);
                if keys.is_empty() {
                    return format!("SELECT {list} FROM {from}");
                }
                let group: Vec<String> = keys.iter().map(|k| self.scalar(k)).collect();
                format!("SELECT {list} FROM {from} GROUP BY {}", group.join(", "))
            }
            Node::Distinct { input } => {
                let from = self.from(input);
                format!("SELECT DISTINCT {} FROM {from}", Self::star(rel))
            }
            Node::Sort { input, keys } => {
                let from = self.from(input);
                let order = self.order_by(keys);
                format!("SELECT {} FROM {from} ORDER BY {order}", Self::star(rel))
            }
            Node::Limit { input, count } => {
                // A limit keeps the first rows of its input's order: a sort right below, or
                // the hidden row order of an earlier sort (see `order.rs`).
                if let Node::Sort {
                    input: sorted,
                    keys,
                } = &input.node
                {
                    let from = self.from(sorted);
                    let order = self.order_by(keys);
                    return format!(
                        "SELECT {} FROM {from} ORDER BY {order} LIMIT {count}",
                        Self::star(rel)
                    );
                }
                let from = self.from(input);
                if input.field(crate::order::ORD).is_some() {
                    return format!(
                        "SELECT {} FROM {from} ORDER BY {} LIMIT {count}",
                        Self::star(rel),
                        ident(crate::order::ORD)
                    );
                }
                format!("SELECT {} FROM {from} LIMIT {count}", Self::star(rel))
            }
            Node::Join {
                left,
                right,
                kind,
                on,
            } => self.join(rel, left, right, *kind, on),
            Node::Union { inputs } => {
                let parts: Vec<String> = inputs
                    .iter()
                    .map(|input| {
                        let cols: Vec<String> = rel
                            .fields
                            .iter()
                            .map(|f| match input.field(&f.name) {
                                Some(have) if have.ty == f.ty => ident(&f.name),
                                Some(_) => format!(
                                    "{} AS {}",
                                    self.scalar(&Scalar::Cast {
                                        expr: Box::new(Scalar::col(&f.name)),
                                        to: f.ty
                                    }),
                                    ident(&f.name)
                                ),
                                None => format!(
                                    "{} AS {}",
                                    self.scalar(&Scalar::Lit(Lit::Null(f.ty))),
                                    ident(&f.name)
                                ),
                            })
                            .collect();
                        let from = self.from(input);
                        format!("SELECT {} FROM {from}", cols.join(", "))
                    })
                    .collect();
                parts.join(" UNION ALL ")
            }
            Node::Expand {
                input,
                columns,
                index,
                limit,
            } => self.expand(rel, input, columns, index.as_deref(), *limit),
            Node::Window { input, funcs } => {
                let from = self.from(input);
                let mut list: Vec<String> = input.fields.iter().map(|f| ident(&f.name)).collect();
                for (func, field) in funcs.iter().zip(&rel.fields[input.fields.len()..]) {
                    let w = self.window(func);
                    list.push(format!("{w} AS {}", ident(&field.name)));
                }
                format!("SELECT {} FROM {from}", list.join(", "))
            }
        }
    }

    fn order_by(&mut self, keys: &[SortKey]) -> String {
        keys.iter()
            .map(|k| {
                format!(
                    "{} {} {}",
                    self.scalar(&k.expr),
                    if k.descending { "DESC" } else { "ASC" },
                    if k.nulls_first {
                        "NULLS FIRST"
                    } else {
                        "NULLS LAST"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn window(&mut self, func: &WindowFunc) -> String {
        let call = match &func.func {
            WindowKind::RowNumber => "row_number()".to_string(),
            WindowKind::Agg(call) => self.scalar(call),
            WindowKind::Lag {
                expr,
                offset,
                default,
            }
            | WindowKind::Lead {
                expr,
                offset,
                default,
            } => {
                let name = if matches!(func.func, WindowKind::Lag { .. }) {
                    "lag"
                } else {
                    "lead"
                };
                let e = self.scalar(expr);
                match default {
                    Some(d) => format!("{name}({e}, {offset}, {})", self.scalar(d)),
                    None => format!("{name}({e}, {offset})"),
                }
            }
        };
        let mut over = String::new();
        if !func.partition.is_empty() {
            let parts: Vec<String> = func.partition.iter().map(|p| self.scalar(p)).collect();
            let _ = write!(over, "PARTITION BY {}", parts.join(", "));
        }
        if !func.order.is_empty() {
            if !over.is_empty() {
                over.push(' ');
            }
            let order = self.order_by(&func.order);
            let _ = write!(over, "ORDER BY {order}");
        }
        format!("{call} OVER ({over})")
    }

    fn join(
        &mut self,
        rel: &Rel,
        left: &Rel,
        right: &Rel,
        kind: JoinKind,
        on: &[(Scalar, Scalar)],
    ) -> String {
        let l = self.rel(left);
        let r = self.rel(right);
        let mut cond = Vec::new();
        for (a, b) in on {
            self.qualifier = Some("l");
            let a = self.scalar(a);
            self.qualifier = Some("r");
            let b = self.scalar(b);
            self.qualifier = None;
            cond.push(format!("{a} = {b}"));
        }
        let cond = if cond.is_empty() {
            "true".to_string()
        } else {
            cond.join(" AND ")
        };
        let (keyword, sides): (&str, &[&Rel]) = match kind {
            JoinKind::Inner => ("INNER JOIN", &[left, right]),
            JoinKind::LeftOuter => ("LEFT OUTER JOIN", &[left, right]),
            JoinKind::RightOuter => ("RIGHT OUTER JOIN", &[left, right]),
            JoinKind::FullOuter => ("FULL OUTER JOIN", &[left, right]),
            JoinKind::LeftSemi => ("LEFT SEMI JOIN", &[left]),
            JoinKind::LeftAnti => ("LEFT ANTI JOIN", &[left]),
            JoinKind::RightSemi => ("RIGHT SEMI JOIN", &[right]),
            JoinKind::RightAnti => ("RIGHT ANTI JOIN", &[right]),
        };
        // Output columns in order: each side's fields map onto `rel.fields` positionally.
        let mut cols = Vec::new();
        let mut out = rel.fields.iter();
        for side in sides {
            let q = if std::ptr::eq(*side, left) { "l" } else { "r" };
            for f in &side.fields {
                if let Some(o) = out.next() {
                    cols.push(format!("{q}.{} AS {}", ident(&f.name), ident(&o.name)));
                }
            }
        }
        format!(
            "SELECT {} FROM ({l}) AS l {keyword} ({r}) AS r ON {cond}",
            cols.join(", ")
        )
    }

    fn expand(
        &mut self,
        rel: &Rel,
        input: &Rel,
        columns: &[Expansion],
        index: Option<&str>,
        limit: Option<u64>,
    ) -> String {
        let from = self.from(input);
        let alias = self.alias();
        let mut inner: Vec<String> = Vec::new();
        for f in &input.fields {
            match columns.iter().find(|c| c.column == f.name) {
                Some(c) => {
                    let func = if c.pairs {
                        "kql_json_elements_kv"
                    } else {
                        "kql_json_elements"
                    };
                    inner.push(format!("unnest({func}({0})) AS {0}", ident(&f.name)));
                }
                None => inner.push(ident(&f.name)),
            }
        }
        if let Some(ix) = index {
            let first = ident(&columns[0].column);
            inner.push(format!(
                "unnest(range(0, cardinality(kql_json_elements({first})))) AS {}",
                ident(ix)
            ));
        }
        let outer: Vec<String> = rel.fields.iter().map(|f| ident(&f.name)).collect();
        let mut sql = format!(
            "SELECT {} FROM (SELECT {} FROM {from}) AS {alias}",
            outer.join(", "),
            inner.join(", ")
        );
        if let (Some(n), Some(ix)) = (limit, index) {
            let _ = write!(sql, " WHERE {} < {n}", ident(ix));
        }
        sql
    }

    fn scalar(&mut self, s: &Scalar) -> String {
        match s {
            Scalar::Column(name) => match self.qualifier {
                Some(q) => format!("{q}.{}", ident(name)),
                None => ident(name),
            },
            Scalar::Lit(lit) => literal(lit),
            Scalar::Call {
                func,
                args,
                distinct,
                filter,
            } => {
                let args: Vec<String> = args.iter().map(|a| self.scalar(a)).collect();
                let mut out = format!(
                    "{func}({}{})",
                    if *distinct { "DISTINCT " } else { "" },
                    args.join(", ")
                );
                if let Some(f) = filter {
                    let f = self.scalar(f);
                    let _ = write!(out, " FILTER (WHERE {f})");
                }
                out
            }
            Scalar::Bin { op, lhs, rhs } => {
                let l = self.scalar(lhs);
                let r = self.scalar(rhs);
                format!("({l} {} {r})", op.sql())
            }
            Scalar::Not(e) => format!("(NOT {})", self.scalar(e)),
            Scalar::Neg(e) => format!("(- {})", self.scalar(e)),
            Scalar::IsNull(e) => format!("({} IS NULL)", self.scalar(e)),
            Scalar::Case { whens, otherwise } => {
                let mut out = String::from("CASE");
                for (w, t) in whens {
                    let w = self.scalar(w);
                    let t = self.scalar(t);
                    let _ = write!(out, " WHEN {w} THEN {t}");
                }
                let o = self.scalar(otherwise);
                let _ = write!(out, " ELSE {o} END");
                out
            }
            Scalar::Cast { expr, to } => {
                let e = self.scalar(expr);
                match to {
                    Type::DateTime => format!("arrow_cast({e}, {TS_TYPE})"),
                    _ => format!("CAST({e} AS {})", sql_type(*to)),
                }
            }
            Scalar::TsToNanos(e) => format!("arrow_cast({}, 'Int64')", self.scalar(e)),
            Scalar::NanosToTs(e) => format!("arrow_cast({}, {TS_TYPE})", self.scalar(e)),
            Scalar::InList {
                expr,
                list,
                negated,
            } => {
                let e = self.scalar(expr);
                let items: Vec<String> = list.iter().map(|i| self.scalar(i)).collect();
                format!(
                    "({e} {}IN ({}))",
                    if *negated { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            Scalar::InRel { expr, rel, negated } => {
                let e = self.scalar(expr);
                let saved = self.qualifier.take();
                let sub = self.rel(rel);
                self.qualifier = saved;
                format!("({e} {}IN ({sub}))", if *negated { "NOT " } else { "" })
            }
            Scalar::Subquery(rel) => {
                let saved = self.qualifier.take();
                let sub = self.rel(rel);
                self.qualifier = saved;
                format!("({sub})")
            }
        }
    }
}

fn literal(lit: &Lit) -> String {
    match lit {
        Lit::Null(ty) => match ty {
            Type::DateTime => format!("arrow_cast(NULL, {TS_TYPE})"),
            _ => format!("CAST(NULL AS {})", sql_type(*ty)),
        },
        Lit::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Lit::Int(v) => format!("CAST({v} AS INT)"),
        // A bare integer is Int64 in DataFusion; -9223372036854775808 does not parse as one.
        Lit::Long(v) if *v == i64::MIN => format!("CAST({v} AS BIGINT)"),
        Lit::Long(v) => v.to_string(),
        Lit::Real(v) => {
            if v.is_finite() {
                format!("CAST({v:?} AS DOUBLE)")
            } else {
                let text = if v.is_nan() {
                    "NaN"
                } else if *v > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                };
                format!("CAST('{text}' AS DOUBLE)")
            }
        }
        Lit::String(s) | Lit::Dynamic(s) => string_lit(s),
        Lit::DateTime(ns) => format!("arrow_cast(CAST({ns} AS BIGINT), {TS_TYPE})"),
        Lit::Timespan(ns) => literal(&Lit::Long(*ns)),
    }
}
