//! The syntax tree of a KQL query, as written (names unresolved, types unknown).
//!
//! Every node carries the [`Span`] of the text it came from so that the checker can point at
//! it. Identifiers keep their case: KQL names are case-sensitive.

use crate::span::Span;

/// A whole query: `let` statements, then (usually) one tabular expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Let(Let),
    /// A tabular (or scalar, for `print`-less scalar queries) expression whose result is
    /// returned. Only the last one is the query's result; KQL allows several (batches).
    Expr(Expr),
    /// `set name = value;` (query options): accepted and ignored with a warning.
    Set {
        name: Ident,
        value: Option<Expr>,
        span: Span,
    },
    /// `declare query_parameters(...)`: parsed; parameters take their defaults.
    DeclareParams {
        params: Vec<Param>,
        span: Span,
    },
}

/// `let name = value;`
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: Ident,
    pub value: LetValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LetValue {
    /// A scalar or tabular expression (`let x = 5;`, `let t = T | where ...;`,
    /// `let t = materialize(T | ...);`, `let s = toscalar(T | count);`).
    Expr(Expr),
    /// `let f = (a: string, b: long = 5, T: (*)) { body };`
    Function(Function),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub params: Vec<Param>,
    /// The body's own `let`s, then its result expression last.
    pub body: Vec<Statement>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: ParamType,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    Scalar(TypeName),
    /// `T: (*)` or `T: (Col: type, ...)`; an empty list means `(*)`.
    Tabular(Vec<(Ident, TypeName)>),
}

