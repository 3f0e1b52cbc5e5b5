//! The dynamic functions through SQL, scalars and arrays alike.

use super::testing::{column, eval, eval_err};

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[test]
fn to_json_of_every_scalar_type() {
    assert_eq!(eval("kql_to_json('a\"b')"), r#""a\"b""#);
    assert_eq!(eval("kql_to_json(42)"), "42");
    assert_eq!(eval("kql_to_json(CAST(7 AS INT))"), "7");
    assert_eq!(eval("kql_to_json(1.5)"), "1.5");
    assert_eq!(eval("kql_to_json(CAST('NaN' AS DOUBLE))"), "NULL");
    assert_eq!(eval("kql_to_json(true)"), "true");
    assert_eq!(eval("kql_to_json(NULL)"), "NULL");
    assert_eq!(
        eval("kql_to_json(kql_todatetime('2024-01-02T03:04:05.1234567Z'))"),
        r#""2024-01-02T03:04:05.1234567Z""#
    );
    assert_eq!(
        eval("kql_to_json(TIMESTAMP '2024-01-02 03:04:05')"),
        r#""2024-01-02T03:04:05Z""#
    );
    let e = eval_err("kql_to_json(make_array(1))");
    assert!(e.contains("kql_to_json(scalar)"), "{e}");
}

#[test]
fn parse_json_keeps_invalid_text_as_a_string() {
    assert_eq!(
        eval(&format!(
            "kql_parse_json({})",
            lit(r#"{ "b": 1, "a": [1, 2.50] }"#)
        )),
        r#"{"a":[1,2.5],"b":1}"#
    );
    assert_eq!(eval("kql_parse_json('not json')"), r#""not json""#);
    assert_eq!(eval("kql_parse_json('42')"), "42");
    assert_eq!(eval("kql_parse_json('')"), "NULL");
    assert_eq!(eval("kql_parse_json(NULL)"), "NULL");
    assert_eq!(eval("kql_parse_json('null')"), "NULL");
}

#[test]
fn dyn_get_by_key_and_index() {
    let j = lit(r#"{"a":{"b":[10,"x\u0041",{"c":true}]},"n":null,"s":"plain"}"#);
    assert_eq!(eval(&format!("kql_dyn_get({j}, 's')")), r#""plain""#);
    assert_eq!(
        eval(&format!("kql_dyn_get(kql_dyn_get({j}, 'a'), 'b')")),
        r#"[10,"xA",{"c":true}]"#
    );
    assert_eq!(
        eval(&format!(
            "kql_dyn_get(kql_dyn_get(kql_dyn_get({j}, 'a'), 'b'), 1)"
        )),
        r#""xA""#
    );
    assert_eq!(
        eval(&format!(
            "kql_dyn_get(kql_dyn_get(kql_dyn_get({j}, 'a'), 'b'), -1)"
        )),
        r#"{"c":true}"#
    );
    assert_eq!(
        eval(&format!(
            "kql_dyn_get(kql_dyn_get(kql_dyn_get({j}, 'a'), 'b'), 3)"
        )),
        "NULL"
    );
    assert_eq!(eval(&format!("kql_dyn_get({j}, 'n')")), "NULL");
    assert_eq!(eval(&format!("kql_dyn_get({j}, 'missing')")), "NULL");
    assert_eq!(eval(&format!("kql_dyn_get({j}, 0)")), "NULL");
    assert_eq!(eval("kql_dyn_get(NULL, 'a')"), "NULL");
    assert_eq!(eval("kql_dyn_get('[1,2]', 'a')"), "NULL");
    let e = eval_err("kql_dyn_get('{}', true)");
    assert!(e.contains("kql_dyn_get(dynamic, string|long)"), "{e}");
}

#[test]
fn dyn_get_over_a_column_of_rows() {
    let v = column(
        r#"SELECT kql_dyn_get(j, k) FROM (VALUES ('{"a":1}', 'a'), ('{"b":2}', 'a'), (NULL, 'a'), ('{"a":"z"}', 'a')) AS t(j, k)"#,
    );
    assert_eq!(v, ["1", "NULL", "NULL", r#""z""#]);
}

#[test]
fn conversions_to_scalars() {
    assert_eq!(eval(r#"kql_dyn_to_string('"abc"')"#), "abc");
    assert_eq!(eval("kql_dyn_to_string('null')"), "");
    assert_eq!(eval("kql_dyn_to_string(NULL)"), "");
    assert_eq!(eval("kql_dyn_to_string('[1, 2]')"), "[1,2]");
    assert_eq!(eval("kql_dyn_to_long('\"42\"')"), "42");
    assert_eq!(eval("kql_dyn_to_long('1.9')"), "1");
    assert_eq!(eval("kql_dyn_to_long('true')"), "1");
    assert_eq!(eval("kql_dyn_to_long('\"x\"')"), "NULL");
    assert_eq!(eval("kql_dyn_to_long('[1]')"), "NULL");
    assert_eq!(eval("kql_dyn_to_int('5000000000')"), "NULL");
    assert_eq!(eval("arrow_typeof(kql_dyn_to_int('5'))"), "Int32");
    assert_eq!(eval("kql_dyn_to_double('\" 2.5 \"')"), "2.5");
    assert_eq!(eval("kql_dyn_to_bool('\"TRUE\"')"), "true");
    assert_eq!(eval("kql_dyn_to_bool('0')"), "false");
    assert_eq!(eval("kql_dyn_to_bool('\"maybe\"')"), "NULL");
    assert_eq!(
        eval("kql_tostring_datetime(kql_dyn_to_datetime('\"2025-06-03 10:00:00\"'))"),
        "2025-06-03T10:00:00Z"
    );
    assert_eq!(eval("kql_dyn_to_datetime('\"yesterday\"')"), "NULL");
    assert_eq!(eval("kql_dyn_to_timespan('\"00:05:00\"')"), "300000000000");
    assert_eq!(eval("kql_dyn_to_timespan('5')"), "NULL");
}

#[test]
fn gettype_names() {
    let v = column(
        r#"SELECT kql_gettype(j) FROM (VALUES ('"s"'), ('1'), ('1.5'), ('true'), ('[]'), ('{}'), ('null'), (NULL)) AS t(j)"#,
    );
    assert_eq!(
        v,
        [
            "string",
            "long",
            "real",
            "bool",
            "array",
            "dictionary",
            "null",
            "null"
        ]
    );
}

#[test]
fn arrays() {
    assert_eq!(eval("kql_array_length('[1,[2,3],\"x\"]')"), "3");
    assert_eq!(eval("kql_array_length('{\"a\":1}')"), "NULL");
    assert_eq!(
        eval("kql_array_concat('[1,2]', '[ \"a\" ]', '[]')"),
        r#"[1,2,"a"]"#
    );
    assert_eq!(eval("kql_array_concat('[1]', '3')"), "NULL");
    assert_eq!(eval("kql_array_slice('[1,2,3,4]', 1, 2)"), "[2,3]");
    assert_eq!(eval("kql_array_slice('[1,2,3,4]', -2, -1)"), "[3,4]");
    assert_eq!(eval("kql_array_slice('[1,2,3,4]', 2, 100)"), "[3,4]");
    assert_eq!(eval("kql_array_slice('[1,2,3,4]', 3, 1)"), "[]");
    assert_eq!(eval("kql_array_index_of('[1,\"b\",2.0]', '2')"), "2");
    assert_eq!(eval("kql_array_index_of('[1,\"b\"]', '\"c\"')"), "-1");
    assert_eq!(eval("kql_set_has_element('[1,\"b\"]', '\"b\"')"), "true");
    assert_eq!(
        eval("kql_array_sort_asc('[3,null,\"b\",1.5,\"a\",1]')"),
        r#"[1,1.5,3,"a","b",null]"#
    );
    assert_eq!(eval("kql_array_sort_desc('[3,null,1,2]')"), "[3,2,1,null]");
}

#[test]
fn sets_are_distinct_in_order_of_first_appearance() {
    assert_eq!(eval("kql_set_union('[3,1,3]', '[2,1]')"), "[3,1,2]");
    assert_eq!(
        eval("kql_set_intersect('[3,1,2,1]', '[1,2]', '[2,1,9]')"),
        "[1,2]"
    );
    assert_eq!(eval("kql_set_difference('[3,1,2,3]', '[1]', '[2]')"), "[3]");
    assert_eq!(eval("kql_set_union('[1]', NULL)"), "NULL");
}

#[test]
fn packing_arrays_and_bags() {
    assert_eq!(
        eval("kql_pack_array('1', '\"a\"', NULL, '[2]')"),
        r#"[1,"a",null,[2]]"#
    );
    assert_eq!(eval("kql_pack_array()"), "[]");
    assert_eq!(
        eval("kql_bag_pack('b', '1', 'a', '\"x\"', 'b', '2')"),
        r#"{"a":"x","b":1}"#
    );
    assert_eq!(eval("kql_bag_pack('k', NULL)"), r#"{"k":null}"#);
    assert!(eval_err("kql_bag_pack('k')").contains("key/value pairs"));
    assert_eq!(eval(r#"kql_bag_keys('{"b":1,"a":2}')"#), r#"["a","b"]"#);
    assert_eq!(eval(r#"kql_bag_keys('[1]')"#), "NULL");
    assert_eq!(
        eval(r#"kql_bag_merge('{"a":1}', '[1]', '{"a":2,"b":3}')"#),
        r#"{"a":1,"b":3}"#
    );
    assert_eq!(
        eval(r#"kql_bag_remove_keys('{"a":1,"b":{"c":2,"d":3},"e":4}', '["a","$.b.c"]')"#),
        r#"{"b":{"d":3},"e":4}"#
    );
    assert_eq!(eval(r#"kql_bag_has_key('{"a":{"b":1}}', 'a')"#), "true");
    assert_eq!(eval(r#"kql_bag_has_key('{"a":{"b":1}}', '$.a.b')"#), "true");
    assert_eq!(eval(r#"kql_bag_has_key('{"a":{"b":1}}', 'b')"#), "false");
    assert_eq!(eval(r#"kql_bag_has_key(NULL, 'b')"#), "NULL");
}

#[test]
fn json_equality_is_structural() {
    assert_eq!(
        eval(r#"kql_json_equal('{"a":[1,2]}', '{ "a" : [1, 2.0] }')"#),
        "true"
    );
    assert_eq!(eval(r#"kql_json_equal('[1,2]', '[2,1]')"#), "false");
    assert_eq!(eval(r#"kql_json_equal('1', NULL)"#), "NULL");
}

#[test]
fn elements_for_mv_expand() {
    let v = column(r#"SELECT unnest(kql_json_elements('[1,"a",null,{"b":2}]'))"#);
    assert_eq!(v, ["1", r#""a""#, "NULL", r#"{"b":2}"#]);
    let v = column(r#"SELECT unnest(kql_json_elements('{"y":[1],"x":2}'))"#);
    assert_eq!(v, [r#"{"x":2}"#, r#"{"y":[1]}"#]);
    let v = column(r#"SELECT unnest(kql_json_elements_kv('{"y":[1],"x":2}'))"#);
    assert_eq!(v, [r#"["x",2]"#, r#"["y",[1]]"#]);
    let v = column(r#"SELECT unnest(kql_json_elements('"solo"'))"#);
    assert_eq!(v, [r#""solo""#]);
    assert!(column("SELECT unnest(kql_json_elements(NULL))").is_empty());
}

#[test]
fn mv_expand_keeps_other_columns() {
    let v = column(
        r#"SELECT id || ':' || e FROM (SELECT id, unnest(kql_json_elements(j)) AS e FROM (VALUES (1, '[10,20]'), (2, '[]'), (3, '"x"')) AS t(id, j)) ORDER BY 1"#,
    );
    assert_eq!(v, ["1:10", "1:20", r#"3:"x""#]);
}

#[test]
fn ranges() {
    assert_eq!(
        column("SELECT unnest(kql_range_list(1, 5, 2))"),
        ["1", "3", "5"]
    );
    assert_eq!(
        column("SELECT unnest(kql_range_list(3, 1, -1))"),
        ["3", "2", "1"]
    );
    assert_eq!(
        column("SELECT unnest(kql_range_list(1, 3))"),
        ["1", "2", "3"]
    );
    assert_eq!(
        column("SELECT unnest(kql_range_list(0, 1, 0.5))"),
        ["0.0", "0.5", "1.0"]
    );
    assert!(column("SELECT unnest(kql_range_list(1, 5, 0))").is_empty());
    assert_eq!(
        column(
            "SELECT kql_tostring_datetime(t) FROM (SELECT unnest(kql_range_list(kql_todatetime('2024-01-01'), \
             kql_todatetime('2024-01-01T02:00:00Z'), 3600000000000)) AS t)"
        ),
        ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"]
    );
    assert_eq!(eval("kql_array_length(kql_to_json(1))"), "NULL");
    assert_eq!(eval("cardinality(kql_range_list(0, 10000000))"), "1048576");
}
