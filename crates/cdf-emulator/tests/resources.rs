//! Events, files, sequences (+rows), labels, relationships, data sets, extraction pipelines
//! (+runs) and sessions: the behaviour and error paths a client notices.
mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn events_validate_times_and_filter() {
    let api = Api::start().await;
    let a = api.create("assets", json!([{"name": "A"}])).await;
    api.create(
        "events",
        json!([{"externalId": "e1", "startTime": 10, "endTime": 20, "type": "alarm", "assetIds": [a[0]["id"]]},
               {"externalId": "e2", "startTime": 30, "type": "info"}]),
    )
    .await;
    let r = api.post("/events", json!({"items": [{"startTime": 20, "endTime": 10}]})).await;
    assert_eq!(r.status, 400);
    assert!(r.error()["message"].as_str().unwrap().contains("endTime"));
    let r = api.post("/events/list", json!({"filter": {"type": "alarm"}})).await;
    assert_eq!(r.items().len(), 1);
    let r = api.post("/events/list", json!({"filter": {"assetIds": [a[0]["id"]]}})).await;
    assert_eq!(r.items()[0]["externalId"], "e1");
    let r = api.post("/events/list", json!({"filter": {"endTime": {"isNull": true}}})).await;
    assert_eq!(r.items()[0]["externalId"], "e2");
    let r = api.post("/events/list", json!({"filter": {"activeAtTime": {"min": 15, "max": 16}}})).await;
    assert_eq!(r.items().iter().map(|e| e["externalId"].clone()).collect::<Vec<_>>(), vec![json!("e1")]);
    let r =
        api.post("/events/update", json!({"items": [{"externalId": "e1", "update": {"endTime": {"set": 5}}}]})).await;
    assert_eq!(r.status, 400, "update may not make endTime < startTime");
    let r = api.post("/events/update", json!({"items": [{"externalId": "e1", "update": {"assetIds": {"remove": [a[0]["id"]]}, "type": {"setNull": true}}}]})).await;
    assert_eq!(r.items()[0]["assetIds"], json!([]));
    assert!(r.items()[0].get("type").is_none());
    assert_eq!(
        api.post("/events/delete", json!({"items": [{"externalId": "e1"}, {"externalId": "e2"}]})).await.status,
        200
    );
    assert!(api.dump("events").await.is_empty());
}

