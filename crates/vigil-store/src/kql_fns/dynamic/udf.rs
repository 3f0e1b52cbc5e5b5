//! The small machinery shared by the `kql_*` scalar functions of `dynamic` and `time`: a
//! declared signature (checked and coerced at planning time, so a wrong call is a plan error
//! naming the function and its signature), typed views over scalar-or-array arguments, and
//! the wrapping of a row-wise body into a DataFusion [`ScalarUDFImpl`].

use std::any::Any;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, StringArray};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Float64Type, Int64Type, TimeUnit, TimestampNanosecondType,
};
use datafusion::common::{exec_err, internal_err, plan_err, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The time zone of every KQL datetime.
pub(crate) const UTC: &str = "UTC";

/// KQL's `datetime`: `Timestamp(Nanosecond, "UTC")`.
pub(crate) fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into()))
}

/// `List<item>` with Arrow's default nullable item field.
pub(crate) fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// What a parameter accepts, and what it is coerced to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// A string (any string type, or null) → `Utf8`.
    Str,
    /// Dynamic JSON text → `Utf8`.
    Json,
    /// Any integer → `Int64`.
    Long,
    /// `Boolean`.
    Bool,
    /// Any timestamp or date → `Timestamp(Nanosecond, "UTC")`.
    Time,
    /// An integer (→ `Int64`) or a real (→ `Float64`), kept apart.
    Num,
    /// A property name (string → `Utf8`) or an array index (integer → `Int64`).
    Key,
    /// Any scalar KQL value: string, integer, real, bool, datetime (coerced as above).
    Scalar,
    /// A number or a datetime (for ranges).
    NumOrTime,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Json => "dynamic",
            Kind::Long => "long",
            Kind::Bool => "bool",
            Kind::Time => "datetime",
            Kind::Num => "long|real",
            Kind::Key => "string|long",
            Kind::Scalar => "scalar",
            Kind::NumOrTime => "long|real|datetime",
        }
    }

    /// The type an argument of type `t` is coerced to, if this parameter accepts it.
    pub(crate) fn coerce(self, t: &DataType) -> Option<DataType> {
        let t = match t {
            DataType::Dictionary(_, v) => v.as_ref(),
            t => t,
        };
        let is_str = matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
        let is_int = t.is_integer();
        let is_real =
            t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..));
        let is_time = matches!(
            t,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
        );
        let null = t == &DataType::Null;
        match self {
            Kind::Str | Kind::Json if is_str || null => Some(DataType::Utf8),
            Kind::Long if is_int || null => Some(DataType::Int64),
            Kind::Bool if t == &DataType::Boolean || null => Some(DataType::Boolean),
            Kind::Time if is_time || null => Some(ts_type()),
            Kind::Num | Kind::NumOrTime if is_int => Some(DataType::Int64),
            Kind::Num | Kind::NumOrTime if is_real || null => Some(DataType::Float64),
            Kind::NumOrTime if is_time => Some(ts_type()),
            Kind::Key if is_str || null => Some(DataType::Utf8),
            Kind::Key if is_int => Some(DataType::Int64),
            Kind::Scalar if is_str || null => Some(DataType::Utf8),
            Kind::Scalar if is_int => Some(DataType::Int64),
            Kind::Scalar if is_real => Some(DataType::Float64),
            Kind::Scalar if t == &DataType::Boolean => Some(DataType::Boolean),
            Kind::Scalar if is_time => Some(ts_type()),
            _ => None,
        }
    }
}

/// A function's parameters: `fixed` (the last `optional` of which may be left out), then any
/// number of `rest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Params {
    pub fixed: &'static [Kind],
    pub optional: usize,
    pub rest: Option<Kind>,
}

impl Params {
    pub(crate) const fn new(fixed: &'static [Kind]) -> Self {
        Params {
            fixed,
            optional: 0,
            rest: None,
        }
    }
    pub(crate) const fn optional(mut self, n: usize) -> Self {
        self.optional = n;
        self
    }
    pub(crate) const fn rest(mut self, k: Kind) -> Self {
        self.rest = Some(k);
        self
    }

    /// How the function is called, for error messages: `kql_f(string, long[, long])`.
    pub(crate) fn usage(&self, name: &str) -> String {
        let mut s = format!("{name}(");
        let required = self.fixed.len() - self.optional;
        for (i, k) in self.fixed.iter().enumerate() {
            if i >= required {
                s.push('[');
            }
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(k.name());
        }
        s.push_str(&"]".repeat(self.optional));
        if let Some(r) = self.rest {
            if !self.fixed.is_empty() {
                s.push_str(", ");
            }
            s.push_str(r.name());
            s.push_str("...");
        }
        s.push(')');
        s
    }