/// A KQL type name as written (`string`, `long`, `int`, `real`/`double`, `bool`/`boolean`,
/// `datetime`/`date`, `timespan`/`time`, `dynamic`, `guid`, `decimal`).
#[derive(Debug, Clone, PartialEq)]
pub struct TypeName {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// An expression: scalar or tabular (a table name, `T | op | op`, `datatable(...)`, ...).
/// The checker decides which it is; the parser only builds the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A bare name: a column, a `let` name, or a table. `['name with space']` too.
    Name(String),
    /// `$left` / `$right` (inside join conditions).
    JoinSide(JoinSide),
    /// `a.b` (dynamic property or `$left.Col`).
    Member {
        base: Box<Expr>,
        member: Ident,
    },
    /// `a[expr]` (dynamic index or property by string).
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `name(args)`; also aggregation calls inside `summarize`. Named arguments
    /// (`kind = x`) do not occur in function calls and are not represented.
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `x between (lo .. hi)` / `x !between (lo .. hi)`.
    Between {
        expr: Box<Expr>,
        lo: Box<Expr>,
        hi: Box<Expr>,
        negated: bool,
    },
    /// `x in (a, b)`, `x !in (...)`, `x in~ (...)`, `x !in~ (...)`, `x has_any (...)`,
    /// `x has_all (...)`: the list items may be scalars or one tabular expression.
    InList {
        expr: Box<Expr>,
        op: ListOp,
        items: Vec<Expr>,
    },
    /// `( expr )` kept to preserve spans; no semantic meaning.
    Paren(Box<Expr>),
    /// `src | op | op ...`: the source (a table name, a call like `datatable(...)`, or a
    /// parenthesised tabular expression) and the operators in order.
    Pipe {
        source: Box<Expr>,
        ops: Vec<Operator>,
    },
    /// `datatable (Col: type, ...) [ values ]`.
    Datatable {
        columns: Vec<(Ident, TypeName)>,
        values: Vec<Expr>,
    },
    /// `range Col from a to b step c` (as a source).
    Range {
        column: Ident,
        from: Box<Expr>,
        to: Box<Expr>,
        step: Box<Expr>,
    },
    /// `print a, b = x` (as a source).
    Print {
        columns: Vec<NamedExpr>,
    },
    /// `union [kind=inner|outer] [withsource=Col] T1, T2, ...` (as a source).
    Union(Union),
    /// `search [in (T1, T2)] predicate` (as a source, or as an operator: see `Operator`).
    Search {
        tables: Vec<Ident>,
        predicate: Box<Expr>,
    },
    /// `*` as an argument (`arg_max(Timestamp, *)`, `take_any(*)`, `distinct *`) or as the
    /// left side of a term search (`where * has "x"`).
    Star,
    /// A part of the query that failed to parse (a syntax diagnostic was reported for it);
    /// only in trees returned together with errors.
    Error,
    /// `find ...` and other sources Vigil parses but cannot run are kept as
    /// `Unsupported` with the keyword; the checker reports them.
    Unsupported {
        what: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinSide {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    /// `123`, `long(123)`.
    Long(i64),
    /// `int(5)`.
    Int(i32),
    /// `1.5`, `1e3`, `real(1.5)`.
    Real(f64),
    /// `"text"`, `'text'`, `@"raw"`, `h"hidden"`; the value after escapes.
    String(String),
    /// `1d`, `2h`, `30m`, `10s`, `100ms`, `5microsecond`, `time(1.02:03:04)`, in nanoseconds.
    Timespan(i64),
    /// `datetime(2024-01-01)`, `datetime(2024-01-01T10:00:00Z)`, `datetime(null)`; the text
    /// as written (the checker parses it so that the error has a span).
    Datetime(String),
    /// `dynamic({...})`, `dynamic([...])`, `dynamic(null)`: the JSON text as written.
    Dynamic(String),
    /// `guid(...)`: the text.
    Guid(String),
    /// `typeof(string)` and other typed nulls such as `long(null)`: the type name.
    TypedNull(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
    Plus,
}

/// Binary operators. The string operators carry their exact KQL spelling in `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
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
    /// `=~` (equal, case-insensitive) and `!~`.
    EqCi,
    NotEqCi,
    Has,
    NotHas,
    HasCs,
    NotHasCs,
    HasPrefix,
    NotHasPrefix,
    HasPrefixCs,
    NotHasPrefixCs,
    HasSuffix,
    NotHasSuffix,
    HasSuffixCs,
    NotHasSuffixCs,
    Contains,
    NotContains,
    ContainsCs,
    NotContainsCs,
    StartsWith,
    NotStartsWith,
    StartsWithCs,
    NotStartsWithCs,
    EndsWith,
    NotEndsWith,
    EndsWithCs,
    NotEndsWithCs,
    MatchesRegex,
}

impl BinaryOp {
    /// The operator as written in KQL.
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Eq => "==",
            NotEq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            And => "and",
            Or => "or",
            EqCi => "=~",
            NotEqCi => "!~",
            Has => "has",
            NotHas => "!has",
            HasCs => "has_cs",
            NotHasCs => "!has_cs",
            HasPrefix => "hasprefix",
            NotHasPrefix => "!hasprefix",
            HasPrefixCs => "hasprefix_cs",
            NotHasPrefixCs => "!hasprefix_cs",
            HasSuffix => "hassuffix",
            NotHasSuffix => "!hassuffix",
            HasSuffixCs => "hassuffix_cs",
            NotHasSuffixCs => "!hassuffix_cs",
            Contains => "contains",
            NotContains => "!contains",
            ContainsCs => "contains_cs",
            NotContainsCs => "!contains_cs",
            StartsWith => "startswith",
            NotStartsWith => "!startswith",
            StartsWithCs => "startswith_cs",
            NotStartsWithCs => "!startswith_cs",
            EndsWith => "endswith",
            NotEndsWith => "!endswith",
            EndsWithCs => "endswith_cs",
            NotEndsWithCs => "!endswith_cs",
            MatchesRegex => "matches regex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOp {
    In,
    NotIn,
    InCi,
    NotInCi,
    HasAny,
    HasAll,
}

/// `Name = expr` or just `expr` (the name is then derived from the expression).
/// `(A, B) = expr` (several names, for functions returning several columns such as
/// `arg_max`, `percentiles`) puts every name in `names`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedExpr {
    pub names: Vec<Ident>,
    pub expr: Expr,
    pub span: Span,
}

/// A sort key: `expr [asc|desc] [nulls first|last]`. KQL's default is `desc`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    /// `None`: KQL's default (nulls last for desc, first for asc).
    pub nulls_first: Option<bool>,
}

/// `name = value` options that some operators take (`kind=leftouter`, `hint.strategy=...`,
/// `withsource=T`, `bagexpansion=array`, `with_itemindex=i`).
#[derive(Debug, Clone, PartialEq)]
pub struct OpParam {
    pub name: Ident,
    pub value: Expr,
}

