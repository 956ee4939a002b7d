"""Read benchmark (not a test), run by bench/read_bench.sh: rows/s of reading one series' datapoints
through the extension vs cognite-sdk's `retrieve` of the same points against the same emulator.

The series (BENCH_READ_POINTS points, one per second from 2024-01-01) is written once through the
extension. Then, per emulator profile (BENCH_PROFILES, "fast cdf"):
  extension: SELECT count(*), avg(value) FROM (SELECT value FROM cdf_tables.double_datapoints
             WHERE external_id = ... AND timestamp >= ... AND timestamp < ... OFFSET 0) s
             (the OFFSET 0 subquery keeps the aggregate local, so every point crosses the wire
             also once aggregates are pushed down to CDF), one fresh session per run;
  sdk:       client.time_series.data.retrieve(external_id=..., start=..., end=...), then the count
             and mean of its values in Python.
Both must see every point and the same mean. Each is run BENCH_READ_REPEAT times (default 3; the
machine is shared, so the best run is reported, all runs are printed).
"""
import os
import sys
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from copy_bench import admin, rate, say, sdk_client, set_profile  # noqa: E402

N = int(os.environ.get("BENCH_READ_POINTS", "1000000"))
REPEAT = int(os.environ.get("BENCH_READ_REPEAT", "3"))
PROFILES = os.environ.get("BENCH_PROFILES", "fast cdf").split()
SERIES = "read-bench-series"
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
END_MS = START_MS + N * 1000

QUERY = ("SELECT count(*), avg(value) FROM (SELECT value FROM cdf_tables.double_datapoints"
         " WHERE external_id = %s AND timestamp >= to_timestamp(%s / 1000.0)"
         " AND timestamp < to_timestamp(%s / 1000.0) OFFSET 0) s")


def load_series():
    set_profile("fast")
    admin("POST", "/_admin/reset")
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("INSERT INTO cdf_tables.time_series (external_id, name) VALUES (%s, 'read bench')", (SERIES,))
        t0 = time.perf_counter()
        conn.execute(
            "INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)"
            " SELECT %s, to_timestamp((%s + i * 1000) / 1000.0), (i %% 1000) / 7.0 FROM generate_series(0, %s - 1) i",
            (SERIES, START_MS, N))
        say(f"== loaded {N:,} points of {SERIES} through the extension in {time.perf_counter() - t0:.1f} s")
    # sum over i of (i % 1000) / 7: the mean both readers must find.
    full, rest = divmod(N, 1000)
    total = full * sum(range(1000)) + sum(range(rest))
    return total / 7.0 / N


def extension_read():
    with psycopg.connect() as conn:
        t0 = time.perf_counter()
        count, avg = conn.execute(QUERY, (SERIES, START_MS, END_MS)).fetchone()
        return time.perf_counter() - t0, count, float(avg)


def sdk_read(client):
    t0 = time.perf_counter()
    dps = client.time_series.data.retrieve(external_id=SERIES, start=START_MS, end=END_MS, limit=None)
    values = dps.value
    count, avg = len(values), sum(values) / len(values)
    return time.perf_counter() - t0, count, avg


def main():
    failures = []
    mean = load_series()
    client = sdk_client()
    with psycopg.connect() as conn:
        plan = [r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + QUERY, (SERIES, START_MS, END_MS))]
    say("== extension plan:\n   " + "\n   ".join(plan))
    results = []
    for profile in PROFILES:
        set_profile(profile)
        for label, run in (("extension", extension_read), ("cognite-sdk", lambda: sdk_read(client))):
            runs = []
            for _ in range(REPEAT):
                secs, count, avg = run()
                runs.append(secs)
                if count != N or abs(avg - mean) > 1e-6 * max(1.0, abs(mean)):
                    failures.append(f"{label} [{profile}]: count {count}, avg {avg} (want {N}, {mean})")
            say(f"== {label} [{profile}]: " + ", ".join(f"{s:.2f} s" for s in runs))
            results.append((profile, label, min(runs), runs))
    set_profile("fast")

    say()
    say(f"== summary: count(*) and avg(value) over {N:,} points of one series (best of {REPEAT})")
    hdr = f"{'reader':<28} {'best s':>7} {'rows/s':>11} {'ext/sdk':>7}   all runs (s)"
    say(hdr)
    say("-" * len(hdr))
    best = {(p, label): secs for p, label, secs, _ in results}
    checks = []
    for p, label, secs, runs in results:
        ratio = ""
        if label == "extension" and (p, "cognite-sdk") in best:
            r = best[(p, "cognite-sdk")] / secs
            ratio = f"{r:.2f}"
            checks.append((f"reads [{p}]: extension >= cognite-sdk", r >= 1, f"{r:.2f}x"))
        say(f"{label + ' [' + p + ']':<28} {secs:>7.2f} {rate(N, secs):>11,.0f} {ratio:>7}   "
            + " ".join(f"{s:.2f}" for s in runs))
    say()
    say("== targets")
    for what, ok, value in checks:
        say(f"   {'met    ' if ok else 'NOT met'}  {what}: {value}")
    if failures:
        say("FAILED:")
        for f in failures:
            say("  - " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
