//! cdf-client against the in-process CDF emulator: auth, retries, deadlines, upserts, paging.
//! Every check looks at what arrived in the emulator, never at its list order or id values.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use cdf_client::session::RetryPolicy;
use cdf_client::{CdfError, ChangeWriter, Idempotency, Reader, TableWriter};
use cdf_tables::{resource, Change, DatapointRow, InsertMode, PointValue, ReadPlan, SeriesRef, WriteRow};
use common::{obj, Env};
use serde_json::{json, Map, Value as Json};

fn asset(xid: &str, name: &str) -> WriteRow {
    WriteRow::Item(obj(json!({ "externalId": xid, "name": name })))
}

fn create_asset(env: &Env, s: &mut cdf_client::Session, xid: &str, name: &str) {
    let body = json!({ "items": [{ "externalId": xid, "name": name, "description": "keep" }] });
    env.run(s.post_json("assets", &[], &body, Idempotency::NotIdempotent)).expect("asset created");
}

/// The rows of a read as JSON objects (points as CDF's JSON answer holds them), and the pages.
fn read_all(env: &Env, s: &mut cdf_client::Session, table: &str, plan: ReadPlan) -> (Vec<Map<String, Json>>, usize) {
    let mut reader = Reader::new(resource(table).unwrap(), plan);
    let (mut rows, mut pages) = (Vec::new(), 0);
    while let Some(page) = env.run(reader.next_page(s)).expect("page") {
        pages += 1;
        rows.extend(page.iter().map(cdf_client::Row::to_json));
    }
    (rows, pages)
}

// ---------------------------------------------------------------- auth

#[test]
fn a_revoked_token_is_replaced_after_one_401() {
    let env = Env::start();
    let mut s = env.session();
    let list = json!({ "limit": 1 });
    env.run(s.post_json("assets/list", &[], &list, Idempotency::Idempotent)).unwrap();
    // The emulator restarted / the IdP revoked every token: the cached one is now refused.
    env.emu.emulator().tokens.lock().clear();
    let r = env.run(s.post_json("assets/list", &[], &list, Idempotency::Idempotent)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(env.requests("POST /oauth2/token"), 2);
    assert_eq!(env.statuses("POST /assets/list"), json!({ "200": 2, "401": 1 }));
}

#[test]
fn tokens_are_renewed_before_they_expire() {
    let env = Env::start();
    env.emu.emulator().set_token_ttl_secs(2);
    let mut s = env.session();
    let list = json!({ "limit": 1 });
    env.run(s.post_json("assets/list", &[], &list, Idempotency::Idempotent)).unwrap();
    env.run(s.post_json("assets/list", &[], &list, Idempotency::Idempotent)).unwrap();
    assert_eq!(env.requests("POST /oauth2/token"), 1, "a live token is reused");
    // Past the refresh point (half of a lifetime this short), still before the expiry.
    std::thread::sleep(Duration::from_millis(1300));
    env.run(s.post_json("assets/list", &[], &list, Idempotency::Idempotent)).unwrap();
    assert_eq!(env.requests("POST /oauth2/token"), 2, "renewed ahead of the expiry");
    std::thread::sleep(Duration::from_millis(2100));
    env.run(s.post_json("assets/list", &[], &list, Idempotency::Idempotent)).unwrap();
    assert_eq!(env.requests("POST /oauth2/token"), 3);
    assert_eq!(env.statuses("POST /assets/list"), json!({ "200": 4 }), "renewed before CDF said 401");
}

#[test]
fn token_endpoint_throttling_and_outages_are_retried() {
    let env = Env::start();
    let mut s = env.session();
    s.retry.max_backoff = Duration::from_secs(3);
    env.faults(json!([{ "endpoint": "POST /oauth2/token", "sequence": [
        { "status": 429, "retryAfter": 1 }, { "status": 503 }, { "status": 500 }, { "drop": true }, null
    ]}]));
    let started = Instant::now();
    env.run(s.check_credentials()).expect("token after retries");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After of the IdP honoured");
    assert_eq!(env.statuses("POST /oauth2/token"), json!({ "429": 1, "503": 1, "500": 1, "0": 1, "200": 1 }));
    // An API request behind a throttled token request gets through too.
    env.faults(json!([{ "endpoint": "POST /oauth2/token", "sequence": [{ "status": 429 }, null] }]));
    s.forget_token();
    env.run(s.post_json("assets/list", &[], &json!({}), Idempotency::Idempotent)).expect("request");
}

#[test]
fn only_400_and_401_from_the_identity_provider_are_auth_errors() {
    let env = Env::start();
    // Wrong secret: an authentication error at once, without retries, without the secret.
    let mut bad = env.session_with("demo-client", "wrong-s3cret-value");
    let e = env.run(bad.check_credentials()).unwrap_err();
    assert!(matches!(e, CdfError::Auth { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("demo-client") && text.contains("401"), "{text}");
    assert!(!text.contains("wrong-s3cret-value"), "{text}");
    assert_eq!(env.statuses("POST /oauth2/token"), json!({ "401": 1 }));

    // An IdP that keeps failing is a network error naming the token endpoint, once the deadline
    // is over; never an authentication error.
    env.faults(json!([{ "endpoint": "POST /oauth2/token", "fault": { "status": 503 } }]));
    let mut s = env.session();
    s.retry.retry_deadline = Duration::from_millis(1000);
    s.retry.max_retries = 1000; // the deadline, not the count, ends it
    let e = env.run(s.post_json("assets/list", &[], &json!({}), Idempotency::Idempotent)).unwrap_err();
    let CdfError::Network { message } = &e else { panic!("not a network error: {e:?}") };
    assert!(message.contains("token endpoint POST /oauth2/token") && message.contains("503"), "{message}");
    assert!(!message.contains("demo-secret"), "{message}");
    assert!(env.requests("POST /oauth2/token") >= 3, "retried until the deadline");
    assert_eq!(env.requests("POST /assets/list"), 0);

    // When the deadline cuts the last attempt short, the error still names the answer before it.
    env.faults(json!([{ "endpoint": "POST /oauth2/token", "sequence": [{ "status": 503 }, { "stallMs": 5000 }] }]));
    let mut s = env.session();
    s.retry.retry_deadline = Duration::from_millis(600);
    let e = env.run(s.post_json("assets/list", &[], &json!({}), Idempotency::Idempotent)).unwrap_err();
    let message = e.to_string();
    assert!(message.contains("503") && message.contains("cut off by the deadline"), "{message}");
}

// ---------------------------------------------------------------- throttling and server errors

#[test]
fn a_throttled_create_waits_for_retry_after_and_lands_once() {
    let env = Env::start();
    let mut s = env.session();
    s.retry.max_backoff = Duration::from_secs(3);
    env.faults(json!([{ "endpoint": "POST /assets", "sequence": [{ "status": 429, "retryAfter": 1 }] }]));
    let started = Instant::now();
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Create);
    w.push(WriteRow::Item(obj(json!({ "name": "no external id" }))));
    env.run(w.flush(&mut s)).expect("429 is retried even for a create");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(env.statuses("POST /assets"), json!({ "429": 1, "201": 1 }));
    let assets = env.dump("assets");
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0]["name"], "no external id");
}