/// One tabular operator after a `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    pub kind: OperatorKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
// Operators are built once per query: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum OperatorKind {
    /// `where` / `filter`.
    Where(Expr),
    Project(Vec<NamedExpr>),
    /// Names may be wildcards (`Foo*`).
    ProjectAway(Vec<Ident>),
    ProjectKeep(Vec<Ident>),
    /// `project-rename New = Old, ...`: (new, old).
    ProjectRename(Vec<(Ident, Ident)>),
    /// Names may be wildcards; `asc`/`desc` ordering options are not supported.
    ProjectReorder(Vec<Ident>),
    Extend(Vec<NamedExpr>),
    Summarize {
        params: Vec<OpParam>,
        aggregates: Vec<NamedExpr>,
        by: Vec<NamedExpr>,
    },
    /// `count`.
    Count,
    Distinct(Vec<NamedExpr>),
    /// `top N by key [asc|desc] [nulls ...]`.
    Top {
        count: Expr,
        key: SortKey,
    },
    /// `top-nested N of Col by Agg [asc|desc], top-nested ...`.
    TopNested(Vec<TopNestedLevel>),
    /// `take` / `limit`.
    Take(Expr),
    /// `sort by` / `order by`.
    Sort(Vec<SortKey>),
    Join {
        params: Vec<OpParam>,
        right: Box<Expr>,
        on: Vec<Expr>,
    },
    Lookup {
        params: Vec<OpParam>,
        right: Box<Expr>,
        on: Vec<Expr>,
    },
    Union(Union),
    /// `mv-expand [bagexpansion=..] [with_itemindex=..] Col [to typeof(T)], ... [limit N]`.
    MvExpand {
        params: Vec<OpParam>,
        columns: Vec<MvExpandColumn>,
        limit: Option<Expr>,
    },
    /// `mv-apply [with_itemindex=..] Col [to typeof(T)], ... on ( subquery )`.
    MvApply {
        params: Vec<OpParam>,
        columns: Vec<MvExpandColumn>,
        limit: Option<Expr>,
        /// The subquery's operators, applied to each row's expansion.
        body: Vec<Operator>,
    },
    /// `parse [kind=regex|simple|relaxed] [flags=..] Expr with pattern`.
    Parse {
        params: Vec<OpParam>,
        source: Expr,
        pattern: Vec<ParsePart>,
    },
    /// `parse-where`: like `Parse` but drops rows that do not match.
    ParseWhere {
        params: Vec<OpParam>,
        source: Expr,
        pattern: Vec<ParsePart>,
    },
    /// `make-series [kind=nonempty] Agg default=v on Axis from a to b step s by Keys`.
    MakeSeries {
        params: Vec<OpParam>,
        aggregates: Vec<MakeSeriesAgg>,
        axis: Expr,
        from: Option<Expr>,
        to: Option<Expr>,
        step: Expr,
        by: Vec<NamedExpr>,
    },
    /// `evaluate [params] plugin(args)` (`bag_unpack`, `pivot`, ...).
    Evaluate {
        params: Vec<OpParam>,
        plugin: Ident,
        args: Vec<Expr>,
    },
    /// `serialize [Name = expr, ...]`.
    Serialize(Vec<NamedExpr>),
    /// `render chart [with (...)]`: the chart kind and the raw `with` text.
    Render {
        chart: Ident,
        with: Option<String>,
    },
    /// `invoke f(args)`.
    Invoke {
        function: Ident,
        args: Vec<Expr>,
    },
    /// `as Name` (names the result for `union withsource`); accepted.
    As(Ident),
    /// `search predicate` as an operator.
    Search(Expr),
    /// `getschema`.
    GetSchema,
    /// `sample N`.
    Sample(Expr),
    /// `extend` of `row_number()` etc. are ordinary `Extend`s; this is any operator the parser
    /// recognises but Vigil does not implement (`fork`, `facet`, `reduce`, `sample-distinct`,
    /// ...): the checker reports "not supported yet" with its span.
    Unsupported {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Union {
    pub params: Vec<OpParam>,
    /// Table names (possibly wildcards such as `Device*`) or parenthesised subqueries.
    pub tables: Vec<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopNestedLevel {
    pub count: Option<Expr>,
    pub of: NamedExpr,
    /// `with others = value`.
    pub others: Option<Expr>,
    pub by: NamedExpr,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MvExpandColumn {
    pub name: Option<Ident>,
    pub expr: Expr,
    /// `to typeof(T)`.
    pub to_type: Option<TypeName>,
}

/// One piece of a `parse` pattern: a literal string, or `Name [: type]` (a column to
/// capture), or `*` (skip).
#[derive(Debug, Clone, PartialEq)]
pub enum ParsePart {
    Literal(String),
    Column { name: Ident, ty: Option<TypeName> },
    Wildcard,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MakeSeriesAgg {
    pub name: Option<Ident>,
    pub expr: Expr,
    pub default: Option<Expr>,
}
