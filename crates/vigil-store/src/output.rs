//! Query results for people and for the API: a text table, and JSON objects per row.
//!
//! Timestamps print as RFC 3339 in UTC with nine fractional digits
//! (`2026-11-24T18:43:06.123456789Z`), the form of [`vigil_schema::Timestamp`]'s `Display`.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Number, Value as Json};
use vigil_schema::Timestamp;

const TS_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.9fZ";

/// The batches as a text table with a header row; nulls are empty cells.
pub fn format_batches(batches: &[RecordBatch]) -> String {
    let options = FormatOptions::default()
        .with_timestamp_tz_format(Some(TS_FORMAT))
        .with_timestamp_format(Some(TS_FORMAT));
    match arrow::util::pretty::pretty_format_batches_with_options(batches, &options) {
        Ok(table) => table.to_string(),
        Err(e) => format!("cannot format the result: {e}"),
    }
}

/// Every row as a JSON object keyed by column name. Nulls are `null`, timestamps RFC 3339
/// strings, numbers and booleans JSON numbers and booleans (a non-finite float is `null`),
/// other types their text.
pub fn batches_to_json_rows(batches: &[RecordBatch]) -> Vec<Map<String, Json>> {
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
    for batch in batches {
        let schema = batch.schema();
        let columns: Vec<Vec<Json>> = batch.columns().iter().map(column_to_json).collect();
        for row in 0..batch.num_rows() {
            let mut obj = Map::with_capacity(columns.len());
            for (field, values) in schema.fields().iter().zip(&columns) {
                obj.insert(field.name().clone(), values[row].clone());
            }
            out.push(obj);
        }
    }
    out
}

fn ts_string(nanos: Option<i64>) -> Json {
    nanos.map_or(Json::Null, |n| Json::String(Timestamp(n).to_string()))
}

fn float(v: f64) -> Json {
    Number::from_f64(v).map_or(Json::Null, Json::Number)
}

fn column_to_json(array: &ArrayRef) -> Vec<Json> {
    macro_rules! each {
        ($arr:expr, $f:expr) => {{
            let a = $arr;
            (0..a.len())
                .map(|i| {
                    if a.is_null(i) {
                        Json::Null
                    } else {
                        $f(a.value(i))
                    }
                })
                .collect()
        }};
    }
    let a = array.as_ref();
    match a.data_type() {
        DataType::Null => vec![Json::Null; a.len()],
        DataType::Boolean => each!(a.as_boolean(), Json::Bool),
        DataType::Int8 => each!(a.as_primitive::<Int8Type>(), |v: i8| Json::from(v)),
        DataType::Int16 => each!(a.as_primitive::<Int16Type>(), |v: i16| Json::from(v)),
        DataType::Int32 => each!(a.as_primitive::<Int32Type>(), |v: i32| Json::from(v)),
        DataType::Int64 => each!(a.as_primitive::<Int64Type>(), |v: i64| Json::from(v)),
        DataType::UInt8 => each!(a.as_primitive::<UInt8Type>(), |v: u8| Json::from(v)),
        DataType::UInt16 => each!(a.as_primitive::<UInt16Type>(), |v: u16| Json::from(v)),
        DataType::UInt32 => each!(a.as_primitive::<UInt32Type>(), |v: u32| Json::from(v)),
        DataType::UInt64 => each!(a.as_primitive::<UInt64Type>(), |v: u64| Json::from(v)),
        DataType::Float32 => each!(a.as_primitive::<Float32Type>(), |v: f32| float(v as f64)),
        DataType::Float64 => each!(a.as_primitive::<Float64Type>(), float),
        DataType::Utf8 => each!(a.as_string::<i32>(), |v: &str| Json::from(v)),
        DataType::LargeUtf8 => each!(a.as_string::<i64>(), |v: &str| Json::from(v)),
        DataType::Utf8View => each!(a.as_string_view(), |v: &str| Json::from(v)),
        DataType::Timestamp(unit, _) => {
            let (values, scale): (Vec<Option<i64>>, i64) = match unit {
                TimeUnit::Nanosecond => (
                    a.as_primitive::<TimestampNanosecondType>().iter().collect(),
                    1,
                ),
                TimeUnit::Microsecond => (
                    a.as_primitive::<TimestampMicrosecondType>()
                        .iter()
                        .collect(),
                    1_000,
                ),
                TimeUnit::Millisecond => (
                    a.as_primitive::<TimestampMillisecondType>()
                        .iter()
                        .collect(),
                    1_000_000,
                ),
                TimeUnit::Second => (
                    a.as_primitive::<TimestampSecondType>().iter().collect(),
                    1_000_000_000,
                ),
            };
            values
                .into_iter()
                .map(|v| ts_string(v.and_then(|v| v.checked_mul(scale))))
                .collect()
        }
        _ => {
            let options = FormatOptions::default();
            match ArrayFormatter::try_new(a, &options) {
                Ok(f) => (0..a.len())
                    .map(|i| {
                        if a.is_null(i) {
                            Json::Null
                        } else {
                            Json::String(f.value(i).to_string())
                        }
                    })
                    .collect(),
                Err(_) => vec![Json::Null; a.len()],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, StringArray, TimestampNanosecondArray};
    use arrow::datatypes::{Field, Schema};

    fn batch() -> RecordBatch {
        let ts = TimestampNanosecondArray::from(vec![Some(1_795_545_786_123_456_789), None])
            .with_timezone("UTC");
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("Timestamp", ts.data_type().clone(), true),
                Field::new("ActionType", DataType::Utf8, true),
                Field::new("n", DataType::Int64, true),
                Field::new("avg", DataType::Float64, true),
            ])),
            vec![
                Arc::new(ts),
                Arc::new(StringArray::from(vec![Some("ProcessCreated"), None])),
                Arc::new(Int64Array::from(vec![Some(3), None])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN)])),
            ],
        )
        .unwrap()
    }

    /// Rows keep the columns in the query's order (serde_json is built with `preserve_order`).
    #[test]
    fn json_rows_use_rfc3339_and_null() {
        let rows = batches_to_json_rows(&[batch()]);
        assert_eq!(
            Json::Object(rows[0].clone()).to_string(),
            r#"{"Timestamp":"2026-11-24T18:43:06.123456789Z","ActionType":"ProcessCreated","n":3,"avg":1.5}"#
        );
        assert_eq!(
            Json::Object(rows[1].clone()).to_string(),
            r#"{"Timestamp":null,"ActionType":null,"n":null,"avg":null}"#
        );
    }

    #[test]
    fn the_text_table_prints_timestamps_like_the_schema() {
        let text = format_batches(&[batch()]);
        assert!(text.contains("2026-11-24T18:43:06.123456789Z"), "{text}");
        assert!(text.contains("| ActionType"), "{text}");
    }
}
