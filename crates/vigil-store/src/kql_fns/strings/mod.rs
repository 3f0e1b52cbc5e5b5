//! KQL's string functions: terms (`has` and its kin), case-insensitive comparison, regular
//! expressions, encodings, hashes, parsing of URLs, paths and command lines, and IPv4/IPv6.
//! See the module doc of `kql_fns` for how values are carried.
//!
//! Every function is one [`KqlUdf`]: a name, a [`Sig`] (the KQL types of its parameters) and a
//! body that computes one output array from the arguments. The signature is checked at
//! planning time, so a call with the wrong number or types of arguments is a plan error that
//! names the function and what it expects. Arguments arrive already cast to `Utf8` (string
//! parameters) or `Int64` (long parameters); a null string reads as `""`.
//!
//! Files: `terms.rs` (`has`, `contains`, `in~` …), `regex_fns.rs` (`matches regex`, `extract`,
//! `replace_regex`, `trim`), `text.rs` (substring, split, encodings, hashes), `parse.rs`
//! (`parse_url`, `parse_path`, `parse_command_line`), `ip.rs` (IPv4 and IPv6).

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use arrow::compute::can_cast_types;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

mod ip;
mod nonnull;
mod parse;
mod regex_fns;
mod terms;
mod text;

/// Register every string function in `ctx`.
pub(crate) fn register(ctx: &SessionContext) {
    let mut all = Vec::new();
    terms::functions(&mut all);
    regex_fns::functions(&mut all);
    text::functions(&mut all);
    parse::functions(&mut all);
    ip::functions(&mut all);
    for f in all {
        ctx.register_udf(ScalarUDF::new_from_impl(f));
    }
    ctx.register_udf(ScalarUDF::new_from_impl(nonnull::KqlStr::new()));
}

/// The KQL type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    /// `string` (and `dynamic`, carried as JSON text): `Utf8`.
    Str,
    /// `long`: `Int64`.
    Int,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Str => "string",
            Ty::Int => "long",
        }
    }
}

/// The parameters of a function: `params[..required]` are required, the rest optional, and
/// `variadic` (when set) may repeat after them any number of times.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sig {
    pub params: &'static [Ty],
    pub required: usize,
    pub variadic: Option<Ty>,
}

impl Sig {
    /// Exactly these parameters.
    pub const fn fixed(params: &'static [Ty]) -> Sig {
        Sig {
            params,
            required: params.len(),
            variadic: None,
        }
    }

    /// `params`, of which the first `required` must be given.
    pub const fn optional(params: &'static [Ty], required: usize) -> Sig {
        Sig {
            params,
            required,
            variadic: None,
        }
    }

    /// `params`, then one or more `rest`.
    pub const fn variadic(params: &'static [Ty], rest: Ty) -> Sig {
        Sig {
            params,
            required: params.len() + 1,
            variadic: Some(rest),
        }
    }

    /// How the signature reads in messages, e.g. `(string, long[, long])`.
    fn describe(&self) -> String {
        let mut out = String::from("(");
        for (i, t) in self.params.iter().enumerate() {
            if i >= self.required {
                out.push('[');
            }
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(t.name());
        }
        out.push_str(&"]".repeat(self.params.len().saturating_sub(self.required)));
        if let Some(t) = self.variadic {
            if !self.params.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&format!("{0}, [{0}, ...]", t.name()));
        }
        out.push(')');
        out
    }

    /// The type of the argument at `pos`, or `None` past the end.
    fn ty_at(&self, pos: usize) -> Option<Ty> {
        self.params.get(pos).copied().or(self.variadic)
    }
}

/// What a function body computes from one batch of arguments: an array of [`Call::len`] rows.
pub(super) type Body = Box<dyn Fn(&Call) -> Result<ArrayRef> + Send + Sync>;

/// One `kql_*` scalar function.
pub(super) struct KqlUdf {
    name: &'static str,
    sig: Sig,
    ret: DataType,
    signature: Signature,
    body: Body,
}

impl KqlUdf {
    pub fn new(name: &'static str, sig: Sig, ret: DataType, body: Body) -> KqlUdf {
        KqlUdf {
            name,
            sig,
            ret,
            signature: Signature::user_defined(Volatility::Immutable),
            body,
        }
    }
}

