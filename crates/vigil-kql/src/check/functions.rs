//! KQL's scalar functions: argument checks, result types, and their lowering onto SQL
//! functions and the `kql_*` functions of the backends.

use crate::ast::{Expr, Ident};
use crate::plan::{BinOp, Lit, Rel, Scalar};
use crate::span::{DiagKind, Span};
use crate::types::Type;

use super::names;
use super::Checker;

/// Every scalar function name this module knows (for "did you mean").
const KNOWN: &[&str] = &[
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "todecimal",
    "tobool",
    "toboolean",
    "todatetime",
    "totimespan",
    "todynamic",
    "parse_json",
    "toguid",
    "toupper",
    "tolower",
    "strlen",
    "strcat",
    "strcat_delim",
    "substring",
    "split",
    "extract",
    "extract_all",
    "replace_string",
    "replace",
    "replace_regex",
    "trim",
    "trim_start",
    "trim_end",
    "indexof",
    "countof",
    "reverse",
    "strrep",
    "isempty",
    "isnotempty",
    "isnull",
    "isnotnull",
    "iff",
    "iif",
    "case",
    "coalesce",
    "now",
    "ago",
    "datetime_diff",
    "datetime_add",
    "datetime_part",
    "bin",
    "floor",
    "bin_at",
    "startofday",
    "startofweek",
    "startofmonth",
    "startofyear",
    "endofday",
    "endofweek",
    "endofmonth",
    "endofyear",
    "dayofweek",
    "dayofmonth",
    "dayofyear",
    "monthofyear",
    "getyear",
    "getmonth",
    "hourofday",
    "format_datetime",
    "format_timespan",
    "unixtime_seconds_todatetime",
    "unixtime_milliseconds_todatetime",
    "abs",
    "round",
    "ceiling",
    "sqrt",
    "log",
    "log10",
    "log2",
    "exp",
    "pow",
    "min_of",
    "max_of",
    "array_length",
    "pack_array",
    "pack",
    "bag_pack",
    "bag_keys",
    "bag_merge",
    "bag_has_key",
    "bag_remove_keys",
    "set_has_element",
    "array_concat",
    "array_slice",
    "array_index_of",
    "array_sort_asc",
    "array_sort_desc",
    "set_union",
    "set_intersect",
    "set_difference",
    "gettype",
    "base64_encode_tostring",
    "base64_encodestring",
    "base64_decode_tostring",
    "base64_decodestring",
    "url_decode",
    "url_encode",
    "parse_url",
    "parse_path",
    "parse_command_line",
    "ipv4_is_private",
    "ipv4_is_in_range",
    "ipv4_is_match",
    "ipv4_compare",
    "parse_ipv4",
    "hash_sha256",
    "hash_md5",
    "hash_sha1",
    "hash",
    "toscalar",
    "not",
    "rand",
    "isnan",
    "isfinite",
    "strcmp",
    "extractjson",
    "extract_json",
];

type Arg = (Scalar, Type, Span);

