"""cdf.stats against what the CDF emulator's /_admin/stats saw, endpoint by endpoint, for writes
and reads from several sessions at once (the clusters preload cdf_fdw: shared statistics)."""
import json
import threading
import urllib.request

import psycopg

from conftest import EMULATOR


def emulator_endpoints():
    with urllib.request.urlopen(EMULATOR + "/_admin/stats") as r:
        return json.load(r)["endpoints"]


def cdf_stats(conn):
    rows = conn.execute(
        "SELECT endpoint, sum(requests), sum(retries), sum(throttled), sum(failures), sum(rows_sent), "
        "sum(rows_received), sum(bytes_sent) FROM cdf.stats GROUP BY endpoint"
    ).fetchall()
    keys = ("requests", "retries", "throttled", "failures", "rows_sent", "rows_received", "bytes_sent")
    return {r[0]: dict(zip(keys, map(int, r[1:]))) for r in rows}


def test_stats_match_the_emulator_across_sessions(conn, emulator):
    conn.execute("SELECT cdf.stats_reset()")  # the emulator was reset by its fixture
    conn.execute("INSERT INTO cdf_tables.time_series (external_id) VALUES ('series-0'), ('series-1'), ('series-2')")
    # A 429 storm on the first datapoint requests: retried, counted as throttled.
    body = {"seed": 1, "rules": [{"endpoint": "POST /timeseries/data",
                                  "sequence": [{"status": 429, "retryAfter": 0}] * 3}]}
    req = urllib.request.Request(EMULATOR + "/_admin/faults", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    urllib.request.urlopen(req).read()

    def load(worker):
        with psycopg.connect(autocommit=True) as c:
            with c.cursor().copy("COPY cdf_tables.assets (external_id, name) FROM STDIN") as cp:
                for i in range(2500):
                    cp.write_row((f"st{worker}-{i}", f"asset {i}"))
            c.execute(
                "INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) "
                f"SELECT 'series-{worker}', to_timestamp(1700000000 + g), g FROM generate_series(1, 1500) g"
            )
            # count(name) lists the assets (count(*) would be one /assets/aggregate request).
            c.execute("SELECT count(name) FROM cdf_tables.assets").fetchone()

    threads = [threading.Thread(target=load, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ours = cdf_stats(conn)
    theirs = emulator_endpoints()
    assert ours["POST /assets"]["rows_sent"] == 3 * 2500
    assert ours["POST /assets"]["requests"] == 3 * 3, "2500 rows in requests of 1000, per session"
    assert ours["POST /timeseries/data"]["throttled"] == 3
    assert ours["POST /timeseries/data"]["rows_sent"] == 3 * 1500
    assert ours["POST /assets/list"]["rows_received"] >= 3 * 2500
    for endpoint, s in ours.items():
        e = theirs["POST /oauth2/token" if endpoint == "POST token_url" else endpoint]
        assert s["requests"] + s["retries"] == e["requests"], endpoint
        assert s["failures"] == 0, endpoint
        assert s["rows_sent"] + s["rows_received"] == e["items"], endpoint
        if endpoint != "POST token_url" and s["throttled"] == 0:
            # Faults answer before the body is read; otherwise every byte sent arrived.
            assert s["bytes_sent"] == e["bytes_in"], endpoint


def test_a_failed_statement_is_counted(conn, emulator):
    conn.execute("SELECT cdf.stats_reset()")
    body = {"seed": 1, "rules": [{"endpoint": "POST /events", "sequence": [{"status": 400}]}]}
    req = urllib.request.Request(EMULATOR + "/_admin/faults", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    urllib.request.urlopen(req).read()
    try:
        with psycopg.connect() as c:  # a transaction that fails and is rolled back
            try:
                c.execute("INSERT INTO cdf_tables.events (external_id) VALUES ('ev-fail')")
            except psycopg.Error:
                pass
    finally:
        urllib.request.urlopen(urllib.request.Request(EMULATOR + "/_admin/faults", method="DELETE")).read()
    s = cdf_stats(conn)["POST /events"]
    assert s["failures"] == 1 and s["rows_sent"] == 0
    assert s["requests"] + s["retries"] == emulator_endpoints()["POST /events"]["requests"]
