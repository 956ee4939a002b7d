"""Issue 12: CDF's lists are search-backed and see new objects only some time after they were
written; byids and RAW GET by key see them at once. Every write path of the extension that reads
what was just written (upsert's update of existing objects, insert_mode 'ignore' and ON CONFLICT
DO NOTHING, references by external id, parents in CDF, UPDATE/DELETE by key) must therefore use
byids, never a list. These tests run them with the emulator's list delay set far beyond the test's
duration, so any list read of a fresh object would come back empty and the statement would go
wrong."""
import json
import urllib.request

import pytest

from conftest import EMULATOR


def admin(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(EMULATOR + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


@pytest.fixture
def list_delay(emulator):
    """Lists see nothing written during the test; the emulator's other settings are kept."""
    before = admin("GET", "/_admin/realism")
    admin("POST", "/_admin/realism", {**before, "listDelayMs": 600_000})
    try:
        yield
    finally:
        admin("POST", "/_admin/realism", before)


def one(conn, sql):
    return conn.execute(sql).fetchall()


def test_the_list_really_lags_while_byids_does_not(conn, emulator, list_delay):
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name) VALUES ('fresh', 'Fresh')")
    assert one(conn, "SELECT name FROM cdf_tables.assets") == [], "the delay is in force"
    assert one(conn, "SELECT name FROM cdf_tables.assets WHERE external_id = 'fresh'") == [("Fresh",)]


def test_writes_that_read_fresh_objects_go_through_byids(conn, emulator, list_delay):
    conn.execute("INSERT INTO cdf_tables.data_sets (external_id, name) VALUES ('ds', 'DS')")
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name) VALUES ('p', 'P'), ('q', 'Q')")
    # Parents already in CDF, named by external id in a later statement.
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('c', 'C', 'p')")
    # Upsert of existing objects: create answers 409, the duplicates are updated.
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name, description) VALUES ('q', 'Q2', 'again')")
    # ON CONFLICT DO NOTHING skips what exists.
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name) VALUES ('p', 'skip'), ('r', 'R') ON CONFLICT DO NOTHING")
    # UPDATE and DELETE by key.
    assert conn.execute("UPDATE cdf_tables.assets SET description = 'upd' WHERE external_id = 'r'").rowcount == 1

    stored = {a["externalId"]: a for a in emulator.items("assets")}
    assert set(stored) == {"p", "q", "c", "r"}
    assert stored["c"]["parentId"] == stored["p"]["id"]
    assert (stored["q"]["name"], stored["q"]["description"]) == ("Q2", "again")
    assert stored["p"]["name"] == "P"
    assert stored["r"]["description"] == "upd"


def test_events_reference_fresh_assets_and_data_sets(conn, emulator, list_delay):
    conn.execute("INSERT INTO cdf_tables.data_sets (external_id, name) VALUES ('ds', 'DS')")
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name) VALUES ('p', 'P'), ('q', 'Q')")
    conn.execute(
        "INSERT INTO cdf_tables.events (external_id, asset_external_ids, data_set_external_id)"
        " VALUES ('e', '{p,q}', 'ds')"
    )
    assets = {a["externalId"]: a["id"] for a in emulator.items("assets")}
    (event,) = emulator.items("events")
    assert sorted(event["assetIds"]) == sorted([assets["p"], assets["q"]])
    assert event["dataSetId"] == emulator.items("datasets")[0]["id"]
    # Deleting by key sees the fresh event.
    assert conn.execute("DELETE FROM cdf_tables.events WHERE external_id = 'e'").rowcount == 1
    assert emulator.items("events") == []


def test_insert_mode_ignore_and_datapoints_for_a_fresh_series(conn, emulator, list_delay):
    conn.execute("INSERT INTO cdf_tables.time_series (external_id, name) VALUES ('ts', 'TS')")
    conn.execute("ALTER FOREIGN TABLE cdf_tables.time_series OPTIONS (ADD insert_mode 'ignore')")
    try:
        conn.execute("INSERT INTO cdf_tables.time_series (external_id, name) VALUES ('ts', 'other'), ('ts2', 'TS2')")
    finally:
        conn.execute("ALTER FOREIGN TABLE cdf_tables.time_series OPTIONS (DROP insert_mode)")
    conn.execute(
        "INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)"
        " VALUES ('ts', '2024-01-01 00:00:00+00', 1.5)"
    )
    names = {t["externalId"]: t["name"] for t in emulator.items("timeseries")}
    assert names == {"ts": "TS", "ts2": "TS2"}
    assert one(
        conn, "SELECT value FROM cdf_tables.double_datapoints WHERE external_id = 'ts'"
    ) == [(1.5,)], "datapoint reads are not list-delayed"


def test_raw_rows_just_written_are_read_by_key_but_not_by_the_row_list(conn, emulator, list_delay):
    conn.execute(
        "INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns)"
        " VALUES ('db', 't', 'k', '{\"a\": 1}')"
    )
    assert one(
        conn, "SELECT _raw_columns->>'a' FROM cdf_tables.raw_rows WHERE _raw_database = 'db' AND _raw_table = 't' AND _raw_key = 'k'"
    ) == [("1",)]
    # A scan of the whole table is a row list, which CDF lags too: the limit a user can meet.
    assert one(conn, "SELECT _raw_key FROM cdf_tables.raw_rows WHERE _raw_database = 'db' AND _raw_table = 't'") == []
