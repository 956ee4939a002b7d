"""The other Python clients ETL jobs and extractors use, as they use them: psycopg2
(`execute_values`, `copy_expert`, `executemany` in one transaction), asyncpg (binary
`copy_records_to_table`, which prepares `SELECT ... LIMIT 1` to learn the types first, and
prepared `executemany`) and pandas `to_sql` / `read_sql` over SQLAlchemy. Each checks what
arrived in the emulator field by field, and what a bad row gives the client."""
import asyncio
import datetime as dt
import io
import os

import asyncpg
import pandas as pd
import psycopg2
import psycopg2.extras
import pytest
import sqlalchemy

UTC = dt.timezone.utc


def dsn():
    return (f"host={os.environ.get('PGHOST', '127.0.0.1')} port={os.environ.get('PGPORT', '5432')} "
            f"user={os.environ.get('PGUSER', 'postgres')} dbname={os.environ.get('PGDATABASE', 'postgres')}")


def url(driver):
    return (f"postgresql+{driver}://{os.environ.get('PGUSER', 'postgres')}@{os.environ.get('PGHOST', '127.0.0.1')}:"
            f"{os.environ.get('PGPORT', '5432')}/{os.environ.get('PGDATABASE', 'postgres')}")


def requests_to(emulator, endpoint):
    return (emulator.endpoint_stats(endpoint) or {}).get("requests", 0)


def by_xid(items, prefix):
    return {i["externalId"]: i for i in items if i.get("externalId", "").startswith(prefix)}


# ---------------------------------------------------------------- psycopg2

def test_psycopg2_execute_values_sends_every_row_once(gateway, emulator):
    rows = [(f"p2-{i}", f"Asset {i}", f"source-{i % 3}", '{"n": "%d"}' % i) for i in range(2500)]
    with psycopg2.connect(dsn()) as conn, conn.cursor() as cur:
        psycopg2.extras.execute_values(
            cur, "INSERT INTO cdf_tables.assets (external_id, name, source, metadata) VALUES %s", rows,
            template="(%s, %s, %s, %s::json)", page_size=1000)
    conn.close()
    stored = by_xid(emulator.items("assets"), "p2-")
    assert len(stored) == 2500
    for xid, name, source, meta in rows[::97]:
        a = stored[xid]
        assert (a["name"], a["source"], a["metadata"]) == (name, source, {"n": xid[3:]})
    # Three statements of at most 1,000 rows: three requests, none retried.
    assert requests_to(emulator, "POST /assets") == 3


def test_psycopg2_copy_expert_csv_with_header_and_nulls(gateway, emulator):
    csv = io.StringIO("external_id,type,start_time,end_time,metadata\n"
                      "ev-1,alarm,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,\"{\"\"k\"\": \"\"v\"\"}\"\n"
                      "ev-2,alarm,2024-01-02 00:00:00+02,,\n")
    with psycopg2.connect(dsn()) as conn, conn.cursor() as cur:
        cur.copy_expert("COPY cdf_tables.events (external_id, type, start_time, end_time, metadata) "
                        "FROM STDIN WITH (FORMAT csv, HEADER true)", csv)
        assert cur.rowcount == 2
    conn.close()
    stored = by_xid(emulator.items("events"), "ev-")
    assert stored["ev-1"]["startTime"] == 1704067200000 and stored["ev-1"]["endTime"] == 1704070800000
    assert stored["ev-1"]["metadata"] == {"k": "v"}
    assert stored["ev-2"]["startTime"] == 1704146400000
    assert "endTime" not in stored["ev-2"] and "metadata" not in stored["ev-2"]


def test_psycopg2_executemany_in_transaction_scope_batches_and_reports_bad_rows(gateway, emulator):
    with psycopg2.connect(dsn()) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO cdf_tables.time_series (external_id, name) VALUES ('p2-ts', 'p2')")
    conn.close()
    points = [("p2-ts", dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=i), i * 0.5) for i in range(3000)]
    conn = psycopg2.connect(dsn())
    with conn.cursor() as cur:
        cur.execute("SET cdf_fdw.batch_scope = 'transaction'")
        cur.executemany("INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES (%s, %s, %s)",
                        points)
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), sum(value), min(timestamp), max(timestamp) FROM cdf_tables.double_datapoints "
                    "WHERE external_id = 'p2-ts'")
        count, total, first, last = cur.fetchone()
    assert (count, total) == (3000, sum(p[2] for p in points))
    assert (first, last) == (points[0][1], points[-1][1])
    # 3,000 single-row INSERTs in one transaction: a handful of requests, not 3,000.
    assert requests_to(emulator, "POST /timeseries/data") <= 3
    # A bad row: a clear SQLSTATE naming the value, and the transaction is aborted as PostgreSQL's.
    with pytest.raises(psycopg2.Error) as bad, conn.cursor() as cur:
        cur.execute("INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES (%s, %s, %s)",
                    ("p2-ts", dt.datetime(2024, 6, 1, tzinfo=UTC), float("nan")))
    assert bad.value.pgcode == "22023" and "NaN" in bad.value.pgerror
    conn.rollback()
    conn.close()


