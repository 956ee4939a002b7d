#!/usr/bin/env python3
"""Shuffled vs sorted asset hierarchy through one COPY, and cognite-sdk on the sorted rows.

Run by bench/hierarchy_bench.sh (PostgreSQL, emulator and gateway ready). Writes two CSV files
under BENCH_DIR with the same BENCH_ASSETS rows (external_id, name, parent_external_id):
`sorted` (every parent before its children) and `shuffled` (random order: most children come
before their parents). For each: resets the emulator, runs a server-side COPY cdf_tables.assets
FROM the file, checks that the emulator holds every asset under the right parent, and records
rows/s, create and byids requests. Then the SDK creates the sorted rows with
assets.create_hierarchy. Prints a table and the ratios; exit status 1 if a check failed.
"""
import csv
import json
import os
import random
import sys
import time
import urllib.request

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "tools"))
from hierarchy import hierarchy as shared_hierarchy  # noqa: E402

EMULATOR = os.environ.get("CDF_EMULATOR_URL", "http://127.0.0.1:54083").rstrip("/")
BENCH_DIR = os.path.abspath(os.environ.get("BENCH_DIR", ".run/hbench"))
N = int(os.environ.get("BENCH_ASSETS", "100000"))
ROOTS = 100


def call(method, path):
    req = urllib.request.Request(EMULATOR + path, method=method)
    with urllib.request.urlopen(req) as r:
        body = r.read()
    return json.loads(body) if body else None


def hierarchy(n, seed=42):
    """Parents-first rows (tests/tools/hierarchy.py) and the deepest level."""
    rows, depth = shared_hierarchy(n, roots=ROOTS, seed=seed, prefix="h")
    return rows, max(depth.values())


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "name", "parent_external_id"])
        for xid, name, parent in rows:
            w.writerow([xid, name, parent or ""])
    os.chmod(path, 0o644)


def check(rows):
    stored = call("GET", "/_admin/dump/demo/assets")["items"]
    by_xid = {a["externalId"]: a for a in stored}
    bad = [x for x, _, p in rows if x not in by_xid or (p and by_xid[x].get("parentId") != by_xid[p]["id"])]
    return len(stored), len(bad)


def stats(endpoint):
    e = call("GET", "/_admin/stats")["endpoints"].get(endpoint) or {}
    return e.get("requests", 0)


def copy_run(label, path, rows):
    call("POST", "/_admin/reset")
    with psycopg.connect(autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute(
            f"COPY cdf_tables.assets (external_id, name, parent_external_id) FROM '{path}' "
            "(FORMAT csv, HEADER true, FORCE_NULL (parent_external_id))"
        )
        seconds = time.perf_counter() - t0
    count, bad = check(rows)
    return dict(label=label, seconds=seconds, count=count, bad=bad,
                creates=stats("POST /assets"), lookups=stats("POST /assets/byids"))


def sdk_run(rows):
    from cognite.client import ClientConfig, CogniteClient
    from cognite.client.credentials import OAuthClientCredentials
    from cognite.client.data_classes import AssetWrite

    call("POST", "/_admin/reset")
    creds = OAuthClientCredentials(token_url=f"{EMULATOR}/oauth2/token", client_id="demo-client",
                                   client_secret="demo-secret", scopes=["https://cdf/.default"])
    client = CogniteClient(ClientConfig(client_name="hierarchy-bench", project="demo",
                                        credentials=creds, base_url=EMULATOR))
    assets = [AssetWrite(external_id=x, name=n, parent_external_id=p) for x, n, p in rows]
    t0 = time.perf_counter()
    client.assets.create_hierarchy(assets)
    seconds = time.perf_counter() - t0
    count, bad = check(rows)
    return dict(label="cognite-sdk create_hierarchy (sorted)", seconds=seconds, count=count, bad=bad,
                creates=stats("POST /assets"), lookups=stats("POST /assets/byids"))


def main():
    rows, depth = hierarchy(N)
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    os.makedirs(BENCH_DIR, exist_ok=True)
    sorted_path = os.path.join(BENCH_DIR, f"assets_sorted_{N}.csv")
    shuffled_path = os.path.join(BENCH_DIR, f"assets_shuffled_{N}.csv")
    write_csv(sorted_path, rows)
    write_csv(shuffled_path, shuffled)
    pos = {r[0]: i for i, r in enumerate(shuffled)}
    before = sum(1 for x, _, p in rows if p and pos[p] > pos[x])
    print(f"== {N} assets, {ROOTS} roots, depth {depth}; shuffled: {before} rows come before their parent")
    results = [
        copy_run("COPY shuffled", shuffled_path, rows),
        copy_run("COPY sorted", sorted_path, rows),
        sdk_run(rows),
    ]
    print(f"{'run':40} {'seconds':>8} {'rows/s':>9} {'creates':>8} {'byids':>6} {'stored':>7} {'wrong':>6}")
    for r in results:
        print(f"{r['label']:40} {r['seconds']:8.2f} {N / r['seconds']:9.0f} {r['creates']:8} "
              f"{r['lookups']:6} {r['count']:7} {r['bad']:6}")
    shuffled_s, sorted_s, sdk_s = (r["seconds"] for r in results)
    print(f"shuffled / sorted time: {shuffled_s / sorted_s:.2f}x; sdk / COPY sorted time: {sdk_s / sorted_s:.2f}x; "
          f"sdk / COPY shuffled time: {sdk_s / shuffled_s:.2f}x")
    if any(r["count"] != N or r["bad"] for r in results):
        print("FAILED: the emulator does not hold every asset under its parent")
        sys.exit(1)


if __name__ == "__main__":
    main()
