mod common;

use common::*;
use serde_json::{json, Value};

async fn series(api: &Api) -> (Value, Value) {
    let ts = api
        .create("timeseries", json!([{"externalId": "num", "name": "n"}, {"externalId": "str", "isString": true}]))
        .await;
    assert_eq!(ts[0]["isString"], false);
    assert_eq!(ts[1]["isString"], true);
    (ts[0].clone(), ts[1].clone())
}

#[tokio::test]
async fn insert_by_id_and_external_id_then_list_and_overwrite() {
    let api = Api::start().await;
    let (num, _) = series(&api).await;
    let r = api
        .post(
            "/timeseries/data",
            json!({"items": [
                {"id": num["id"], "datapoints": [{"timestamp": 3000, "value": 3.5}, {"timestamp": 1000, "value": 1}]},
                {"externalId": "str", "datapoints": [{"timestamp": 1000, "value": "on"}]},
                {"externalId": "num", "datapoints": [{"timestamp": 2000, "value": -2e99}, {"timestamp": 1000, "value": 10}]}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .post(
            "/timeseries/data/list",
            json!({"items": [{"externalId": "num", "start": 0, "end": 10000}, {"externalId": "str"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let points: Vec<(i64, f64)> = r.items()[0]["datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["timestamp"].as_i64().unwrap(), p["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(points, vec![(1000, 10.0), (2000, -2e99), (3000, 3.5)], "sorted, and the later write to 1000 wins");
    assert_eq!(r.items()[1]["datapoints"], json!([{"timestamp": 1000, "value": "on"}]));
    assert_eq!(r.items()[1]["isString"], true);
    let dump = api.dump("timeseries/data").await;
    assert_eq!(dump[0]["externalId"], "num");
    assert_eq!(dump[0]["datapoints"].as_array().unwrap().len(), 3);
    let stats = api.admin_get("/_admin/stats").await;
    assert_eq!(stats["endpoints"]["POST /timeseries/data"]["items"], 5, "items counts datapoints");
}

#[tokio::test]
async fn insert_rejects_what_cdf_rejects() {
    let api = Api::start().await;
    series(&api).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 1.5, "value": 1}]}]}), "whole number"),
        (
            json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": -2208988800001i64, "value": 1}]}]}),
            "range",
        ),
        (
            json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 4102444800000i64, "value": 1}]}]}),
            "range",
        ),
        (json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 1, "value": 1.1e100}]}]}), "1e100"),
        (json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 1, "value": "NaN"}]}]}), "numeric"),
        (json!({"items": [{"externalId": "str", "datapoints": [{"timestamp": 1, "value": 2}]}]}), "string"),
        (json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 1}]}]}), "value"),
        (json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 1, "value": 1, "extra": 1}]}]}), "extra"),
        (json!({"items": []}), "items"),
    ];
    for (body, needle) in cases {
        let r = api.post("/timeseries/data", body).await;
        assert_eq!(r.status, 400, "{needle}: {}", r.body);
        assert!(r.error()["message"].as_str().unwrap().contains(needle), "{needle}: {}", r.body);
    }
    let too_many: Vec<Value> = (0..100_001).map(|i| json!({"timestamp": i, "value": 1})).collect();
    let r = api.post("/timeseries/data", json!({"items": [{"externalId": "num", "datapoints": too_many}]})).await;
    assert_eq!(r.status, 400);
    let r = api.post("/timeseries/data", json!({"items": [{"externalId": "ghost", "datapoints": [{"timestamp": 1, "value": 1}]}, {"id": 5, "datapoints": [{"timestamp": 1, "value": 1}]}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["missing"], json!([{"externalId": "ghost"}, {"id": 5}]));
    // A valid item next to an invalid one is not written either.
    let r = api.post("/timeseries/data", json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 1, "value": 1}]}, {"externalId": "str", "datapoints": [{"timestamp": 1, "value": 1}]}]})).await;
    assert_eq!(r.status, 400);
    assert!(api.dump("timeseries/data").await.iter().all(|s| s["datapoints"].as_array().unwrap().is_empty()));
}

