//! The backend-neutral relational plan a checked query lowers to.
//!
//! Every relation knows its output columns (name and KQL type). Scalar expressions refer to
//! the columns of their input by name. Functions are named by Vigil's canonical function ids
//! (`Func`): SQL-standard ones (`lower`, `coalesce`, ...) and the `kql_*` functions the
//! backends provide; an emitter maps each to its dialect.

use crate::types::Type;

/// One output column.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
}

impl Field {
    pub fn new(name: impl Into<String>, ty: Type) -> Field {
        Field {
            name: name.into(),
            ty,
        }
    }
}

/// A relation and its output columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Rel {
    pub node: Node,
    pub fields: Vec<Field>,
}

impl Rel {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// This relation's columns named in `names`, in that order (unknown names are skipped).
    pub fn select(self, names: &[String]) -> Rel {
        let fields: Vec<Field> = names
            .iter()
            .filter_map(|n| self.field(n).cloned())
            .collect();
        Rel {
            node: Node::Project {
                exprs: fields.iter().map(|f| Scalar::col(&f.name)).collect(),
                input: Box::new(self),
            },
            fields,
        }
    }

    /// The stored tables this relation reads (in order of first use), and whether it joins
    /// or unions relations anywhere (subqueries included).
    pub fn sources(&self) -> (Vec<String>, bool) {
        let mut tables = Vec::new();
        let mut joins = false;
        self.walk(&mut |r| match &r.node {
            Node::Scan { table } if !tables.contains(table) => tables.push(table.clone()),
            Node::Join { .. } | Node::Union { .. } => joins = true,
            _ => {}
        });
        (tables, joins)
    }

    /// Visit this relation and every relation under it, subqueries in expressions included.
    pub fn walk(&self, f: &mut dyn FnMut(&Rel)) {
        f(self);
        let mut inputs: Vec<&Rel> = Vec::new();
        let mut scalars: Vec<&Scalar> = Vec::new();
        match &self.node {
            Node::Scan { .. } => {}
            Node::Values { rows } => scalars.extend(rows.iter().flatten()),
            Node::Range { from, to, step } => scalars.extend([from, to, step]),
            Node::Filter { input, predicate } => {
                inputs.push(input);
                scalars.push(predicate);
            }
            Node::Project { input, exprs } => {
                inputs.push(input);
                scalars.extend(exprs);
            }
            Node::Aggregate { input, keys, aggs } => {
                inputs.push(input);
                scalars.extend(keys.iter().chain(aggs));
            }
            Node::Distinct { input } | Node::Limit { input, .. } | Node::Expand { input, .. } => {
                inputs.push(input)
            }
            Node::Sort { input, keys } => {
                inputs.push(input);
                scalars.extend(keys.iter().map(|k| &k.expr));
            }
            Node::Join {
                left, right, on, ..
            } => {
                inputs.push(left);
                inputs.push(right);
                for (l, r) in on {
                    scalars.push(l);
                    scalars.push(r);
                }
            }
            Node::Union { inputs: all } => inputs.extend(all),
            Node::Window { input, funcs } => {
                inputs.push(input);
                for w in funcs {
                    scalars.extend(&w.partition);
                    scalars.extend(w.order.iter().map(|k| &k.expr));
                    match &w.func {
                        WindowKind::Lag { expr, default, .. }
                        | WindowKind::Lead { expr, default, .. } => {
                            scalars.push(expr);
                            scalars.extend(default.iter());
                        }
                        WindowKind::Agg(c) => scalars.push(c),
                        WindowKind::RowNumber => {}
                    }
                }
            }
        }
        for s in scalars {
            s.walk_rels(f);
        }
        for i in inputs {
            i.walk(f);
        }
    }
}

