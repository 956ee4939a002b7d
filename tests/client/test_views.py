"""View tables from psycopg: binary COPY into an imported CogniteAsset table (an asset
hierarchy), CogniteTimeSeries nodes and their datapoints by instance id, checked in the emulator."""
import json
import os
import time
from datetime import datetime, timedelta, timezone
import urllib.parse
import urllib.request

import psycopg
import pytest
from psycopg.types.json import Jsonb

EMULATOR = os.environ.get("CDF_EMULATOR_URL", "http://127.0.0.1:54081").rstrip("/")


def cdf_post(path, payload):
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "demo-client",
                                   "client_secret": "demo-secret", "scope": "https://cdf/.default"}).encode()
    with urllib.request.urlopen(EMULATOR + "/oauth2/token", body) as r:
        token = json.load(r)["access_token"]
    req = urllib.request.Request(f"{EMULATOR}/api/v1/projects/demo/{path}", json.dumps(payload).encode(),
                                 {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


@pytest.fixture
def core(conn, emulator):
    cdf_post("models/spaces", {"items": [{"space": "plant"}]})
    conn.execute("DROP SCHEMA IF EXISTS core CASCADE")
    conn.execute("CREATE SCHEMA core")
    conn.execute('IMPORT FOREIGN SCHEMA "cdf_cdm/CogniteCore/v1" LIMIT TO ("CogniteAsset", "CogniteTimeSeries")'
                 " FROM SERVER cdf INTO core OPTIONS (instance_space 'plant')")
    yield conn
    conn.execute("DROP SCHEMA core CASCADE")


def nodes(emulator, container):
    out = {}
    for i in emulator.items("models/instances"):
        data = i.get("properties", {}).get("cdf_cdm", {}).get(container)
        if data is not None:
            out[(i["space"], i["externalId"])] = data
    return out


def test_binary_copy_of_an_asset_hierarchy_and_datapoints_by_instance_id(core, emulator):
    n = 2500
    rows = [("site", "Site", None, ["top"])]
    rows += [(f"area-{i}", f"Area {i}", Jsonb({"space": "plant", "externalId": "site"}), None) for i in range(4)]
    rows += [(f"pump-{i}", f"Pump {i} – ü", Jsonb({"space": "plant", "externalId": f"area-{i % 4}"}), ["pump"])
             for i in range(n)]
    start = time.monotonic()
    with core.cursor() as cur:
        with cur.copy('COPY core."CogniteAsset" (external_id, name, parent, tags) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types(["text", "text", "jsonb", "text[]"])
            for row in rows:
                copy.write_row(row)
    elapsed = time.monotonic() - start
    print(f"COPY into CogniteAsset: {len(rows)} rows in {elapsed:.2f}s = {len(rows) / elapsed:.0f} rows/s")

    stats = emulator.endpoint_stats("POST /models/instances")
    assert stats["items"] == len(rows)
    assert stats["max_items"] == 1000
    assets = nodes(emulator, "CogniteAsset")
    described = nodes(emulator, "CogniteDescribable")
    assert len(assets) == len(rows)
    assert described[("plant", "pump-7")] == {"name": "Pump 7 – ü", "tags": ["pump"]}
    assert assets[("plant", "pump-7")]["parent"] == {"space": "plant", "externalId": "area-3"}
    assert [p["externalId"] for p in assets[("plant", "pump-7")]["path"]] == ["site", "area-3", "pump-7"]
    assert "parent" not in assets[("plant", "site")] or assets[("plant", "site")]["parent"] is None

    # Read back through the table: byids and a list.
    got = core.execute('SELECT name, root, path[2] FROM core."CogniteAsset" WHERE external_id = %s',
                       ["pump-1"]).fetchone()
    assert got == ("Pump 1 – ü", {"space": "plant", "externalId": "site"}, {"space": "plant", "externalId": "area-1"})
    assert core.execute('SELECT count(*) FROM core."CogniteAsset"').fetchone()[0] == len(rows)

    # Time series nodes, then their datapoints by instance id.
    with core.cursor() as cur:
        with cur.copy('COPY core."CogniteTimeSeries" (external_id, name, type, "isStep", assets)'
                      " FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "text", "text", "bool", "jsonb[]"])
            copy.write_row(("temp-1", "Temperature", "numeric", False, [Jsonb({"space": "plant", "externalId": "pump-1"})]))
            copy.write_row(("state-1", "State", "string", False, None))
    series = {s.get("instanceId", {}).get("externalId"): s for s in emulator.items("timeseries")}
    assert series["temp-1"]["isString"] is False and series["state-1"]["isString"] is True

    with core.cursor() as cur:
        with cur.copy("COPY cdf_tables.double_datapoints (instance_space, instance_external_id, timestamp, value)"
                      " FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "text", "timestamptz", "float8"])
            t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
            for i in range(100):
                copy.write_row(("plant", "temp-1", t0 + timedelta(seconds=i), float(i)))
        cur.execute("INSERT INTO cdf_tables.string_datapoints (instance_space, instance_external_id, timestamp, value)"
                    " VALUES ('plant', 'state-1', '2024-01-01 00:00:00+00', 'running')")
    stored = {s["id"]: s for s in emulator.items("timeseries/data")}
    temp = stored[series["temp-1"]["id"]]
    assert len(temp["datapoints"]) == 100
    assert temp["datapoints"][5] == {"timestamp": 1704067205000, "value": 5.0}
    assert stored[series["state-1"]["id"]]["datapoints"] == [{"timestamp": 1704067200000, "value": "running"}]
    count, total = core.execute(
        "SELECT count(*), sum(value) FROM cdf_tables.double_datapoints"
        " WHERE instance_space = 'plant' AND instance_external_id = 'temp-1'").fetchone()
    assert (count, total) == (100, sum(range(100)))


def test_bad_row_in_copy_names_row_and_column(core, emulator):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as e:
        with core.cursor() as cur:
            with cur.copy('COPY core."CogniteTimeSeries" (external_id, name, type, "isStep") FROM STDIN (FORMAT BINARY)') as copy:
                copy.set_types(["text", "text", "text", "bool"])
                copy.write_row(("ok-1", "Fine", "numeric", False))
                copy.write_row(("bad-1", "Bad", "complex", False))
    assert 'row 2, column "type"' in str(e.value)
    assert '"complex" is not a value' in str(e.value)