#[tokio::test]
async fn list_limits_cursors_latest_and_range_delete() {
    let api = Api::start().await;
    series(&api).await;
    let points: Vec<Value> = (0..250).map(|i| json!({"timestamp": i * 10, "value": i})).collect();
    assert_eq!(
        api.post("/timeseries/data", json!({"items": [{"externalId": "num", "datapoints": points}]})).await.status,
        200
    );
    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut item = json!({"externalId": "num", "start": 100, "end": 2000, "limit": 60});
        if let Some(c) = &cursor {
            item["cursor"] = json!(c);
        }
        let r = api.post("/timeseries/data/list", json!({"items": [item]})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        got.extend(r.items()[0]["datapoints"].as_array().unwrap().iter().map(|p| p["timestamp"].as_i64().unwrap()));
        match r.items()[0].get("nextCursor").and_then(|c| c.as_str()) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(got, (10..200).map(|i| i * 10).collect::<Vec<i64>>(), "[start, end) in pages of 60");

    let r = api
        .post(
            "/timeseries/data/latest",
            json!({"items": [{"externalId": "num"}, {"externalId": "num", "before": 1005}, {"externalId": "str"}]}),
        )
        .await;
    assert_eq!(r.items()[0]["datapoints"], json!([{"timestamp": 2490, "value": 249.0}]));
    assert_eq!(r.items()[1]["datapoints"], json!([{"timestamp": 1000, "value": 100.0}]));
    assert_eq!(r.items()[2]["datapoints"], json!([]));

    let r = api
        .post(
            "/timeseries/data/delete",
            json!({"items": [{"externalId": "num", "inclusiveBegin": 0, "exclusiveEnd": 2000}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let left = &api.dump("timeseries/data").await[0]["datapoints"];
    assert_eq!(left.as_array().unwrap().len(), 50);
    assert_eq!(left[0]["timestamp"], 2000);
    let r = api.post("/timeseries/data/delete", json!({"items": [{"externalId": "ghost", "inclusiveBegin": 0}]})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn list_answers_protobuf_when_asked() {
    let api = Api::start().await;
    series(&api).await;
    api.post(
        "/timeseries/data",
        json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 1, "value": 2.5}]}]}),
    )
    .await;
    let resp = api
        .http
        .post(api.url("/timeseries/data/list"))
        .bearer_auth(&api.token)
        .header("accept", "application/protobuf")
        .json(&json!({"items": [{"externalId": "num", "start": 0, "end": 10}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/protobuf");
    let bytes = resp.bytes().await.unwrap();
    // items[0] { id, externalId "num", numericDatapoints { datapoints { timestamp 1, value 2.5 } } }
    assert_eq!(bytes[0], 0x0a);
    assert!(bytes.windows(3).any(|w| w == b"num"));
    assert!(bytes.windows(8).any(|w| w == 2.5f64.to_le_bytes()));
}

#[tokio::test]
async fn deleting_a_series_drops_its_datapoints() {
    let api = Api::start().await;
    series(&api).await;
    api.post(
        "/timeseries/data",
        json!({"items": [{"externalId": "num", "datapoints": [{"timestamp": 1, "value": 1}]}]}),
    )
    .await;
    assert_eq!(api.post("/timeseries/delete", json!({"items": [{"externalId": "num"}]})).await.status, 200);
    api.create("timeseries", json!([{"externalId": "num"}])).await;
    let r = api.post("/timeseries/data/list", json!({"items": [{"externalId": "num", "start": 0, "end": 10}]})).await;
    assert_eq!(r.items()[0]["datapoints"], json!([]));
}

#[tokio::test]
async fn aggregates_align_to_the_granularity_unit_and_page() {
    let api = Api::start().await;
    series(&api).await;
    // Points every 20 minutes from 00:10, values 0..12; the 01:30 point is Bad with a value,
    // the 02:10 one Bad without value.
    let minute = 60_000i64;
    let mut points: Vec<Value> = (0..12).map(|i| json!({"timestamp": (10 + 20 * i) * minute, "value": i})).collect();
    points[4]["status"] = json!({"code": 2147483648u32});
    points[6] = json!({"timestamp": 130 * minute, "status": {"symbol": "Bad"}});
    let r = api.post("/timeseries/data", json!({"items": [{"externalId": "num", "datapoints": points}]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let aggregates = json!(["average", "min", "max", "count", "sum"]);
    // start 00:30 rounds down to 00:00 for `1h`; end 03:00 exclusive.
    let item = json!({"externalId": "num", "start": 30 * minute, "end": 180 * minute, "granularity": "1h",
        "aggregates": aggregates, "ignoreBadDataPoints": false, "treatUncertainAsBad": false});
    let r = api.post("/timeseries/data/list", json!({"items": [item]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hour = 60 * minute;
    assert_eq!(
        r.items()[0]["datapoints"],
        json!([
            {"timestamp": 0, "average": 1.0, "min": 0.0, "max": 2.0, "count": 3, "sum": 3.0},
            {"timestamp": hour, "average": 4.0, "min": 3.0, "max": 5.0, "count": 3, "sum": 12.0},
            {"timestamp": 2 * hour, "average": 7.5, "min": 7.0, "max": 8.0, "count": 3, "sum": 15.0},
        ]),
        "the value-less Bad point counts but has no value"
    );
    // By default Bad points are left out; `2h` intervals from 00:00, `count` only.
    let item =
        json!({"externalId": "num", "start": 0, "end": 240 * minute, "granularity": "2h", "aggregates": ["count"]});
    let r = api.post("/timeseries/data/list", json!({"items": [item]})).await;
    assert_eq!(r.items()[0]["datapoints"], json!([{"timestamp": 0, "count": 5}, {"timestamp": 2 * hour, "count": 5}]));
    // Pages of one interval follow the cursor; empty intervals are left out.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut item = json!({"externalId": "num", "start": 0, "end": 100 * hour, "granularity": "90m",
            "aggregates": ["count"], "limit": 1});
        if let Some(c) = &cursor {
            item["cursor"] = json!(c);
        }
        let r = api.post("/timeseries/data/list", json!({"items": [item]})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(r.items()[0]["datapoints"].as_array().unwrap().iter().map(|p| p["timestamp"].as_i64().unwrap()));
        match r.items()[0].get("nextCursor").and_then(|c| c.as_str()) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, vec![0, 90 * minute, 180 * minute]);
    for (body, needle) in [
        (json!({"externalId": "num", "granularity": "1h", "aggregates": ["twa"]}), "twa"),
        (json!({"externalId": "num", "granularity": "1mo", "aggregates": ["count"]}), "granularity"),
        (json!({"externalId": "str", "granularity": "1h", "aggregates": ["count"]}), "string"),
    ] {
        let r = api.post("/timeseries/data/list", json!({"items": [body]})).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.to_string().contains(needle), "{}", r.body);
    }
}
