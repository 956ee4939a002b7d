//! Node writes and reads of view tables against the in-process emulator: chunks of 1000,
//! insert modes, cursors, byids, deletes, and which row a DMS rejection names.

mod common;

use cdf_client::instances::{retrieve_views, InstanceRead, InstanceWriter};
use cdf_client::Idempotency;
use cdf_tables::views::ViewId;
use cdf_tables::InsertMode;
use common::Env;
use serde_json::{json, Value as Json};

fn view() -> ViewId {
    ViewId { space: "sch".into(), external_id: "Thing".into(), version: "v1".into() }
}

fn setup(env: &Env, s: &mut cdf_client::Session) {
    let post = |s: &mut cdf_client::Session, path: &str, body: Json| {
        env.run(s.post_json(path, &[], &body, Idempotency::Idempotent)).expect(path);
    };
    post(s, "models/spaces", json!({"items": [{"space": "sch"}, {"space": "inst"}]}));
    post(
        s,
        "models/containers",
        json!({"items": [{"space": "sch", "externalId": "Thing", "properties": {
            "name": {"type": {"type": "text"}, "nullable": false}, "n": {"type": {"type": "int64"}}}}]}),
    );
    post(
        s,
        "models/views",
        json!({"items": [{"space": "sch", "externalId": "Thing", "version": "v1", "properties": {
            "name": {"container": {"type": "container", "space": "sch", "externalId": "Thing"}, "containerPropertyIdentifier": "name"},
            "n": {"container": {"type": "container", "space": "sch", "externalId": "Thing"}, "containerPropertyIdentifier": "n"}}}]}),
    );
}

fn node(xid: &str, name: Option<&str>, n: i64, mode: InsertMode) -> Json {
    let mut props = json!({"n": n});
    if let Some(name) = name {
        props["name"] = json!(name);
    }
    let mut item = json!({"instanceType": "node", "space": "inst", "externalId": xid,
                          "sources": [{"source": view().source(), "properties": props}]});
    if mode == InsertMode::Create {
        item["existingVersion"] = json!(0);
    }
    item
}

#[allow(clippy::result_large_err)]
fn write(
    env: &Env,
    s: &mut cdf_client::Session,
    mode: InsertMode,
    items: Vec<Json>,
) -> Result<u64, cdf_client::instances::InstanceWriteError> {
    let mut w = InstanceWriter::new(mode);
    let mut total = 0;
    for (i, item) in items.into_iter().enumerate() {
        if w.push(i as u64 + 1, item) {
            total += env.run(w.flush(s))?;
        }
    }
    total += env.run(w.flush(s))?;
    Ok(total)
}

fn read_all(env: &Env, s: &mut cdf_client::Session, mut read: InstanceRead) -> (Vec<Json>, usize) {
    let (mut items, mut pages) = (Vec::new(), 0);
    while let Some(page) = env.run(read.next_page(s)).expect("page") {
        pages += 1;
        items.extend(page);
    }
    (items, pages)
}

#[test]
fn nodes_go_in_chunks_of_1000_and_read_back_over_cursors() {
    let env = Env::start();
    let mut s = env.session();
    setup(&env, &mut s);
    let items: Vec<Json> = (0..2500).map(|i| node(&format!("t{i}"), Some("x"), i, InsertMode::Upsert)).collect();
    assert_eq!(write(&env, &mut s, InsertMode::Upsert, items).unwrap(), 2500);
    let e = env.endpoint("POST /models/instances");
    assert_eq!((e["requests"].as_u64(), e["max_items"].as_u64()), (Some(3), Some(1000)));

    let (items, pages) = read_all(&env, &mut s, InstanceRead::list("node", json!([{"source": view().source()}]), None));
    assert_eq!((items.len(), pages), (2500, 3));
    let t7 = items.iter().find(|i| i["externalId"] == "t7").unwrap();
    assert_eq!(t7["properties"]["sch"]["Thing/v1"], json!({"name": "x", "n": 7}));

    let ids = vec![
        json!({"instanceType": "node", "space": "inst", "externalId": "t5"}),
        json!({"instanceType": "node", "space": "inst", "externalId": "nope"}),
    ];
    let (items, _) = read_all(&env, &mut s, InstanceRead::by_ids(ids, json!([{"source": view().source()}])));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["externalId"], "t5");

    let definition = env.run(retrieve_views(&mut s, &[view()])).unwrap();
    assert_eq!(definition.len(), 1);
    assert!(definition[0]["properties"]["name"]["type"]["type"] == "text");
}

#[test]
fn insert_modes_and_rejections_name_the_row() {
    let env = Env::start();
    let mut s = env.session();
    setup(&env, &mut s);
    write(&env, &mut s, InsertMode::Upsert, vec![node("a", Some("A"), 1, InsertMode::Upsert)]).unwrap();
    // ignore: the existing node is left out of the request.
    let written = write(
        &env,
        &mut s,
        InsertMode::Ignore,
        vec![node("a", Some("changed"), 2, InsertMode::Ignore), node("b", Some("B"), 3, InsertMode::Ignore)],
    )
    .unwrap();
    assert_eq!(written, 1);
    let (items, _) = read_all(&env, &mut s, InstanceRead::list("node", json!([{"source": view().source()}]), None));
    let a = items.iter().find(|i| i["externalId"] == "a").unwrap();
    assert_eq!(a["properties"]["sch"]["Thing/v1"]["name"], "A");
    // create: existingVersion 0 on an existing node is a conflict naming that row.
    let e = write(
        &env,
        &mut s,
        InsertMode::Create,
        vec![node("c", Some("C"), 1, InsertMode::Create), node("b", Some("B"), 1, InsertMode::Create)],
    )
    .unwrap_err();
    assert_eq!(e.write.error.status(), Some(409));
    assert_eq!(e.failed_row, Some(2));
    // A missing required property names the node, hence the row.
    let e = write(
        &env,
        &mut s,
        InsertMode::Upsert,
        vec![node("d", Some("D"), 1, InsertMode::Upsert), node("e", None, 1, InsertMode::Upsert)],
    )
    .unwrap_err();
    assert_eq!(e.failed_row, Some(2));
    // Deletes.
    let mut w = InstanceWriter::new(InsertMode::Upsert);
    w.push(1, json!({"instanceType": "node", "space": "inst", "externalId": "a"}));
    assert_eq!(env.run(w.flush_deletes(&mut s)).unwrap(), 1);
    let (items, _) = read_all(&env, &mut s, InstanceRead::list("node", json!([{"source": view().source()}]), None));
    assert!(!items.iter().any(|i| i["externalId"] == "a"));
}
