"""Transaction-wide batching (`cdf_fdw.batch_scope = 'transaction'` or the batch_scope option) as
a row-at-a-time client meets it: psycopg's executemany sends one INSERT per row, and the rows of
the whole transaction share CDF requests; reads see them, ROLLBACK (TO SAVEPOINT) drops what was
not sent, a failure fails the COMMIT. Also requests in flight side by side for one COPY."""
import json
import urllib.request

import psycopg
import pytest

from conftest import EMULATOR

INSERT = "INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES (%s, %s, %s)"


def admin(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(EMULATOR + path, method=method, data=data,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def stored(emulator, prefix):
    return sorted(i["externalId"] for i in emulator.items("assets") if i["externalId"].startswith(prefix))


def requests(emulator):
    return (emulator.endpoint_stats("POST /assets") or {}).get("requests", 0)


@pytest.fixture
def tx(gateway):
    """A connection in transaction scope, outside autocommit."""
    with psycopg.connect() as c:
        c.execute("SET cdf_fdw.batch_scope = 'transaction'")
        c.commit()
        yield c


def test_executemany_in_one_transaction_shares_requests(tx, emulator):
    with tx.cursor() as cur:
        cur.executemany(INSERT, [(f"tx-{i:04}", f"row {i}", None) for i in range(2500)])
    tx.commit()
    assert stored(emulator, "tx-") == [f"tx-{i:04}" for i in range(2500)]
    # 1000 assets per request: three requests for 2500 single-row INSERTs.
    assert requests(emulator) == 3


def test_statement_scope_sends_each_insert_on_its_own(conn, emulator):
    with conn.cursor() as cur:
        cur.executemany(INSERT, [(f"st-{i}", "x", None) for i in range(5)])
    assert requests(emulator) == 5


def test_a_read_in_the_transaction_sees_its_own_rows(tx, emulator):
    tx.execute(INSERT, ("ryw-1", "one", None))
    tx.execute(INSERT, ("ryw-2", "two", None))
    assert requests(emulator) == 0, "nothing is sent before the read"
    n = tx.execute("SELECT count(*) FROM cdf_tables.assets WHERE external_id LIKE 'ryw-%'").fetchone()[0]
    assert n == 2
    tx.execute(INSERT, ("ryw-3", "three", None))
    tx.commit()
    assert stored(emulator, "ryw-") == ["ryw-1", "ryw-2", "ryw-3"]


def test_rollback_sends_nothing(tx, emulator):
    notices = []
    tx.add_notice_handler(lambda d: notices.append(d.message_primary))
    with tx.cursor() as cur:
        cur.executemany(INSERT, [(f"rb-{i}", "x", None) for i in range(10)])
    tx.rollback()
    assert stored(emulator, "rb-") == []
    assert requests(emulator) == 0
    assert notices == [], "nothing was written, so no WARNING"


def test_rollback_to_savepoint_drops_the_rows_after_it(tx, emulator):
    tx.execute(INSERT, ("sp-a", "kept", None))
    tx.execute("SAVEPOINT s1")
    tx.execute(INSERT, ("sp-b", "dropped", None))
    tx.execute("SAVEPOINT s2")
    tx.execute(INSERT, ("sp-c", "dropped with s1", None))
    tx.execute("RELEASE SAVEPOINT s2")
    tx.execute("ROLLBACK TO SAVEPOINT s1")
    tx.execute(INSERT, ("sp-d", "kept", None))
    tx.execute("SAVEPOINT s3")
    tx.execute(INSERT, ("sp-e", "kept: released", None))
    tx.execute("RELEASE SAVEPOINT s3")
    tx.commit()
    assert stored(emulator, "sp-") == ["sp-a", "sp-d", "sp-e"]
    assert requests(emulator) == 1


def test_a_failure_at_commit_fails_the_commit_with_the_usual_detail(tx, emulator):
    tx.execute(INSERT, ("cf-ok", "fine", None))
    tx.execute(INSERT, ("cf-orphan", "child", "no-such-parent"))
    with pytest.raises(psycopg.errors.DataException) as e:
        tx.commit()
    diag = e.value.diag
    assert "Reference to unknown parent" in diag.message_primary
    assert "0 row(s) of this transaction were written to CDF before the failing request" in diag.message_detail
    assert "the failing request carried 2 row(s)" in diag.message_detail
    assert stored(emulator, "cf-") == []
    # The connection goes on; the next transaction starts afresh.
    tx.execute(INSERT, ("cf-next", "x", None))
    tx.commit()
    assert stored(emulator, "cf-") == ["cf-next"]


def test_a_failed_send_inside_a_savepoint_refuses_the_commit(tx, emulator):
    tx.execute(INSERT, ("fs-outer", "outer", None))
    tx.execute("SAVEPOINT s")
    tx.execute(INSERT, ("fs-bad", "child", "no-such-parent"))
    with pytest.raises(psycopg.errors.DataException):
        tx.execute("SELECT count(*) FROM cdf_tables.assets")
    tx.execute("ROLLBACK TO SAVEPOINT s")
    with pytest.raises(psycopg.errors.TransactionResolutionUnknown) as e:
        tx.commit()
    assert "cannot commit" in e.value.diag.message_primary
    assert stored(emulator, "fs-") == []


def test_prepare_transaction_with_batched_rows_is_refused(tx, emulator):
    tx.execute(INSERT, ("pp-1", "x", None))
    with pytest.raises(psycopg.errors.FeatureNotSupported) as e:
        tx.execute("PREPARE TRANSACTION 'cdf-batch'")
    assert "cannot PREPARE TRANSACTION" in e.value.diag.message_primary
    tx.rollback()
    assert stored(emulator, "pp-") == []


def test_the_table_option_overrides_the_setting(conn, emulator):
    conn.execute("ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (ADD batch_scope 'statement')")
    try:
        with psycopg.connect() as c:
            c.execute("SET cdf_fdw.batch_scope = 'transaction'")
            c.execute(INSERT, ("opt-1", "x", None))
            assert requests(emulator) == 1, "statement scope: sent at the end of the INSERT"
            c.commit()
    finally:
        conn.execute("ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (DROP batch_scope)")


def test_a_copy_keeps_several_requests_in_flight(conn, emulator):
    admin("POST", "/_admin/faults", {"rules": [{"endpoint": "POST /assets", "fault": {"latencyMs": 80}}]})
    conn.execute("ALTER SERVER cdf OPTIONS (ADD max_concurrent_requests '3')")
    try:
        with conn.cursor() as cur:
            with cur.copy("COPY cdf_tables.assets (external_id, name) FROM STDIN") as copy:
                for i in range(8000):
                    copy.write_row((f"cp-{i:05}", "copied"))
        assert len(stored(emulator, "cp-")) == 8000
        stats = admin("GET", "/_admin/stats")["endpoints"]["POST /assets"]
        assert stats["requests"] == 8
        assert 2 <= stats["max_concurrent"] <= 3, stats
    finally:
        conn.execute("ALTER SERVER cdf OPTIONS (DROP max_concurrent_requests)")
        admin("DELETE", "/_admin/faults")


def test_references_to_rows_batched_earlier_in_the_transaction_resolve(tx, emulator):
    """An executemany of assets, then of events naming them by external id, in one transaction:
    the events' lookups find the assets although those were still batched."""
    with tx.cursor() as cur:
        cur.executemany(INSERT, [(f"ref-{i}", "pump", None) for i in range(3)])
        assert requests(emulator) == 0, "the assets wait in the transaction's batch"
        cur.executemany(
            "INSERT INTO cdf_tables.events (external_id, asset_external_ids) VALUES (%s, %s)",
            [(f"ev-{i}", [f"ref-{i}", "ref-0"]) for i in range(3)],
        )
    tx.commit()
    assets = {a["externalId"]: a["id"] for a in emulator.items("assets")}
    events = {e["externalId"]: e["assetIds"] for e in emulator.items("events")}
    assert events == {f"ev-{i}": [assets[f"ref-{i}"], assets["ref-0"]] for i in range(3)}
    # The three events still shared one request.
    assert (emulator.endpoint_stats("POST /events") or {}).get("requests") == 1