impl fmt::Debug for KqlUdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name, self.sig.describe())
    }
}

// Functions are told apart by name: there is one of each per session.
impl PartialEq for KqlUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KqlUdf {}

impl Hash for KqlUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for KqlUdf {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let wrong = || {
            let got: Vec<String> = arg_types.iter().map(|t| t.to_string()).collect();
            plan_err!(
                "{} expects {}, got ({})",
                self.name,
                self.sig.describe(),
                got.join(", ")
            )
        };
        let max_ok = self.sig.variadic.is_some() || arg_types.len() <= self.sig.params.len();
        if arg_types.len() < self.sig.required || !max_ok {
            return wrong();
        }
        let mut out = Vec::with_capacity(arg_types.len());
        for (pos, t) in arg_types.iter().enumerate() {
            let Some(want) = self.sig.ty_at(pos) else {
                return wrong();
            };
            let ok = match want {
                Ty::Str => t.is_null() || can_cast_types(t, &DataType::Utf8),
                Ty::Int => t.is_null() || t.is_integer(),
            };
            if !ok {
                return wrong();
            }
            out.push(match want {
                Ty::Str => DataType::Utf8,
                Ty::Int => DataType::Int64,
            });
        }
        Ok(out)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let len = if all_scalar { 1 } else { args.number_rows };
        let mut values = Vec::with_capacity(args.args.len());
        for (pos, arg) in args.args.into_iter().enumerate() {
            let want = match self.sig.ty_at(pos) {
                Some(Ty::Int) => DataType::Int64,
                _ => DataType::Utf8,
            };
            values.push(Value::new(self.name, arg, &want)?);
        }
        let call = Call {
            name: self.name,
            len,
            values,
        };
        let out = (self.body)(&call)?;
        if out.len() != len {
            return exec_err!(
                "{}: produced {} rows for {} (internal error)",
                self.name,
                out.len(),
                len
            );
        }
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// One argument, cast to the type of its parameter.
enum Value {
    Str(Option<String>),
    Int(Option<i64>),
    Array(ArrayRef),
}

impl Value {
    fn new(fname: &str, arg: ColumnarValue, want: &DataType) -> Result<Value> {
        match arg {
            ColumnarValue::Scalar(s) => {
                let s = if &s.data_type() == want {
                    s
                } else {
                    s.cast_to(want)?
                };
                match s {
                    ScalarValue::Utf8(v) => Ok(Value::Str(v)),
                    ScalarValue::Int64(v) => Ok(Value::Int(v)),
                    other => exec_err!("{fname}: unexpected argument {other:?}"),
                }
            }
            ColumnarValue::Array(a) => {
                if a.data_type() == want {
                    Ok(Value::Array(a))
                } else {
                    Ok(Value::Array(arrow::compute::cast(&a, want)?))
                }
            }
        }
    }
}

/// The arguments of one invocation.
pub(super) struct Call {
    /// The function's name, for messages.
    pub name: &'static str,
    /// How many rows to produce (1 when every argument is a scalar).
    pub len: usize,
    values: Vec<Value>,
}

impl Call {
    /// How many arguments were given.
    pub fn count(&self) -> usize {
        self.values.len()
    }

    /// The string argument at `pos` (`""` when absent).
    pub fn str(&self, pos: usize) -> StrArg<'_> {
        match self.values.get(pos) {
            Some(Value::Str(s)) => StrArg::Scalar(s.as_deref().unwrap_or("")),
            Some(Value::Array(a)) => match a.as_string_opt::<i32>() {
                Some(a) => StrArg::Array(a),
                None => StrArg::Scalar(""),
            },
            _ => StrArg::Scalar(""),
        }
    }

    /// The long argument at `pos` (null when absent).
    pub fn int(&self, pos: usize) -> IntArg<'_> {
        match self.values.get(pos) {
            Some(Value::Int(v)) => IntArg::Scalar(*v),
            Some(Value::Array(a)) => match a.as_primitive_opt::<Int64Type>() {
                Some(a) => IntArg::Array(a),
                None => IntArg::Scalar(None),
            },
            _ => IntArg::Scalar(None),
        }
    }
}

