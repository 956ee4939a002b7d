"""Issue 10 item 2: RAW pages are limited in bytes, not only in rows. Tables of many 100 kB rows and
of rows of several MB read back exactly, and the reading backend's peak memory (VmHWM from /proc)
grows by a small multiple of the page budget (RAW_PAGE_BYTES, 4 MB), not by the table's size."""
import hashlib
import json

import psycopg

PAGE_BUDGET = 4 * 1024 * 1024


def vm_hwm_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def blob(i, size):
    """The text `repeat(md5(i::text), size / 32)` makes in SQL."""
    return hashlib.md5(str(i).encode()).hexdigest() * (size // 32)


def write_rows(conn, table, count, size):
    conn.execute(
        """INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns)
           SELECT 'big', %s, 'k' || lpad(i::text, 4, '0'),
                  json_build_object('i', i, 'blob', repeat(md5(i::text), %s / 32))
           FROM generate_series(1, %s) i""",
        (table, size, count),
    )


def read_back(table, expected):
    """Reads `table` in a fresh backend: the rows as (key, length, md5 of the JSON text) and the
    peak growth."""
    with psycopg.connect(autocommit=True) as c:
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        # Loads the extension, its runtime and a session first: only the pages count below.
        c.execute("SELECT count(*) FROM cdf_tables.raw_rows WHERE _raw_database = 'big' AND _raw_table = 'warm'")
        before = vm_hwm_bytes(pid)
        rows = c.execute(
            """SELECT _raw_key, length(_raw_columns::text), md5(_raw_columns::text)
               FROM cdf_tables.raw_rows WHERE _raw_database = 'big' AND _raw_table = %s ORDER BY _raw_key""",
            (table,),
        ).fetchall()
        growth = vm_hwm_bytes(pid) - before
    assert rows == expected
    return growth


def expected_rows(count, size):
    """The JSON text CDF (the emulator) returns: compact, keys sorted."""
    texts = [(f"k{i:04d}", json.dumps({"blob": blob(i, size), "i": i}, separators=(",", ":"), sort_keys=True))
             for i in range(1, count + 1)]
    return [(key, len(text), hashlib.md5(text.encode()).hexdigest()) for key, text in texts]


def test_big_raw_rows_read_back_exactly_in_bounded_memory(conn, emulator):
    write_rows(conn, "warm", 3, 64)
    write_rows(conn, "many", 600, 100_000)  # 60 MB: under max_response_size as one page
    write_rows(conn, "huge", 5, 4_000_000)  # 20 MB of rows of 4 MB

    many = read_back("many", expected_rows(600, 100_000))
    huge = read_back("huge", expected_rows(5, 4_000_000))
    print(f"backend peak growth: 600 x 100 kB rows {many / 2**20:.1f} MB, 5 x 4 MB rows {huge / 2**20:.1f} MB")
    # A page of 60 MB (all of "many" in one 10,000-row page) costs well over 100 MB; pages held
    # to the budget cost a few budgets: the page being read, the one fetched ahead, their rows.
    assert many < 10 * PAGE_BUDGET, f"reading 600 x 100 kB rows grew the backend by {many} bytes"
    assert huge < 10 * PAGE_BUDGET, f"reading 5 x 4 MB rows grew the backend by {huge} bytes"

    # The pages were asked for by bytes: no page came near the whole table.
    stats = emulator.endpoint_stats("GET /raw/dbs/{db}/tables/{table}/rows")
    assert stats["requests"] >= 600 * 100_000 // (2 * PAGE_BUDGET) + 5
