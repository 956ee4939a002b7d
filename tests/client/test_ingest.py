"""Issue 11: loads as ETL sources deliver them. A shuffled asset hierarchy in one COPY, parents
already in CDF, cycles and missing parents, references by external id and insert_mode
update/delete from plain INSERTs, all checked field by field in the emulator."""
import os
import random
import sys

import psycopg
import pytest
from psycopg.types.json import Json

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from hierarchy import hierarchy as shared_hierarchy  # noqa: E402


def hierarchy(n, roots=10, seed=11):
    """n assets under `roots` roots (tests/tools/hierarchy.py), each with its index as metadata."""
    rows, depth = shared_hierarchy(n, roots=roots, seed=seed, prefix="a")
    return [(xid, name, parent, Json({"i": xid[1:]})) for xid, name, parent in rows], depth


def copy_assets(conn, rows):
    with conn.cursor() as cur:
        with cur.copy(
            "COPY cdf_tables.assets (external_id, name, parent_external_id, metadata) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["varchar", "text", "varchar", "json"])
            for row in rows:
                copy.write_row(row)


def check_tree(stored, rows):
    """Every row arrived once with its name, metadata, parent and root."""
    by_xid = {a["externalId"]: a for a in stored}
    assert len(by_xid) == len(stored)
    parent_of = {xid: parent for xid, _, parent, _ in rows}
    for xid, name, parent, meta in rows:
        item = by_xid[xid]
        assert item["name"] == name
        assert item["metadata"] == meta.obj
        if parent is None:
            assert item.get("parentId") is None
        else:
            assert item["parentId"] == by_xid[parent]["id"], xid
        root = xid
        while parent_of.get(root) is not None:
            root = parent_of[root]
        assert item["rootId"] == by_xid[root]["id"], xid


def test_shuffled_hierarchy_of_10k_assets_loads_in_one_copy(conn, emulator):
    rows, depth = hierarchy(10_000)
    assert max(depth.values()) >= 8, "several depths"
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    # The source order really puts children before parents.
    position = {r[0]: i for i, r in enumerate(shuffled)}
    assert sum(1 for xid, _, p, _ in rows if p and position[p] > position[xid]) > 4000
    copy_assets(conn, shuffled)
    stored = emulator.items("assets")
    assert len(stored) == 10_000
    check_tree(stored, rows)
    creates = emulator.endpoint_stats("POST /assets")
    assert creates["requests"] == 10 and creates["max_items"] == 1000, creates
    assert creates["statuses"] == {"200": 10} or creates["statuses"] == {"201": 10}, creates


def test_children_of_assets_already_in_cdf_and_reparenting(conn, emulator):
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name) SELECT 'root' || i, 'Root' FROM generate_series(1, 50) i")
    conn.execute(
        "INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('old', 'Old', 'root1')"
    )
    rng = random.Random(3)
    rows = []
    for i in range(3000):
        parent = f"root{rng.randrange(1, 51)}" if i < 1500 else f"c{rng.randrange(0, 1500)}"
        rows.append((f"c{i}", f"C{i}", parent, Json({})))
    # "old" moves below a child created later in the same COPY (same hierarchy: root1).
    first_under_root1 = next(xid for xid, _, p, _ in rows if p == "root1")
    rows.append(("old", "Old moved", first_under_root1, Json({"moved": "yes"})))
    rng.shuffle(rows)
    copy_assets(conn, rows)
    stored = emulator.items("assets")
    by_xid = {a["externalId"]: a for a in stored}
    assert len(stored) == 50 + 1 + 3000
    for xid, name, parent, meta in rows:
        assert by_xid[xid]["parentId"] == by_xid[parent]["id"], xid
        assert by_xid[xid]["name"] == name
    assert by_xid["old"]["metadata"] == {"moved": "yes"}
    lookups = emulator.endpoint_stats("POST /assets/byids")
    assert 1 <= lookups["requests"] <= 10, lookups


