//! Requests in flight side by side (`TableWriter::set_max_concurrency`): the outcome in the
//! emulator is the one serial sending gives, failures count exactly what was written, and
//! throttling lowers the concurrency instead of failing the statement.

mod common;

use std::time::Duration;

use cdf_client::session::RetryPolicy;
use cdf_client::{Session, TableWriter};
use cdf_tables::{resource, DatapointRow, InsertMode, PointValue, SeriesRef, WriteRow};
use common::{obj, Env};
use serde_json::{json, Value as Json};

fn asset(xid: &str, name: &str) -> WriteRow {
    WriteRow::Item(obj(json!({"externalId": xid, "name": name})))
}

/// Pushes `rows` and starts a request for them at once (a request boundary, as a full buffer
/// makes one), the way the backend calls the writer: one `block_on` per call.
fn send(env: &Env, s: &mut Session, w: &mut TableWriter, rows: impl IntoIterator<Item = WriteRow>) {
    for row in rows {
        assert!(!w.push(row), "the test sends before a buffer is full");
    }
    env.run(w.send_buffered(s)).expect("send_buffered");
}

fn set_realism(env: &Env, body: Json) {
    let url = format!("{}/_admin/realism", env.emu.base_url());
    let resp = env.run(cdf_client::reqwest::Client::new().post(url).json(&body).send()).expect("admin reachable");
    assert!(resp.status().is_success(), "realism refused: {}", resp.status());
}

/// Every request waits this long in the emulator, so requests overlap.
fn slow_emulator(env: &Env, ms: u64) {
    env.faults(json!([{ "endpoint": "POST /assets", "fault": { "latencyMs": ms } },
                      { "endpoint": "POST /timeseries/data", "fault": { "latencyMs": ms } },
                      { "endpoint": "POST /raw/dbs/{db}/tables/{table}/rows", "fault": { "latencyMs": ms } }]));
}

