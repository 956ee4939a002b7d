"""psycopg doing what Azure Data Factory's "Copy command" write method does: binary COPY."""
import psycopg
import pytest
from psycopg.types.json import Json


def test_binary_copy_into_assets_arrives_field_by_field(conn, emulator):
    rows = [
        ("site", "Site", None, "The site", Json({"region": "north"}), "erp"),
        ("pump-1", "Pump 1", "site", None, Json({"maker": "ACME"}), "erp"),
        ("pump-2", "Pump 2 – ümlaut", "site", "two\nlines", Json({}), None),
    ]
    with conn.cursor() as cur:
        with cur.copy(
            "COPY cdf_tables.assets (external_id, name, parent_external_id, description, metadata, source)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["varchar", "text", "varchar", "text", "json", "text"])
            for row in rows:
                copy.write_row(row)

    stored = emulator.items("assets")
    assert sorted(a["externalId"] for a in stored) == ["pump-1", "pump-2", "site"]
    by_xid = {a["externalId"]: a for a in stored}
    site = by_xid["site"]
    assert site["name"] == "Site"
    assert site["description"] == "The site"
    assert site["metadata"] == {"region": "north"}
    assert site["source"] == "erp"
    assert "parentId" not in site or site["parentId"] is None
    assert by_xid["pump-1"]["parentId"] == site["id"]
    assert by_xid["pump-1"]["rootId"] == site["id"]
    assert by_xid["pump-2"]["name"] == "Pump 2 – ümlaut"
    assert by_xid["pump-2"]["description"] == "two\nlines"
    assert by_xid["pump-2"]["metadata"] == {}
    assert "source" not in by_xid["pump-2"]


def test_large_binary_copy_is_sent_in_chunks_of_1000(conn, emulator):
    n = 4321
    with conn.cursor() as cur:
        with cur.copy("COPY cdf_tables.assets (external_id, name) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["varchar", "text"])
            for i in range(n):
                copy.write_row((f"a-{i}", f"Asset {i}"))
    stats = emulator.endpoint_stats("POST /assets")
    assert stats["requests"] == 5
    assert stats["items"] == n
    assert stats["max_items"] == 1000
    stored = emulator.items("assets")
    assert len(stored) == n
    assert {a["externalId"] for a in stored} == {f"a-{i}" for i in range(n)}


def test_binary_copy_with_a_bad_row_fails_naming_the_row(conn, emulator):
    with pytest.raises(psycopg.errors.NotNullViolation) as err:
        with conn.cursor() as cur:
            with cur.copy("COPY cdf_tables.assets (external_id, name) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["varchar", "text"])
                copy.write_row(("good", "Good"))
                copy.write_row(("bad", None))
    assert 'row 2, column "name"' in str(err.value)
    assert emulator.items("assets") == []


def test_executemany_and_multi_row_insert_with_binary_parameters(conn, emulator):
    """The ADF "Bulk insert" pattern: parameterised multi-row INSERT, binary parameters."""
    rows = [(f"b-{i}", f"B {i}") for i in range(1500)]
    with conn.cursor(binary=True) as cur:
        values = ", ".join(["(%b, %b)"] * len(rows))
        flat = [v for row in rows for v in row]
        cur.execute(f"INSERT INTO cdf_tables.assets (external_id, name) VALUES {values}", flat)
        cur.executemany(
            "INSERT INTO cdf_tables.assets (external_id, name) VALUES (%b, %b)",
            [(f"m-{i}", f"M {i}") for i in range(50)],
        )
    stored = emulator.items("assets")
    assert len(stored) == 1550
    by_xid = {a["externalId"]: a["name"] for a in stored}
    assert by_xid == {**{f"b-{i}": f"B {i}" for i in range(1500)}, **{f"m-{i}": f"M {i}" for i in range(50)}}
