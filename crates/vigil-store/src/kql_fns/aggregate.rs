//! Aggregations that return dynamic: `kql_make_set`, `kql_make_list`, their `_if` forms, and
//! `kql_make_bag`.
//!
//! Inputs are dynamic JSON text. A JSON array contributes its elements (as KQL does for
//! dynamic arrays); nulls are ignored; sets are distinct by canonical text, in order of first
//! appearance within a partition (across partitions, in the order DataFusion merges them).
//! The optional last argument caps the size (default 1048576, KQL's) and must be a constant.
//! Partial states are `List<Utf8>` of element texts (sets, lists) or an object's text (bags).

use std::any::Any;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{internal_err, plan_err, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use serde_json::{Map, Value};

use super::dynamic::arrays::elements;
use super::dynamic::json::sorted_text;
use super::dynamic::udf::{Kind, Params};

/// KQL's default and largest size of a `make_set`/`make_list` result.
const DEFAULT_MAX: i64 = 1_048_576;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum What {
    Set,
    List,
    Bag,
}

#[derive(Debug)]
struct KqlAgg {
    name: &'static str,
    what: What,
    /// Whether the second argument is a predicate (`_if`).
    predicate: bool,
    params: Params,
    signature: Signature,
}

impl PartialEq for KqlAgg {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for KqlAgg {}
impl Hash for KqlAgg {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

pub(crate) fn register(ctx: &SessionContext) {
    let plain = Params::new(&[Kind::Json, Kind::Long]).optional(1);
    let cond = Params::new(&[Kind::Json, Kind::Bool, Kind::Long]).optional(1);
    for (name, what, predicate, params) in [
        ("kql_make_set", What::Set, false, plain.clone()),
        ("kql_make_list", What::List, false, plain.clone()),
        ("kql_make_set_if", What::Set, true, cond.clone()),
        ("kql_make_list_if", What::List, true, cond),
        ("kql_make_bag", What::Bag, false, plain),
    ] {
        ctx.register_udaf(AggregateUDF::new_from_impl(KqlAgg {
            name,
            what,
            predicate,
            params,
            signature: Signature::user_defined(Volatility::Immutable),
        }));
    }
}

impl KqlAgg {
    /// The size cap: the constant last argument, when given.
    fn max_size(&self, args: &AccumulatorArgs) -> Result<usize> {
        let at = if self.predicate { 2 } else { 1 };
        let Some(e) = args.exprs.get(at) else {
            return Ok(DEFAULT_MAX as usize);
        };
        let Some(lit) = e.as_any().downcast_ref::<Literal>() else {
            return plan_err!(
                "{}: the maximum size must be a constant, got {e}",
                self.name
            );
        };
        match lit.value().cast_to(&DataType::Int64)? {
            ScalarValue::Int64(Some(n)) if n > 0 => Ok(n.min(DEFAULT_MAX) as usize),
            ScalarValue::Int64(None) => Ok(DEFAULT_MAX as usize),
            v => plan_err!("{}: the maximum size must be positive, got {v}", self.name),
        }
    }
}

impl AggregateUDFImpl for KqlAgg {
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
        // As for the scalar functions: a bad call fails in `return_type`, unwrapped.
        Ok(self
            .params
            .coerce(self.name, arg_types)
            .unwrap_or_else(|_| arg_types.to_vec()))
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.params.coerce(self.name, arg_types)?;
        Ok(DataType::Utf8)
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let t = match self.what {
            What::Bag => DataType::Utf8,
            What::Set | What::List => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
            }
        };
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "values"),
            t,
            true,
        ))])
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let max = self.max_size(&args)?;
        Ok(match self.what {
            What::Bag => Box::new(BagAcc {
                max,
                bag: Map::new(),
                bytes: 0,
            }),
            What::Set | What::List => Box::new(ListAcc {
                name: self.name,
                dedupe: self.what == What::Set,
                predicate: self.predicate,
                max,
                items: Vec::new(),
                seen: HashSet::new(),
                bytes: 0,
            }),
        })
    }
}

fn strings<'a>(name: &str, a: &'a ArrayRef) -> Result<&'a StringArray> {
    match a.as_string_opt::<i32>() {
        Some(s) => Ok(s),
        None => internal_err!("{name}: expected Utf8 values, got {}", a.data_type()),
    }
}

fn predicate<'a>(name: &str, values: &'a [ArrayRef], on: bool) -> Result<Option<&'a BooleanArray>> {
    if !on {
        return Ok(None);
    }
    match values.get(1).and_then(|a| a.as_boolean_opt()) {
        Some(b) => Ok(Some(b)),
        None => internal_err!("{name}: expected a Boolean predicate"),
    }
}

#[derive(Debug)]
struct ListAcc {
    name: &'static str,
    dedupe: bool,
    predicate: bool,
    max: usize,
    items: Vec<Arc<str>>,
    seen: HashSet<Arc<str>>,
    bytes: usize,
}

impl ListAcc {
    fn add(&mut self, text: &str) {
        if self.items.len() >= self.max {
            return;
        }
        if self.dedupe {
            if self.seen.contains(text) {
                return;
            }
            let t: Arc<str> = text.into();
            self.seen.insert(Arc::clone(&t));
            self.items.push(t);
        } else {
            self.items.push(text.into());
        }
        self.bytes += text.len() + 32;
    }

