#!/usr/bin/env python3
"""COPY throughput of cdf_fdw foreign tables against an UNLOGGED local table, and backend memory.

Run by bench/copy_bench.sh, which builds, starts PostgreSQL and the CDF emulator and creates the
gateway (server cdf, user mapping, cdf_tables). This script:

  1. generates CSV input files under .run/bench/ with server-side COPY (SELECT ... ) TO (once per
     row count; reused when present);
  2. for each of double_datapoints, assets and raw_rows: resets the emulator, runs a server-side
     COPY cdf_tables.<t> (cols) FROM '<file>' (FORMAT csv, HEADER true) as superuser, reads the
     emulator's /_admin/stats (requests, items, max items per request) and checks that the emulator
     received exactly the rows copied, then COPYs the same file into an UNLOGGED local table with
     the same columns and types, in the same run;
  3. COPYs a second, larger datapoints file (default 5,000,000 rows) to compare the backend's peak
     memory (VmHWM and peak RssAnon of the COPY's backend, read from /proc/<pg_backend_pid()>);
  4. prints a summary table. Exit status 1 if any COPY failed or any count did not match.

Steps 2 runs once per emulator profile in BENCH_PROFILES (default "fast cdf"): `fast` is the
emulator flat out, `cdf` is `--profile cdf` (CDF's per-request latency, processing time per item
and byte, and rate/concurrency limits answering 429; crates/cdf-emulator/README.md). The profile
is switched with POST /_admin/realism {"profile": NAME}, the same settings as the command-line
flag, and survives the resets between tables. The memory run (step 3) uses the first profile.

Environment (defaults): PGHOST/PGPORT/PGUSER/PGDATABASE, CDF_EMULATOR_URL, CDF_PROJECT (demo),
BENCH_DIR (.run/bench), BENCH_DATAPOINTS (1000000), BENCH_DATAPOINTS_BIG (5000000, 0 = skip),
BENCH_SERIES (100), BENCH_ASSETS (100000), BENCH_EVENTS (100000), BENCH_RAW_ROWS (100000),
BENCH_PROFILES ("fast cdf"), BENCH_SDK (1: also insert the same rows with cognite-sdk, timing
its insert call alone, data already in memory), BENCH_EXECUTEMANY (10000 single-row INSERTs of
assets with psycopg executemany in one transaction, batch_scope 'transaction'; 0 skips) and
BENCH_EXECUTEMANY_STATEMENT_FAST / _CDF (10000 / 300: the same in statement scope, one CDF
request per row, so fewer rows under the cdf profile; rows/s are compared).
"""
import csv
import json
import os
import sys
from collections import defaultdict
from datetime import datetime
import threading
import time
import urllib.request

import psycopg

EMULATOR = os.environ.get("CDF_EMULATOR_URL", "http://127.0.0.1:54082").rstrip("/")
PROJECT = os.environ.get("CDF_PROJECT", "demo")
BENCH_DIR = os.path.abspath(os.environ.get("BENCH_DIR", ".run/bench"))
N_DP = int(os.environ.get("BENCH_DATAPOINTS", "1000000"))
N_DP_BIG = int(os.environ.get("BENCH_DATAPOINTS_BIG", "5000000"))
N_SERIES = int(os.environ.get("BENCH_SERIES", "100"))
N_ASSETS = int(os.environ.get("BENCH_ASSETS", "100000"))
N_RAW = int(os.environ.get("BENCH_RAW_ROWS", "100000"))
N_EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
WITH_SDK = os.environ.get("BENCH_SDK", "1") == "1"
# executemany of single-row INSERTs in one transaction: rows in transaction scope, and in
# statement scope per profile (one CDF request per row: fewer rows under the cdf profile).
N_EXEC = int(os.environ.get("BENCH_EXECUTEMANY", "10000"))
N_EXEC_STATEMENT = {"fast": int(os.environ.get("BENCH_EXECUTEMANY_STATEMENT_FAST", "10000")),
                    "cdf": int(os.environ.get("BENCH_EXECUTEMANY_STATEMENT_CDF", "300"))}
PROFILES = os.environ.get("BENCH_PROFILES", "fast cdf").split()

TARGETS = {"double_datapoints": 200_000, "raw_rows": 50_000}  # end-to-end rows/s we aim for