# ---------------------------------------------------------------- asyncpg

def test_asyncpg_binary_copy_and_prepared_executemany(gateway, emulator):
    async def run():
        conn = await asyncpg.connect(host=os.environ.get("PGHOST", "127.0.0.1"),
                                     port=int(os.environ.get("PGPORT", "5432")),
                                     user=os.environ.get("PGUSER", "postgres"),
                                     database=os.environ.get("PGDATABASE", "postgres"))
        try:
            await conn.execute("INSERT INTO cdf_tables.time_series (external_id, name) VALUES ('apg-ts', 'asyncpg')")
            before = requests_to(emulator, "POST /timeseries/data/list")
            t0 = dt.datetime(2024, 3, 1, tzinfo=UTC)
            records = [("apg-ts", t0 + dt.timedelta(milliseconds=250 * i), float(i)) for i in range(20000)]
            result = await conn.copy_records_to_table(
                "double_datapoints", schema_name="cdf_tables", columns=["external_id", "timestamp", "value"],
                records=records)
            assert result == "COPY 20000"
            # Learning the column types prepared a SELECT, it did not run one against CDF.
            assert requests_to(emulator, "POST /timeseries/data/list") == before
            row = await conn.fetchrow("SELECT count(*) AS n, sum(value) AS s, max(timestamp) AS last "
                                      "FROM cdf_tables.double_datapoints WHERE external_id = 'apg-ts'")
            assert (row["n"], row["s"], row["last"]) == (20000, sum(r[2] for r in records), records[-1][1])
            await conn.executemany("INSERT INTO cdf_tables.assets (external_id, name, data_set_id) VALUES ($1, $2, $3)",
                                   [(f"apg-{i}", f"A{i}", None) for i in range(50)])
            with pytest.raises(asyncpg.PostgresError) as bad:
                await conn.execute("INSERT INTO cdf_tables.assets (external_id, name) VALUES ($1, $2)", "apg-x", None)
            assert bad.value.sqlstate == "23502"
        finally:
            await conn.close()

    asyncio.run(run())
    stored = by_xid(emulator.items("assets"), "apg-")
    assert sorted(stored) == sorted(f"apg-{i}" for i in range(50))
    assert all("dataSetId" not in a for a in stored.values())


# ---------------------------------------------------------------- pandas over SQLAlchemy

@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
@pytest.mark.parametrize("method", [None, "multi"])
def test_pandas_to_sql_appends_to_a_foreign_table_and_read_sql_reads_it_back(gateway, emulator, driver, method):
    engine = sqlalchemy.create_engine(url(driver))
    tag = f"pd-{driver}-{method or 'rows'}-"
    frame = pd.DataFrame({
        "external_id": [f"{tag}{i}" for i in range(600)],
        "name": [f"Pump {i}" for i in range(600)],
        "description": [None if i % 5 == 0 else f"d{i}" for i in range(600)],
    })
    # to_sql finds the foreign table (no CREATE TABLE) and appends, 250 rows per statement.
    frame.to_sql("assets", engine, schema="cdf_tables", if_exists="append", index=False, method=method,
                 chunksize=250)
    stored = by_xid(emulator.items("assets"), tag)
    assert len(stored) == 600
    assert stored[f"{tag}5"]["name"] == "Pump 5" and "description" not in stored[f"{tag}5"]
    assert stored[f"{tag}7"]["description"] == "d7"
    back = pd.read_sql(sqlalchemy.text("SELECT external_id, name, description FROM cdf_tables.assets "
                                       "WHERE external_id LIKE :p ORDER BY external_id"),
                       engine, params={"p": tag + "%"})
    expected = frame.sort_values("external_id").reset_index(drop=True)
    assert back["external_id"].tolist() == expected["external_id"].tolist()
    assert back["description"].isna().sum() == 120
    engine.dispose()
