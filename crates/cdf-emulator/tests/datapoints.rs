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

/// The fields of a protobuf message, nested messages kept as bytes.
fn proto_fields(buf: &[u8]) -> Vec<(u32, cdf_emulator::resources::protobuf::Val<'_>)> {
    let mut r = cdf_emulator::resources::protobuf::Reader::new(buf);
    let mut out = Vec::new();
    while let Some(f) = r.next_field().expect("well-formed protobuf") {
        out.push(f);
    }
    out
}

/// A decoded point: timestamp, value, status code, status symbol, nullValue.
type ProtoPoint = (i64, Value, Option<u64>, Option<String>, bool);

/// The points of the first item of a protobuf `/timeseries/data/list` answer.
fn proto_points(body: &[u8]) -> Vec<ProtoPoint> {
    use cdf_emulator::resources::protobuf::Val;
    let item = proto_fields(body).into_iter().find_map(|(f, v)| match (f, v) {
        (1, Val::Bytes(b)) => Some(b),
        _ => None,
    });
    let mut points = Vec::new();
    for (f, v) in proto_fields(item.expect("one item")) {
        let (is_string, Val::Bytes(list)) = (f == 4, v) else { continue };
        if f != 3 && f != 4 {
            continue;
        }
        for (_, p) in proto_fields(list) {
            let Val::Bytes(p) = p else { panic!("a point is a message") };
            let (mut ts, mut value, mut code, mut symbol, mut null) = (0, Value::Null, None, None, false);
            for (f, v) in proto_fields(p) {
                match (f, v) {
                    (1, Val::Varint(t)) => ts = t as i64,
                    (2, Val::Fixed64(bits)) if !is_string => value = json!(f64::from_bits(bits)),
                    (2, Val::Bytes(s)) if is_string => value = json!(std::str::from_utf8(s).unwrap()),
                    (3, Val::Bytes(st)) => {
                        for (f, v) in proto_fields(st) {
                            match (f, v) {
                                (1, Val::Varint(c)) => code = Some(c),
                                (2, Val::Bytes(s)) => symbol = Some(std::str::from_utf8(s).unwrap().to_string()),
                                _ => {}
                            }
                        }
                    }
                    (4, Val::Varint(n)) => null = n != 0,
                    _ => panic!("unexpected field {f} in a point"),
                }
            }
            points.push((ts, value, code, symbol, null));
        }
    }
    points
}

#[tokio::test]
async fn protobuf_points_carry_statuses_and_missing_values_as_cdf_sends_them() {
    let api = Api::start().await;
    series(&api).await;
    let r = api
        .post(
            "/timeseries/data",
            json!({"items": [
                {"externalId": "num", "datapoints": [
                    {"timestamp": 1, "value": 2.5},
                    {"timestamp": 2, "value": 3, "status": {"code": 1073741824}},
                    {"timestamp": 3, "status": {"symbol": "Bad"}},
                    {"timestamp": 4, "value": 0, "status": {"code": 2147483648u32, "symbol": "BadSensorFailure"}}]},
                {"externalId": "str", "datapoints": [
                    {"timestamp": 1, "value": "on"},
                    {"timestamp": 2, "status": {"symbol": "Bad"}}]}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ask = |xid: &str| {
        json!({"items": [{"externalId": xid, "start": 0, "end": 10}], "includeStatus": true,
            "ignoreBadDataPoints": false, "treatUncertainAsBad": false})
    };
    let proto = |body: Value| {
        let req = api.http.post(api.url("/timeseries/data/list")).bearer_auth(&api.token);
        async move {
            let resp = req.header("accept", "application/protobuf").json(&body).send().await.unwrap();
            assert_eq!(resp.headers()["content-type"], "application/protobuf");
            resp.bytes().await.unwrap().to_vec()
        }
    };
    assert_eq!(
        proto_points(&proto(ask("num")).await),
        vec![
            (1, json!(2.5), None, None, false),
            (2, json!(3.0), Some(1_073_741_824), Some("Uncertain".into()), false),
            (3, Value::Null, Some(2_147_483_648), Some("Bad".into()), true),
            (4, json!(0.0), Some(2_147_483_648), Some("BadSensorFailure".into()), false),
        ]
    );
    assert_eq!(
        proto_points(&proto(ask("str")).await),
        vec![(1, json!("on"), None, None, false), (2, Value::Null, Some(2_147_483_648), Some("Bad".into()), true)]
    );
    // CDF's defaults: Bad points hidden, Uncertain ones too, no status sent.
    let plain = json!({"items": [{"externalId": "num", "start": 0, "end": 10}], "treatUncertainAsBad": false});
    let points = proto_points(&proto(plain).await);
    assert_eq!(points, vec![(1, json!(2.5), None, None, false), (2, json!(3.0), None, None, false)]);
    // The JSON answer to the same request is unchanged.
    let r = api.post("/timeseries/data/list", ask("num")).await;
    assert_eq!(
        r.items()[0]["datapoints"],
        json!([{"timestamp": 1, "value": 2.5},
            {"timestamp": 2, "value": 3.0, "status": {"code": 1073741824, "symbol": "Uncertain"}},
            {"timestamp": 3, "status": {"code": 2147483648u32, "symbol": "Bad"}},
            {"timestamp": 4, "value": 0.0, "status": {"code": 2147483648u32, "symbol": "BadSensorFailure"}}])
    );
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