    /// One input value: an array's elements, or the value itself; nulls are skipped.
    fn add_value(&mut self, text: &str) {
        let t = text.trim();
        if t.starts_with('[') {
            if let Some(els) = elements(t) {
                for e in els {
                    if e != "null" {
                        self.add(&e);
                    }
                }
                return;
            }
        }
        if !t.is_empty() && t != "null" {
            self.add(t);
        }
    }
}

impl Accumulator for ListAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(first) = values.first() else {
            return internal_err!("{}: no input column", self.name);
        };
        let v = strings(self.name, first)?;
        let p = predicate(self.name, values, self.predicate)?;
        for i in 0..v.len() {
            if v.is_null(i) || p.is_some_and(|p| p.is_null(i) || !p.value(i)) {
                continue;
            }
            self.add_value(v.value(i));
            if self.items.len() >= self.max {
                break;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut s = String::with_capacity(self.bytes + 2);
        s.push('[');
        for (i, e) in self.items.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(e);
        }
        s.push(']');
        Ok(ScalarValue::Utf8(Some(s)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.bytes * if self.dedupe { 2 } else { 1 }
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = self
            .items
            .iter()
            .map(|s| ScalarValue::Utf8(Some(s.to_string())))
            .collect();
        let list = ScalarValue::new_list_nullable(&values, &DataType::Utf8);
        Ok(vec![ScalarValue::List(list)])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(list) = states.first().and_then(|s| s.as_list_opt::<i32>()) else {
            return internal_err!("{}: expected a List state", self.name);
        };
        for i in 0..list.len() {
            if list.is_null(i) {
                continue;
            }
            let inner = list.value(i);
            let v = strings(self.name, &inner)?;
            for j in 0..v.len() {
                if !v.is_null(j) {
                    self.add(v.value(j));
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct BagAcc {
    max: usize,
    bag: Map<String, Value>,
    bytes: usize,
}

impl BagAcc {
    fn add(&mut self, text: &str) {
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) {
            for (k, v) in m {
                if self.bag.len() >= self.max {
                    return;
                }
                if !self.bag.contains_key(&k) {
                    self.bytes += k.len() + 64;
                    self.bag.insert(k, v);
                }
            }
        }
    }

    fn text(&self) -> String {
        sorted_text(Value::Object(self.bag.clone()))
    }
}

impl Accumulator for BagAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(first) = values.first() else {
            return internal_err!("kql_make_bag: no input column");
        };
        let v = strings("kql_make_bag", first)?;
        for i in 0..v.len() {
            if !v.is_null(i) {
                self.add(v.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(Some(self.text())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.bytes
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(Some(self.text()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(first) = states.first() else {
            return internal_err!("kql_make_bag: no state column");
        };
        let v = strings("kql_make_bag", first)?;
        for i in 0..v.len() {
            if !v.is_null(i) {
                self.add(v.value(i));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::dynamic::testing::{column, run};

    const ROWS: &str = r#"(VALUES ('g1', '"a"', true), ('g1', '["b","a",null]', false), ('g2', '1', true),
        ('g1', NULL, true), ('g2', '1', true), ('g1', '"c"', true)) AS t(g, v, p)"#;

    #[test]
    fn sets_and_lists_per_group() {
        let q = |agg: &str| column(&format!("SELECT {agg} FROM {ROWS} GROUP BY g ORDER BY g"));
        assert_eq!(q("kql_make_set(v)"), [r#"["a","b","c"]"#, "[1]"]);
        assert_eq!(q("kql_make_list(v)"), [r#"["a","b","a","c"]"#, "[1,1]"]);
        assert_eq!(q("kql_make_set(v, 2)"), [r#"["a","b"]"#, "[1]"]);
        assert_eq!(q("kql_make_list_if(v, p)"), [r#"["a","c"]"#, "[1,1]"]);
        assert_eq!(q("kql_make_set_if(v, p, 1)"), [r#"["a"]"#, "[1]"]);
    }

    #[test]
    fn bags_merge_first_value_wins() {
        let v = column(
            r#"SELECT kql_make_bag(b) FROM (VALUES ('{"a":1}'), ('[1]'), (NULL), ('{"a":2,"b":{"c":3}}')) AS t(b)"#,
        );
        assert_eq!(v, [r#"{"a":1,"b":{"c":3}}"#]);
        let v = column(r#"SELECT kql_make_bag(b, 1) FROM (VALUES ('{"a":1,"b":2}')) AS t(b)"#);
        assert_eq!(v, [r#"{"a":1}"#]);
    }

    #[test]
    fn an_empty_input_gives_an_empty_array() {
        let v = column("SELECT kql_make_set(v) FROM (VALUES ('1')) AS t(v) WHERE v = '2'");
        assert_eq!(v, ["[]"]);
    }

    #[test]
    fn bad_calls_are_plan_errors() {
        let e = run("SELECT kql_make_set(v, 1, 2) FROM (VALUES ('1')) AS t(v)").unwrap_err();
        assert!(e.contains("kql_make_set(dynamic[, long])"), "{e}");
        let e = run("SELECT kql_make_set(v, n) FROM (VALUES ('1', 3)) AS t(v, n)").unwrap_err();
        assert!(e.contains("must be a constant"), "{e}");
        let e = run("SELECT kql_make_list_if(v, 1) FROM (VALUES ('1')) AS t(v)").unwrap_err();
        assert!(e.contains("kql_make_list_if(dynamic, bool[, long])"), "{e}");
    }
}
