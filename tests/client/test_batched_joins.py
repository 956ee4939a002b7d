"""A join of two CDF tables as analysts' clients send it: psycopg with a bound parameter and
asyncpg with a prepared statement. The join is one scan that looks the datapoints up in batches
of series, so 150 series cost a few requests rather than one each; every row must come back
exactly once, field by field as it was written."""
import asyncio
import datetime as dt
import os

import asyncpg
import psycopg

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, tzinfo=UTC)
SERIES = 150
POINTS = 4

QUERY = ("SELECT ts.external_id, ts.unit, d.timestamp, d.value FROM cdf_tables.time_series ts"
         " JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id"
         " WHERE ts.unit = {}")


def requests_to(emulator, endpoint):
    return (emulator.endpoint_stats(endpoint) or {}).get("requests", 0)


def load(conn):
    with conn.cursor().copy("COPY cdf_tables.time_series (external_id, name, unit) FROM STDIN") as copy:
        for s in range(SERIES):
            copy.write_row((f"cj-{s}", f"join {s}", "bar" if s % 2 else "degC"))
    with conn.cursor().copy("COPY cdf_tables.double_datapoints (external_id, timestamp, value) FROM STDIN") as copy:
        for s in range(SERIES):
            for p in range(POINTS):
                copy.write_row((f"cj-{s}", T0 + dt.timedelta(minutes=p), s + p / 10))


def expected(unit):
    return sorted((f"cj-{s}", unit, T0 + dt.timedelta(minutes=p), s + p / 10)
                  for s in range(SERIES) if ("bar" if s % 2 else "degC") == unit for p in range(POINTS))


def test_psycopg_join_with_a_parameter_reads_each_point_once_in_few_requests(conn, emulator):
    load(conn)
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + QUERY.format("%s"), ("bar",)))
    assert "Relations: (cdf_tables.time_series ts) INNER JOIN (cdf_tables.double_datapoints d)" in plan
    before = requests_to(emulator, "POST /timeseries/data/list")
    rows = sorted(conn.execute(QUERY.format("%s"), ("bar",)).fetchall())
    assert rows == expected("bar")
    # 75 series: one lookup; the nested loop would send 75 requests.
    assert requests_to(emulator, "POST /timeseries/data/list") - before <= 3


def test_asyncpg_prepared_join_reads_each_point_once(gateway, emulator):
    async def run():
        conn = await asyncpg.connect(host=os.environ.get("PGHOST", "127.0.0.1"),
                                     port=int(os.environ.get("PGPORT", "5432")),
                                     user=os.environ.get("PGUSER", "postgres"),
                                     database=os.environ.get("PGDATABASE", "postgres"))
        try:
            statement = await conn.prepare(QUERY.format("$1"))
            results = {}
            for unit in ("degC", "bar", "none"):
                before = requests_to(emulator, "POST /timeseries/data/list")
                results[unit] = sorted(tuple(r) for r in await statement.fetch(unit))
                results[unit + " requests"] = requests_to(emulator, "POST /timeseries/data/list") - before
            return results
        finally:
            await conn.close()

    with psycopg.connect(autocommit=True) as conn:
        load(conn)
    got = asyncio.run(run())
    assert got["degC"] == expected("degC")
    assert got["bar"] == expected("bar")
    assert got["none"] == [] and got["none requests"] == 0
    assert got["degC requests"] <= 3 and got["bar requests"] <= 3