# 2020-01-01T00:00:00Z .. 2030-01-01T00:00:00Z in ms
SPAN_START_MS = 1_577_836_800_000
SPAN_MS = 1_893_456_000_000 - SPAN_START_MS

failures = []

# The extension's shared library is installed system-wide, so another build on this machine
# (e.g. scripts/test.sh installing a debug build) could replace it during the run; each COPY
# session loads the file as it is then. Record it to warn if it changed.
SO_PATH = os.environ.get("BENCH_SO", "/usr/lib/postgresql/15/lib/cdf_fdw.so")


def so_signature():
    try:
        st = os.stat(SO_PATH)
        return (st.st_size, st.st_mtime_ns)
    except FileNotFoundError:
        return None


def say(msg=""):
    print(msg, flush=True)


# ---- emulator admin API ---------------------------------------------------------------------

def admin(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(EMULATOR + path, data=data, method=method,
                                 headers={"content-type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=120) as r:
        body = r.read()
    return json.loads(body) if body else None


def set_profile(name):
    """Switches the emulator to `--profile NAME` (fast: flat out; cdf: CDF's latency and limits)."""
    admin("POST", "/_admin/realism", {"profile": name})


def reset_emulator():
    admin("POST", "/_admin/reset")


def endpoint_stats(endpoint):
    return (admin("GET", "/_admin/stats").get("endpoints") or {}).get(endpoint) or {}


# ---- input files ----------------------------------------------------------------------------

# Each generator: SELECT producing the file's columns for rows 0..n-1 (placeholder {n}).
def datapoints_sql(n):
    per_series = max(1, -(-n // N_SERIES))
    step = SPAN_MS // per_series  # ms between two points of one series, so all of them fit in 2020..2030
    assert step >= N_SERIES, "too many datapoints per series for whole-millisecond timestamps"
    return f"""
      SELECT 'bench-ts-' || lpad((i % {N_SERIES})::text, 3, '0') AS external_id,
             timestamptz 'epoch'
               + (({SPAN_START_MS}::bigint + (i / {N_SERIES}) * {step}::bigint + (i % {N_SERIES})) * interval '1 millisecond')
               AS timestamp,
             round((sin(i) * 1000)::numeric, 3)::float8 AS value
      FROM generate_series(0::bigint, {n - 1}::bigint) AS i"""


def assets_sql(n):
    return f"""
      SELECT 'bench-asset-' || lpad(i::text, 7, '0') AS external_id,
             'Asset ' || i || ' of plant ' || (i % 17) AS name,
             json_build_object('site', 'site-' || (i % 50), 'area', 'area-' || (i % 7),
                               'row', i::text, 'tag', 'PT-' || lpad((i % 1000)::text, 4, '0')) AS metadata
      FROM generate_series(0, {n - 1}) AS i"""


def raw_sql(n):
    return f"""
      SELECT 'bench' AS _raw_database, 'rows' AS _raw_table,
             'key-' || lpad(i::text, 7, '0') AS _raw_key,
             json_build_object('name', 'row ' || i, 'value', round((cos(i) * 100)::numeric, 4),
                               'ok', i % 3 = 0, 'site', 'site-' || (i % 50),
                               'note', 'generated by bench/copy_bench.py') AS _raw_columns
      FROM generate_series(0, {n - 1}) AS i"""


def events_sql(n):
    return f"""
      SELECT 'bench-event-' || lpad(i::text, 7, '0') AS external_id,
             'bench' AS type, 'sub-' || (i % 13) AS subtype, 'Event ' || i || ' of the benchmark' AS description,
             timestamptz 'epoch' + (({SPAN_START_MS}::bigint + i * 60000::bigint) * interval '1 millisecond') AS start_time,
             timestamptz 'epoch' + (({SPAN_START_MS}::bigint + i * 60000::bigint + 30000) * interval '1 millisecond') AS end_time,
             json_build_object('site', 'site-' || (i % 50), 'row', i::text) AS metadata
      FROM generate_series(0, {n - 1}) AS i"""


TABLES = {
    # table: (columns, generator, emulator stats endpoint)
    "double_datapoints": (["external_id", "timestamp", "value"], datapoints_sql, "POST /timeseries/data"),
    "assets": (["external_id", "name", "metadata"], assets_sql, "POST /assets"),
    "events": (["external_id", "type", "subtype", "description", "start_time", "end_time", "metadata"], events_sql,
               "POST /events"),
    "raw_rows": (["_raw_database", "_raw_table", "_raw_key", "_raw_columns"], raw_sql,
                 "POST /raw/dbs/{db}/tables/{table}/rows"),
}


def input_file(conn, table, n):
    path = os.path.join(BENCH_DIR, f"{table}_{n}.csv")
    marker = path + ".ok"
    if os.path.exists(path) and os.path.exists(marker):
        return path
    _, gen, _ = TABLES[table]
    t0 = time.perf_counter()
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(f"COPY ({gen(n)}) TO '{path}' (FORMAT csv, HEADER true)")
    open(marker, "w").close()
    say(f"   generated {path} ({n:,} rows, {os.path.getsize(path) / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)")
    return path


# ---- backend memory ---------------------------------------------------------------------------

def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssShmem"):
                    out[k] = int(v.split()[0])  # kB
    except FileNotFoundError:
        pass
    return out


class RssSampler(threading.Thread):
    """Polls /proc/<pid>/status while a COPY runs; keeps the peak RssAnon (private memory,
    unlike VmHWM it does not count shared_buffers pages the backend touched)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_anon, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak_anon = max(self.peak_anon, proc_status(self.pid).get("RssAnon", 0))
            self.stop.wait(0.02)


# ---- one COPY -----------------------------------------------------------------------------------

def run_copy(target, cols, path):
    """COPY path into target in a fresh session; returns dict(rows, secs, hwm_before, hwm, peak_anon)
    or dict(error=...)."""
    with psycopg.connect(autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        before = proc_status(pid)
        sampler = RssSampler(pid)
        sampler.start()
        t0 = time.perf_counter()
        try:
            with conn.cursor() as cur:
                cur.execute(f"COPY {target} ({', '.join(cols)}) FROM '{path}' (FORMAT csv, HEADER true)")
                rows = cur.rowcount
            secs = time.perf_counter() - t0
        except psycopg.Error as e:
            secs = time.perf_counter() - t0
            sampler.stop.set()
            diag = e.diag
            msg = f"[{diag.sqlstate}] {diag.message_primary}"
            for label, part in (("DETAIL", diag.message_detail), ("HINT", diag.message_hint),
                                ("CONTEXT", diag.context)):
                if part:
                    msg += f"\n      {label}: {part}"
            return {"error": msg, "secs": secs}
        finally:
            sampler.stop.set()
            sampler.join()
        after = proc_status(pid)
    return {"rows": rows, "secs": secs, "hwm_before": before.get("VmHWM", 0), "hwm": after.get("VmHWM", 0),
            "peak_anon": max(sampler.peak_anon, after.get("RssAnon", 0)), "anon_before": before.get("RssAnon", 0)}


def create_series(conn):
    values = ", ".join(f"('bench-ts-{s:03d}', 'bench series {s}')" for s in range(N_SERIES))
    conn.execute(f"INSERT INTO cdf_tables.time_series (external_id, name) VALUES {values}")


def local_table(conn, table, cols):
    """An UNLOGGED table in bench_local with the foreign table's columns and types."""
    defs = conn.execute(
        """SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
           FROM pg_attribute WHERE attrelid = %s::regclass AND attname = ANY(%s) AND NOT attisdropped""",
        (f"cdf_tables.{table}", cols)).fetchone()[0]
    conn.execute(f"DROP TABLE IF EXISTS bench_local.{table}")
    conn.execute(f"CREATE UNLOGGED TABLE bench_local.{table} ({defs})")
    return f"bench_local.{table}"


def rate(rows, secs):
    return rows / secs if secs > 0 else float("inf")


# ---- the same rows through cognite-sdk's insert calls -------------------------------------------

def sdk_client():
    from cognite.client import ClientConfig, CogniteClient, global_config
    from cognite.client.credentials import OAuthClientCredentials
    global_config.disable_pypi_version_check = True
    creds = OAuthClientCredentials(token_url=f"{EMULATOR}/oauth2/token", client_id="demo-client",
                                   client_secret="demo-secret", scopes=["https://cdf/.default"])
    return CogniteClient(ClientConfig(client_name="cdf-fdw-copy-bench", project=PROJECT, credentials=creds,
                                      base_url=EMULATOR))


def epoch_ms(text):
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def sdk_insert(table, path):
    """Reads the CSV file into the SDK's objects (not timed), then times the insert call alone:
    cognite-sdk chunks and sends in parallel (global_config.max_workers) as it does for users."""
    from cognite.client import global_config
    from cognite.client.data_classes import AssetWrite, EventWrite
    client = sdk_client()
    client.iam.token.inspect()  # the token is fetched before the clock starts, as for the COPY
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if table == "double_datapoints":
        series = defaultdict(list)
        for r in rows:
            series[r["external_id"]].append((epoch_ms(r["timestamp"]), float(r["value"])))
        payload = [{"external_id": x, "datapoints": pts} for x, pts in series.items()]
        call = lambda: client.time_series.data.insert_multiple(payload)  # noqa: E731
    elif table == "assets":
        objs = [AssetWrite(external_id=r["external_id"], name=r["name"], metadata=json.loads(r["metadata"])) for r in rows]
        call = lambda: client.assets.create(objs)  # noqa: E731
    elif table == "events":
        objs = [EventWrite(external_id=r["external_id"], type=r["type"], subtype=r["subtype"],
                      description=r["description"], start_time=epoch_ms(r["start_time"]),
                      end_time=epoch_ms(r["end_time"]), metadata=json.loads(r["metadata"])) for r in rows]
        call = lambda: client.events.create(objs)  # noqa: E731
    else:
        data = {r["_raw_key"]: json.loads(r["_raw_columns"]) for r in rows}
        call = lambda: client.raw.rows.insert("bench", "rows", data, ensure_parent=True)  # noqa: E731
    t0 = time.perf_counter()
    try:
        call()
    except Exception as e:  # the SDK's own exception types
        return {"error": f"{type(e).__name__}: {e}", "secs": time.perf_counter() - t0}
    return {"rows": len(rows), "secs": time.perf_counter() - t0, "workers": global_config.max_workers}


# ---- executemany: one INSERT per row, statement vs transaction scope ----------------------------

def bench_executemany(profile, results):
    for scope, n in (("transaction", N_EXEC), ("statement", N_EXEC_STATEMENT.get(profile, N_EXEC))):
        if not n:
            continue
        reset_emulator()
        rows = [(f"em-{i:06}", f"row {i}") for i in range(n)]
        with psycopg.connect() as conn:
            conn.execute(f"SET cdf_fdw.batch_scope = '{scope}'")
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO cdf_tables.assets (external_id, name) VALUES (%s, %s)", rows)
            conn.commit()
            secs = time.perf_counter() - t0
        st = endpoint_stats("POST /assets")
        label = f"executemany {scope} [{profile}]"
        say(f"== {label}: {n:,} single-row INSERTs in one transaction: {secs:.2f} s = {rate(n, secs):,.0f} rows/s,"
            f" {st.get('requests', 0)} requests")
        if st.get("items") != n:
            failures.append(f"{label}: emulator received {st.get('items')} assets for {n:,} INSERTs")
        results.append({"label": label, "profile": profile, "scope": scope, "n": n, "secs": secs,
                        "requests": st.get("requests", 0)})
    reset_emulator()
    if profile == PROFILES[0] and N_EXEC:
        # The floor: the same single-row INSERTs into a local UNLOGGED table (no CDF at all), i.e.
        # what the client's round trip per statement and PostgreSQL's per-INSERT work cost.
        rows = [(f"em-{i:06}", f"row {i}") for i in range(N_EXEC)]
        with psycopg.connect() as conn:
            conn.execute("CREATE UNLOGGED TABLE IF NOT EXISTS bench_local.executemany_floor (external_id text, name text)")
            conn.execute("TRUNCATE bench_local.executemany_floor")
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO bench_local.executemany_floor (external_id, name) VALUES (%s, %s)", rows)
            conn.commit()
            secs = time.perf_counter() - t0
        say(f"== executemany local unlogged: {N_EXEC:,} single-row INSERTs in one transaction: {secs:.2f} s"
            f" = {rate(N_EXEC, secs):,.0f} rows/s (the floor of any scope)")
        results.append({"label": "executemany local unlogged", "profile": "local", "scope": "local", "n": N_EXEC,
                        "secs": secs, "requests": 0})


def bench_table(admin_conn, table, n, results, label=None, with_local=True):
    cols, _, endpoint = TABLES[table]
    label = label or table
    say(f"== {label}: {n:,} rows")
    path = input_file(admin_conn, table, n)
    reset_emulator()
    if table == "double_datapoints":
        create_series(admin_conn)
    r = {"table": label, "n": n}
    f = run_copy(f"cdf_tables.{table}", cols, path)
    r["foreign"] = f
    if "error" in f:
        say(f"   foreign COPY FAILED after {f['secs']:.1f} s: {f['error']}")
        failures.append(f"{label}: foreign COPY failed: {f['error']}")
    else:
        st = endpoint_stats(endpoint)
        r["stats"] = st
        say(f"   foreign  COPY: {f['rows']:>9,} rows in {f['secs']:7.2f} s = {rate(f['rows'], f['secs']):>10,.0f} rows/s"
            f"   backend VmHWM {f['hwm'] / 1024:.0f} MB (at connect {f['hwm_before'] / 1024:.0f} MB),"
            f" peak RssAnon {f['peak_anon'] / 1024:.0f} MB")
        say(f"   emulator {endpoint}: {st.get('requests', 0)} requests, {st.get('items', 0):,} items,"
            f" max {st.get('max_items', 0):,} items/request, statuses {st.get('statuses', {})}")
        if f["rows"] != n:
            failures.append(f"{label}: COPY reported {f['rows']:,} rows, the file has {n:,}")
            say(f"   !!! MISMATCH: COPY reported {f['rows']:,} rows, the file has {n:,}")
        if st.get("items") != f["rows"]:
            failures.append(f"{label}: emulator received {st.get('items')} items, COPY copied {f['rows']:,} rows")
            say(f"   !!! MISMATCH: the emulator received {st.get('items')} items for {f['rows']:,} rows copied")
    if with_local and WITH_SDK:
        reset_emulator()
        if table == "double_datapoints":
            create_series(admin_conn)
        sdk = sdk_insert(table, path)
        r["sdk"] = sdk
        if "error" in sdk:
            failures.append(f"{label}: cognite-sdk insert failed: {sdk['error']}")
            say(f"   cognite-sdk FAILED: {sdk['error']}")
        else:
            st = endpoint_stats(endpoint)
            say(f"   cognite-sdk:   {sdk['rows']:>9,} rows in {sdk['secs']:7.2f} s = {rate(sdk['rows'], sdk['secs']):>10,.0f}"
                f" rows/s   ({sdk['workers']} workers, {st.get('requests', 0)} requests,"
                f" statuses {st.get('statuses', {})})")
            if st.get("items") != sdk["rows"]:
                failures.append(f"{label}: emulator received {st.get('items')} items from cognite-sdk")
    if with_local:
        target = local_table(admin_conn, table, cols)
        loc = run_copy(target, cols, path)
        r["local"] = loc
        if "error" in loc:
            failures.append(f"{label}: local COPY failed: {loc['error']}")
            say(f"   local COPY FAILED: {loc['error']}")
        else:
            say(f"   local    COPY: {loc['rows']:>9,} rows in {loc['secs']:7.2f} s = {rate(loc['rows'], loc['secs']):>10,.0f} rows/s"
                f"   (UNLOGGED {target})")
            if "rows" in f:
                say(f"   ratio foreign/local: {rate(f['rows'], f['secs']) / rate(loc['rows'], loc['secs']):.3f}")
        admin_conn.execute(f"DROP TABLE IF EXISTS {target}")
    reset_emulator()
    results.append(r)


def main():
    os.makedirs(BENCH_DIR, exist_ok=True)
    so_at_start = so_signature()
    results, executemany = [], []
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench_local")
        say(f"# PostgreSQL {conn.info.server_version} at {conn.info.host}:{conn.info.port}, emulator {EMULATOR}")
        say("# method: server-side COPY <table> (cols) FROM '<file>' (FORMAT csv, HEADER true), as superuser,"
            " one fresh session per COPY")
        for i, profile in enumerate(PROFILES):
            set_profile(profile)
            say(f"# emulator profile: {profile}")
            tag = f" [{profile}]"
            if N_DP:
                bench_table(conn, "double_datapoints", N_DP, results, label="double_datapoints" + tag)
            if N_ASSETS:
                bench_table(conn, "assets", N_ASSETS, results, label="assets" + tag)
            if N_EVENTS:
                bench_table(conn, "events", N_EVENTS, results, label="events" + tag)
            if N_RAW:
                bench_table(conn, "raw_rows", N_RAW, results, label="raw_rows" + tag)
            if N_EXEC:
                bench_executemany(profile, executemany)
            if N_DP_BIG and i == 0:
                bench_table(conn, "double_datapoints", N_DP_BIG, results,
                            label=f"double_datapoints (memory, {N_DP_BIG:,}){tag}", with_local=False)
        set_profile("fast")
        conn.execute("DROP SCHEMA IF EXISTS bench_local CASCADE")

    say()
    say("== summary (server-side COPY FROM file, CSV; foreign = cdf_tables.*, sdk = cognite-sdk insert calls,"
        " local = UNLOGGED table)")
    hdr = (f"{'table':<40} {'rows':>9} {'foreign rows/s':>14} {'sdk rows/s':>11} {'fdw/sdk':>7} {'local rows/s':>12}"
           f" {'fdw/local':>9} {'requests':>8} {'429s':>5} {'peakAnon MB':>11}")
    say(hdr)
    say("-" * len(hdr))
    checks = []
    memory = {}
    for r in results:
        f, loc, st, sdk = r["foreign"], r.get("local") or {}, r.get("stats") or {}, r.get("sdk") or {}
        if "error" in f:
            say(f"{r['table']:<40} {r['n']:>9,}  FAILED: {f['error'].splitlines()[0]}")
            continue
        fr = rate(f["rows"], f["secs"])
        sr = rate(sdk["rows"], sdk["secs"]) if "rows" in sdk else None
        lr = rate(loc["rows"], loc["secs"]) if "rows" in loc else None
        say(f"{r['table']:<40} {f['rows']:>9,} {fr:>14,.0f} "
            + (f"{sr:>11,.0f} {fr / sr:>7.2f}" if sr else f"{'-':>11} {'-':>7}")
            + (f" {lr:>12,.0f} {fr / lr:>9.3f}" if lr else f" {'-':>12} {'-':>9}")
            + f" {st.get('requests', 0):>8} {(st.get('statuses') or {}).get('429', 0):>5} {f['peak_anon'] / 1024:>11.0f}")
        base, _, profile = r["table"].partition(" [")
        if sr and profile == "cdf]":
            checks.append((f"{base} under --profile cdf: extension >= 2x cognite-sdk", fr / sr >= 2, f"{fr / sr:.2f}x"))
        if lr and base == "double_datapoints" and profile == "fast]":
            checks.append(("double_datapoints flat out: >= 0.5x local unlogged COPY", fr / lr >= 0.5, f"{fr / lr:.3f}x"))
        # The memory run uses the first profile: compare with that profile's 1M COPY.
        if base.startswith("double_datapoints") and profile == PROFILES[0] + "]":
            memory[r["n"]] = f["peak_anon"]
    for e in executemany:
        say(f"{e['label']:<40} {e['n']:>9,} {rate(e['n'], e['secs']):>14,.0f} {'':>11} {'':>7} {'':>12} {'':>9}"
            f" {e['requests']:>8}")
    by = {(e["profile"], e["scope"]): rate(e["n"], e["secs"]) for e in executemany}
    for profile in PROFILES:
        if (profile, "transaction") in by and (profile, "statement") in by:
            ratio = by[(profile, "transaction")] / by[(profile, "statement")]
            checks.append((f"executemany [{profile}]: transaction scope >= 50x statement scope", ratio >= 50,
                           f"{ratio:.0f}x"))
            if ("local", "local") in by:
                say(f"   executemany [{profile}]: transaction scope = {by[(profile, 'transaction')] / by[('local', 'local')]:.2f}x"
                    f" the local unlogged floor; the floor is {by[('local', 'local')] / by[(profile, 'statement')]:.0f}x"
                    " statement scope")
    if N_DP in memory and N_DP_BIG in memory:
        growth = memory[N_DP_BIG] / memory[N_DP] - 1
        checks.append((f"peak backend RssAnon {N_DP_BIG:,} vs {N_DP:,} datapoints within 10%", abs(growth) <= 0.10,
                       f"{growth * 100:+.1f}%"))
    if checks:
        say()
        say("== targets")
        for what, ok, value in checks:
            say(f"   {'met    ' if ok else 'NOT met'}  {what}: {value}")
    if so_signature() != so_at_start:
        say()
        say(f"WARNING: {SO_PATH} was replaced during the run (another build installed it);"
            " figures may mix builds. Run again.")
    if failures:
        say()
        say("FAILED:")
        for f in failures:
            say("  - " + f)
        return 1
    say()
    say("every COPY succeeded and the emulator received exactly the rows copied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