impl Scalar {
    /// This expression with each subquery relation replaced by `f(rel, in_list)`, where
    /// `in_list` tells an `x in (subquery)` list from a scalar subquery.
    pub fn map_subqueries(self, f: &mut dyn FnMut(Rel, bool) -> Rel) -> Scalar {
        fn bx(e: Scalar, f: &mut dyn FnMut(Rel, bool) -> Rel) -> Box<Scalar> {
            Box::new(e.map_subqueries(f))
        }
        match self {
            Scalar::Subquery(r) => Scalar::Subquery(Box::new(f(*r, false))),
            Scalar::InRel { expr, rel, negated } => {
                let expr = Box::new(expr.map_subqueries(f));
                Scalar::InRel {
                    expr,
                    rel: Box::new(f(*rel, true)),
                    negated,
                }
            }
            Scalar::Call {
                func,
                args,
                distinct,
                filter,
            } => Scalar::Call {
                func,
                args: args.into_iter().map(|a| a.map_subqueries(f)).collect(),
                distinct,
                filter: filter.map(|x| Box::new(x.map_subqueries(f))),
            },
            Scalar::Bin { op, lhs, rhs } => {
                let lhs = bx(*lhs, f);
                Scalar::Bin {
                    op,
                    lhs,
                    rhs: bx(*rhs, f),
                }
            }
            Scalar::Not(e) => Scalar::Not(bx(*e, f)),
            Scalar::Neg(e) => Scalar::Neg(bx(*e, f)),
            Scalar::IsNull(e) => Scalar::IsNull(bx(*e, f)),
            Scalar::TsToNanos(e) => Scalar::TsToNanos(bx(*e, f)),
            Scalar::NanosToTs(e) => Scalar::NanosToTs(bx(*e, f)),
            Scalar::Cast { expr, to } => Scalar::Cast {
                expr: bx(*expr, f),
                to,
            },
            Scalar::Case { whens, otherwise } => {
                let whens = whens
                    .into_iter()
                    .map(|(w, t)| (w.map_subqueries(f), t.map_subqueries(f)))
                    .collect();
                Scalar::Case {
                    whens,
                    otherwise: bx(*otherwise, f),
                }
            }
            Scalar::InList {
                expr,
                list,
                negated,
            } => {
                let expr = bx(*expr, f);
                Scalar::InList {
                    expr,
                    list: list.into_iter().map(|i| i.map_subqueries(f)).collect(),
                    negated,
                }
            }
            s @ (Scalar::Column(_) | Scalar::Lit(_)) => s,
        }
    }

    /// Call `f` on each direct sub-expression (not those inside subquery relations).
    pub fn for_each_child(&self, f: &mut dyn FnMut(&Scalar)) {
        match self {
            Scalar::Column(_) | Scalar::Lit(_) | Scalar::Subquery(_) => {}
            Scalar::InRel { expr, .. } => f(expr),
            Scalar::Call { args, filter, .. } => {
                args.iter().for_each(&mut *f);
                if let Some(x) = filter {
                    f(x);
                }
            }
            Scalar::Bin { lhs, rhs, .. } => {
                f(lhs);
                f(rhs);
            }
            Scalar::Not(e)
            | Scalar::Neg(e)
            | Scalar::IsNull(e)
            | Scalar::TsToNanos(e)
            | Scalar::NanosToTs(e) => f(e),
            Scalar::Cast { expr, .. } => f(expr),
            Scalar::Case { whens, otherwise } => {
                for (w, t) in whens {
                    f(w);
                    f(t);
                }
                f(otherwise);
            }
            Scalar::InList { expr, list, .. } => {
                f(expr);
                list.iter().for_each(&mut *f);
            }
        }
    }