    /// Check `types` against the parameters and return what to coerce them to.
    pub(crate) fn coerce(&self, name: &str, types: &[DataType]) -> Result<Vec<DataType>> {
        let required = self.fixed.len() - self.optional;
        if types.len() < required || (self.rest.is_none() && types.len() > self.fixed.len()) {
            return plan_err!(
                "{name} takes {}, got {}; call it as {}",
                arity(required, self.fixed.len(), self.rest.is_some()),
                types.len(),
                self.usage(name)
            );
        }
        let mut out = Vec::with_capacity(types.len());
        for (i, t) in types.iter().enumerate() {
            let k = match self.fixed.get(i) {
                Some(k) => *k,
                None => self.rest.unwrap_or(Kind::Str),
            };
            match k.coerce(t) {
                Some(c) => out.push(c),
                None => {
                    return plan_err!(
                        "{name}: argument {} is {t}, expected {}; call it as {}",
                        i + 1,
                        k.name(),
                        self.usage(name)
                    )
                }
            }
        }
        Ok(out)
    }
}

fn arity(required: usize, max: usize, rest: bool) -> String {
    if rest {
        format!("at least {required} argument(s)")
    } else if required == max {
        format!("{required} argument(s)")
    } else {
        format!("{required} to {max} arguments")
    }
}

/// The evaluated arguments of one call, all scalars (then `rows` is 1) or arrays of `rows`.
pub(crate) struct Args<'a> {
    pub name: &'static str,
    pub vals: &'a [ColumnarValue],
    pub rows: usize,
}

/// A string argument: one value for every row, or one per row.
pub(crate) enum Strs<'a> {
    One(Option<&'a str>),
    Many(&'a StringArray),
}

impl<'a> Strs<'a> {
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strs::One(v) => *v,
            Strs::Many(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }
    /// The value when it is the same for every row.
    pub(crate) fn constant(&self) -> Option<Option<&'a str>> {
        match self {
            Strs::One(v) => Some(*v),
            Strs::Many(_) => None,
        }
    }
}

/// A primitive argument: one value for every row, or one per row.
pub(crate) enum Prims<'a, T: ArrowPrimitiveType> {
    One(Option<T::Native>),
    Many(&'a PrimitiveArray<T>),
}

impl<T: ArrowPrimitiveType> Prims<'_, T> {
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<T::Native> {
        match self {
            Prims::One(v) => *v,
            Prims::Many(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }
}

/// A boolean argument.
pub(crate) enum Bools<'a> {
    One(Option<bool>),
    Many(&'a BooleanArray),
}

impl Bools<'_> {
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<bool> {
        match self {
            Bools::One(v) => *v,
            Bools::Many(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }
}

impl<'a> Args<'a> {
    pub(crate) fn len(&self) -> usize {
        self.vals.len()
    }

    pub(crate) fn data_type(&self, i: usize) -> DataType {
        self.vals[i].data_type()
    }

    fn mismatch<T>(&self, i: usize, want: &str) -> Result<T> {
        internal_err!(
            "{}: argument {} is {}, expected {want}",
            self.name,
            i + 1,
            self.vals[i].data_type()
        )
    }

    pub(crate) fn str(&self, i: usize) -> Result<Strs<'a>> {
        match &self.vals[i] {
            ColumnarValue::Scalar(ScalarValue::Utf8(v)) => Ok(Strs::One(v.as_deref())),
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(Strs::One(None)),
            ColumnarValue::Array(a) if a.data_type() == &DataType::Utf8 => {
                Ok(Strs::Many(a.as_string::<i32>()))
            }
            _ => self.mismatch(i, "Utf8"),
        }
    }

    pub(crate) fn long(&self, i: usize) -> Result<Prims<'a, Int64Type>> {
        match &self.vals[i] {
            ColumnarValue::Scalar(ScalarValue::Int64(v)) => Ok(Prims::One(*v)),
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(Prims::One(None)),
            ColumnarValue::Array(a) if a.data_type() == &DataType::Int64 => {
                Ok(Prims::Many(a.as_primitive()))
            }
            _ => self.mismatch(i, "Int64"),
        }
    }

    pub(crate) fn real(&self, i: usize) -> Result<Prims<'a, Float64Type>> {
        match &self.vals[i] {
            ColumnarValue::Scalar(ScalarValue::Float64(v)) => Ok(Prims::One(*v)),
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(Prims::One(None)),
            ColumnarValue::Array(a) if a.data_type() == &DataType::Float64 => {
                Ok(Prims::Many(a.as_primitive()))
            }
            _ => self.mismatch(i, "Float64"),
        }
    }

    pub(crate) fn time(&self, i: usize) -> Result<Prims<'a, TimestampNanosecondType>> {
        match &self.vals[i] {
            ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(v, _)) => Ok(Prims::One(*v)),
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(Prims::One(None)),
            ColumnarValue::Array(a)
                if matches!(a.data_type(), DataType::Timestamp(TimeUnit::Nanosecond, _)) =>
            {
                Ok(Prims::Many(a.as_primitive()))
            }
            _ => self.mismatch(i, "Timestamp(Nanosecond)"),
        }
    }

    pub(crate) fn boolean(&self, i: usize) -> Result<Bools<'a>> {
        match &self.vals[i] {
            ColumnarValue::Scalar(ScalarValue::Boolean(v)) => Ok(Bools::One(*v)),
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(Bools::One(None)),
            ColumnarValue::Array(a) if a.data_type() == &DataType::Boolean => {
                Ok(Bools::Many(a.as_boolean()))
            }
            _ => self.mismatch(i, "Boolean"),
        }
    }

    /// All arguments from `from` on, as strings.
    pub(crate) fn strs_from(&self, from: usize) -> Result<Vec<Strs<'a>>> {
        (from..self.len()).map(|i| self.str(i)).collect()
    }
}