#[test]
fn server_errors_500_to_504_are_retried_for_idempotent_requests() {
    let env = Env::start();
    let mut s = env.session();
    let ts = json!({ "items": [{ "externalId": "ts1", "name": "ts1" }] });
    env.run(s.post_json("timeseries", &[], &ts, Idempotency::NotIdempotent)).unwrap();
    env.faults(json!([{ "endpoint": "POST /timeseries/data", "sequence": [
        { "status": 500 }, { "status": 502 }, { "status": 503 }, { "status": 504 }, null
    ]}]));
    let mut w = TableWriter::new(resource("double_datapoints").unwrap(), InsertMode::Upsert);
    for (t, v) in [(1000, 1.5), (2000, 2.5), (3000, -3.0)] {
        w.push(WriteRow::Datapoint {
            series: SeriesRef::ExternalId("ts1".into()),
            point: DatapointRow { timestamp: t, value: PointValue::Double(v), status: None },
        });
    }
    env.run(w.flush(&mut s)).expect("retried through 500, 502, 503 and 504");
    assert_eq!(w.rows_written, 3);
    assert_eq!(env.statuses("POST /timeseries/data"), json!({ "500": 1, "502": 1, "503": 1, "504": 1, "200": 1 }));
    let series = env.by_external_id("timeseries/data", "ts1");
    let mut points: Vec<(i64, f64)> = series[0]["datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["timestamp"].as_i64().unwrap(), p["value"].as_f64().unwrap()))
        .collect();
    points.sort_by_key(|p| p.0);
    assert_eq!(points, vec![(1000, 1.5), (2000, 2.5), (3000, -3.0)]);
}

#[test]
fn server_errors_are_not_retried_for_creates_without_external_id() {
    for status in [500, 503] {
        let env = Env::start();
        let mut s = env.session();
        env.faults(json!([{ "endpoint": "POST /assets", "sequence": [{ "status": status }] }]));
        let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
        w.push(WriteRow::Item(obj(json!({ "name": "anonymous" }))));
        let e = env.run(w.flush(&mut s)).unwrap_err();
        assert_eq!(e.error.status(), Some(status), "{e:?}");
        assert_eq!((e.rows_written, e.rows_in_failed_chunk), (0, 1));
        assert_eq!(env.requests("POST /assets"), 1, "HTTP {status}: sent once");
        assert!(env.dump("assets").is_empty());
    }
}

// ---------------------------------------------------------------- dropped connections, stalls

#[test]
fn dropped_connections_are_retried_when_resending_is_safe() {
    let env = Env::start();
    let mut s = env.session();
    env.faults(json!([{ "endpoint": "POST /raw/dbs/{db}/tables/{table}/rows", "sequence": [
        { "drop": true }, { "drop": true, "afterProcessing": true }, null
    ]}]));
    let mut w = TableWriter::new(resource("raw_rows").unwrap(), InsertMode::Upsert);
    for k in ["k1", "k2"] {
        w.push(WriteRow::RawRow {
            database: "db".into(),
            table: "t".into(),
            row: obj(json!({ "key": k, "columns": { "v": k } })),
        });
    }
    env.run(w.flush(&mut s)).expect("RAW rows are a natural upsert: resent");
    assert_eq!(env.statuses("POST /raw/dbs/{db}/tables/{table}/rows"), json!({ "0": 2, "200": 1 }));
    let raw = env.dump("raw");
    let db = raw.iter().find(|d| d["name"] == "db").expect("database db");
    let t = db["tables"].as_array().unwrap().iter().find(|t| t["name"] == "t").expect("table t");
    let mut rows: Vec<(String, String)> = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap().into(), r["columns"]["v"].as_str().unwrap().into()))
        .collect();
    rows.sort();
    assert_eq!(rows, vec![("k1".into(), "k1".into()), ("k2".into(), "k2".into())]);
}

#[test]
fn a_create_whose_answer_was_lost_is_not_sent_twice() {
    let env = Env::start();
    let mut s = env.session();
    env.faults(json!([{ "endpoint": "POST /assets", "sequence": [{ "drop": true, "afterProcessing": true }] }]));
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Create);
    w.push(WriteRow::Item(obj(json!({ "name": "maybe landed" }))));
    let e = env.run(w.flush(&mut s)).unwrap_err();
    let CdfError::Network { message } = &e.error else { panic!("{e:?}") };
    assert!(message.contains("POST /api/v1/projects/demo/assets"), "{message}");
    assert_eq!(env.requests("POST /assets"), 1);
    assert_eq!(env.dump("assets").len(), 1, "it landed once and was not duplicated");
}

#[test]
fn a_stalled_cdf_fails_at_the_retry_deadline_naming_the_endpoint() {
    let env = Env::start();
    let mut s = env.session();
    s.retry.request_timeout = Duration::from_millis(600);
    s.retry.retry_deadline = Duration::from_millis(1000);
    env.run(s.check_credentials()).unwrap();
    env.faults(json!([{ "endpoint": "GET /raw/dbs", "fault": { "stallMs": 5000 } }]));
    let started = Instant::now();
    let e = env.run(Reader::new(resource("raw_databases").unwrap(), ReadPlan::RawDatabases).next_page(&mut s));
    let elapsed = started.elapsed();
    let Err(CdfError::Network { message }) = e else { panic!("{e:?}") };
    // The second attempt is cut to what is left of the deadline (not 600 ms more).
    assert!(elapsed >= Duration::from_millis(950) && elapsed < Duration::from_millis(1150), "{elapsed:?}");
    assert!(message.contains("GET /api/v1/projects/demo/raw/dbs"), "{message}");
    assert!(message.contains("timed out") && message.contains("gave up"), "{message}");
    assert_eq!(env.faults_injected(), 2, "idempotent: retried until the deadline");

    // A create is not resent after a timeout (CDF may be acting on it): one attempt.
    env.faults(json!([{ "endpoint": "POST /assets", "fault": { "stallMs": 5000 } }]));
    let before = env.faults_injected();
    let started = Instant::now();
    let body = json!({ "items": [{ "name": "slow" }] });
    let e = env.run(s.post_json("assets", &[], &body, Idempotency::NotIdempotent)).unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());
    assert!(matches!(&e, CdfError::Network { message } if message.contains("timed out")), "{e:?}");
    assert_eq!(env.faults_injected() - before, 1);
}

