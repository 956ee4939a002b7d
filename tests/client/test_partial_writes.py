"""What a client sees when a statement fails after it wrote rows to CDF: PostgreSQL's own error
(here a division by zero in the source query) aborts the statement, and the WARNING that CDF kept
the rows reaches the client as a notice. (The pg_regress suite checks the explicit ROLLBACK; the
order of an ERROR and an abort-time WARNING in psql's output differs between versions.)"""
import psycopg
import pytest


def test_an_aborted_statement_warns_that_cdf_kept_its_rows(conn, emulator):
    notices = []
    conn.add_notice_handler(lambda d: notices.append((d.severity_nonlocalized, d.message_primary)))
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute(
            "INSERT INTO cdf_tables.assets (external_id, name) "
            "SELECT 'pw' || g, 'x' || (1 / (1500 - g)) FROM generate_series(1, 2000) g"
        )
    kept = [i for i in emulator.items("assets") if i["externalId"].startswith("pw")]
    assert len(kept) == 1000
    assert ("WARNING", "1000 row(s) written to CDF in this transaction were kept: CDF has no transactions, "
            "so ROLLBACK does not undo them") in notices, notices


def test_a_committed_or_read_only_transaction_says_nothing(conn, emulator):
    notices = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary))
    conn.execute("INSERT INTO cdf_tables.assets (external_id, name) VALUES ('pw-ok', 'x')")
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT count(*) FROM cdf_tables.assets").fetchone()
    assert notices == []