impl Checker<'_> {
    pub(super) fn call(
        &mut self,
        name: &Ident,
        args: &[Expr],
        input: &Rel,
        span: Span,
    ) -> Option<(Scalar, Type)> {
        let f = name.name.as_str();
        // Functions whose arguments are not ordinary scalars.
        match f {
            "toscalar" => return self.toscalar(args, input, span),
            "geo_info_from_ip_address" => {
                self.error(
                    DiagKind::NotSupported,
                    span,
                    "geo_info_from_ip_address is not supported: Vigil has no local geolocation database",
                );
                return None;
            }
            "row_number" | "prev" | "next" => {
                self.error(
                    DiagKind::Type,
                    span,
                    format!("{f}() can only be used in extend (after sort, top or serialize)"),
                );
                return None;
            }
            _ => {}
        }
        if let Some(super::Binding::Function(func)) = self.lookup(f).cloned() {
            return self.scalar_function(&func, f, args, input, span);
        }
        let mut lowered: Vec<Arg> = Vec::new();
        let mut ok = true;
        for a in args {
            match self.scalar(a, input) {
                Some((s, t)) => lowered.push((s, t, a.span)),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        self.builtin(f, name.span, lowered, span)
    }

    fn toscalar(&mut self, args: &[Expr], input: &Rel, span: Span) -> Option<(Scalar, Type)> {
        let [one] = args else {
            self.error(DiagKind::Type, span, "toscalar() takes one argument");
            return None;
        };
        if !self.is_tabular(one) {
            return self.scalar(one, input);
        }
        let rel = self.tabular(one)?;
        let Some(first) = rel.fields.first().cloned() else {
            self.error(
                DiagKind::Type,
                span,
                "toscalar() of a table without columns",
            );
            return None;
        };
        let one_col = rel.select(std::slice::from_ref(&first.name));
        let limited = Rel {
            fields: one_col.fields.clone(),
            node: crate::plan::Node::Limit {
                input: Box::new(one_col),
                count: 1,
            },
        };
        Some((Scalar::Subquery(Box::new(limited)), first.ty))
    }

    /// A user function returning a scalar, inlined with its arguments.
    fn scalar_function(
        &mut self,
        func: &crate::ast::Function,
        name: &str,
        args: &[Expr],
        input: &Rel,
        span: Span,
    ) -> Option<(Scalar, Type)> {
        if args.len() > func.params.len() {
            self.error(
                DiagKind::Type,
                span,
                format!(
                    "'{name}' takes {} argument(s), not {}",
                    func.params.len(),
                    args.len()
                ),
            );
            return None;
        }
        let mut scope = std::collections::HashMap::new();
        for (i, p) in func.params.iter().enumerate() {
            let (s, t) = match (args.get(i), &p.default) {
                (Some(a), _) => self.scalar(a, input)?,
                (None, Some(d)) => self.scalar(d, input)?,
                (None, None) => {
                    self.error(
                        DiagKind::Type,
                        span,
                        format!("'{name}' needs a value for parameter '{}'", p.name.name),
                    );
                    return None;
                }
            };
            scope.insert(p.name.name.clone(), super::Binding::Scalar(s, t));
        }
        self.scopes.push(scope);
        let mut result = None;
        for st in &func.body {
            match st {
                crate::ast::Statement::Let(l) => self.let_statement(l),
                crate::ast::Statement::Expr(e) => result = self.scalar(e, input),
                _ => {}
            }
        }
        self.scopes.pop();
        result
    }

    fn arity(&mut self, f: &str, args: &[Arg], lo: usize, hi: usize, span: Span) -> Option<()> {
        if args.len() < lo || args.len() > hi {
            let want = match (lo, hi) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            self.error(
                DiagKind::Type,
                span,
                format!("{f}() takes {want} argument(s), not {}", args.len()),
            );
            return None;
        }
        Some(())
    }

    fn want(&mut self, f: &str, arg: &Arg, ty: Type) -> Option<Scalar> {
        let (s, t, span) = arg.clone();
        if t == ty || t.fits(ty) {
            return self.convert(s, t, ty, span);
        }
        self.error(
            DiagKind::Type,
            span,
            format!("{f}() expects a {ty} here, not a {t}"),
        );
        None
    }

    /// Any value read as a string (KQL converts implicitly for string functions).
    fn text(&self, arg: &Arg) -> Scalar {
        self.to_string_value(arg.0.clone(), arg.1)
    }

    fn builtin(
        &mut self,
        f: &str,
        name_span: Span,
        a: Vec<Arg>,
        span: Span,
    ) -> Option<(Scalar, Type)> {
        let call = |func: &str, args: Vec<Scalar>| Scalar::call(func, args);
        let s = |t: &str| Scalar::string(t);
        let r = match f {
            // Conversions.
            "tostring" => {
                self.arity(f, &a, 1, 1, span)?;
                (self.text(&a[0]), Type::String)
            }
            "tolong" | "toint" => {
                self.arity(f, &a, 1, 1, span)?;
                let ty = if f == "toint" { Type::Int } else { Type::Long };
                (self.number_of(&a[0], ty), ty)
            }
            "todouble" | "toreal" | "todecimal" => {
                self.arity(f, &a, 1, 1, span)?;
                (self.number_of(&a[0], Type::Real), Type::Real)
            }
            "tobool" | "toboolean" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, _) = a[0].clone();
                let e = match t {
                    Type::Bool => v,
                    t if t.is_numeric() => Scalar::bin(BinOp::NotEq, v, Scalar::long(0)),
                    Type::Dynamic => call("kql_dyn_to_bool", vec![v]),
                    _ => call(
                        "kql_dyn_to_bool",
                        vec![call("kql_to_json", vec![self.text(&a[0])])],
                    ),
                };
                (e, Type::Bool)
            }
            "todatetime" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, _) = a[0].clone();
                let e = match t {
                    Type::DateTime => v,
                    Type::Dynamic => call("kql_dyn_to_datetime", vec![v]),
                    Type::Null => Scalar::Lit(Lit::Null(Type::DateTime)),
                    _ => call("kql_todatetime", vec![self.text(&a[0])]),
                };
                (e, Type::DateTime)
            }
            "totimespan" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, _) = a[0].clone();
                let e = match t {
                    Type::Timespan => v,
                    Type::Dynamic => call("kql_dyn_to_timespan", vec![v]),
                    // A number is a count of 100 ns ticks.
                    Type::Long | Type::Int => Scalar::bin(
                        BinOp::Mul,
                        self.convert(v, t, Type::Long, span)?,
                        Scalar::long(100),
                    ),
                    _ => call("kql_totimespan", vec![self.text(&a[0])]),
                };
                (e, Type::Timespan)
            }
            "todynamic" | "parse_json" | "parsejson" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, _) = a[0].clone();
                let e = match t {
                    Type::String => call("kql_parse_json", vec![v]),
                    _ => self.to_dynamic(v, t),
                };
                (e, Type::Dynamic)
            }
            "toguid" => {
                self.arity(f, &a, 1, 1, span)?;
                (self.text(&a[0]), Type::Guid)
            }
            // Strings.
            "toupper" | "tolower" => {
                self.arity(f, &a, 1, 1, span)?;
                let func = if f == "toupper" { "upper" } else { "lower" };
                (call(func, vec![self.text(&a[0])]), Type::String)
            }
            "strlen" => {
                self.arity(f, &a, 1, 1, span)?;
                let len = call("character_length", vec![self.text(&a[0])]);
                (
                    Scalar::Cast {
                        expr: Box::new(len),
                        to: Type::Long,
                    },
                    Type::Long,
                )
            }
            "strcat" => {
                self.arity(f, &a, 1, 64, span)?;
                let parts = a.iter().map(|x| self.text(x)).collect();
                (call("concat", parts), Type::String)
            }
            "strcat_delim" => {
                self.arity(f, &a, 3, 64, span)?;
                let parts = a.iter().map(|x| self.text(x)).collect();
                (call("concat_ws", parts), Type::String)
            }
            "substring" => {
                self.arity(f, &a, 2, 3, span)?;
                let mut args = vec![self.text(&a[0])];
                for x in &a[1..] {
                    args.push(self.want(f, x, Type::Long)?);
                }
                (call("kql_substring", args), Type::String)
            }
            "split" => {
                self.arity(f, &a, 2, 3, span)?;
                let mut args = vec![self.text(&a[0]), self.text(&a[1])];
                if let Some(i) = a.get(2) {
                    args.push(self.want(f, i, Type::Long)?);
                }
                (call("kql_split", args), Type::Dynamic)
            }
            "extract" => {
                self.arity(f, &a, 3, 4, span)?;
                let re = self.want(f, &a[0], Type::String)?;
                let group = self.want(f, &a[1], Type::Long)?;
                let text = call("kql_extract", vec![re, group, self.text(&a[2])]);
                match a.get(3) {
                    Some((Scalar::Lit(Lit::Null(t)), _, _)) if *t != Type::String => {
                        let json = call("kql_to_json", vec![text.clone()]);
                        let converted = self.dynamic_as(json, *t);
                        (
                            Scalar::Case {
                                whens: vec![(
                                    Scalar::bin(BinOp::Eq, text, s("")),
                                    Scalar::Lit(Lit::Null(*t)),
                                )],
                                otherwise: Box::new(converted),
                            },
                            *t,
                        )
                    }
                    _ => (text, Type::String),
                }
            }
            "extract_all" | "extractall" => {
                self.arity(f, &a, 2, 3, span)?;
                let re = self.want(f, &a[0], Type::String)?;
                let text = self.text(a.last()?);
                (call("kql_extract_all", vec![re, text]), Type::Dynamic)
            }
            "replace_string" => {
                self.arity(f, &a, 3, 3, span)?;
                (
                    call(
                        "replace",
                        vec![self.text(&a[0]), self.text(&a[1]), self.text(&a[2])],
                    ),
                    Type::String,
                )
            }
            // The old `replace(regex, rewrite, text)` order.
            "replace" => {
                self.arity(f, &a, 3, 3, span)?;
                (
                    call(
                        "kql_replace_regex",
                        vec![self.text(&a[2]), self.text(&a[0]), self.text(&a[1])],
                    ),
                    Type::String,
                )
            }
            "replace_regex" => {
                self.arity(f, &a, 3, 3, span)?;
                (
                    call(
                        "kql_replace_regex",
                        vec![self.text(&a[0]), self.text(&a[1]), self.text(&a[2])],
                    ),
                    Type::String,
                )
            }
            "trim" | "trim_start" | "trim_end" => {
                self.arity(f, &a, 2, 2, span)?;
                (
                    call(
                        &format!("kql_{f}"),
                        vec![self.text(&a[0]), self.text(&a[1])],
                    ),
                    Type::String,
                )
            }
            "indexof" => {
                self.arity(f, &a, 2, 3, span)?;
                let (text, needle) = (self.text(&a[0]), self.text(&a[1]));
                match a.get(2) {
                    None => (call("kql_indexof", vec![text, needle]), Type::Long),
                    Some(start) => {
                        // Search from `start`: the position in the tail, shifted back.
                        let start = self.want(f, start, Type::Long)?;
                        let tail = call("kql_substring", vec![text, start.clone()]);
                        let at = call("kql_indexof", vec![tail, needle]);
                        (
                            Scalar::Case {
                                whens: vec![(
                                    Scalar::bin(BinOp::Lt, at.clone(), Scalar::long(0)),
                                    Scalar::long(-1),
                                )],
                                otherwise: Box::new(Scalar::bin(BinOp::Add, at, start)),
                            },
                            Type::Long,
                        )
                    }
                }
            }
            "countof" => {
                self.arity(f, &a, 2, 3, span)?;
                let (text, search) = (self.text(&a[0]), self.text(&a[1]));
                let regex = match a.get(2) {
                    Some((Scalar::Lit(Lit::String(k)), _, _)) if k == "regex" => true,
                    Some((Scalar::Lit(Lit::String(k)), _, _)) if k == "normal" => false,
                    Some((_, _, sp)) => {
                        self.error(
                            DiagKind::Type,
                            *sp,
                            "countof's kind is \"normal\" or \"regex\"",
                        );
                        return None;
                    }
                    None => false,
                };
                if regex {
                    let all = call("kql_extract_all", vec![search, text]);
                    (
                        call(
                            "coalesce",
                            vec![call("kql_array_length", vec![all]), Scalar::long(0)],
                        ),
                        Type::Long,
                    )
                } else {
                    (call("kql_countof", vec![text, search]), Type::Long)
                }
            }
            "extractjson" | "extract_json" => {
                self.arity(f, &a, 2, 3, span)?;
                let Scalar::Lit(Lit::String(path)) = &a[0].0 else {
                    self.error(
                        DiagKind::Type,
                        a[0].2,
                        format!("{f}() needs a constant JSONPath such as \"$.a.b[0]\""),
                    );
                    return None;
                };
                let Some(steps) = json_path(path) else {
                    self.error(DiagKind::Type, a[0].2, format!("'{path}' is not a JSONPath Vigil supports ($, .name, ['name'], [index])"));
                    return None;
                };
                let mut v = match a[1].1 {
                    Type::Dynamic => a[1].0.clone(),
                    _ => call("kql_parse_json", vec![self.text(&a[1])]),
                };
                for step in steps {
                    v = call("kql_dyn_get", vec![v, step]);
                }
                match a.get(2) {
                    Some((Scalar::Lit(Lit::Null(t)), _, _)) if *t != Type::Null => {
                        (self.dynamic_as(v, *t), *t)
                    }
                    _ => (self.dynamic_as(v, Type::String), Type::String),
                }
            }
            "reverse" => {
                self.arity(f, &a, 1, 1, span)?;
                (call("kql_reverse", vec![self.text(&a[0])]), Type::String)
            }
            "strrep" => {
                self.arity(f, &a, 2, 3, span)?;
                let mut args = vec![self.text(&a[0]), self.want(f, &a[1], Type::Long)?];
                if let Some(d) = a.get(2) {
                    args.push(self.text(d));
                }
                (call("kql_strrep", args), Type::String)
            }
            "strcmp" => {
                self.arity(f, &a, 2, 2, span)?;
                let (l, r) = (self.text(&a[0]), self.text(&a[1]));
                (
                    Scalar::Case {
                        whens: vec![
                            (
                                Scalar::bin(BinOp::Lt, l.clone(), r.clone()),
                                Scalar::long(-1),
                            ),
                            (Scalar::bin(BinOp::Gt, l, r), Scalar::long(1)),
                        ],
                        otherwise: Box::new(Scalar::long(0)),
                    },
                    Type::Long,
                )
            }
            // Emptiness and nulls.
            "isempty" | "isnotempty" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, _) = a[0].clone();
                let empty = match t {
                    Type::String | Type::Guid => {
                        Scalar::bin(BinOp::Eq, call("coalesce", vec![v, s("")]), s(""))
                    }
                    Type::Dynamic => Scalar::bin(
                        BinOp::Eq,
                        call("coalesce", vec![call("kql_dyn_to_string", vec![v]), s("")]),
                        s(""),
                    ),
                    _ => Scalar::IsNull(Box::new(v)),
                };
                (
                    if f == "isempty" {
                        empty
                    } else {
                        empty.negate()
                    },
                    Type::Bool,
                )
            }
            "isnull" | "isnotnull" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, _) = a[0].clone();
                // KQL strings are never null.
                let null = if t == Type::String {
                    Scalar::Lit(Lit::Bool(false))
                } else {
                    Scalar::IsNull(Box::new(v))
                };
                (if f == "isnull" { null } else { null.negate() }, Type::Bool)
            }
            "isnan" | "isfinite" => {
                self.arity(f, &a, 1, 1, span)?;
                let v = self.want(f, &a[0], Type::Real)?;
                let e = if f == "isnan" {
                    call("isnan", vec![v])
                } else {
                    Scalar::bin(
                        BinOp::And,
                        call("isnan", vec![v.clone()]).negate(),
                        Scalar::bin(
                            BinOp::Lt,
                            call("abs", vec![v]),
                            Scalar::Lit(Lit::Real(f64::INFINITY)),
                        ),
                    )
                };
                (e, Type::Bool)
            }
            "not" => {
                self.arity(f, &a, 1, 1, span)?;
                (self.want(f, &a[0], Type::Bool)?.negate(), Type::Bool)
            }
            // Conditionals.
            "iff" | "iif" => {
                self.arity(f, &a, 3, 3, span)?;
                let c = self.want(f, &a[0], Type::Bool)?;
                let (t, e, ty) = self.unify_branches(&a[1], &a[2], span)?;
                (
                    Scalar::Case {
                        whens: vec![(c, t)],
                        otherwise: Box::new(e),
                    },
                    ty,
                )
            }
            "case" => {
                if a.len() < 3 || a.len() % 2 == 0 {
                    self.error(
                        DiagKind::Type,
                        span,
                        "case() takes pairs of condition and value, then the value for 'else'",
                    );
                    return None;
                }
                let mut ty = a[a.len() - 1].1;
                for pair in a[..a.len() - 1].chunks(2) {
                    if ty == Type::Null {
                        ty = pair[1].1;
                    }
                }
                let mut whens = Vec::new();
                for pair in a[..a.len() - 1].chunks(2) {
                    let c = self.want(f, &pair[0], Type::Bool)?;
                    let v = self.convert(pair[1].0.clone(), pair[1].1, ty, pair[1].2)?;
                    whens.push((c, v));
                }
                let last = &a[a.len() - 1];
                let otherwise = self.convert(last.0.clone(), last.1, ty, last.2)?;
                (
                    Scalar::Case {
                        whens,
                        otherwise: Box::new(otherwise),
                    },
                    ty,
                )
            }
            "coalesce" => {
                self.arity(f, &a, 1, 64, span)?;
                let ty = a
                    .iter()
                    .map(|x| x.1)
                    .find(|t| *t != Type::Null)
                    .unwrap_or(Type::Null);
                let mut args = Vec::new();
                for x in &a {
                    args.push(self.convert(x.0.clone(), x.1, ty, x.2)?);
                }
                if ty == Type::String {
                    // KQL's coalesce skips empty strings too.
                    let last = args.pop().unwrap_or_else(|| s(""));
                    let whens = args
                        .into_iter()
                        .map(|v| {
                            (
                                Scalar::bin(
                                    BinOp::NotEq,
                                    call("coalesce", vec![v.clone(), s("")]),
                                    s(""),
                                ),
                                v,
                            )
                        })
                        .collect::<Vec<_>>();
                    if whens.is_empty() {
                        (last, ty)
                    } else {
                        (
                            Scalar::Case {
                                whens,
                                otherwise: Box::new(last),
                            },
                            ty,
                        )
                    }
                } else {
                    (call("coalesce", args), ty)
                }
            }
            // Time.
            "now" => {
                self.arity(f, &a, 0, 1, span)?;
                let now = Scalar::Lit(Lit::DateTime(self.options.now_ns));
                match a.first() {
                    Some(off) => {
                        let off = self.want(f, off, Type::Timespan)?;
                        (self.shift(now, off, BinOp::Add), Type::DateTime)
                    }
                    None => (now, Type::DateTime),
                }
            }
            "ago" => {
                self.arity(f, &a, 1, 1, span)?;
                let off = self.want(f, &a[0], Type::Timespan)?;
                let now = Scalar::Lit(Lit::DateTime(self.options.now_ns));
                (self.shift(now, off, BinOp::Sub), Type::DateTime)
            }
            "datetime_diff" => {
                self.arity(f, &a, 3, 3, span)?;
                let part = self.want(f, &a[0], Type::String)?;
                let x = self.want(f, &a[1], Type::DateTime)?;
                let y = self.want(f, &a[2], Type::DateTime)?;
                (call("kql_datetime_diff", vec![part, x, y]), Type::Long)
            }
            "datetime_add" => {
                self.arity(f, &a, 3, 3, span)?;
                let part = self.want(f, &a[0], Type::String)?;
                let n = self.want(f, &a[1], Type::Long)?;
                let x = self.want(f, &a[2], Type::DateTime)?;
                (call("kql_datetime_add", vec![part, n, x]), Type::DateTime)
            }
            "datetime_part" | "datepart" => {
                self.arity(f, &a, 2, 2, span)?;
                let part = self.want(f, &a[0], Type::String)?;
                let x = self.want(f, &a[1], Type::DateTime)?;
                (call("kql_datetime_part", vec![part, x]), Type::Long)
            }
            "bin" | "floor" => {
                self.arity(f, &a, 2, 2, span)?;
                self.bin(&a[0], &a[1], None, span)?
            }
            "bin_at" => {
                self.arity(f, &a, 3, 3, span)?;
                self.bin(&a[0], &a[1], Some(&a[2]), span)?
            }
            "startofday" | "startofweek" | "startofmonth" | "startofyear" | "endofday"
            | "endofweek" | "endofmonth" | "endofyear" => {
                self.arity(f, &a, 1, 2, span)?;
                let (func, unit) = f.split_at(if f.starts_with("start") { 7 } else { 5 });
                let mut args = vec![s(unit), self.want(f, &a[0], Type::DateTime)?];
                if let Some(o) = a.get(1) {
                    args.push(self.want(f, o, Type::Long)?);
                }
                (call(&format!("kql_{func}"), args), Type::DateTime)
            }
            "dayofweek" => {
                self.arity(f, &a, 1, 1, span)?;
                (
                    call("kql_dayofweek", vec![self.want(f, &a[0], Type::DateTime)?]),
                    Type::Timespan,
                )
            }
            "dayofmonth" | "dayofyear" | "monthofyear" | "getyear" | "getmonth" | "hourofday" => {
                self.arity(f, &a, 1, 1, span)?;
                let func = if f == "getmonth" { "monthofyear" } else { f };
                let v = call(
                    &format!("kql_{func}"),
                    vec![self.want(f, &a[0], Type::DateTime)?],
                );
                (
                    Scalar::Cast {
                        expr: Box::new(v),
                        to: Type::Long,
                    },
                    Type::Long,
                )
            }
            "format_datetime" => {
                self.arity(f, &a, 2, 2, span)?;
                let x = self.want(f, &a[0], Type::DateTime)?;
                (
                    call("kql_format_datetime", vec![x, self.text(&a[1])]),
                    Type::String,
                )
            }
            "format_timespan" => {
                self.arity(f, &a, 2, 2, span)?;
                let x = self.want(f, &a[0], Type::Timespan)?;
                (
                    call("kql_format_timespan", vec![x, self.text(&a[1])]),
                    Type::String,
                )
            }
            "unixtime_seconds_todatetime" | "unixtime_milliseconds_todatetime" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, sp) = a[0].clone();
                let v = if t == Type::Dynamic {
                    self.dynamic_as(v, Type::Real)
                } else {
                    self.convert(v, t, Type::Real, sp)?
                };
                (call(&format!("kql_{f}"), vec![v]), Type::DateTime)
            }
            // Numbers.
            "abs" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, sp) = a[0].clone();
                if !t.is_numeric() && t != Type::Timespan {
                    self.error(
                        DiagKind::Type,
                        sp,
                        format!("abs() needs a number, not a {t}"),
                    );
                    return None;
                }
                (call("abs", vec![v]), t)
            }
            "round" => {
                self.arity(f, &a, 1, 2, span)?;
                let v = self.want(f, &a[0], Type::Real)?;
                let mut args = vec![v];
                if let Some(p) = a.get(1) {
                    args.push(self.want(f, p, Type::Long)?);
                }
                (call("round", args), Type::Real)
            }
            "ceiling" | "sqrt" | "log" | "log10" | "log2" | "exp" => {
                self.arity(f, &a, 1, 1, span)?;
                let v = self.want(f, &a[0], Type::Real)?;
                let func = match f {
                    "ceiling" => "ceil",
                    "log" => "ln",
                    other => other,
                };
                (call(func, vec![v]), Type::Real)
            }
            "range" => {
                // A dynamic array of whole numbers from `start` to `stop` by `step` (1).
                self.arity(f, &a, 2, 3, span)?;
                let mut args = vec![
                    self.want(f, &a[0], Type::Long)?,
                    self.want(f, &a[1], Type::Long)?,
                ];
                args.push(match a.get(2) {
                    Some(step) => self.want(f, step, Type::Long)?,
                    None => Scalar::long(1),
                });
                let list = call("kql_range_list", args);
                let text = call("array_to_string", vec![list, s(",")]);
                (call("concat", vec![s("["), text, s("]")]), Type::Dynamic)
            }
            "rand" => {
                self.arity(f, &a, 0, 1, span)?;
                let r = call("random", vec![]);
                match a.first() {
                    None => (r, Type::Real),
                    Some(n) => {
                        let n = self.want(f, n, Type::Real)?;
                        let v = call("floor", vec![Scalar::bin(BinOp::Mul, r, n)]);
                        (
                            Scalar::Cast {
                                expr: Box::new(v),
                                to: Type::Long,
                            },
                            Type::Long,
                        )
                    }
                }
            }
            "pow" => {
                self.arity(f, &a, 2, 2, span)?;
                let x = self.want(f, &a[0], Type::Real)?;
                let y = self.want(f, &a[1], Type::Real)?;
                (call("power", vec![x, y]), Type::Real)
            }
            "min_of" | "max_of" => {
                self.arity(f, &a, 2, 64, span)?;
                let ty = a.iter().map(|x| x.1).fold(Type::Null, |acc, t| {
                    if acc == Type::Null {
                        t
                    } else if acc.is_numeric() && t.is_numeric() {
                        Type::widen(acc, t)
                    } else {
                        acc
                    }
                });
                let mut args = Vec::new();
                for x in &a {
                    args.push(self.convert(x.0.clone(), x.1, ty, x.2)?);
                }
                (
                    call(if f == "min_of" { "least" } else { "greatest" }, args),
                    ty,
                )
            }
            // Dynamic values.
            "array_length" => {
                self.arity(f, &a, 1, 1, span)?;
                (
                    call(
                        "kql_array_length",
                        vec![self.want(f, &a[0], Type::Dynamic)?],
                    ),
                    Type::Long,
                )
            }
            "pack_array" => {
                // Constants fold into a literal (so that `in`, `has_any` can expand it).
                let consts: Option<Vec<serde_json::Value>> =
                    a.iter().map(|x| lit_json(&x.0)).collect();
                if let Some(values) = consts {
                    (
                        Scalar::Lit(Lit::Dynamic(serde_json::Value::Array(values).to_string())),
                        Type::Dynamic,
                    )
                } else {
                    let args = a
                        .iter()
                        .map(|x| self.to_dynamic(x.0.clone(), x.1))
                        .collect();
                    (call("kql_pack_array", args), Type::Dynamic)
                }
            }
            "pack" | "bag_pack" => {
                if a.len() % 2 != 0 {
                    self.error(
                        DiagKind::Type,
                        span,
                        format!("{f}() takes pairs of key and value"),
                    );
                    return None;
                }
                let mut args = Vec::new();
                for pair in a.chunks(2) {
                    args.push(self.text(&pair[0]));
                    args.push(self.to_dynamic(pair[1].0.clone(), pair[1].1));
                }
                (call("kql_bag_pack", args), Type::Dynamic)
            }
            "bag_keys" | "array_sort_asc" | "array_sort_desc" => {
                self.arity(f, &a, 1, 1, span)?;
                (
                    call(
                        &format!("kql_{f}"),
                        vec![self.want(f, &a[0], Type::Dynamic)?],
                    ),
                    Type::Dynamic,
                )
            }
            "bag_merge" | "array_concat" | "set_union" | "set_intersect" | "set_difference" => {
                self.arity(f, &a, 1, 64, span)?;
                let mut args = Vec::new();
                for x in &a {
                    args.push(self.want(f, x, Type::Dynamic)?);
                }
                (call(&format!("kql_{f}"), args), Type::Dynamic)
            }
            "bag_has_key" => {
                self.arity(f, &a, 2, 2, span)?;
                (
                    call(
                        "kql_bag_has_key",
                        vec![self.want(f, &a[0], Type::Dynamic)?, self.text(&a[1])],
                    ),
                    Type::Bool,
                )
            }
            "bag_remove_keys" => {
                self.arity(f, &a, 2, 2, span)?;
                (
                    call(
                        "kql_bag_remove_keys",
                        vec![
                            self.want(f, &a[0], Type::Dynamic)?,
                            self.want(f, &a[1], Type::Dynamic)?,
                        ],
                    ),
                    Type::Dynamic,
                )
            }
            "set_has_element" | "array_index_of" => {
                self.arity(f, &a, 2, 2, span)?;
                let arr = self.want(f, &a[0], Type::Dynamic)?;
                let v = self.to_dynamic(a[1].0.clone(), a[1].1);
                let ty = if f == "set_has_element" {
                    Type::Bool
                } else {
                    Type::Long
                };
                (call(&format!("kql_{f}"), vec![arr, v]), ty)
            }
            "array_slice" => {
                self.arity(f, &a, 3, 3, span)?;
                let arr = self.want(f, &a[0], Type::Dynamic)?;
                let from = self.want(f, &a[1], Type::Long)?;
                let to = self.want(f, &a[2], Type::Long)?;
                (call("kql_array_slice", vec![arr, from, to]), Type::Dynamic)
            }
            "gettype" => {
                self.arity(f, &a, 1, 1, span)?;
                let (v, t, _) = a[0].clone();
                match t {
                    Type::Dynamic => (call("kql_gettype", vec![v]), Type::String),
                    Type::Null => (s("null"), Type::String),
                    other => (s(other.name()), Type::String),
                }
            }
            // Encodings, parsers, networks, hashes: strings in, per the function.
            "base64_encode_tostring" | "base64_encodestring" => {
                self.arity(f, &a, 1, 1, span)?;
                (
                    call("kql_base64_encode", vec![self.text(&a[0])]),
                    Type::String,
                )
            }
            "base64_decode_tostring" | "base64_decodestring" => {
                self.arity(f, &a, 1, 1, span)?;
                (
                    call("kql_base64_decode", vec![self.text(&a[0])]),
                    Type::String,
                )
            }
            "url_decode" | "url_encode" => {
                self.arity(f, &a, 1, 1, span)?;
                (
                    call(&format!("kql_{f}"), vec![self.text(&a[0])]),
                    Type::String,
                )
            }
            "parse_url" | "parseurl" | "parse_path" => {
                self.arity(f, &a, 1, 1, span)?;
                let func = if f == "parse_path" {
                    "kql_parse_path"
                } else {
                    "kql_parse_url"
                };
                (call(func, vec![self.text(&a[0])]), Type::Dynamic)
            }
            "parse_command_line" => {
                self.arity(f, &a, 2, 2, span)?;
                (
                    call(
                        "kql_parse_command_line",
                        vec![self.text(&a[0]), self.text(&a[1])],
                    ),
                    Type::Dynamic,
                )
            }
            "ipv4_is_private" | "parse_ipv4" => {
                self.arity(f, &a, 1, 1, span)?;
                let ty = if f == "parse_ipv4" {
                    Type::Long
                } else {
                    Type::Bool
                };
                (call(&format!("kql_{f}"), vec![self.text(&a[0])]), ty)
            }
            "ipv4_is_in_range" => {
                self.arity(f, &a, 2, 2, span)?;
                (
                    call(
                        "kql_ipv4_is_in_range",
                        vec![self.text(&a[0]), self.text(&a[1])],
                    ),
                    Type::Bool,
                )
            }
            "ipv4_is_match" | "ipv4_compare" | "ipv6_is_match" => {
                self.arity(f, &a, 2, 3, span)?;
                let mut args = vec![self.text(&a[0]), self.text(&a[1])];
                if let Some(p) = a.get(2) {
                    args.push(self.want(f, p, Type::Long)?);
                }
                let ty = if f == "ipv4_compare" {
                    Type::Long
                } else {
                    Type::Bool
                };
                (call(&format!("kql_{f}"), args), ty)
            }
            "hash_sha256" | "hash_md5" | "hash_sha1" => {
                self.arity(f, &a, 1, 1, span)?;
                (
                    call(&format!("kql_{f}"), vec![self.text(&a[0])]),
                    Type::String,
                )
            }
            "hash" => {
                self.arity(f, &a, 1, 2, span)?;
                let mut args = vec![self.text(&a[0])];
                if let Some(m) = a.get(1) {
                    args.push(self.want(f, m, Type::Long)?);
                }
                (call("kql_hash", args), Type::Long)
            }
            "count" | "countif" | "dcount" | "sum" | "avg" | "make_set" | "make_list"
            | "arg_max" | "arg_min" | "take_any" | "percentile" | "percentiles" | "dcountif"
            | "make_bag" => {
                self.error(
                    DiagKind::Type,
                    name_span,
                    format!("{f}() is an aggregation: use it in summarize"),
                );
                return None;
            }
            _ => {
                let hint = names::did_you_mean(f, KNOWN.iter().copied());
                self.error(
                    DiagKind::UnknownName,
                    name_span,
                    format!("unknown function '{f}'{hint}"),
                );
                return None;
            }
        };
        Some(r)
    }

    /// A datetime shifted by a timespan, folded when both are constants (so that time bounds
    /// stay literals the store can prune partitions with).
    fn shift(&self, at: Scalar, by: Scalar, op: BinOp) -> Scalar {
        if let (Scalar::Lit(Lit::DateTime(t)), Scalar::Lit(Lit::Timespan(d) | Lit::Long(d))) =
            (&at, &by)
        {
            let v = if op == BinOp::Add {
                t.checked_add(*d)
            } else {
                t.checked_sub(*d)
            };
            if let Some(v) = v {
                return Scalar::Lit(Lit::DateTime(v));
            }
        }
        Scalar::NanosToTs(Box::new(Scalar::bin(
            op,
            Scalar::TsToNanos(Box::new(at)),
            by,
        )))
    }

    fn number_of(&mut self, arg: &Arg, ty: Type) -> Scalar {
        let (v, t, _) = arg.clone();
        match t {
            t if t == ty => v,
            Type::Int | Type::Long | Type::Real => Scalar::Cast {
                expr: Box::new(v),
                to: ty,
            },
            Type::Bool => Scalar::Case {
                whens: vec![(v, Scalar::long(1))],
                otherwise: Box::new(Scalar::long(0)),
            },
            Type::Dynamic => self.dynamic_as(v, ty),
            Type::Null => Scalar::Lit(Lit::Null(ty)),
            Type::Timespan if ty != Type::Real => Scalar::bin(BinOp::Div, v, Scalar::long(100)),
            _ => {
                let json = Scalar::call("kql_to_json", vec![self.text(arg)]);
                self.dynamic_as(json, ty)
            }
        }
    }

    fn unify_branches(&mut self, a: &Arg, b: &Arg, span: Span) -> Option<(Scalar, Scalar, Type)> {
        let ty = match (a.1, b.1) {
            (x, y) if x == y => x,
            (Type::Null, t) | (t, Type::Null) => t,
            (x, y) if x.is_numeric() && y.is_numeric() => Type::widen(x, y),
            (Type::Dynamic, t) | (t, Type::Dynamic) => t,
            (x, y) => {
                self.error(
                    DiagKind::Type,
                    span,
                    format!("the branches have different types: {x} and {y}"),
                );
                return None;
            }
        };
        let t = self.convert(a.0.clone(), a.1, ty, a.2)?;
        let e = self.convert(b.0.clone(), b.1, ty, b.2)?;
        Some((t, e, ty))
    }

    fn bin(&mut self, x: &Arg, size: &Arg, at: Option<&Arg>, span: Span) -> Option<(Scalar, Type)> {
        match x.1 {
            Type::DateTime => {
                let size = self.want("bin", size, Type::Timespan)?;
                match at {
                    Some(anchor) => {
                        let anchor = self.want("bin_at", anchor, Type::DateTime)?;
                        Some((
                            Scalar::call("kql_bin_at_ts", vec![x.0.clone(), size, anchor]),
                            Type::DateTime,
                        ))
                    }
                    None => Some((
                        Scalar::call("kql_bin_ts", vec![x.0.clone(), size]),
                        Type::DateTime,
                    )),
                }
            }
            Type::Timespan => {
                if at.is_some() {
                    self.unsupported(span, "bin_at over timespans");
                    return None;
                }
                let size = self.want("bin", size, Type::Timespan)?;
                Some((
                    Scalar::call("kql_bin_num", vec![x.0.clone(), size]),
                    Type::Timespan,
                ))
            }
            t if t.is_numeric() || t == Type::Dynamic => {
                if at.is_some() {
                    self.unsupported(span, "bin_at over numbers");
                    return None;
                }
                let ty = if t == Type::Dynamic {
                    Type::Real
                } else {
                    Type::widen(t, size.1)
                };
                let v = self.convert(x.0.clone(), t, ty, x.2)?;
                let s = self.convert(size.0.clone(), size.1, ty, size.2)?;
                Some((Scalar::call("kql_bin_num", vec![v, s]), ty))
            }
            t => {
                self.error(
                    DiagKind::Type,
                    x.2,
                    format!("bin() needs a number, datetime or timespan, not a {t}"),
                );
                None
            }
        }
    }
}

