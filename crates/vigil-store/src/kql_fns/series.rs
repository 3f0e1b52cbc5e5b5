//! `kql_series_fill(points, n, default)`: the arrays of `make-series`. `points` is a dynamic
//! array of `{"i": bin index, "v": value}` objects (one per bin that had rows, any order);
//! the result is an array of `n` values, `default` (JSON text) where a bin had none. Indexes
//! outside `0..n` are ignored.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringBuilder};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

/// The most bins one series may have.
pub const MAX_BINS: i64 = 100_000;

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct SeriesFill {
    signature: Signature,
}

impl SeriesFill {
    pub fn new() -> SeriesFill {
        SeriesFill {
            signature: Signature::exact(
                vec![DataType::Utf8, DataType::Int64, DataType::Utf8],
                Volatility::Immutable,
            ),
        }
    }
}

/// One series from its points.
fn fill(points: Option<&str>, n: i64, default: &Value) -> Result<String> {
    if !(0..=MAX_BINS).contains(&n) {
        return exec_err!("kql_series_fill: {n} bins (at most {MAX_BINS})");
    }
    let mut out = vec![default.clone(); n as usize];
    if let Some(Ok(Value::Array(items))) = points.map(serde_json::from_str::<Value>) {
        for item in items {
            let i = item.get("i").and_then(Value::as_i64);
            if let Some(i) = i.filter(|i| (0..n).contains(i)) {
                out[i as usize] = item.get("v").cloned().unwrap_or(Value::Null);
            }
        }
    }
    Ok(Value::Array(out).to_string())
}

impl ScalarUDFImpl for SeriesFill {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "kql_series_fill"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [DataType::Utf8, DataType::Int64, DataType::Utf8] => Ok(DataType::Utf8),
            other => plan_err!("kql_series_fill expects (dynamic, long, dynamic), got {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [points, n, default] = arrays.as_slice() else {
            return plan_err!("kql_series_fill expects three arguments");
        };
        let (points, n, default) = (
            points.as_string::<i32>(),
            n.as_primitive::<Int64Type>(),
            default.as_string::<i32>(),
        );
        let mut out = StringBuilder::new();
        for r in 0..rows {
            let d = if default.is_null(r) {
                Value::Null
            } else {
                serde_json::from_str(default.value(r)).unwrap_or(Value::Null)
            };
            let p = (!points.is_null(r)).then(|| points.value(r));
            let bins = if n.is_null(r) { 0 } else { n.value(r) };
            out.append_value(fill(p, bins, &d)?);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_missing_bins_with_the_default() {
        let zero = Value::from(0);
        let pts = r#"[{"i":2,"v":5},{"i":0,"v":1},{"i":9,"v":7}]"#;
        assert_eq!(fill(Some(pts), 4, &zero).unwrap(), "[1,0,5,0]");
        assert_eq!(fill(None, 2, &Value::Null).unwrap(), "[null,null]");
        assert!(fill(Some(pts), MAX_BINS + 1, &zero).is_err());
    }
}