#[test]
fn repeated_external_ids_across_requests_end_as_the_last_row_while_others_overlap() {
    let env = Env::start();
    // Requests in sending order u0, d0, u1, d1, ...: each later d-request would overtake the
    // earlier ones (less latency) if it were sent alongside them.
    let latency: Vec<Json> =
        (0..10).map(|i| json!({"latencyMs": if i % 2 == 0 { 40 } else { 250 - 50 * (i / 2) }})).collect();
    env.faults(json!([{ "endpoint": "POST /assets", "sequence": latency }]));
    let mut s = env.session();
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    w.set_max_concurrency(8);
    for round in 0..5 {
        // Unique rows (free to overlap), then the same 300 external ids again with new names.
        send(&env, &mut s, &mut w, (0..300).map(|i| asset(&format!("u-{round}-{i}"), "unique")));
        send(&env, &mut s, &mut w, (0..300).map(|i| asset(&format!("dup-{i}"), &format!("round {round}"))));
    }
    env.run(w.flush(&mut s)).expect("flush");
    assert_eq!(w.rows_written, 3000);
    assert_eq!(w.in_flight(), 0);
    let assets = env.dump("assets");
    assert_eq!(assets.len(), 1500 + 300);
    for i in [0, 150, 299] {
        let found = env.by_external_id("assets", &format!("dup-{i}"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["name"], "round 4", "the last row of dup-{i} wins");
    }
    assert!(w.peak_in_flight >= 2, "requests overlapped: peak {}", w.peak_in_flight);
    let stats = env.stats();
    let seen = stats["endpoints"]["POST /assets"]["max_concurrent"].as_u64().unwrap();
    assert!((2..=8).contains(&seen), "the emulator saw {seen} requests at once");
}

#[test]
fn datapoints_and_raw_rows_of_one_key_never_race() {
    let env = Env::start();
    slow_emulator(&env, 30);
    let mut s = env.session();
    let mut dp = TableWriter::new(resource("double_datapoints").unwrap(), InsertMode::Upsert);
    dp.set_max_concurrency(8);
    let point = |series: &str, t: i64, v: f64| WriteRow::Datapoint {
        series: SeriesRef::ExternalId(series.into()),
        point: DatapointRow { timestamp: t, value: PointValue::Double(v), status: None },
    };
    for xid in ["same", "apart"] {
        let body = json!({"items": [{"externalId": xid}]});
        env.run(s.post_json("timeseries", &[], &body, cdf_client::Idempotency::NotIdempotent)).expect("series");
    }
    for round in 0..4 {
        // The same 200 timestamps each round; series "apart" gets a new range each round.
        send(&env, &mut s, &mut dp, (0..200).map(|t| point("same", 1000 + t, round as f64)));
        send(&env, &mut s, &mut dp, (0..200).map(|t| point("apart", round * 1000 + t, round as f64)));
    }
    env.run(dp.flush(&mut s)).expect("flush datapoints");
    let series = env.dump("timeseries/data");
    let same = series.iter().find(|s| s["externalId"] == "same").unwrap()["datapoints"].as_array().unwrap().clone();
    assert_eq!(same.len(), 200);
    assert!(same.iter().all(|p| p["value"] == 3.0), "last round wins: {:?}", &same[..3]);
    let apart = series.iter().find(|s| s["externalId"] == "apart").unwrap()["datapoints"].as_array().unwrap().len();
    assert_eq!(apart, 800);
    assert!(dp.peak_in_flight >= 2, "disjoint ranges overlapped: peak {}", dp.peak_in_flight);

    let mut raw = TableWriter::new(resource("raw_rows").unwrap(), InsertMode::Upsert);
    raw.set_max_concurrency(8);
    let row = |key: String, v: i64| WriteRow::RawRow {
        database: "db".into(),
        table: "t".into(),
        row: obj(json!({"key": key, "columns": {"v": v}})),
    };
    for round in 0..4 {
        send(&env, &mut s, &mut raw, (0..100).map(|k| row(format!("k{k}"), round)));
        send(&env, &mut s, &mut raw, (0..100).map(|k| row(format!("r{round}-{k}"), round)));
    }
    env.run(raw.flush(&mut s)).expect("flush raw");
    assert_eq!(raw.rows_written, 800);
    let dbs = env.dump("raw");
    let rows = dbs[0]["tables"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 100 + 400);
    let k7 = rows.iter().find(|r| r["key"] == "k7").unwrap();
    assert_eq!(k7["columns"]["v"], 3, "the last row of key k7 wins");
    assert!(raw.peak_in_flight >= 2);
}

#[test]
fn a_failure_mid_flight_starts_nothing_new_and_counts_exactly_what_was_written() {
    let env = Env::start();
    let mut s = env.session();
    env.faults(json!([
        { "endpoint": "POST /assets", "fault": { "latencyMs": 40 } },
        { "endpoint": "POST /assets", "sequence": [null, null, {"status": 400, "message": "rejected chunk"}] }
    ]));
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    w.set_max_concurrency(4);
    let chunk = |c: usize| (0..100).map(move |i| asset(&format!("a-{c}-{i}"), "x"));
    let mut error = None;
    for c in 0..10 {
        for row in chunk(c) {
            w.push(row);
        }
        if let Err(e) = env.run(w.send_buffered(&mut s)) {
            error = Some(e);
            break;
        }
    }
    let e = match error {
        Some(e) => e,
        None => env.run(w.flush(&mut s)).expect_err("the third request fails"),
    };
    assert_eq!(w.in_flight(), 0, "every request in flight finished before the error");
    assert_eq!(e.rows_in_failed_chunk, 100);
    assert!(e.error.to_string().contains("rejected chunk"), "{}", e.error);
    let stored = env.dump("assets").len() as u64;
    assert_eq!(e.rows_written, stored, "the error counts exactly what CDF holds");
    assert!((200..1000).contains(&stored), "{stored}");
    assert!(env.requests("POST /assets") < 10, "no request started after the failure was seen");

    // Re-running the load (upsert) completes it: nothing lost, nothing twice.
    env.clear_faults();
    let mut again = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    again.set_max_concurrency(4);
    for c in 0..10 {
        send(&env, &mut s, &mut again, chunk(c));
    }
    env.run(again.flush(&mut s)).expect("re-run");
    let assets = env.dump("assets");
    assert_eq!(assets.len(), 1000);
    let distinct: std::collections::HashSet<_> = assets.iter().map(|a| a["externalId"].clone()).collect();
    assert_eq!(distinct.len(), 1000);
}

#[test]
fn a_429_storm_lowers_the_concurrency_and_the_load_still_succeeds() {
    let env = Env::start();
    // CDF's cost model, with room for only two concurrent asset requests per identity.
    let narrow = json!({"apiRps": 1000.0, "apiConcurrent": 2, "crudRps": 1000.0, "crudConcurrent": 2,
                        "analyticalRps": 1000.0, "analyticalConcurrent": 2});
    set_realism(
        &env,
        json!({"profile": "cdf", "limits": {"resources": {}, "default": narrow,
               "raw": {"concurrent": 48, "insertBytes": 1.3e9, "retrieveBytes": 6.6e9, "windowSecs": 600.0},
               "retryAfter": false}}),
    );
    let mut s = env.session();
    s.retry = RetryPolicy { initial_backoff: Duration::from_millis(50), ..RetryPolicy::default() };
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    w.set_max_concurrency(8);
    for c in 0..16 {
        send(&env, &mut s, &mut w, (0..50).map(|i| asset(&format!("s-{c}-{i}"), "storm")));
    }
    env.run(w.flush(&mut s)).expect("the load succeeds through the throttling");
    assert_eq!(w.rows_written, 800);
    assert_eq!(env.dump("assets").len(), 800);
    let throttled = env.statuses("POST /assets")["429"].as_u64().unwrap_or(0);
    assert!(throttled > 0, "the emulator throttled");
    assert_eq!(w.throttled, throttled, "the writer saw every 429");
    assert!(w.concurrency() < 8, "concurrency went down to {}", w.concurrency());
    let seen = env.stats()["endpoints"]["POST /assets"]["max_concurrent"].as_u64().unwrap();
    assert!(seen <= 8, "never more than the configured concurrency in flight: {seen}");
    // Without lowering, 6 of every 8 requests would be refused on each round.
    assert!(throttled < 16 * 3, "{throttled} throttled answers for 16 requests");
}

#[test]
fn concurrency_is_cut_to_what_cdf_documents_per_identity() {
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    w.set_max_concurrency(48);
    assert_eq!(w.concurrency(), 23);
    let mut w = TableWriter::new(resource("events").unwrap(), InsertMode::Upsert);
    w.set_max_concurrency(48);
    assert_eq!(w.concurrency(), 30);
    let mut w = TableWriter::new(resource("raw_rows").unwrap(), InsertMode::Upsert);
    w.set_max_concurrency(48);
    assert_eq!(w.concurrency(), 48);
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    w.set_max_concurrency(0);
    assert_eq!(w.concurrency(), 1);
}

#[test]
fn a_child_asset_waits_for_the_request_that_creates_its_parent() {
    let env = Env::start();
    slow_emulator(&env, 60);
    let mut s = env.session();
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    w.set_max_concurrency(8);
    send(&env, &mut s, &mut w, [asset("root", "root")]);
    let child = WriteRow::Item(obj(json!({"externalId": "child", "name": "c", "parentExternalId": "root"})));
    send(&env, &mut s, &mut w, [child]);
    env.run(w.flush(&mut s)).expect("the child is created after its parent");
    assert_eq!(env.dump("assets").len(), 2);
    assert_eq!(w.peak_in_flight, 1, "the child's request did not start alongside the parent's");
}

#[test]
fn the_next_page_is_fetched_while_the_current_one_is_consumed() {
    let env = Env::start();
    let mut s = env.session();
    let mut w = TableWriter::new(resource("raw_rows").unwrap(), InsertMode::Upsert);
    for i in 0..25_000 {
        let row = obj(json!({"key": format!("p-{i:05}"), "columns": {"i": i}}));
        if w.push(WriteRow::RawRow { database: "db".into(), table: "t".into(), row }) {
            env.run(w.send_buffered(&mut s)).unwrap();
        }
    }
    env.run(w.flush(&mut s)).unwrap();
    let endpoint = "GET /raw/dbs/{db}/tables/{table}/rows";
    env.faults(json!([{ "endpoint": endpoint, "fault": { "latencyMs": 100 } }]));
    let plan = cdf_tables::ReadPlan::RawRows { database: "db".into(), table: "t".into(), keys: None };
    let mut reader = cdf_client::Reader::new(resource("raw_rows").unwrap(), plan);
    let first = env.run(reader.next_page(&mut s)).unwrap().unwrap();
    assert_eq!(first.len(), 10_000);
    // PostgreSQL consumes the page (no block_on meanwhile): the next request is already out.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(env.requests(endpoint), 2, "the second page was fetched during consumption");
    let t0 = std::time::Instant::now();
    let second = env.run(reader.next_page(&mut s)).unwrap().unwrap();
    assert!(t0.elapsed() < Duration::from_millis(90), "the second page was ready: {:?}", t0.elapsed());
    let third = env.run(reader.next_page(&mut s)).unwrap().unwrap();
    assert_eq!(env.run(reader.next_page(&mut s)).unwrap(), None);
    let rows: Vec<_> = first.iter().chain(&second).chain(&third).map(cdf_client::Row::to_json).collect();
    let all: Vec<&str> = rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "one list's pages come in its order");
    sorted.dedup();
    assert_eq!(sorted.len(), 25_000, "every row once, in pages");
    assert_eq!(env.requests(endpoint), 3, "no request past the last cursor");
}