/// A literal as a JSON value (strings, numbers, booleans and null only).
fn lit_json(s: &Scalar) -> Option<serde_json::Value> {
    use serde_json::Value;
    match s {
        Scalar::Lit(Lit::String(t)) => Some(Value::String(t.clone())),
        Scalar::Lit(Lit::Long(v)) => Some(Value::from(*v)),
        Scalar::Lit(Lit::Int(v)) => Some(Value::from(*v)),
        Scalar::Lit(Lit::Real(v)) => serde_json::Number::from_f64(*v).map(Value::Number),
        Scalar::Lit(Lit::Bool(b)) => Some(Value::Bool(*b)),
        Scalar::Lit(Lit::Null(_)) => Some(Value::Null),
        Scalar::Lit(Lit::Dynamic(j)) => serde_json::from_str(j).ok(),
        _ => None,
    }
}

/// The steps of a JSONPath `$.a.b[0]['c']` as property names and indexes.
fn json_path(path: &str) -> Option<Vec<Scalar>> {
    let rest = path.trim().strip_prefix('$')?;
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                i = start;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
                if i == start {
                    return None;
                }
                steps.push(Scalar::string(&rest[start..i]));
            }
            b'[' => {
                let end = rest[i..].find(']')? + i;
                let inner = rest[i + 1..end].trim();
                if let Ok(n) = inner.parse::<i64>() {
                    steps.push(Scalar::long(n));
                } else {
                    let q = inner
                        .strip_prefix('\'')
                        .and_then(|x| x.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))?;
                    steps.push(Scalar::string(q));
                }
                i = end + 1;
            }
            _ => return None,
        }
    }
    Some(steps)
}
