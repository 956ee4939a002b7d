import pytest
from cognite.client.data_classes import AssetUpdate, AssetWrite
from cognite.client.exceptions import CogniteAPIError, CogniteDuplicatedError, CogniteNotFoundError


def test_create_retrieve_list_update_delete(client, xid):
    root, child = client.assets.create(
        [AssetWrite(external_id=f"{xid}-root", name="Root"), AssetWrite(external_id=f"{xid}-c", name="C", parent_external_id=f"{xid}-root", metadata={"k": "v"})]
    )
    assert child.parent_id == root.id
    assert child.root_id == root.id

    got = client.assets.retrieve(external_id=f"{xid}-c")
    assert got.id == child.id and got.metadata == {"k": "v"}
    assert client.assets.retrieve(external_id=f"{xid}-nope") is None
    assert len(client.assets.retrieve_multiple(ids=[root.id, child.id])) == 2
    with pytest.raises(CogniteNotFoundError) as e:
        client.assets.retrieve_multiple(external_ids=[f"{xid}-nope"])
    assert e.value.not_found == [{"externalId": f"{xid}-nope"}]

    listed = client.assets.list(external_id_prefix=xid, limit=None)
    assert sorted(a.external_id for a in listed) == [f"{xid}-c", f"{xid}-root"]
    assert [a.external_id for a in client.assets.list(parent_ids=[root.id])] == [f"{xid}-c"]

    updated = client.assets.update(AssetUpdate(external_id=f"{xid}-c").name.set("C2").metadata.add({"z": "1"}).description.set("d"))
    assert updated.name == "C2" and updated.metadata == {"k": "v", "z": "1"} and updated.description == "d"

    with pytest.raises(CogniteDuplicatedError) as e:
        client.assets.create(AssetWrite(external_id=f"{xid}-root", name="again"))
    assert e.value.duplicated == [{"externalId": f"{xid}-root"}]

    with pytest.raises(CogniteAPIError):
        client.assets.delete(external_id=f"{xid}-root")
    client.assets.delete(external_id=f"{xid}-root", recursive=True)
    assert client.assets.retrieve(id=child.id) is None


def test_upsert_creates_and_updates(client, xid):
    client.assets.create(AssetWrite(external_id=f"{xid}-a", name="A"))
    res = client.assets.upsert([AssetWrite(external_id=f"{xid}-a", name="A2"), AssetWrite(external_id=f"{xid}-b", name="B")], mode="replace")
    assert sorted(a.name for a in res) == ["A2", "B"]


def test_chunked_create_above_1000(client, xid):
    created = client.assets.create([AssetWrite(external_id=f"{xid}-{i}", name=f"n{i}") for i in range(1500)])
    assert len(created) == 1500
    assert len(client.assets.list(external_id_prefix=f"{xid}-", limit=None)) == 1500