#[test]
fn an_unfiltered_list_is_read_in_partitions_side_by_side() {
    let env = Env::start();
    let mut s = env.session();
    let mut w = TableWriter::new(resource("assets").unwrap(), InsertMode::Upsert);
    for i in 0..2500 {
        w.push(asset(&format!("p-{i:04}"), "paged"));
        if w.buffered() == 1000 {
            env.run(w.send_buffered(&mut s)).unwrap();
        }
    }
    env.run(w.flush(&mut s)).unwrap();
    let partitions = resource("assets").unwrap().list_partitions().expect("assets are listed in partitions");
    assert!(partitions >= 2);
    env.faults(json!([{ "endpoint": "POST /assets/list", "fault": { "latencyMs": 200 } }]));
    let t0 = std::time::Instant::now();
    let mut reader =
        cdf_client::Reader::new(resource("assets").unwrap(), cdf_tables::ReadPlan::List(Default::default()));
    let mut all = Vec::new();
    while let Some(page) = env.run(reader.next_page(&mut s)).unwrap() {
        assert!(page.len() <= 1000);
        all.extend(page.iter().map(|r| r.to_json()["externalId"].as_str().unwrap().to_string()));
    }
    let took = t0.elapsed();
    assert_eq!(all.len(), 2500, "every row once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 2500, "no row twice");
    // Each partition holds under 1000 assets: one request each, all in flight together.
    assert_eq!(env.requests("POST /assets/list"), partitions as u64);
    let seen = env.endpoint("POST /assets/list")["max_concurrent"].as_u64().unwrap();
    assert!(seen >= 2, "partitions were fetched side by side: {seen} at once");
    assert!(took < Duration::from_millis(200 * partitions as u64 / 2), "partitions overlapped: {took:?}");
    // Resources CDF does not partition are one list.
    let labels = resource("labels").unwrap();
    assert_eq!(labels.list_partitions(), None);
}