/// A string argument: one value for every row, or one per row. Null reads as `""`.
#[derive(Clone, Copy)]
pub(super) enum StrArg<'a> {
    Scalar(&'a str),
    Array(&'a StringArray),
}

impl<'a> StrArg<'a> {
    #[inline]
    pub fn get(&self, i: usize) -> &'a str {
        match self {
            StrArg::Scalar(s) => s,
            StrArg::Array(a) => {
                if a.is_null(i) {
                    ""
                } else {
                    a.value(i)
                }
            }
        }
    }

    /// The value when it is the same for every row.
    pub fn scalar(&self) -> Option<&'a str> {
        match self {
            StrArg::Scalar(s) => Some(s),
            StrArg::Array(_) => None,
        }
    }
}

/// A long argument: one value for every row, or one per row.
#[derive(Clone, Copy)]
pub(super) enum IntArg<'a> {
    Scalar(Option<i64>),
    Array(&'a Int64Array),
}

impl IntArg<'_> {
    #[inline]
    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            IntArg::Scalar(v) => *v,
            IntArg::Array(a) => {
                if a.is_null(i) {
                    None
                } else {
                    Some(a.value(i))
                }
            }
        }
    }
}

/// Compiled regexes of one function, by pattern text, shared by its batches.
#[derive(Default)]
pub(super) struct RegexCache {
    map: Mutex<HashMap<String, Arc<Regex>>>,
}

/// More distinct patterns than this (a pattern column) and the cache starts over.
const REGEX_CACHE_MAX: usize = 256;

impl RegexCache {
    /// `pattern` compiled, or an error naming `fname` and the pattern. `source` is the pattern
    /// as the user wrote it when `pattern` was derived from it.
    pub fn get(&self, fname: &str, pattern: &str, source: &str) -> Result<Arc<Regex>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(re) = map.get(pattern) {
            return Ok(Arc::clone(re));
        }
        let re = match regex::RegexBuilder::new(pattern)
            .size_limit(32 << 20)
            .build()
        {
            Ok(re) => Arc::new(re),
            Err(e) => return exec_err!("{fname}: invalid regex '{source}': {}", regex_reason(&e)),
        };
        if map.len() >= REGEX_CACHE_MAX {
            map.clear();
        }
        map.insert(pattern.to_owned(), Arc::clone(&re));
        Ok(re)
    }
}

/// The last line of a regex error ("unclosed group"), without the pattern echo above it.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim().trim_start_matches("error: ").to_owned()
}

/// The regex for each row's pattern, compiling each distinct pattern once.
pub(super) struct RegexMemo<'c> {
    cache: &'c RegexCache,
    fname: &'static str,
    last: Option<(String, Arc<Regex>)>,
}

impl<'c> RegexMemo<'c> {
    pub fn new(cache: &'c RegexCache, fname: &'static str) -> RegexMemo<'c> {
        RegexMemo {
            cache,
            fname,
            last: None,
        }
    }

    /// The regex of `pattern` after `derive` (e.g. anchoring) is applied to it.
    pub fn get_derived(
        &mut self,
        pattern: &str,
        derive: impl Fn(&str) -> String,
    ) -> Result<Arc<Regex>> {
        if let Some((p, re)) = &self.last {
            if p == pattern {
                return Ok(Arc::clone(re));
            }
        }
        // Check the pattern as written first: wrapping can make a bad one parse.
        let plain = self.cache.get(self.fname, pattern, pattern)?;
        let derived = derive(pattern);
        let re = if derived == pattern {
            plain
        } else {
            self.cache.get(self.fname, &derived, pattern)?
        };
        self.last = Some((pattern.to_owned(), Arc::clone(&re)));
        Ok(re)
    }

    pub fn get(&mut self, pattern: &str) -> Result<Arc<Regex>> {
        self.get_derived(pattern, |p| p.to_owned())
    }
}