#[test]
fn default_policy_bounds_a_hung_cdf_to_about_two_minutes() {
    let p = RetryPolicy::default();
    assert_eq!(p.request_timeout, Duration::from_secs(30));
    assert_eq!(p.retry_deadline, Duration::from_secs(120));
    assert!(cdf_client::session::POOL_IDLE_TIMEOUT < Duration::from_secs(60));
}

// ---------------------------------------------------------------- upsert flow

#[test]
fn upsert_updates_the_existing_items_and_creates_the_rest() {
    let env = Env::start();
    let mut s = env.session();
    create_asset(&env, &mut s, "a1", "old");
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    w.push(asset("a1", "new"));
    w.push(asset("a2", "two"));
    env.run(w.flush(&mut s)).expect("upsert");
    assert_eq!(w.rows_written, 2);
    let a1 = env.by_external_id("assets", "a1");
    assert_eq!(a1.len(), 1);
    assert_eq!(a1[0]["name"], "new");
    assert_eq!(a1[0]["description"], "keep", "fields the row does not carry are kept");
    assert_eq!(env.by_external_id("assets", "a2")[0]["name"], "two");
    assert_eq!(env.dump("assets").len(), 2);
    assert_eq!(env.statuses("POST /assets"), json!({ "201": 2, "409": 1 }));
    let update = env.endpoint("POST /assets/update");
    assert_eq!((update["requests"].as_u64(), update["items"].as_u64()), (Some(1), Some(1)), "only a1 updated");

    // Ignore skips the existing one and creates the new one, with no update.
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Ignore);
    w.push(asset("a1", "ignored"));
    w.push(asset("a3", "three"));
    env.run(w.flush(&mut s)).expect("ignore");
    assert_eq!(env.by_external_id("assets", "a1")[0]["name"], "new");
    assert_eq!(env.by_external_id("assets", "a3")[0]["name"], "three");
    assert_eq!(env.requests("POST /assets/update"), 1);

    // Create reports the duplicate.
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Create);
    w.push(asset("a1", "again"));
    let e = env.run(w.flush(&mut s)).unwrap_err();
    let CdfError::Api { status: 409, duplicated, .. } = &e.error else { panic!("{e:?}") };
    assert_eq!(duplicated, &vec![json!({ "externalId": "a1" })]);
    assert_eq!(e.rows_written, 0);
    assert_eq!(env.dump("assets").len(), 3);
}

#[test]
fn write_returning_resends_keyed_upserts_and_files_but_not_anonymous_creates() {
    let env = Env::start();
    let mut s = env.session();
    let files = resource("files").unwrap();
    env.faults(json!([{ "endpoint": "POST /files", "sequence": [{ "status": 503 }] }]));
    let mut w = TableWriter::new(files, InsertMode::Upsert);
    let f = env.run(w.write_returning(&mut s, obj(json!({ "externalId": "f1", "name": "f1.txt" })))).unwrap();
    assert_eq!(f.unwrap()["externalId"], "f1");
    assert_eq!(env.statuses("POST /files"), json!({ "503": 1, "201": 1 }));
    // overwrite=true replaces it: still one file.
    env.run(w.write_returning(&mut s, obj(json!({ "externalId": "f1", "name": "renamed.txt" })))).unwrap();
    let stored = env.by_external_id("files", "f1");
    assert_eq!((stored.len(), stored[0]["name"].as_str()), (1, Some("renamed.txt")));

    // An asset upsert whose answer was lost is resent, finds itself (409) and updates: one asset.
    let assets = resource("assets").unwrap();
    env.faults(json!([{ "endpoint": "POST /assets", "sequence": [{ "status": 502, "afterProcessing": true }] }]));
    let mut w = TableWriter::new(assets, InsertMode::Upsert);
    let r = env.run(w.write_returning(&mut s, obj(json!({ "externalId": "r1", "name": "R" })))).unwrap();
    assert_eq!(r.unwrap()["name"], "R");
    assert_eq!(env.statuses("POST /assets"), json!({ "502": 1, "409": 1 }));
    assert_eq!(env.by_external_id("assets", "r1").len(), 1);
    assert_eq!(w.rows_written, 1);

    // Without an external id a resend could create twice: the 503 is the statement's error.
    env.faults(json!([{ "endpoint": "POST /assets", "sequence": [{ "status": 503 }] }]));
    let e = env.run(w.write_returning(&mut s, obj(json!({ "name": "anonymous" })))).unwrap_err();
    assert_eq!(e.error.status(), Some(503));
    assert_eq!(env.statuses("POST /assets"), json!({ "502": 1, "409": 1, "503": 1 }));
    assert_eq!(env.dump("assets").len(), 1);
}

#[test]
fn change_writer_updates_and_deletes_retrying_server_errors() {
    let env = Env::start();
    let mut s = env.session();
    create_asset(&env, &mut s, "c1", "one");
    create_asset(&env, &mut s, "c2", "two");
    env.faults(json!([
        { "endpoint": "POST /assets/delete", "sequence": [{ "status": 500 }] },
        { "endpoint": "POST /assets/update", "sequence": [{ "status": 503 }] }
    ]));
    let mut w = ChangeWriter::new(resource("assets").unwrap());
    w.push(Change::ItemUpdate(json!({ "externalId": "c1", "update": { "name": { "set": "renamed" } } })));
    w.push(Change::ItemDelete(json!({ "externalId": "c2" })));
    env.run(w.flush(&mut s)).expect("changes");
    assert_eq!(w.rows_changed, 2);
    let left = env.dump("assets");
    assert_eq!(left.len(), 1);
    assert_eq!((left[0]["externalId"].as_str(), left[0]["name"].as_str()), (Some("c1"), Some("renamed")));
    assert_eq!(env.statuses("POST /assets/delete"), json!({ "500": 1, "200": 1 }));
}

// ---------------------------------------------------------------- paging

