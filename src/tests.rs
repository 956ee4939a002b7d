// In-backend tests (`cargo pgrx test`): Datum conversions and catalog work that need a backend.

use cdf_tables::Value;
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::json;

use crate::convert::{datum_to_value, value_to_datum};

/// Evaluates `expr` in SQL and decodes the resulting Datum through the FDW's conversion.
fn decode(expr: &str, typoid: pg_sys::Oid) -> Result<Value, String> {
    Spi::connect(|client| {
        let table = client.select(&format!("SELECT {expr}"), None, &[]).unwrap();
        let datum = table.first().get_datum_by_ordinal(1).unwrap().expect("not NULL");
        unsafe { datum_to_value(datum, typoid) }
    })
}

#[pg_test]
fn timestamptz_decodes_to_unix_microseconds() {
    let v = decode("'2024-01-02 03:04:05.678+00'::timestamptz", pg_sys::TIMESTAMPTZOID).unwrap();
    assert_eq!(v, Value::Timestamp(1_704_164_645_678_000));
    let v = decode("'1900-01-01 00:00:00+00'::timestamptz", pg_sys::TIMESTAMPTZOID).unwrap();
    assert_eq!(v, Value::Timestamp(-2_208_988_800_000_000));
}

#[pg_test]
fn infinite_timestamps_are_refused() {
    let e = decode("'infinity'::timestamptz", pg_sys::TIMESTAMPTZOID).unwrap_err();
    assert!(e.contains("infinite"), "{e}");
}

#[pg_test]
fn json_and_jsonb_decode_to_the_same_value() {
    let expected = Value::Json(json!({"a": "1", "b": [1, 2]}));
    assert_eq!(decode(r#"'{"a": "1", "b": [1, 2]}'::json"#, pg_sys::JSONOID).unwrap(), expected);
    assert_eq!(decode(r#"'{"a": "1", "b": [1, 2]}'::jsonb"#, pg_sys::JSONBOID).unwrap(), expected);
}

#[pg_test]
fn arrays_keep_their_nulls_for_the_mapper_to_reject() {
    assert_eq!(
        decode("ARRAY[1, NULL, 3]::bigint[]", pg_sys::INT8ARRAYOID).unwrap(),
        Value::IntArray(vec![Some(1), None, Some(3)])
    );
    assert_eq!(
        decode("ARRAY['x', 'ü']::text[]", pg_sys::TEXTARRAYOID).unwrap(),
        Value::TextArray(vec![Some("x".into()), Some("ü".into())])
    );
    assert_eq!(decode("ARRAY[7]::int[]", pg_sys::INT4ARRAYOID).unwrap(), Value::IntArray(vec![Some(7)]));
}

#[pg_test]
fn values_round_trip_through_datums() {
    let cases = [
        (Value::Int(-5), pg_sys::INT8OID),
        (Value::Double(2.5), pg_sys::FLOAT8OID),
        (Value::Bool(true), pg_sys::BOOLOID),
        (Value::Text("väl".into()), pg_sys::TEXTOID),
        (Value::Timestamp(1_700_000_000_123_000), pg_sys::TIMESTAMPTZOID),
        (Value::Json(json!({"k": "v"})), pg_sys::JSONOID),
        (Value::Json(json!({"k": "v"})), pg_sys::JSONBOID),
        (Value::IntArray(vec![Some(1), Some(2)]), pg_sys::INT8ARRAYOID),
        (Value::TextArray(vec![Some("a".into())]), pg_sys::TEXTARRAYOID),
    ];
    for (value, typoid) in cases {
        let datum = value_to_datum(value.clone(), typoid).expect("not NULL");
        let back = unsafe { datum_to_value(datum, typoid) }.unwrap();
        assert_eq!(back, value, "type oid {typoid:?}");
    }
    assert_eq!(value_to_datum(Value::Null, pg_sys::TEXTOID), None);
}

#[pg_test]
fn import_foreign_schema_honours_limit_to_and_except() {
    Spi::run(
        "CREATE SERVER s FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url 'http://127.0.0.1:1', \
         project 'p', token_url 'http://127.0.0.1:1/token');
         CREATE SCHEMA only_two; CREATE SCHEMA all_but_two;
         IMPORT FOREIGN SCHEMA cdf LIMIT TO (assets, raw_rows) FROM SERVER s INTO only_two;
         IMPORT FOREIGN SCHEMA cdf EXCEPT (assets, raw_rows) FROM SERVER s INTO all_but_two;",
    )
    .unwrap();
    let count = |schema: &str| {
        Spi::get_one::<i64>(&format!(
            "SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema = '{schema}'"
        ))
        .unwrap()
        .unwrap()
    };
    assert_eq!(count("only_two"), 2);
    assert_eq!(count("all_but_two"), 14);
    let key_type = Spi::get_one::<String>(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'only_two.raw_rows'::regclass AND attname = '_raw_database'",
    )
    .unwrap()
    .unwrap();
    assert_eq!(key_type, "character varying(32)");
}

#[pg_test(error = "CDF has no schema \"public\"")]
fn import_from_an_unknown_remote_schema_fails() {
    Spi::run(
        "CREATE SERVER s2 FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url 'http://127.0.0.1:1', \
         project 'p', token_url 'http://127.0.0.1:1/token');
         IMPORT FOREIGN SCHEMA public FROM SERVER s2 INTO public;",
    )
    .unwrap();
}

/// What `copyObject` makes of a plan-private list (cached plans and parallel workers get copies).
unsafe fn copied(list: *mut pg_sys::List) -> *mut pg_sys::List {
    pg_sys::copyObjectImpl(list as *const std::ffi::c_void) as *mut pg_sys::List
}

#[pg_test]
fn scan_plan_data_survives_copy_object() {
    use crate::plan::{PushedCondition, ScanPrivate};
    use cdf_tables::QualOp;
    let private = ScanPrivate {
        conditions: QualOp::ALL.iter().enumerate().map(|(i, op)| PushedCondition { attno: i as i16 + 1, op: *op }).collect(),
        limit: Some(5),
        descending: true,
        param_limit: crate::plan::ParamLimit::WithOffset,
        sort: Some((3, true)),
    };
    unsafe {
        assert_eq!(ScanPrivate::from_list(copied(private.to_list())), private);
        assert_eq!(ScanPrivate::from_list(copied(ScanPrivate::default().to_list())), ScanPrivate::default());
    }
}

#[pg_test]
fn modify_plan_data_survives_copy_object() {
    use crate::plan::ModifyPrivate;
    for private in [
        ModifyPrivate { on_conflict_do_nothing: true, returning: false, updated: vec![] },
        ModifyPrivate { on_conflict_do_nothing: false, returning: true, updated: vec![3, 1, 12] },
        ModifyPrivate::default(),
    ] {
        unsafe { assert_eq!(ModifyPrivate::from_list(copied(private.to_list())), private) };
    }
}