#[tokio::test]
async fn files_one_per_create_overwrite_and_upload() {
    let api = Api::start().await;
    let r = api.post("/files", json!({"externalId": "f", "name": "a.txt"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["uploaded"], false);
    let upload_url = r.body["uploadUrl"].as_str().unwrap().to_string();
    let id = r.body["id"].clone();
    let r = api.post("/files", json!({"externalId": "f", "name": "b.txt"})).await;
    assert_eq!(r.status, 409);
    let r = api.post("/files?overwrite=true", json!({"externalId": "f", "name": "b.txt"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["id"], id, "overwrite keeps the id");
    assert_eq!(r.body["name"], "b.txt");
    assert_eq!(api.http.put(&upload_url).body("hello").send().await.unwrap().status().as_u16(), 200);
    assert_eq!(api.dump("files").await[0]["uploaded"], true);
    let r = api.post("/files/update", json!({"items": [{"id": id, "update": {"name": {"set": "c"}}}]})).await;
    assert_eq!(r.status, 400, "file names cannot be updated");
}

#[tokio::test]
async fn sequences_columns_rows_and_types() {
    let api = Api::start().await;
    let s = api
        .create("sequences", json!([{"externalId": "s", "columns": [{"externalId": "d"}, {"externalId": "l", "valueType": "long"}, {"externalId": "t", "valueType": "STRING"}]}]))
        .await;
    let types: Vec<Value> = s[0]["columns"].as_array().unwrap().iter().map(|c| c["valueType"].clone()).collect();
    assert_eq!(types, vec![json!("DOUBLE"), json!("LONG"), json!("STRING")]);
    let r = api.post("/sequences", json!({"items": [{"externalId": "x", "columns": []}]})).await;
    assert_eq!(r.status, 400);
    let ok = json!({"items": [{"externalId": "s", "columns": ["d", "l", "t"], "rows": [{"rowNumber": 1, "values": [1.5, 2, "a"]}, {"rowNumber": 2, "values": [null, 3, "b"]}]}]});
    assert_eq!(api.post("/sequences/data", ok).await.status, 200);
    let r = api
        .post(
            "/sequences/data",
            json!({"items": [{"externalId": "s", "columns": ["l"], "rows": [{"rowNumber": 3, "values": [1.5]}]}]}),
        )
        .await;
    assert_eq!(r.status, 400, "LONG column rejects 1.5: {}", r.body);
    // A row whose values are all null is rejected, whole request and all (cognite-sdk-python's
    // insert_dataframe drops such rows because "these will be rejected by the API").
    let r = api
        .post(
            "/sequences/data",
            json!({"items": [{"externalId": "s", "columns": ["d", "t"],
                              "rows": [{"rowNumber": 5, "values": [1.0, "x"]}, {"rowNumber": 6, "values": [null, null]}]}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.error()["message"].as_str().unwrap().contains("items[0].rows[1].values"), "{}", r.body);
    let r = api.post("/sequences/data/list", json!({"externalId": "s", "start": 5, "end": 7})).await;
    assert_eq!(r.body["rows"], json!([]), "nothing of the rejected request was stored");
    let r = api
        .post(
            "/sequences/data",
            json!({"items": [{"externalId": "s", "columns": ["d"], "rows": [{"rowNumber": 1, "values": [9]}]}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = api.post("/sequences/data/list", json!({"externalId": "s", "start": 0, "limit": 1})).await;
    assert_eq!(
        r.body["rows"],
        json!([{"rowNumber": 1, "values": [9, 2, "a"]}]),
        "insert overwrites only the given columns"
    );
    let next = r.body["nextCursor"].as_str().unwrap().to_string();
    let r = api
        .post("/sequences/data/list", json!({"externalId": "s", "limit": 1, "cursor": next, "columns": ["t"]}))
        .await;
    assert_eq!(r.body["rows"], json!([{"rowNumber": 2, "values": ["b"]}]));
    let r = api.post("/sequences/data/latest", json!({"externalId": "s"})).await;
    assert_eq!(r.body["rows"][0]["rowNumber"], 2);
    assert_eq!(
        api.post("/sequences/data/delete", json!({"items": [{"externalId": "s", "rows": [1]}]})).await.status,
        200
    );
    assert_eq!(api.dump("sequences/data").await[0]["rows"].as_array().unwrap().len(), 1);
    let r = api.post("/sequences/update", json!({"items": [{"externalId": "s", "update": {"columns": {"add": [{"externalId": "n"}], "remove": [{"externalId": "t"}]}}}]})).await;
    let cols: Vec<Value> =
        r.items()[0]["columns"].as_array().unwrap().iter().map(|c| c["externalId"].clone()).collect();
    assert_eq!(cols, vec![json!("d"), json!("l"), json!("n")]);
}

#[tokio::test]
async fn labels_have_no_ids_and_no_update() {
    let api = Api::start().await;
    let l = api.create("labels", json!([{"externalId": "l1", "name": "L1"}])).await;
    assert!(l[0].get("id").is_none());
    assert_eq!(api.post("/labels", json!({"items": [{"externalId": "l1", "name": "again"}]})).await.status, 409);
    assert_eq!(api.post("/labels", json!({"items": [{"name": "no xid"}]})).await.status, 400);
    assert_eq!(api.post("/labels/update", json!({"items": []})).await.status, 404);
    let r = api.post("/labels/delete", json!({"items": [{"externalId": "nope"}]})).await;
    assert_eq!(r.error()["missing"], json!([{"externalId": "nope"}]));
    assert_eq!(api.post("/labels/delete", json!({"items": [{"externalId": "l1"}]})).await.status, 200);
}

#[tokio::test]
async fn relationships_normalise_types_and_check_confidence() {
    let api = Api::start().await;
    let rel = json!({"externalId": "r", "sourceExternalId": "a", "sourceType": "ASSET", "targetExternalId": "t", "targetType": "timeseries"});
    let r = api.create("relationships", json!([rel])).await;
    assert_eq!(r[0]["sourceType"], "asset");
    assert_eq!(r[0]["targetType"], "timeSeries");
    let bad = json!({"items": [{"externalId": "r2", "sourceExternalId": "a", "sourceType": "asset", "targetExternalId": "t", "targetType": "asset", "confidence": 1.5}]});
    assert_eq!(api.post("/relationships", bad).await.status, 400);
    let r = api.post("/relationships/list", json!({"filter": {"targetTypes": ["timeSeries"]}})).await;
    assert_eq!(r.items().len(), 1);
    api.create("timeseries", json!([{"externalId": "t"}])).await;
    let r = api.post("/relationships/byids", json!({"items": [{"externalId": "r"}], "fetchResources": true})).await;
    assert_eq!(r.items()[0]["target"]["externalId"], "t");
}

#[tokio::test]
async fn datasets_ten_per_create_and_no_delete() {
    let api = Api::start().await;
    let many: Vec<Value> = (0..11).map(|i| json!({"externalId": format!("d{i}")})).collect();
    let r = api.post("/datasets", json!({"items": many})).await;
    assert_eq!(r.status, 400);
    assert!(r.error()["message"].as_str().unwrap().contains("between 1 and 10"));
    let d = api.create("datasets", json!([{"externalId": "d", "name": "D"}])).await;
    assert_eq!(d[0]["writeProtected"], false);
    assert_eq!(api.post("/datasets/delete", json!({"items": [{"id": d[0]["id"]}]})).await.status, 404);
    let r = api.post("/assets/list", json!({"filter": {"dataSetIds": [{"externalId": "d"}]}})).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn extraction_pipelines_and_runs() {
    let api = Api::start().await;
    let r = api.post("/extpipes", json!({"items": [{"externalId": "p", "name": "P", "dataSetId": 123}]})).await;
    assert_eq!(r.status, 400, "the data set must exist");
    let d = api.create("datasets", json!([{"externalId": "d"}])).await;
    api.create("extpipes", json!([{"externalId": "p", "name": "P", "dataSetId": d[0]["id"], "rawTables": [{"dbName": "db", "tableName": "t"}]}])).await;
    let r = api.post("/extpipes/runs", json!({"items": [{"externalId": "p", "status": "success", "createdTime": 1000}, {"externalId": "p", "status": "failure", "message": "boom", "createdTime": 2000}]})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api.post("/extpipes/runs", json!({"items": [{"externalId": "ghost", "status": "success"}]})).await;
    assert_eq!(r.error()["missing"], json!([{"externalId": "ghost"}]));
    assert_eq!(
        api.post("/extpipes/runs", json!({"items": [{"externalId": "p", "status": "maybe"}]})).await.status,
        400
    );
    let r = api.post("/extpipes/runs/list", json!({"filter": {"externalId": "p", "statuses": ["failure"]}})).await;
    assert_eq!(r.items().len(), 1);
    assert_eq!(r.items()[0]["message"], "boom");
    let p = &api.dump("extpipes").await[0];
    assert_eq!(
        (p["lastSuccess"].clone(), p["lastFailure"].clone(), p["lastMessage"].clone()),
        (json!(1000), json!(2000), json!("boom"))
    );
    assert_eq!(api.post("/extpipes/delete", json!({"items": [{"externalId": "p"}]})).await.status, 200);
    assert!(api.dump("extpipes/runs").await.is_empty());
}

#[tokio::test]
async fn sessions_create_list_revoke() {
    let api = Api::start().await;
    let r = api.post("/sessions", json!({"items": [{"clientId": "demo-client", "clientSecret": "demo-secret"}]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = r.items()[0].clone();
    assert_eq!((s["type"].clone(), s["status"].clone()), (json!("CLIENT_CREDENTIALS"), json!("READY")));
    assert!(s["nonce"].as_str().unwrap().len() > 10);
    let r = api.post("/sessions", json!({"items": [{"clientId": "demo-client", "clientSecret": "wrong"}]})).await;
    assert_eq!(r.status, 400);
    api.post("/sessions", json!({"items": [{"tokenExchange": true}]})).await;
    let r = api.get("/sessions").await;
    assert_eq!(r.items().len(), 2);
    assert!(r.items()[0].get("nonce").is_none(), "nonces are shown only once");
    let r = api.post("/sessions/revoke", json!({"items": [{"id": s["id"]}]})).await;
    assert_eq!(r.items()[0]["status"], "REVOKED");
    assert_eq!(api.get("/sessions?status=READY").await.items().len(), 1);
}

#[tokio::test]
async fn events_list_sorts_with_nulls_placement_and_a_cursor() {
    let api = Api::start().await;
    api.create(
        "events",
        json!([{"externalId": "a", "startTime": 30}, {"externalId": "b"}, {"externalId": "c", "startTime": 10},
               {"externalId": "d", "startTime": 20}]),
    )
    .await;
    let order = |r: &Resp| r.items().iter().map(|e| e["externalId"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let sorted = |order: &str, nulls: &str| json!({"sort": [{"property": ["startTime"], "order": order, "nulls": nulls}], "limit": 2});
    let first = api.post("/events/list", sorted("desc", "first")).await;
    assert_eq!(order(&first), ["b", "a"]);
    let cursor = first.body["nextCursor"].clone();
    let mut rest = sorted("desc", "first");
    rest["cursor"] = cursor;
    let second = api.post("/events/list", rest).await;
    assert_eq!(order(&second), ["d", "c"]);
    assert!(second.body.get("nextCursor").is_none());
    let asc = api.post("/events/list", json!({"sort": [{"property": ["startTime"]}]})).await;
    assert_eq!(order(&asc), ["c", "d", "a", "b"], "auto: NULLs last ascending");
    let r = api.post("/events/list", json!({"sort": [{"property": ["type"]}]})).await;
    assert_eq!(r.status, 400);
}
