"""Events, files, sequences, labels, relationships, data sets, extraction pipelines, token."""

import pytest
from cognite.client.data_classes import (
    DataSetUpdate,
    DataSetWrite,
    EventUpdate,
    EventWrite,
    ExtractionPipelineRunWrite,
    ExtractionPipelineUpdate,
    ExtractionPipelineWrite,
    FileMetadataUpdate,
    FileMetadataWrite,
    LabelDefinitionWrite,
    RelationshipUpdate,
    RelationshipWrite,
    SequenceColumnWrite,
    SequenceUpdate,
    SequenceWrite,
)
from cognite.client.exceptions import CogniteAPIError


def test_token_inspect(client):
    info = client.iam.token.inspect()
    assert info.subject == "demo-client"
    assert [p.url_name for p in info.projects] == ["demo"]
    assert len(info.capabilities) > 10


def test_events(client, xid):
    ev = client.events.create(EventWrite(external_id=f"{xid}-e", start_time=1000, end_time=2000, type="alarm", metadata={"a": "1"}))
    assert client.events.retrieve(external_id=f"{xid}-e").id == ev.id
    assert [e.external_id for e in client.events.list(type="alarm", external_id_prefix=xid)] == [f"{xid}-e"]
    up = client.events.update(EventUpdate(id=ev.id).subtype.set("high").end_time.set(3000))
    assert up.subtype == "high" and up.end_time == 3000
    with pytest.raises(CogniteAPIError):
        client.events.create(EventWrite(start_time=2000, end_time=1000))
    client.events.delete(id=ev.id)
    assert client.events.retrieve(id=ev.id) is None


def test_files(client, xid):
    f = client.files.create(FileMetadataWrite(external_id=f"{xid}-f", name="a.txt", mime_type="text/plain"))
    meta = f[0] if isinstance(f, tuple) else f
    assert meta.uploaded is False
    up = client.files.upload_bytes(b"hello", name="b.txt", external_id=f"{xid}-g")
    assert client.files.retrieve(external_id=f"{xid}-g").uploaded is True
    assert client.files.update(FileMetadataUpdate(id=meta.id).source.set("s")).source == "s"
    assert len(client.files.list(external_id_prefix=xid)) == 2
    client.files.delete(id=[meta.id, up.id])
    assert client.files.list(external_id_prefix=xid) == []


def test_sequences_and_rows(client, xid):
    seq = client.sequences.create(
        SequenceWrite(external_id=f"{xid}-s", columns=[SequenceColumnWrite(external_id="a", value_type="Double"), SequenceColumnWrite(external_id="b", value_type="String")])
    )
    assert [c.external_id for c in seq.columns] == ["a", "b"]
    client.sequences.data.insert(rows=[(1, [1.5, "x"]), (2, [2.5, "y"])], columns=["a", "b"], external_id=f"{xid}-s")
    rows = client.sequences.data.retrieve(external_id=f"{xid}-s", start=0, end=None)
    assert [r.row_number for r in rows.rows] == [1, 2]
    assert rows.get_column("b") == ["x", "y"]
    client.sequences.data.delete(rows=[1], external_id=f"{xid}-s")
    assert [r.row_number for r in client.sequences.data.retrieve(external_id=f"{xid}-s", start=0, end=None).rows] == [2]
    up = client.sequences.update(SequenceUpdate(id=seq.id).name.set("N").columns.add(SequenceColumnWrite(external_id="c", value_type="Long")))
    assert up.name == "N" and [c.external_id for c in up.columns] == ["a", "b", "c"]
    client.sequences.delete(id=seq.id)
    assert client.sequences.retrieve(id=seq.id) is None


def test_labels_and_relationships(client, xid):
    client.labels.create(LabelDefinitionWrite(external_id=f"{xid}-l", name="L"))
    assert [l.external_id for l in client.labels.list(external_id_prefix=xid)] == [f"{xid}-l"]
    rel = client.relationships.create(
        RelationshipWrite(external_id=f"{xid}-r", source_external_id="a", source_type="asset", target_external_id="b", target_type="timeseries", confidence=0.5)
    )
    assert rel.confidence == 0.5
    assert client.relationships.retrieve(external_id=f"{xid}-r").source_external_id == "a"
    up = client.relationships.update(RelationshipUpdate(external_id=f"{xid}-r").labels.add([f"{xid}-l"]))
    assert [l.external_id for l in up.labels] == [f"{xid}-l"]
    assert len(client.relationships.list(source_external_ids=["a"], limit=None)) >= 1
    client.relationships.delete(external_id=f"{xid}-r")
    client.labels.delete(external_id=f"{xid}-l")
    assert client.labels.list(external_id_prefix=xid) == []


def test_datasets_and_extraction_pipelines(client, xid):
    ds = client.data_sets.create(DataSetWrite(external_id=f"{xid}-ds", name="DS"))
    assert client.data_sets.retrieve(external_id=f"{xid}-ds").id == ds.id
    assert client.data_sets.update(DataSetUpdate(id=ds.id).description.set("d")).description == "d"
    pipe = client.extraction_pipelines.create(ExtractionPipelineWrite(external_id=f"{xid}-p", name="P", data_set_id=ds.id))
    assert client.extraction_pipelines.retrieve(external_id=f"{xid}-p").id == pipe.id
    assert client.extraction_pipelines.update(ExtractionPipelineUpdate(id=pipe.id).schedule.set("Continuous")).schedule == "Continuous"
    client.extraction_pipelines.runs.create(ExtractionPipelineRunWrite(extpipe_external_id=f"{xid}-p", status="success"))
    client.extraction_pipelines.runs.create(ExtractionPipelineRunWrite(extpipe_external_id=f"{xid}-p", status="failure", message="boom"))
    runs = client.extraction_pipelines.runs.list(external_id=f"{xid}-p")
    assert [r.status for r in runs] == ["failure", "success"]
    assert client.extraction_pipelines.retrieve(id=pipe.id).last_message == "boom"
    client.extraction_pipelines.delete(id=pipe.id)
    assert client.extraction_pipelines.retrieve(id=pipe.id) is None
