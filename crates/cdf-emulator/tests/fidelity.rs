//! Status codes and bodies as CDF answers them (sources in src/resources/idents.rs, the README
//! "Rules and their sources" table, and the comments next to each rule).
mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_repeated_identifier_is_422_for_time_series_409_for_events_and_files() {
    let api = Api::start().await;
    let ts = api.create("timeseries", json!([{"externalId": "t1"}, {"externalId": "t2"}])).await;
    let r = api.post("/timeseries/byids", json!({"items": [{"externalId": "t1"}, {"externalId": "t1"}]})).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body,
        json!({"error": {"code": 422, "message": "Duplicate time series references", "duplicated": [{"externalId": "t1"}]}})
    );
    // Repeated unknown ids: the repeat is reported before the unknown id.
    let r = api.post("/timeseries/delete", json!({"items": [{"id": 999991}, {"id": 999991}]})).await;
    assert_eq!((r.status, r.error()["duplicated"].clone()), (422, json!([{"id": 999991}])));
    // One series by id and by externalId (ignoreUnknownIds): 409 naming both.
    let r = api
        .post(
            "/timeseries/delete",
            json!({"items": [{"externalId": "t1"}, {"externalId": "nope"}, {"id": ts[0]["id"]}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error()["message"], "Conflicting time series references");
    assert_eq!(r.error()["duplicated"], json!([{"id": ts[0]["id"], "externalId": "t1"}]));

    let ev = api.create("events", json!([{"externalId": "e1"}])).await;
    let r = api.post("/events/byids", json!({"items": [{"id": 999991}, {"id": 999991}]})).await;
    assert_eq!(
        r.body,
        json!({"error": {"code": 409, "message": "Event id duplicated", "duplicated": [{"id": 999991}]}})
    );
    let r = api
        .post("/events/delete", json!({"items": [{"externalId": "e1"}, {"id": ev[0]["id"]}], "ignoreUnknownIds": true}))
        .await;
    assert_eq!((r.status, r.error()["duplicated"].clone()), (409, json!([{"id": ev[0]["id"]}])));

    let r = api.post("/files/byids", json!({"items": [{"externalId": "f"}, {"externalId": "f"}]})).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error()["message"], "Duplicate external ids: f");
    let r = api.post("/files/delete", json!({"items": [{"id": 999991}, {"id": 999991}]})).await;
    assert_eq!((r.status, r.error()["message"].clone()), (409, json!("Duplicate ids: 999991")));
    // Nothing was deleted by the rejected requests.
    assert_eq!(api.dump("timeseries").await.len(), 2);
    assert_eq!(api.dump("events").await.len(), 1);
}

#[tokio::test]
async fn assets_delete_checks_repeated_ids_first_byids_unknown_ids_first() {
    let api = Api::start().await;
    let a = api.create("assets", json!([{"externalId": "a", "name": "A"}])).await;
    let r = api.post("/assets/delete", json!({"items": [{"id": 999991}, {"id": 999991}]})).await;
    assert_eq!(
        r.body,
        json!({"error": {"code": 409, "message": "Asset id duplicated", "duplicated": [{"id": 999991}]}})
    );
    let r = api.post("/assets/delete", json!({"items": [{"externalId": "zz"}, {"externalId": "zz"}]})).await;
    assert_eq!(
        r.body,
        json!({"error": {"code": 400, "message": "External id not found", "missing": [{"externalId": "zz"}]}})
    );
    let r = api.post("/assets/byids", json!({"items": [{"id": 999991}, {"id": 999991}]})).await;
    assert_eq!(r.body, json!({"error": {"code": 400, "message": "Asset id not found", "missing": [{"id": 999991}]}}));
    let r = api
        .post("/assets/delete", json!({"items": [{"externalId": "a"}, {"id": a[0]["id"]}], "ignoreUnknownIds": true}))
        .await;
    assert_eq!((r.status, r.error()["duplicated"].clone()), (409, json!([{"id": a[0]["id"]}])));
    assert_eq!(api.dump("assets").await.len(), 1);
}

#[tokio::test]
async fn unknown_ids_with_and_without_ignore_unknown_ids() {
    let api = Api::start().await;
    let ts = api.create("timeseries", json!([{"externalId": "t1"}])).await;
    let r = api
        .post("/timeseries/byids", json!({"items": [{"externalId": "t1"}, {"id": 999991}, {"externalId": "x"}]}))
        .await;
    assert_eq!(
        r.body,
        json!({"error": {"code": 400, "message": "Time series not found", "missing": [{"id": 999991}, {"externalId": "x"}]}})
    );
    let r = api
        .post("/timeseries/byids", json!({"items": [{"externalId": "t1"}, {"id": 999991}], "ignoreUnknownIds": true}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.items().len(), 1);
    let r = api.post("/events/byids", json!({"items": [{"id": 999991}]})).await;
    assert_eq!((r.status, r.error()["message"].clone()), (400, json!("Event id not found")));
    let r = api.post("/files/byids", json!({"items": [{"id": 999991}, {"id": 999992}]})).await;
    assert_eq!(r.error()["message"], "File ids not found: 999991, 999992");
    let r = api.post("/timeseries/delete", json!({"items": [{"id": 999991}], "ignoreUnknownIds": true})).await;
    assert_eq!(r.status, 200);
    let r = api.post("/timeseries/delete", json!({"items": [{"id": ts[0]["id"]}, {"id": 999991}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(api.dump("timeseries").await.len(), 1, "a rejected delete deletes nothing");
}

#[tokio::test]
async fn metadata_is_an_empty_object_for_assets_files_and_time_series_not_events() {
    let api = Api::start().await;
    let a = api.create("assets", json!([{"name": "A"}])).await;
    assert_eq!(a[0]["metadata"], json!({}));
    let t = api.create("timeseries", json!([{"externalId": "t"}])).await;
    assert_eq!(t[0]["metadata"], json!({}));
    assert_eq!(t[0]["accessCategories"], json!([]));
    let r = api.post("/files", json!({"name": "f.txt"})).await;
    assert_eq!(r.body["metadata"], json!({}));
    let e = api.create("events", json!([{"type": "x"}])).await;
    assert!(e[0].get("metadata").is_none(), "{}", e[0]);
    let r = api.post("/assets/list", json!({})).await;
    assert_eq!(r.items()[0]["metadata"], json!({}));
}

#[tokio::test]
async fn no_op_updates_keep_last_updated_time_for_events_and_time_series_not_assets() {
    let api = Api::start().await;
    let e = api.create("events", json!([{"externalId": "e", "type": "x"}])).await;
    let t = api.create("timeseries", json!([{"externalId": "t", "name": "n"}])).await;
    let a = api.create("assets", json!([{"externalId": "a", "name": "n"}])).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let upd = |xid: &str, field: &str, v: &str| json!({"items": [{"externalId": xid, "update": {field: {"set": v}}}]});
    let r = api.post("/events/update", upd("e", "type", "x")).await;
    assert_eq!(r.items()[0]["lastUpdatedTime"], e[0]["lastUpdatedTime"]);
    let r = api.post("/timeseries/update", upd("t", "name", "n")).await;
    assert_eq!(r.items()[0]["lastUpdatedTime"], t[0]["lastUpdatedTime"]);
    let r = api.post("/assets/update", upd("a", "name", "n")).await;
    assert_ne!(r.items()[0]["lastUpdatedTime"], a[0]["lastUpdatedTime"]);
    // A real change moves it for every resource.
    let r = api.post("/events/update", upd("e", "type", "y")).await;
    assert_ne!(r.items()[0]["lastUpdatedTime"], e[0]["lastUpdatedTime"]);
}

async fn numeric(api: &Api) {
    api.create("timeseries", json!([{"externalId": "n"}, {"externalId": "s", "isString": true}])).await;
}

async fn insert(api: &Api, xid: &str, points: Value) -> Resp {
    api.post("/timeseries/data", json!({"items": [{"externalId": xid, "datapoints": points}]})).await
}

async fn list(api: &Api, extra: Value) -> Vec<Value> {
    let mut item = json!({"externalId": "n", "start": 0, "end": 100000});
    for (k, v) in extra.as_object().unwrap() {
        item[k] = v.clone();
    }
    let r = api.post("/timeseries/data/list", json!({ "items": [item] })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.items()[0]["datapoints"].as_array().unwrap().clone()
}

#[tokio::test]
async fn datapoint_status_codes_are_stored_filtered_and_returned() {
    let api = Api::start().await;
    numeric(&api).await;
    let r = insert(
        &api,
        "n",
        json!([
            {"timestamp": 1000, "value": 1},
            {"timestamp": 2000, "value": 2, "status": {"code": 1073741824}},
            {"timestamp": 3000, "value": null, "status": {"symbol": "Bad"}},
            {"timestamp": 4000, "value": "Infinity", "status": {"code": 2147483648u64, "symbol": "Bad"}},
            {"timestamp": 5000, "value": 5, "status": {"code": 0}},
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Default: only Good points, without status.
    let ts = |pts: &[Value]| pts.iter().map(|p| p["timestamp"].as_i64().unwrap()).collect::<Vec<_>>();
    let pts = list(&api, json!({})).await;
    assert_eq!(ts(&pts), vec![1000, 5000]);
    assert!(pts.iter().all(|p| p.get("status").is_none()));
    // Uncertain counts as Good when asked, Bad points when not ignored.
    assert_eq!(ts(&list(&api, json!({"treatUncertainAsBad": false})).await), vec![1000, 2000, 5000]);
    let all = list(&api, json!({"ignoreBadDataPoints": false, "includeStatus": true})).await;
    assert_eq!(ts(&all), vec![1000, 2000, 3000, 4000, 5000]);
    assert!(all[0].get("status").is_none(), "Good points carry no status");
    assert_eq!(all[1]["status"], json!({"code": 1073741824, "symbol": "Uncertain"}));
    assert_eq!(all[2]["status"], json!({"code": 2147483648u64, "symbol": "Bad"}));
    assert!(all[2].get("value").is_none(), "a bad point stored without value: {}", all[2]);
    assert_eq!(all[3]["value"], "Infinity");
    // Latest honours the same flags.
    let r = api.post("/timeseries/data/latest", json!({"items": [{"externalId": "n", "before": 4500}]})).await;
    assert_eq!(r.items()[0]["datapoints"][0]["timestamp"], 1000);
    let r = api
        .post(
            "/timeseries/data/latest",
            json!({"items": [{"externalId": "n", "before": 4500}], "ignoreBadDataPoints": false, "includeStatus": true}),
        )
        .await;
    assert_eq!(r.items()[0]["datapoints"][0]["status"]["symbol"], "Bad");
    // A Good point overwriting a Bad one clears its status.
    assert_eq!(insert(&api, "n", json!([{"timestamp": 3000, "value": 3}])).await.status, 200);
    assert_eq!(ts(&list(&api, json!({})).await), vec![1000, 3000, 5000]);
    // The dump shows statuses.
    let dump = api.dump("timeseries/data").await;
    assert_eq!(dump[0]["datapoints"][1]["status"]["code"], 1073741824);
}

#[tokio::test]
async fn datapoint_status_codes_are_validated() {
    let api = Api::start().await;
    numeric(&api).await;
    let api = &api;
    let bad = |point: Value| async move { insert(api, "n", json!([point])).await };
    for (point, why) in [
        (json!({"timestamp": 1, "value": 1, "status": {"code": 3221225472u64}}), "top bits 11"),
        (json!({"timestamp": 1, "value": 1, "status": {"code": 4294967296u64}}), "above 32 bits"),
        (json!({"timestamp": 1, "value": 1, "status": {"code": -1}}), "negative"),
        (json!({"timestamp": 1, "value": 1, "status": {"symbol": "Fine"}}), "unknown symbol"),
        (json!({"timestamp": 1, "value": 1, "status": {"code": 0, "symbol": "Bad"}}), "code and symbol disagree"),
        (json!({"timestamp": 1, "value": 1, "status": {"code": 2147483648u64, "symbol": "Uncertain"}}), "disagree"),
        (json!({"timestamp": 1, "value": 1, "status": {}}), "empty status"),
        (json!({"timestamp": 1, "value": 1, "status": {"code": 0, "colour": 1}}), "unknown field"),
        (json!({"timestamp": 1, "value": null, "status": {"code": 1073741824}}), "uncertain without value"),
        (json!({"timestamp": 1, "value": "NaN"}), "NaN on a good point"),
        (json!({"timestamp": 1, "value": 1e101, "status": {"symbol": "Uncertain"}}), "out of range, not bad"),
    ] {
        let r = bad(point.clone()).await;
        assert_eq!(r.status, 400, "{why}: {point} → {}", r.body);
    }
    let r = bad(json!({"timestamp": 1, "value": 1e101, "status": {"symbol": "BadSensorFailure"}})).await;
    assert_eq!(r.status, 200, "any value on a bad point: {}", r.body);
    let r = bad(json!({"timestamp": 2, "value": "NaN", "status": {"code": 2147483648u64}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.dump("timeseries/data").await[0]["datapoints"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_same_series_twice_in_one_datapoint_insert_is_422() {
    let api = Api::start().await;
    numeric(&api).await;
    let r = api
        .post(
            "/timeseries/data",
            json!({"items": [{"externalId": "n", "datapoints": [{"timestamp": 1, "value": 1}]},
                             {"externalId": "n", "datapoints": [{"timestamp": 2, "value": 2}]}]}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.error()["duplicated"], json!([{"externalId": "n"}]));
}

#[tokio::test]
async fn raw_inserts_answer_200_with_an_empty_object_and_unknown_databases_are_named() {
    let api = Api::start().await;
    let r = api.post("/raw/dbs/db/tables/t/rows", json!({"items": [{"key": "k", "columns": {"a": 1}}]})).await;
    assert_eq!(r.status, 404, "no ensureParent: {}", r.body);
    let r =
        api.post("/raw/dbs/db/tables/t/rows?ensureParent=true", json!({"items": [{"key": "k", "columns": {}}]})).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})), "RawTest/should-ensure-parent.json: 200 {{}}");
    let r = api.post("/raw/dbs/delete", json!({"items": [{"name": "nodb"}, {"name": "nodb"}]})).await;
    assert_eq!(
        r.body,
        json!({"error": {"code": 404, "message": "Following databases not found: nodb, nodb",
                         "missing": [{"name": "nodb"}, {"name": "nodb"}]}})
    );
}

/// `filterNullFields=true` leaves out null-valued columns of listed rows; without it (or `false`)
/// they come back as null. Other columns and empty strings are untouched. Recorded request and
/// answer: cognite-sdk-scala `RawTest/should-allow-controlling-filtering-of-field-with-null-value.json`.
#[tokio::test]
async fn raw_row_lists_leave_out_null_columns_only_with_filter_null_fields() {
    let api = Api::start().await;
    let rows = json!({"items": [{"key": "withNullFields", "columns": {"a": "3", "notthere": null}},
                                {"key": "normal", "columns": {"a": "0", "abc": ""}}]});
    assert_eq!(api.post("/raw/dbs/d/tables/t/rows?ensureParent=true", rows).await.status, 200);
    let columns = |body: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["key"].as_str().unwrap().to_string(), r["columns"].clone()))
            .collect()
    };
    let filtered = api.get("/raw/dbs/d/tables/t/rows?filterNullFields=true&limit=10000").await;
    assert_eq!(
        columns(&filtered.body),
        vec![("normal".into(), json!({"a": "0", "abc": ""})), ("withNullFields".into(), json!({"a": "3"}))]
    );
    for query in ["?filterNullFields=false&limit=10000", "?limit=10000"] {
        let plain = api.get(&format!("/raw/dbs/d/tables/t/rows{query}")).await;
        assert_eq!(columns(&plain.body)[1], ("withNullFields".into(), json!({"a": "3", "notthere": null})), "{query}");
    }
    let picked = api.get("/raw/dbs/d/tables/t/rows?filterNullFields=true&columns=notthere,abc").await;
    assert_eq!(
        columns(&picked.body),
        vec![("normal".into(), json!({"abc": ""})), ("withNullFields".into(), json!({}))]
    );
    assert_eq!(api.get("/raw/dbs/d/tables/t/rows?filterNullFields=yes").await.status, 400);
}