/// Helpers to build result arrays row by row.
pub(super) mod build {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BooleanArray, Int64Array, StringBuilder};
    use arrow::buffer::BooleanBuffer;
    use datafusion::common::Result;

    /// A non-null Boolean array.
    pub fn bools(len: usize, f: impl FnMut(usize) -> bool) -> ArrayRef {
        Arc::new(BooleanArray::new(BooleanBuffer::collect_bool(len, f), None))
    }

    /// A Boolean array with nulls.
    pub fn opt_bools(len: usize, f: impl FnMut(usize) -> Option<bool>) -> ArrayRef {
        Arc::new((0..len).map(f).collect::<BooleanArray>())
    }

    /// An Int64 array with nulls.
    pub fn longs(len: usize, f: impl FnMut(usize) -> Option<i64>) -> ArrayRef {
        Arc::new((0..len).map(f).collect::<Int64Array>())
    }

    /// A Utf8 array: `f` appends row `i` to `out` and returns false for null.
    pub fn strings(
        len: usize,
        mut f: impl FnMut(usize, &mut String) -> Result<bool>,
    ) -> Result<ArrayRef> {
        let mut b = StringBuilder::with_capacity(len, len * 16);
        let mut buf = String::new();
        for i in 0..len {
            buf.clear();
            if f(i, &mut buf)? {
                b.append_value(&buf);
            } else {
                b.append_null();
            }
        }
        Ok(Arc::new(b.finish()))
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! Run a function body on literal arguments.

    use super::*;
    use arrow::array::{BooleanArray, Int64Array};

    /// An argument in a test call.
    #[derive(Clone)]
    pub enum A {
        S(&'static str),
        I(i64),
        Null,
        Ss(Vec<Option<&'static str>>),
        Is(Vec<Option<i64>>),
    }

    /// Call the registered function `name` with `args` and return the result array.
    pub fn run(name: &str, args: &[A]) -> Result<ArrayRef> {
        let mut all = Vec::new();
        terms::functions(&mut all);
        regex_fns::functions(&mut all);
        text::functions(&mut all);
        parse::functions(&mut all);
        ip::functions(&mut all);
        let f = all
            .into_iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no function {name}"));
        let mut len = 1;
        let mut types = Vec::new();
        for a in args {
            match a {
                A::Ss(v) => len = v.len(),
                A::Is(v) => len = v.len(),
                _ => {}
            }
            types.push(match a {
                A::S(_) | A::Ss(_) => DataType::Utf8,
                A::I(_) | A::Is(_) => DataType::Int64,
                A::Null => DataType::Null,
            });
        }
        f.coerce_types(&types)?;
        let values = args
            .iter()
            .enumerate()
            .map(|(pos, a)| match a {
                A::S(s) => Value::Str(Some(s.to_string())),
                A::I(v) => Value::Int(Some(*v)),
                A::Null => match f.sig.ty_at(pos) {
                    Some(Ty::Int) => Value::Int(None),
                    _ => Value::Str(None),
                },
                A::Ss(v) => Value::Array(Arc::new(StringArray::from(v.clone()))),
                A::Is(v) => Value::Array(Arc::new(Int64Array::from(v.clone()))),
            })
            .collect();
        let call = Call {
            name: f.name,
            len,
            values,
        };
        (f.body)(&call)
    }

    pub fn b(name: &str, args: &[A]) -> Option<bool> {
        let a = run(name, args).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = a.as_any().downcast_ref::<BooleanArray>().unwrap();
        a.is_valid(0).then(|| a.value(0))
    }

    pub fn bs(name: &str, args: &[A]) -> Vec<Option<bool>> {
        let a = run(name, args).unwrap_or_else(|e| panic!("{name}: {e}"));
        a.as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap()
            .iter()
            .collect()
    }

    pub fn s(name: &str, args: &[A]) -> Option<String> {
        let a = run(name, args).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = a.as_string::<i32>();
        a.is_valid(0).then(|| a.value(0).to_owned())
    }

    pub fn i(name: &str, args: &[A]) -> Option<i64> {
        let a = run(name, args).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = a.as_primitive::<Int64Type>();
        a.is_valid(0).then(|| a.value(0))
    }

    /// The error message of a call that must fail.
    pub fn err(name: &str, args: &[A]) -> String {
        match run(name, args) {
            Ok(a) => panic!("{name} succeeded: {a:?}"),
            Err(e) => e.to_string(),
        }
    }
}
