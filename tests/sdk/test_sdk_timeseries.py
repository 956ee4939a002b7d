from cognite.client.data_classes import TimeSeriesUpdate, TimeSeriesWrite


def test_timeseries_crud(client, xid):
    ts = client.time_series.create(TimeSeriesWrite(external_id=f"{xid}-ts", name="temp", unit="C", metadata={"a": "b"}))
    assert ts.is_string is False
    assert client.time_series.retrieve(external_id=f"{xid}-ts").id == ts.id
    assert [t.external_id for t in client.time_series.list(external_id_prefix=xid)] == [f"{xid}-ts"]
    up = client.time_series.update(TimeSeriesUpdate(id=ts.id).unit.set(None).description.set("d"))
    assert up.unit is None and up.description == "d"
    client.time_series.delete(external_id=f"{xid}-ts")
    assert client.time_series.retrieve(id=ts.id) is None


def test_datapoints_insert_retrieve_latest_delete(client, xid):
    client.time_series.create([TimeSeriesWrite(external_id=f"{xid}-n"), TimeSeriesWrite(external_id=f"{xid}-s", is_string=True)])
    client.time_series.data.insert([(1_000, 1.5), (2_000, 2.5), (3_000, 3.5)], external_id=f"{xid}-n")
    client.time_series.data.insert_multiple([{"external_id": f"{xid}-s", "datapoints": [(1_000, "on"), (2_000, "off")]}])

    dps = client.time_series.data.retrieve(external_id=f"{xid}-n", start=0, end=10_000)
    assert list(dps.timestamp) == [1_000, 2_000, 3_000]
    assert list(dps.value) == [1.5, 2.5, 3.5]
    sdps = client.time_series.data.retrieve(external_id=f"{xid}-s", start=0, end=10_000)
    assert list(sdps.value) == ["on", "off"]

    latest = client.time_series.data.retrieve_latest(external_id=f"{xid}-n")
    assert latest.value == 3.5
    assert latest.timestamp.timestamp() == 3.0

    client.time_series.data.delete_range(start=1_500, end=2_500, external_id=f"{xid}-n")
    dps = client.time_series.data.retrieve(external_id=f"{xid}-n", start=0, end=10_000)
    assert list(dps.timestamp) == [1_000, 3_000]


def test_many_datapoints_are_paged(client, xid):
    client.time_series.create(TimeSeriesWrite(external_id=f"{xid}-big"))
    points = [(i * 1000, float(i)) for i in range(250_000)]
    client.time_series.data.insert(points, external_id=f"{xid}-big")
    dps = client.time_series.data.retrieve(external_id=f"{xid}-big", start=0, end=250_000 * 1000)
    assert len(dps) == 250_000