#[test]
fn item_lists_follow_cursors_over_several_pages() {
    let env = Env::start();
    let mut s = env.session();
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Create);
    // An unfiltered list is read in partitions: 10,000 assets are 1,250 per partition, two pages each.
    let wanted: HashSet<String> = (0..10_000).map(|i| format!("a-{i}")).collect();
    for xid in &wanted {
        if w.push(asset(xid, "x")) {
            env.run(w.flush(&mut s)).unwrap();
        }
    }
    env.run(w.flush(&mut s)).unwrap();
    assert_eq!(env.requests("POST /assets"), 10, "1000 per create request");
    let (rows, _) = read_all(&env, &mut s, "assets", ReadPlan::List(Default::default()));
    let got: HashSet<String> = rows.iter().map(|r| r["externalId"].as_str().unwrap().to_string()).collect();
    assert_eq!(rows.len(), 10_000, "no row twice");
    assert_eq!(got, wanted);
    assert_eq!(cdf_tables::limits::LIST_PARTITIONS, 8);
    assert_eq!(env.requests("POST /assets/list"), 16, "two pages of each of the 8 partitions");
}

#[test]
fn a_limited_filtered_list_stops_early_and_latest_reads_newest_first() {
    let env = Env::start();
    let mut s = env.session();
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Create);
    for i in 0..2500 {
        let source = if i % 2 == 0 { "even" } else { "odd" };
        if w.push(WriteRow::Item(obj(json!({ "externalId": format!("a-{i}"), "name": "x", "source": source })))) {
            env.run(w.flush(&mut s)).unwrap();
        }
    }
    env.run(w.flush(&mut s)).unwrap();
    let filter = obj(json!({ "source": "even" }));
    let mut reader = Reader::new(resource("assets").unwrap(), ReadPlan::List(filter)).limit(Some(1200));
    let mut rows = Vec::new();
    while let Some(page) = env.run(reader.next_page(&mut s)).expect("page") {
        rows.extend(page.iter().map(cdf_client::Row::to_json));
    }
    assert_eq!(rows.len(), 1200, "exactly the LIMIT");
    assert!(rows.iter().all(|r| r["source"] == "even"), "the filter reached the emulator");
    assert_eq!(env.requests("POST /assets/list"), 2, "a page of 1000, then one of 200, no third");

    let ts = json!({ "items": [{ "externalId": "t", "name": "t" }] });
    env.run(s.post_json("timeseries", &[], &ts, Idempotency::NotIdempotent)).unwrap();
    let mut w = TableWriter::new(resource("double_datapoints").unwrap(), InsertMode::Upsert);
    for i in 0..50 {
        let point = DatapointRow { timestamp: 1_000 + i, value: PointValue::Double(i as f64), status: None };
        w.push(WriteRow::Datapoint { series: SeriesRef::ExternalId("t".into()), point });
    }
    env.run(w.flush(&mut s)).unwrap();
    let plan = ReadPlan::Datapoints {
        series: vec![SeriesRef::ExternalId("t".into())],
        start: 1_010,
        end: 1_040,
        descending: true,
    };
    let mut reader = Reader::new(resource("double_datapoints").unwrap(), plan).limit(Some(3));
    let mut stamps = Vec::new();
    while let Some(page) = env.run(reader.next_page(&mut s)).expect("page") {
        stamps.extend(page.iter().map(|r| r.to_json()["timestamp"].as_i64().unwrap()));
    }
    assert_eq!(stamps, vec![1_039, 1_038, 1_037], "newest first, below the exclusive end");
    assert_eq!(env.requests("POST /timeseries/data/latest"), 3, "one request per point, none after the LIMIT");
    // Down to the start: the range ends the walk, not the LIMIT.
    let plan = ReadPlan::Datapoints {
        series: vec![SeriesRef::ExternalId("t".into())],
        start: 1_047,
        end: 2_000,
        descending: true,
    };
    let (rows, _) = read_all(&env, &mut s, "double_datapoints", plan);
    let stamps: Vec<i64> = rows.iter().map(|r| r["timestamp"].as_i64().unwrap()).collect();
    assert_eq!(stamps, vec![1_049, 1_048, 1_047]);
}

#[test]
fn datapoints_follow_cursors_over_several_pages() {
    let env = Env::start();
    let mut s = env.session();
    let ts = json!({ "items": [{ "externalId": "big", "name": "big" }] });
    env.run(s.post_json("timeseries", &[], &ts, Idempotency::NotIdempotent)).unwrap();
    let n: i64 = 200_500;
    let mut w = TableWriter::new(resource("double_datapoints").unwrap(), InsertMode::Upsert);
    for i in 0..n {
        let point = DatapointRow { timestamp: 1_000_000 + i, value: PointValue::Double(i as f64), status: None };
        if w.push(WriteRow::Datapoint { series: SeriesRef::ExternalId("big".into()), point }) {
            env.run(w.flush(&mut s)).unwrap();
        }
    }
    env.run(w.flush(&mut s)).unwrap();
    let plan = ReadPlan::Datapoints {
        series: vec![SeriesRef::ExternalId("big".into())],
        start: 0,
        end: i64::MAX / 2,
        descending: false,
    };
    let (rows, _) = read_all(&env, &mut s, "double_datapoints", plan);
    assert_eq!(rows.len() as i64, n);
    let stamps: HashSet<i64> = rows.iter().map(|r| r["timestamp"].as_i64().unwrap()).collect();
    assert_eq!(stamps.len() as i64, n, "no point twice");
    assert!(rows.iter().all(|r| r["value"].as_f64() == Some((r["timestamp"].as_i64().unwrap() - 1_000_000) as f64)));
    assert!(rows.iter().all(|r| r["external_id"] == "big"));
    assert_eq!(env.requests("POST /timeseries/data/list"), 3, "pages of 100,000");
}

