//! `kql_str(s)`: a string column as KQL reads it, null as `""`. A column without nulls is
//! returned as it is (no copy), which is what every stored column without gaps costs.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct KqlStr {
    signature: Signature,
}

impl KqlStr {
    pub fn new() -> KqlStr {
        KqlStr {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for KqlStr {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "kql_str"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [DataType::Utf8] => Ok(DataType::Utf8),
            other => plan_err!("kql_str expects (string), got {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.into_iter().next() {
            Some(ColumnarValue::Array(a)) => {
                if a.null_count() == 0 {
                    return Ok(ColumnarValue::Array(a));
                }
                let s = a.as_string::<i32>();
                let filled: StringArray = s.iter().map(|v| Some(v.unwrap_or(""))).collect();
                Ok(ColumnarValue::Array(Arc::new(filled)))
            }
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(v))) => Ok(ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(v.unwrap_or_default())),
            )),
            Some(ColumnarValue::Scalar(other)) => {
                plan_err!("kql_str expects a string, got {other:?}")
            }
            None => plan_err!("kql_str expects one argument"),
        }
    }
}