def test_cycles_and_missing_parents_are_reported_and_the_rest_written(conn, emulator):
    rows = [
        ("x1", "X1", "x2", Json({})),
        ("good-child", "G", "good", Json({})),
        ("x2", "X2", "x1", Json({})),
        ("orphan", "O", "nobody", Json({})),
        ("me", "Me", "me", Json({})),
        ("good", "Good", None, Json({})),
    ]
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
        copy_assets(conn, rows)
    diag = err.value.diag
    assert diag.message_primary == (
        '4 row(s) of CDF table "assets" were not written: their parents are missing or form a cycle'
    )
    assert diag.message_detail.splitlines()[:4] == [
        'row 1 (external_id "x1"): its parents form a cycle: x1 -> x2 -> x1',
        'row 3 (external_id "x2"): its parents form a cycle: x2 -> x1 -> x2',
        'row 4 (external_id "orphan"): parent_external_id "nobody" is neither in CDF nor in this statement',
        'row 5 (external_id "me"): names itself as its parent',
    ]
    assert "2 other row(s) of this statement were written" in diag.message_detail
    stored = {a["externalId"]: a for a in emulator.items("assets")}
    assert set(stored) == {"good", "good-child"}
    assert stored["good-child"]["parentId"] == stored["good"]["id"]


def test_references_by_external_id_resolve_to_ids(conn, emulator):
    conn.execute("INSERT INTO cdf_tables.data_sets (external_id, name) VALUES ('ds', 'DS')")
    # Assets written earlier in the same statement (a writable CTE) resolve too.
    conn.execute(
        """WITH a AS (
             INSERT INTO cdf_tables.assets (external_id, name, data_set_external_id)
             SELECT 'pump' || i, 'Pump', 'ds' FROM generate_series(1, 1500) i RETURNING external_id)
           INSERT INTO cdf_tables.events (external_id, asset_external_ids, data_set_external_id)
           SELECT 'ev-' || external_id, ARRAY[external_id, 'pump1'], 'ds' FROM a"""
    )
    data_set_id = emulator.items("datasets")[0]["id"]
    assets = {a["externalId"]: a for a in emulator.items("assets")}
    events = emulator.items("events")
    assert len(assets) == 1500 and len(events) == 1500
    assert all(a["dataSetId"] == data_set_id for a in assets.values())
    for e in events:
        pump = e["externalId"][len("ev-"):]
        assert e["assetIds"] == [assets[pump]["id"], assets["pump1"]["id"]]
        assert e["dataSetId"] == data_set_id
    # 1500 events: two batched lookups of the assets, not one per row.
    lookups = emulator.endpoint_stats("POST /assets/byids")
    assert lookups["requests"] <= 3, lookups
    with conn.cursor() as cur:
        cur.execute(
            "SELECT asset_external_ids, data_set_external_id FROM cdf_tables.events WHERE external_id = 'ev-pump7'"
        )
        assert cur.fetchone() == (["pump7", "pump1"], "ds")
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
        with conn.cursor() as cur:
            with cur.copy("COPY cdf_tables.time_series (external_id, asset_external_id) FROM STDIN") as copy:
                copy.write_row(("ts1", "pump1"))
                copy.write_row(("ts2", "no-such-pump"))
    assert err.value.diag.message_primary == (
        'invalid value for CDF table "time_series", row 2, column "asset_external_id": '
        '"no-such-pump" is not the external id of any asset in CDF'
    )
    assert emulator.items("timeseries") == []