#[test]
fn raw_rows_follow_cursors_and_missing_tables_read_as_empty() {
    let env = Env::start();
    let mut s = env.session();
    let mut w = TableWriter::new(resource("raw_rows").unwrap(), InsertMode::Upsert);
    for i in 0..25_000 {
        let row = obj(json!({ "key": format!("k{i}"), "columns": { "n": i } }));
        if w.push(WriteRow::RawRow { database: "db".into(), table: "t".into(), row }) {
            env.run(w.flush(&mut s)).unwrap();
        }
    }
    env.run(w.flush(&mut s)).unwrap();
    let plan = ReadPlan::RawRows { database: "db".into(), table: "t".into(), keys: None };
    let (rows, _) = read_all(&env, &mut s, "raw_rows", plan);
    assert_eq!(rows.len(), 25_000);
    let keys: HashSet<&str> = rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 25_000, "no row twice");
    assert!(rows.iter().all(|r| r["columns"]["n"].as_i64().map(|n| format!("k{n}")).as_deref() == r["key"].as_str()));
    assert!(rows.iter().all(|r| r["_raw_database"] == "db" && r["_raw_table"] == "t"));
    assert_eq!(env.requests("GET /raw/dbs/{db}/tables/{table}/rows"), 3, "pages of 10,000");

    // RAW answers 404 for a database, table or key that does not exist: no rows, no error.
    let missing = [
        ReadPlan::RawRows { database: "nodb".into(), table: "t".into(), keys: None },
        ReadPlan::RawRows { database: "db".into(), table: "nothere".into(), keys: None },
        ReadPlan::RawRows { database: "db".into(), table: "t".into(), keys: Some(vec!["absent".into()]) },
        ReadPlan::RawTables { database: Some("nodb".into()) },
    ];
    for plan in missing {
        let table = if matches!(plan, ReadPlan::RawTables { .. }) { "raw_tables" } else { "raw_rows" };
        let (rows, pages) = read_all(&env, &mut s, table, plan);
        assert!(rows.is_empty() && pages == 1, "{rows:?}");
    }
    let stats = env.stats()["endpoints"].to_string();
    assert_eq!(env.statuses("GET /raw/dbs/{db}/tables/{table}/rows/{key}"), json!({ "404": 1 }), "{stats}");
    assert_eq!(env.statuses("GET /raw/dbs/{db}/tables"), json!({ "404": 1 }), "{stats}");
    assert_eq!(env.statuses("GET /raw/dbs/{db}/tables/{table}/rows")["404"], 2, "{stats}");
}

#[test]
fn raw_pages_are_limited_in_bytes_for_big_rows() {
    // Issue 10 item 2: 200 rows of 200 kB (40 MB, under max_response_size as one page) and 4 rows
    // of 4 MB come back exactly, in pages of at most RAW_PAGE_CAP that follow the row size.
    let env = Env::start();
    let mut s = env.session();
    let mut w = TableWriter::new(resource("raw_rows").unwrap(), InsertMode::Upsert);
    for (table, count, size) in [("many", 200, 200_000), ("huge", 4, 4_000_000)] {
        for i in 0..count {
            let row = obj(
                json!({ "key": format!("k{i:03}"), "columns": { "i": i, "blob": format!("{i:02x}").repeat(size / 2) } }),
            );
            if w.push(WriteRow::RawRow { database: "big".into(), table: table.into(), row }) {
                env.run(w.flush(&mut s)).unwrap();
            }
        }
    }
    env.run(w.flush(&mut s)).unwrap();
    for (table, count, size) in [("many", 200, 200_000), ("huge", 4, 4_000_000)] {
        let before = env.requests("GET /raw/dbs/{db}/tables/{table}/rows");
        let plan = ReadPlan::RawRows { database: "big".into(), table: table.into(), keys: None };
        let (rows, _) = read_all(&env, &mut s, "raw_rows", plan);
        assert_eq!(rows.len(), count, "{table}");
        for r in &rows {
            let i = r["columns"]["i"].as_u64().unwrap() as usize;
            assert_eq!(r["key"], format!("k{i:03}"));
            let blob = r["columns"]["blob"].as_str().unwrap();
            assert!(blob.len() == size && blob == format!("{i:02x}").repeat(size / 2), "{table} row {i}");
        }
        let pages = env.requests("GET /raw/dbs/{db}/tables/{table}/rows") - before;
        let bytes = count * size;
        assert!(pages as usize > bytes / cdf_tables::limits::RAW_PAGE_CAP, "{table}: {pages} pages for {bytes} bytes");
    }
}

// ---------------------------------------------------------------- request records (metrics)

#[test]
fn request_records_match_what_the_emulator_saw() {
    let env = Env::start();
    let mut s = env.session();
    env.faults(json!([{ "endpoint": "POST /assets", "sequence": [{ "status": 429, "retryAfter": 0 }, null] }]));
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    for i in 0..3 {
        w.push(asset(&format!("m{i}"), "metered"));
    }
    env.run(w.flush(&mut s)).expect("written after one 429");
    let (rows, _) = read_all(&env, &mut s, "assets", ReadPlan::List(Default::default()));
    let records = s.log.drain();
    let by = |e: &str| records.iter().filter(|r| r.endpoint == e).cloned().collect::<Vec<_>>();
    let token = by(cdf_client::metrics::TOKEN_ENDPOINT);
    assert_eq!(token.len() as u64, env.requests("POST /oauth2/token"));
    let writes = by("POST /assets");
    assert_eq!(writes.len(), 1, "{records:?}");
    let w0 = &writes[0];
    assert_eq!((w0.status, w0.attempts, w0.retries(), w0.throttled, w0.failed), (201, 2, 1, 1, false));
    assert_eq!(w0.rows_sent, 3);
    assert_eq!(u64::from(w0.attempts), env.requests("POST /assets"));
    // Both attempts carried the same body; the emulator counts the body of the one it processed
    // (a fault answers before reading it).
    assert_eq!(w0.bytes_sent, 2 * env.endpoint("POST /assets")["bytes_in"].as_u64().unwrap());
    assert!(w0.bytes_received > 0);
    let lists = by("POST /assets/list");
    assert_eq!(lists.len() as u64, env.requests("POST /assets/list"));
    assert_eq!(lists.iter().map(|r| r.rows_received).sum::<u64>(), rows.len() as u64);
    assert!(s.log.drain().is_empty(), "drained");

    // A request that fails for good is recorded as failed, with its status.
    env.faults(json!([{ "endpoint": "POST /assets/list", "sequence": [{ "status": 400 }] }]));
    let list = json!({ "limit": 1 });
    assert!(env.run(s.post_json("assets/list", &[], &list, Idempotency::Idempotent)).is_err());
    let failed = s.log.drain();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].status, failed[0].failed, failed[0].attempts), (400, true, 1));

    // The 409 an upsert of existing rows starts with is handled, not a failure.
    env.clear_faults();
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    w.push(asset("m0", "again"));
    env.run(w.flush(&mut s)).expect("updated");
    let upsert = s.log.drain();
    let summary: Vec<_> = upsert.iter().map(|r| (r.endpoint.as_str(), r.status, r.failed, r.rows_sent)).collect();
    assert_eq!(summary, [("POST /assets", 409, false, 0), ("POST /assets/update", 200, false, 1)]);
}

