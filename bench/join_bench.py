"""Join benchmark (not a test), run by bench/join_bench.sh: time series joined to their datapoints.

BENCH_JOIN_SERIES series (default 200) of BENCH_JOIN_POINTS points each (default 50) are written once
through the extension. Then, per emulator profile (BENCH_PROFILES, "fast cdf"):
  batched:    SELECT count(*), sum(d.value) FROM cdf_tables.time_series ts JOIN
              cdf_tables.double_datapoints d ON d.external_id = ts.external_id
              WHERE ts.name LIKE 'join bench %'   (one join scan, lookups per 100 series)
  per row:    the same with SET cdf_fdw.enable_join_pushdown = off (a nested loop whose inner scan
              sends each series' own request)
  sdk:        cognite-sdk doing the same work: time_series.list(limit=None), the series whose
              name starts with 'join bench ', then data.retrieve of their external ids in one call
              (which it splits into requests of many series itself).
Each must see every point and the same sum; best of BENCH_JOIN_REPEAT runs (default 3).
"""
import os
import sys
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from copy_bench import admin, rate, say, sdk_client, set_profile  # noqa: E402

SERIES = int(os.environ.get("BENCH_JOIN_SERIES", "200"))
POINTS = int(os.environ.get("BENCH_JOIN_POINTS", "50"))
REPEAT = int(os.environ.get("BENCH_JOIN_REPEAT", "3"))
PROFILES = os.environ.get("BENCH_PROFILES", "fast cdf").split()
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z

QUERY = ("SELECT count(*), sum(d.value) FROM cdf_tables.time_series ts"
         " JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id"
         " WHERE ts.name LIKE 'join bench %'")


def load():
    set_profile("fast")
    admin("POST", "/_admin/reset")
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("INSERT INTO cdf_tables.time_series (external_id, name)"
                     " SELECT 'join-bench-' || s, 'join bench ' || s FROM generate_series(0, %s - 1) s", (SERIES,))
        conn.execute("INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)"
                     " SELECT 'join-bench-' || s, to_timestamp((%s + p * 1000) / 1000.0), s + p"
                     " FROM generate_series(0, %s - 1) s, generate_series(0, %s - 1) p", (START_MS, SERIES, POINTS))
    # sum over s, p of s + p
    return POINTS * SERIES * (SERIES - 1) // 2 + SERIES * POINTS * (POINTS - 1) // 2


def extension(pushdown):
    def run():
        with psycopg.connect() as conn:
            conn.execute(f"SET cdf_fdw.enable_join_pushdown = {'on' if pushdown else 'off'}")
            t0 = time.perf_counter()
            count, total = conn.execute(QUERY).fetchone()
            return time.perf_counter() - t0, count, float(total)
    return run


def sdk(client):
    def run():
        t0 = time.perf_counter()
        xids = [ts.external_id for ts in client.time_series.list(limit=None)
                if (ts.name or "").startswith("join bench ")]
        dps = client.time_series.data.retrieve(external_id=xids, start=START_MS, end=START_MS + POINTS * 1000,
                                               limit=None)
        values = [v for series in dps for v in series.value]
        return time.perf_counter() - t0, len(values), float(sum(values))
    return run


def main():
    failures = []
    want = load()
    n = SERIES * POINTS
    client = sdk_client()
    with psycopg.connect() as conn:
        plan = [r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + QUERY)]
    say("== extension plan (batched):\n   " + "\n   ".join(plan))
    results = []
    for profile in PROFILES:
        set_profile(profile)
        for label, run in (("batched join", extension(True)), ("per-row nested loop", extension(False)),
                           ("cognite-sdk", sdk(client))):
            runs = []
            for _ in range(REPEAT):
                secs, count, total = run()
                runs.append(secs)
                if count != n or abs(total - want) > 1e-6 * want:
                    failures.append(f"{label} [{profile}]: count {count}, sum {total} (want {n}, {want})")
            say(f"== {label} [{profile}]: " + ", ".join(f"{s:.2f} s" for s in runs))
            results.append((profile, label, min(runs), runs))
    set_profile("fast")
    say()
    say(f"== summary: {SERIES} series x {POINTS} points joined to their series (best of {REPEAT})")
    hdr = f"{'reader':<34} {'best s':>7} {'rows/s':>10} {'vs per-row':>10} {'vs sdk':>7}"
    say(hdr)
    say("-" * len(hdr))
    best = {(p, label): secs for p, label, secs, _ in results}
    for p, label, secs, _ in results:
        per_row = best[(p, "per-row nested loop")] / secs
        vs_sdk = best[(p, "cognite-sdk")] / secs
        say(f"{label + ' [' + p + ']':<34} {secs:>7.2f} {rate(n, secs):>10,.0f} {per_row:>9.2f}x {vs_sdk:>6.2f}x")
    if failures:
        say("FAILED:")
        for f in failures:
            say("  - " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