def test_adf_style_inserts_update_and_delete(conn, emulator):
    conn.execute(
        "INSERT INTO cdf_tables.assets (external_id, name, description, source) "
        "SELECT 'u' || i, 'U', 'before', 'erp' FROM generate_series(1, 2500) i"
    )
    conn.execute(
        "CREATE FOREIGN TABLE IF NOT EXISTS public.asset_sink_update (external_id text, description text, source text)"
        " SERVER cdf OPTIONS (resource 'assets', insert_mode 'update', null_values 'clear')"
    )
    conn.execute(
        "CREATE FOREIGN TABLE IF NOT EXISTS public.asset_sink_delete (external_id text)"
        " SERVER cdf OPTIONS (resource 'assets', insert_mode 'delete')"
    )
    try:
        with conn.cursor() as cur:
            with cur.copy("COPY public.asset_sink_update FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text"])
                for i in range(1, 2001):
                    copy.write_row((f"u{i}", f"after {i}", None))
        with conn.cursor() as cur:
            with cur.copy("COPY public.asset_sink_delete FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text"])
                for i in range(1001, 2501):
                    copy.write_row((f"u{i}",))
                copy.write_row(("never-existed",))
        stored = {a["externalId"]: a for a in emulator.items("assets")}
        assert set(stored) == {f"u{i}" for i in range(1, 1001)}
        for i in range(1, 1001):
            a = stored[f"u{i}"]
            assert a["description"] == f"after {i}"
            assert "source" not in a or a["source"] is None, "null_values 'clear' cleared it"
            assert a["name"] == "U"
        assert emulator.endpoint_stats("POST /assets/update")["requests"] == 2
        assert emulator.endpoint_stats("POST /assets/delete")["requests"] == 2
        with pytest.raises(psycopg.errors.DataException) as err:
            conn.execute("INSERT INTO public.asset_sink_update (external_id, description) VALUES ('u1', 'x'), ('gone', 'y')")
        assert 'missing: externalId "gone"' in err.value.diag.message_primary
    finally:
        conn.execute("DROP FOREIGN TABLE IF EXISTS public.asset_sink_update, public.asset_sink_delete")


def test_files_and_sequences_take_references_by_external_id(conn, emulator):
    conn.execute("INSERT INTO cdf_tables.data_sets (external_id, name) VALUES ('docs', 'Docs')")
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name) VALUES ('pump', 'Pump'), ('valve', 'Valve')")
    conn.execute(
        "INSERT INTO cdf_tables.files (external_id, name, asset_external_ids, data_set_external_id) "
        "VALUES ('manual', 'manual.pdf', '{pump,valve}', 'docs')"
    )
    conn.execute(
        "INSERT INTO cdf_tables.sequences (external_id, name, asset_external_id, columns) "
        """VALUES ('curve', 'Curve', 'valve', '[{"externalId": "x", "valueType": "DOUBLE"}]')"""
    )
    assets = {a["externalId"]: a["id"] for a in emulator.items("assets")}
    data_set = emulator.items("datasets")[0]["id"]
    (file,) = emulator.items("files")
    assert file["assetIds"] == [assets["pump"], assets["valve"]]
    assert file["dataSetId"] == data_set
    (sequence,) = emulator.items("sequences")
    assert sequence["assetId"] == assets["valve"]
    with conn.cursor() as cur:
        cur.execute("SELECT asset_external_ids, data_set_external_id FROM cdf_tables.files")
        assert cur.fetchall() == [(["pump", "valve"], "docs")]
        cur.execute("SELECT external_id FROM cdf_tables.sequences WHERE asset_external_id = 'valve'")
        assert cur.fetchall() == [("curve",)]
    # RETURNING shows what CDF stored: a dropped unknown reference is not there.
    conn.execute("ALTER FOREIGN TABLE cdf_tables.events OPTIONS (ADD unknown_references 'drop')")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO cdf_tables.events (external_id, asset_external_ids, data_set_id) "
                "VALUES ('ev', '{valve,nope}', %s) RETURNING asset_external_ids, data_set_external_id, asset_ids",
                (data_set,),
            )
            assert cur.fetchone() == (["valve"], "docs", [assets["valve"]])
    finally:
        conn.execute("ALTER FOREIGN TABLE cdf_tables.events OPTIONS (DROP unknown_references)")
