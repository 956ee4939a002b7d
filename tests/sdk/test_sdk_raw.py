from cognite.client.data_classes import RowWrite


def test_raw_databases_tables_rows(client, xid):
    db = f"{xid}db"
    client.raw.databases.create(db)
    client.raw.tables.create(db, "t")
    assert db in [d.name for d in client.raw.databases.list(limit=None)]
    assert [t.name for t in client.raw.tables.list(db, limit=None)] == ["t"]

    client.raw.rows.insert(db, "t", {f"k{i}": {"i": i, "s": f"v{i}"} for i in range(12_000)}, ensure_parent=True)
    assert client.raw.rows.retrieve(db, "t", "k7").columns == {"i": 7, "s": "v7"}
    client.raw.rows.insert(db, "t", [RowWrite(key="k7", columns={"only": True})])
    assert client.raw.rows.retrieve(db, "t", "k7").columns == {"only": True}
    rows = client.raw.rows.list(db, "t", limit=None)
    assert len(rows) == 12_000
    part = client.raw.rows.list(db, "t", limit=None, partitions=4)
    assert len(part) == 12_000
    assert list(client.raw.rows.list(db, "t", limit=5, columns=["i"]))[0].columns.keys() == {"i"}

    client.raw.rows.delete(db, "t", ["k1", "k2"])
    assert client.raw.rows.retrieve(db, "t", "k1") is None
    client.raw.tables.delete(db, "t")
    client.raw.databases.delete(db)
    assert db not in [d.name for d in client.raw.databases.list(limit=None)]


def test_raw_ensure_parent(client, xid):
    client.raw.rows.insert(f"{xid}auto", "t", {"k": {"a": 1}}, ensure_parent=True)
    assert client.raw.rows.retrieve(f"{xid}auto", "t", "k").columns == {"a": 1}
    client.raw.databases.delete(f"{xid}auto", recursive=True)