/// The rows of a JSON `/timeseries/data/list` answer to the reader's own request, each point
/// with its series' address under the column names (what the reader delivered before it read
/// protobuf into compact points).
fn json_points(env: &Env, s: &mut cdf_client::Session, series: Json, start: i64, end: i64) -> Vec<Map<String, Json>> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut item = json!({ "start": start, "end": end, "limit": 100_000 });
        item.as_object_mut().unwrap().extend(series.as_object().unwrap().clone());
        if let Some(c) = &cursor {
            item["cursor"] = json!(c);
        }
        let body = json!({ "items": [item], "ignoreUnknownIds": true, "includeStatus": true,
            "ignoreBadDataPoints": false, "treatUncertainAsBad": false });
        let answer = env.run(s.post_json("timeseries/data/list", &[], &body, Idempotency::Idempotent)).unwrap();
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        let json = answer.json().unwrap();
        let item = &json["items"][0];
        for p in item["datapoints"].as_array().unwrap() {
            let mut row = p.as_object().unwrap().clone();
            for (column, field) in [("id", &item["id"]), ("external_id", &item["externalId"])] {
                if !field.is_null() {
                    row.insert(column.into(), field.clone());
                }
            }
            if let Some(i) = item.get("instanceId") {
                row.insert("instance_space".into(), i["space"].clone());
                row.insert("instance_external_id".into(), i["externalId"].clone());
            }
            rows.push(row);
        }
        cursor = item.get("nextCursor").and_then(Json::as_str).map(str::to_string);
        if cursor.is_none() {
            return rows;
        }
    }
}

/// The rows of a datapoints read per series, in the order they came: a read of several series
/// keeps timestamp order within each, but may interleave them page by page.
fn by_series(rows: &[Map<String, Json>]) -> BTreeMap<String, Vec<Map<String, Json>>> {
    let mut series: BTreeMap<String, Vec<Map<String, Json>>> = BTreeMap::new();
    for r in rows {
        series.entry(r["external_id"].to_string()).or_default().push(r.clone());
    }
    series
}

#[test]
fn protobuf_datapoint_pages_read_as_the_json_pages_do() {
    let env = Env::start();
    let mut s = env.session();
    let ts = json!({ "items": [
        { "externalId": "num", "name": "num" },
        { "externalId": "text", "name": "text", "isString": true }] });
    env.run(s.post_json("timeseries", &[], &ts, Idempotency::NotIdempotent)).unwrap();
    let node = json!({ "items": [{ "instanceType": "node", "space": "inst", "externalId": "node",
        "sources": [{ "source": { "type": "view", "space": "cdf_cdm", "externalId": "CogniteTimeSeries", "version": "v1" },
            "properties": { "type": "numeric" } }] }] });
    env.run(s.post_json("models/spaces", &[], &json!({ "items": [{ "space": "inst" }] }), Idempotency::Idempotent))
        .unwrap();
    env.run(s.post_json("models/instances", &[], &node, Idempotency::Idempotent)).unwrap();
    // Over two pages of the numeric series: statuses, a Bad point without value, NaN, the
    // infinities, zero (which protobuf leaves out) and negative timestamps.
    let mut points: Vec<Json> =
        (0..150_000i64).map(|i| json!({ "timestamp": i - 10, "value": (i % 97) as f64 / 4.0 })).collect();
    // CDF stores non-finite values on Bad points only.
    let bad = json!({ "symbol": "Bad" });
    points[3] = json!({ "timestamp": -7, "value": "NaN", "status": bad });
    points[4] = json!({ "timestamp": -6, "value": "Infinity", "status": bad });
    points[5] = json!({ "timestamp": -5, "value": "-Infinity", "status": bad });
    points[6] = json!({ "timestamp": -4, "value": 0.0, "status": { "code": 1073741824 } });
    points[7] = json!({ "timestamp": -3, "status": { "symbol": "Bad" } });
    points[120_000] = json!({ "timestamp": 119_990, "value": 1.5, "status": { "code": 2147483648u32, "symbol": "BadSensorFailure" } });
    let text = json!([{ "timestamp": 1, "value": "on" }, { "timestamp": 2, "value": "" },
        { "timestamp": 3, "status": { "symbol": "Bad" } }, { "timestamp": 4, "value": "NaN", "status": { "code": 1073741824 } }]);
    for chunk in points.chunks(100_000) {
        let insert = json!({ "items": [{ "externalId": "num", "datapoints": chunk }] });
        env.run(s.post_json("timeseries/data", &[], &insert, Idempotency::Idempotent)).unwrap();
    }
    let insert = json!({ "items": [
        { "externalId": "text", "datapoints": text },
        { "instanceId": { "space": "inst", "externalId": "node" }, "datapoints": [{ "timestamp": 9, "value": 2.0 }] }] });
    env.run(s.post_json("timeseries/data", &[], &insert, Idempotency::Idempotent)).unwrap();

    let node = SeriesRef::InstanceId { space: "inst".into(), external_id: "node".into() };
    let cases = [
        ("double_datapoints", SeriesRef::ExternalId("num".into()), json!({ "externalId": "num" })),
        ("string_datapoints", SeriesRef::ExternalId("text".into()), json!({ "externalId": "text" })),
        ("double_datapoints", node, json!({ "instanceId": { "space": "inst", "externalId": "node" } })),
    ];
    for (table, series, by) in cases {
        let plan = ReadPlan::Datapoints { series: vec![series], start: -100, end: 1_000_000, descending: false };
        let received = |s: &cdf_client::Session| s.log.drain().iter().map(|r| r.bytes_received).sum::<u64>();
        received(&s);
        let (read, _) = read_all(&env, &mut s, table, plan);
        let protobuf_bytes = received(&s);
        let expected = json_points(&env, &mut s, by.clone(), -100, 1_000_000);
        let json_bytes = received(&s);
        assert!(protobuf_bytes < json_bytes * 3 / 4, "read as protobuf: {protobuf_bytes} vs {json_bytes} bytes");
        assert!(!expected.is_empty());
        assert_eq!(read.len(), expected.len(), "{by}");
        for (i, (r, e)) in read.iter().zip(&expected).enumerate() {
            assert_eq!(r, e, "row {i} of {by}");
        }
    }
    // In time windows fetched side by side: the same rows in the same order, over more requests.
    let plan = ReadPlan::Datapoints {
        series: vec![SeriesRef::ExternalId("num".into()), SeriesRef::ExternalId("text".into())],
        start: -100,
        end: 1_000_000,
        descending: false,
    };
    let before = env.requests("POST /timeseries/data/list");
    let mut reader = Reader::new(resource("double_datapoints").unwrap(), plan).concurrency(4);
    let mut windowed = Vec::new();
    while let Some(page) = env.run(reader.next_page(&mut s)).expect("page") {
        windowed.extend(page.iter().map(cdf_client::Row::to_json));
    }
    let mut expected = json_points(&env, &mut s, json!({ "externalId": "num" }), -100, 1_000_000);
    expected.extend(json_points(&env, &mut s, json!({ "externalId": "text" }), -100, 1_000_000));
    assert_eq!(windowed.len(), expected.len());
    assert!(by_series(&windowed) == by_series(&expected), "windowed rows differ from the JSON pages");
    let windowed_requests = env.requests("POST /timeseries/data/list") - before - 3;
    assert!(windowed_requests > 3, "the range past the first page went in windows: {windowed_requests} requests");

    // Two series in one read, one after the other.
    let plan = ReadPlan::Datapoints {
        series: vec![SeriesRef::ExternalId("text".into()), SeriesRef::ExternalId("num".into())],
        start: 0,
        end: 3,
        descending: false,
    };
    let (read, _) = read_all(&env, &mut s, "double_datapoints", plan);
    let got: Vec<(Json, Json)> = read.iter().map(|r| (r["external_id"].clone(), r["timestamp"].clone())).collect();
    assert_eq!(
        got,
        vec![
            (json!("text"), json!(1)),
            (json!("text"), json!(2)),
            (json!("num"), json!(0)),
            (json!("num"), json!(1)),
            (json!("num"), json!(2))
        ]
    );
}