    /// Visit the relations of this expression's subqueries.
    pub fn walk_rels(&self, f: &mut dyn FnMut(&Rel)) {
        match self {
            Scalar::Subquery(r) => r.walk(f),
            Scalar::InRel { rel, .. } => rel.walk(f),
            _ => {}
        }
        self.for_each_child(&mut |c| c.walk_rels(f));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftSemi,
    RightSemi,
    LeftAnti,
    RightAnti,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Scalar,
    pub descending: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A stored table; `fields` are its columns.
    Scan {
        table: String,
    },
    /// Literal rows (`datatable`, `print`); each row has one scalar per field.
    Values {
        rows: Vec<Vec<Scalar>>,
    },
    /// `range`: one column from `from` to `to` (inclusive) by `step`.
    Range {
        from: Scalar,
        to: Scalar,
        step: Scalar,
    },
    Filter {
        input: Box<Rel>,
        predicate: Scalar,
    },
    /// One expression per output field, in order.
    Project {
        input: Box<Rel>,
        exprs: Vec<Scalar>,
    },
    /// Output: the keys, then the aggregates, in order of `fields`.
    Aggregate {
        input: Box<Rel>,
        keys: Vec<Scalar>,
        aggs: Vec<Scalar>,
    },
    Distinct {
        input: Box<Rel>,
    },
    Sort {
        input: Box<Rel>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Rel>,
        count: u64,
    },
    /// `on` pairs: an expression over the left input and one over the right. The output is
    /// the left columns then the right ones (renamed where `fields` says so), or one side
    /// only for semi and anti joins.
    Join {
        left: Box<Rel>,
        right: Box<Rel>,
        kind: JoinKind,
        on: Vec<(Scalar, Scalar)>,
    },
    /// Columns matched by name; a column missing in an input is null there.
    Union {
        inputs: Vec<Rel>,
    },
    /// `mv-expand`: the input's columns, with each expanded column (dynamic) replaced by the
    /// elements of its value (one row per element, columns expanded side by side). `index` names an extra column holding the
    /// element's position.
    Expand {
        input: Box<Rel>,
        columns: Vec<Expansion>,
        index: Option<String>,
        limit: Option<u64>,
    },
    /// The input's columns, then one column per window function (in `fields` order).
    Window {
        input: Box<Rel>,
        funcs: Vec<WindowFunc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    pub column: String,
    /// Expand an object into `[key, value]` pairs instead of single-property objects.
    pub pairs: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WindowFunc {
    pub func: WindowKind,
    pub partition: Vec<Scalar>,
    pub order: Vec<SortKey>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WindowKind {
    RowNumber,
    /// `prev(expr, offset, default)` / `next(...)`.
    Lag {
        expr: Scalar,
        offset: i64,
        default: Option<Scalar>,
    },
    Lead {
        expr: Scalar,
        offset: i64,
        default: Option<Scalar>,
    },
    /// An aggregate call over the partition (up to the current row when ordered).
    Agg(Scalar),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null(Type),
    Bool(bool),
    Int(i32),
    Long(i64),
    Real(f64),
    String(String),
    /// Nanoseconds since the Unix epoch, UTC.
    DateTime(i64),
    /// Nanoseconds.
    Timespan(i64),
    /// Compact JSON text.
    Dynamic(String),
}

/// SQL's binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn sql(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Column(String),
    Lit(Lit),
    /// A function call by canonical name; `distinct` for `count(DISTINCT x)`-style aggregates,
    /// `filter` for conditional aggregates (`countif`).
    Call {
        func: String,
        args: Vec<Scalar>,
        distinct: bool,
        filter: Option<Box<Scalar>>,
    },
    Bin {
        op: BinOp,
        lhs: Box<Scalar>,
        rhs: Box<Scalar>,
    },
    Not(Box<Scalar>),
    Neg(Box<Scalar>),
    IsNull(Box<Scalar>),
    Case {
        whens: Vec<(Scalar, Scalar)>,
        otherwise: Box<Scalar>,
    },
    /// A conversion between representations (`long` → `real`, `datetime` ↔ nanoseconds, ...).
    Cast {
        expr: Box<Scalar>,
        to: Type,
    },
    /// Nanoseconds since the epoch of a datetime, and back.
    TsToNanos(Box<Scalar>),
    NanosToTs(Box<Scalar>),
    InList {
        expr: Box<Scalar>,
        list: Vec<Scalar>,
        negated: bool,
    },
    /// `expr in (subquery)`: the subquery has one column.
    InRel {
        expr: Box<Scalar>,
        rel: Box<Rel>,
        negated: bool,
    },
    /// The single value of a one-column relation (`toscalar`).
    Subquery(Box<Rel>),
}

impl Scalar {
    pub fn col(name: &str) -> Scalar {
        Scalar::Column(name.to_string())
    }

    pub fn call(func: &str, args: Vec<Scalar>) -> Scalar {
        Scalar::Call {
            func: func.to_string(),
            args,
            distinct: false,
            filter: None,
        }
    }

    pub fn bin(op: BinOp, lhs: Scalar, rhs: Scalar) -> Scalar {
        Scalar::Bin {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    pub fn string(s: &str) -> Scalar {
        Scalar::Lit(Lit::String(s.to_string()))
    }

    pub fn long(v: i64) -> Scalar {
        Scalar::Lit(Lit::Long(v))
    }

    pub fn negate(self) -> Scalar {
        Scalar::Not(Box::new(self))
    }

    /// The disjunction of `parts` as a balanced tree (SQL parsers limit nesting depth);
    /// `false` when there are none.
    pub fn any(mut parts: Vec<Scalar>) -> Scalar {
        match parts.len() {
            0 => Scalar::Lit(Lit::Bool(false)),
            1 => parts.pop().unwrap_or(Scalar::Lit(Lit::Bool(false))),
            n => {
                let right = parts.split_off(n / 2);
                Scalar::bin(BinOp::Or, Scalar::any(parts), Scalar::any(right))
            }
        }
    }
}