/// A row-wise body: the arguments in, one output array of `args.rows` rows out.
pub(crate) type Body = fn(&Args) -> Result<ArrayRef>;
/// The return type, given the coerced argument types.
pub(crate) type RetFn = fn(&[DataType]) -> DataType;

/// One `kql_*` scalar function.
#[derive(Debug)]
pub(crate) struct KqlUdf {
    name: &'static str,
    params: Params,
    signature: Signature,
    ret: RetFn,
    body: Body,
}

impl PartialEq for KqlUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for KqlUdf {}
impl Hash for KqlUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl KqlUdf {
    pub(crate) fn new(name: &'static str, params: Params, ret: RetFn, body: Body) -> Self {
        KqlUdf {
            name,
            params,
            signature: Signature::user_defined(Volatility::Immutable),
            ret,
            body,
        }
    }
}

/// Register one function.
pub(crate) fn reg(
    ctx: &SessionContext,
    name: &'static str,
    params: Params,
    ret: RetFn,
    body: Body,
) {
    ctx.register_udf(ScalarUDF::new_from_impl(KqlUdf::new(
        name, params, ret, body,
    )));
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
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // A bad call keeps its types here and fails in `return_type`, whose error DataFusion
        // reports as it is (errors from here come wrapped in two more messages).
        Ok(self
            .params
            .coerce(self.name, arg_types)
            .unwrap_or_else(|_| arg_types.to_vec()))
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let coerced = self.params.coerce(self.name, arg_types)?;
        Ok((self.ret)(&coerced))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let a = Args {
            name: self.name,
            vals: &args.args,
            rows,
        };
        let out = (self.body)(&a)?;
        if out.len() != rows {
            return internal_err!("{}: produced {} rows for {rows}", self.name, out.len());
        }
        let out = if out.data_type() != args.return_type() {
            arrow::compute::cast(&out, args.return_type())?
        } else {
            out
        };
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// An execution error for a bad pattern/unit value: `kql_startof: unknown unit 'fortnight'`.
pub(crate) fn bad_value<T>(name: &str, what: &str, value: &str) -> Result<T> {
    exec_err!("{name}: {what} '{value}'")
}

/// Build a `Timestamp(Nanosecond, "UTC")` array.
pub(crate) fn ts_array(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(PrimitiveArray::<TimestampNanosecondType>::from(values).with_timezone(UTC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_names_optional_and_rest_parameters() {
        let p = Params::new(&[Kind::Str, Kind::Time, Kind::Long]).optional(1);
        assert_eq!(
            p.usage("kql_startof"),
            "kql_startof(string, datetime[, long])"
        );
        let p = Params::new(&[Kind::Json]).rest(Kind::Json);
        assert_eq!(
            p.usage("kql_set_union"),
            "kql_set_union(dynamic, dynamic...)"
        );
    }

    #[test]
    fn coercion_accepts_string_views_and_rejects_wrong_types() {
        let p = Params::new(&[Kind::Json, Kind::Key]);
        assert_eq!(
            p.coerce("f", &[DataType::Utf8View, DataType::Int32])
                .unwrap(),
            vec![DataType::Utf8, DataType::Int64]
        );
        let e = p
            .coerce("kql_dyn_get", &[DataType::Utf8, DataType::Boolean])
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("kql_dyn_get(dynamic, string|long)"), "{msg}");
        let e = p.coerce("kql_dyn_get", &[DataType::Utf8]).unwrap_err();
        assert!(e.to_string().contains("takes 2 argument(s), got 1"), "{e}");
    }
}