#[test]
fn windows_planned_from_a_count_probe_read_what_a_serial_read_does() {
    let env = Env::start();
    let mut s = env.session();
    let names = ["gappy", "one", "empty", "sparse", "unwritten"];
    let ts: Vec<Json> = names.iter().map(|n| json!({ "externalId": n, "name": n })).collect();
    env.run(s.post_json("timeseries", &[], &json!({ "items": ts }), Idempotency::NotIdempotent)).unwrap();
    // Two dense clusters (a point a second) with a gap between them (windows over the gap hold
    // nothing), one point, a series whose points all lie outside the ranges, and a point every
    // 997 s. Ranges of a day or more are probed; shorter ones read as before.
    let dense = (0..120_000i64).chain(500_000..640_000);
    let mut writes: Vec<(&str, Vec<Json>)> =
        vec![("gappy", dense.map(|t| json!({ "timestamp": t * 1000, "value": (t % 13) as f64 })).collect())];
    writes.push(("one", vec![json!({ "timestamp": 777_777_000, "value": 1.0 })]));
    writes.push(("empty", vec![json!({ "timestamp": 5_000_000_000i64, "value": 2.0 })]));
    writes.push(("sparse", (0..900i64).map(|i| json!({ "timestamp": i * 997_000, "value": i as f64 })).collect()));
    for (name, points) in writes {
        for chunk in points.chunks(100_000) {
            let insert = json!({ "items": [{ "externalId": name, "datapoints": chunk }] });
            env.run(s.post_json("timeseries/data", &[], &insert, Idempotency::Idempotent)).unwrap();
        }
    }
    let series: Vec<SeriesRef> = names.iter().map(|n| SeriesRef::ExternalId(n.to_string())).collect();
    let ranges = [
        (0, 1_000_000_000),
        (-5, 640_000_000),
        (119_999_500, 500_000_001),
        (777_000_000, 900_000_000),
        (777_777_000, 777_777_001),
        (700_000_000, 710_000_000),
    ];
    for (start, end) in ranges {
        let plan = || ReadPlan::Datapoints { series: series.clone(), start, end, descending: false };
        let (serial, _) = read_all(&env, &mut s, "double_datapoints", plan());
        let before = env.requests("POST /timeseries/data/list");
        let mut reader = Reader::new(resource("double_datapoints").unwrap(), plan()).concurrency(8);
        let mut windowed = Vec::new();
        while let Some(page) = env.run(reader.next_page(&mut s)).expect("page") {
            windowed.extend(page.iter().map(cdf_client::Row::to_json));
        }
        let requests = env.requests("POST /timeseries/data/list") - before;
        assert_eq!(windowed.len(), serial.len(), "[{start}, {end})");
        let (windowed, serial) = (by_series(&windowed), by_series(&serial));
        assert_eq!(windowed.keys().collect::<Vec<_>>(), serial.keys().collect::<Vec<_>>());
        for (name, rows) in &serial {
            for (i, (w, r)) in windowed[name].iter().zip(rows).enumerate() {
                assert_eq!(w, r, "row {i} of {name} in [{start}, {end})");
            }
        }
        // The probe for the ranges of a day or more, then the series with few points share one
        // request (each still asked for: a count may lag behind the points).
        let probed = u64::from(end - start >= 86_400_000);
        assert!(requests > probed, "[{start}, {end}): {requests} requests");
    }
    // The 260,000 points of [0, 1,000,000 s) in windows of at most a page, cut where the points are:
    // no window needed a second page.
    let plan =
        ReadPlan::Datapoints { series: vec![series[0].clone()], start: 0, end: 1_000_000_000, descending: false };
    let before = env.requests("POST /timeseries/data/list");
    let mut reader = Reader::new(resource("double_datapoints").unwrap(), plan).concurrency(8);
    let mut rows = 0;
    while let Some(page) = env.run(reader.next_page(&mut s)).expect("page") {
        assert!(page.len() <= 100_000);
        rows += page.len();
    }
    assert_eq!(rows, 260_000);
    let requests = env.requests("POST /timeseries/data/list") - before;
    // 1 probe + 17 windows of at most 16,250 points (4-minute intervals of 240 points): about two
    // rounds of 8 (read after a first page instead, it takes 10 or 11 requests).
    assert_eq!(requests, 18, "{requests} requests");
}

// ---------------------------------------------------------------- datapoints of many series

/// Creates the series and writes each a point at each of its timestamps (the value is the
/// timestamp), in requests within CDF's limits.
fn write_points(env: &Env, s: &mut cdf_client::Session, written: &BTreeMap<String, Vec<i64>>) {
    let names: Vec<&String> = written.keys().collect();
    for chunk in names.chunks(1000) {
        let ts: Vec<Json> = chunk.iter().map(|n| json!({ "externalId": n, "name": n })).collect();
        env.run(s.post_json("timeseries", &[], &json!({ "items": ts }), Idempotency::NotIdempotent)).unwrap();
    }
    let mut items = Vec::new();
    let mut points = 0;
    for (name, stamps) in written {
        for (c, chunk) in stamps.chunks(50_000).enumerate() {
            // A series appears once per insert.
            if points + chunk.len() > 100_000 || c > 0 {
                let insert = json!({ "items": std::mem::take(&mut items) });
                env.run(s.post_json("timeseries/data", &[], &insert, Idempotency::Idempotent)).unwrap();
                points = 0;
            }
            let datapoints: Vec<Json> = chunk.iter().map(|t| json!({ "timestamp": t, "value": *t as f64 })).collect();
            items.push(json!({ "externalId": name, "datapoints": datapoints }));
            points += chunk.len();
        }
    }
    if !items.is_empty() {
        let insert = json!({ "items": items });
        env.run(s.post_json("timeseries/data", &[], &insert, Idempotency::Idempotent)).unwrap();
    }
}

/// A datapoints read of `plan`, with `width` requests at once (`Reader::concurrency`) if given.
fn read_points(env: &Env, s: &mut cdf_client::Session, plan: ReadPlan, width: Option<usize>) -> Vec<Map<String, Json>> {
    let mut reader = Reader::new(resource("double_datapoints").unwrap(), plan);
    if let Some(width) = width {
        reader = reader.concurrency(width);
    }
    let mut rows = Vec::new();
    while let Some(page) = env.run(reader.next_page(s)).expect("page") {
        rows.extend(page.iter().map(cdf_client::Row::to_json));
    }
    rows
}

/// Every written point arrived once, each series' in timestamp order, with its own value.
fn assert_points_read(rows: &[Map<String, Json>], written: &BTreeMap<String, Vec<i64>>, what: &str) {
    let read: BTreeMap<String, Vec<i64>> = by_series(rows)
        .into_iter()
        .map(|(name, rows)| {
            assert!(rows.iter().all(|r| r["value"].as_f64() == r["timestamp"].as_i64().map(|t| t as f64)), "{what}");
            (name, rows.iter().map(|r| r["timestamp"].as_i64().unwrap()).collect())
        })
        .collect();
    let expected: BTreeMap<String, Vec<i64>> = written
        .iter()
        .filter(|(_, stamps)| !stamps.is_empty())
        .map(|(name, stamps)| (json!(name).to_string(), stamps.clone()))
        .collect();
    assert_eq!(read.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{what}: the series read");
    for (name, stamps) in &expected {
        assert!(&read[name] == stamps, "{what}: {name} read {} points, {} written", read[name].len(), stamps.len());
    }
}

fn series_of(written: &BTreeMap<String, Vec<i64>>) -> Vec<SeriesRef> {
    written.keys().map(|n| SeriesRef::ExternalId(n.clone())).collect()
}

#[test]
fn many_series_of_a_few_points_share_two_requests() {
    let env = Env::start();
    let mut s = env.session();
    // 150 series of 0 to 3 points; one series asked for twice would read twice, so none is.
    let written: BTreeMap<String, Vec<i64>> =
        (0..150i64).map(|i| (format!("s{i:03}"), (0..i % 4).map(|k| 1_000 + i * 10 + k).collect())).collect();
    write_points(&env, &mut s, &written);
    let mut series = series_of(&written);
    // An unknown series reads as empty, as it does alone (`ignoreUnknownIds`).
    series.insert(7, SeriesRef::ExternalId("never-created".into()));
    for width in [None, Some(8)] {
        let plan = ReadPlan::Datapoints { series: series.clone(), start: 0, end: 10_000_000, descending: false };
        let before = env.requests("POST /timeseries/data/list");
        let rows = read_points(&env, &mut s, plan, width);
        assert_points_read(&rows, &written, &format!("width {width:?}"));
        let requests = env.requests("POST /timeseries/data/list") - before;
        assert_eq!(requests, 2, "151 series in requests of 100 items (was one each), width {width:?}");
    }
    // Alone, the unknown series is no error either.
    let plan = ReadPlan::Datapoints {
        series: vec![SeriesRef::ExternalId("never-created".into())],
        start: 0,
        end: 10_000_000,
        descending: false,
    };
    assert!(read_points(&env, &mut s, plan, None).is_empty());
}

#[test]
fn series_past_their_share_of_a_request_follow_their_cursors() {
    let env = Env::start();
    let mut s = env.session();
    // One long series (150,000 points a second apart: 42 hours), 40 of 4,000 points (more than
    // their share of a request of 46 items), 5 without points in the range.
    let mut written: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    written.insert("big".into(), (0..150_000i64).map(|k| k * 1000).collect());
    for i in 0..40i64 {
        written.insert(format!("mid{i:02}"), (0..4_000i64).map(|k| k * 1000 + i).collect());
    }
    for i in 0..5 {
        written.insert(format!("empty{i}"), Vec::new());
    }
    written.insert("outside".into(), vec![300_000_000]);
    write_points(&env, &mut s, &written);
    let mut in_range = written.clone();
    in_range.insert("outside".into(), Vec::new());
    // Serial, side by side without a probe (a range under a day), and probed (a day or more).
    // One request per series before: 48, 47 and 62.
    for (width, end, most) in [(None, 200_000_000, 5), (Some(8), 80_000_000, 5), (Some(8), 200_000_000, 20)] {
        let mut expected = in_range.clone();
        for stamps in expected.values_mut() {
            stamps.retain(|t| *t < end);
        }
        let plan = ReadPlan::Datapoints { series: series_of(&written), start: 0, end, descending: false };
        let before = env.requests("POST /timeseries/data/list");
        let rows = read_points(&env, &mut s, plan, width);
        let what = format!("width {width:?}, end {end}");
        assert_points_read(&rows, &expected, &what);
        let requests = env.requests("POST /timeseries/data/list") - before;
        assert!(requests <= most, "{what}: {requests} requests");
    }
}

#[test]
fn a_throttled_or_failed_multi_item_request_is_retried_without_duplicates() {
    let env = Env::start();
    let mut s = env.session();
    let mut written: BTreeMap<String, Vec<i64>> =
        (0..120i64).map(|i| (format!("s{i:03}"), (0..5).map(|k| i * 100 + k).collect())).collect();
    // More than its share of the first request: it goes on in a request of its own.
    written.insert("long".into(), (0..3_000).collect());
    write_points(&env, &mut s, &written);
    for width in [None, Some(8)] {
        // The first request throttled, the second failing (once after CDF did the work), then
        // the continuation throttled.
        env.faults(json!([{ "endpoint": "POST /timeseries/data/list", "sequence": [
            { "status": 429 }, null, { "status": 503 }, { "status": 503, "afterProcessing": true }, null,
            { "status": 429 }, null
        ]}]));
        let plan = ReadPlan::Datapoints { series: series_of(&written), start: 0, end: 1_000_000, descending: false };
        let before = env.faults_injected();
        let rows = read_points(&env, &mut s, plan, width);
        assert_points_read(&rows, &written, &format!("width {width:?}"));
        assert_eq!(env.faults_injected() - before, 4, "width {width:?}: every fault hit a request");
        env.faults(json!([]));
    }
}
