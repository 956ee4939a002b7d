"""cognite-sdk's data_modeling API against the emulator: schema apply/retrieve, instances
apply/list/retrieve/delete with filters and cursors, the Core Data Model, and datapoints
of a CogniteTimeSeries node by instance_id."""

import pytest
from cognite.client import data_modeling as dm
from cognite.client.data_classes import filters as f
from cognite.client.data_classes.data_modeling.cdm.v1 import CogniteAssetApply, CogniteTimeSeriesApply
from cognite.client.exceptions import CogniteAPIError


@pytest.fixture
def space(client, xid):
    sp = client.data_modeling.spaces.apply(dm.SpaceApply(space=xid.replace("-", "_"), name="sdk test"))
    return sp.space


@pytest.fixture
def view(client, space):
    container = dm.ContainerApply(
        space=space,
        external_id="Pump",
        properties={
            "name": dm.ContainerProperty(type=dm.Text(), nullable=False),
            "flow": dm.ContainerProperty(type=dm.Float64()),
            "count": dm.ContainerProperty(type=dm.Int32()),
            "tags": dm.ContainerProperty(type=dm.Text(is_list=True)),
            "installed": dm.ContainerProperty(type=dm.Timestamp()),
            "owner": dm.ContainerProperty(type=dm.DirectRelation()),
        },
    )
    client.data_modeling.containers.apply(container)
    props = {p: dm.MappedPropertyApply(container.as_id(), p) for p in container.properties}
    return client.data_modeling.views.apply(dm.ViewApply(space, "Pump", "v1", properties=props)).as_id()


def test_spaces_containers_views_data_models(client, space, view):
    assert client.data_modeling.spaces.retrieve(space).space == space
    assert space in [s.space for s in client.data_modeling.spaces.list(limit=-1)]
    assert "cdf_cdm" in [s.space for s in client.data_modeling.spaces.list(limit=-1, include_global=True)]

    container = client.data_modeling.containers.retrieve((space, "Pump"))
    assert isinstance(container.properties["count"].type, dm.Int32)
    assert container.properties["name"].nullable is False
    assert container.properties["tags"].type.is_list is True

    v = client.data_modeling.views.retrieve(view)[0]
    assert v.as_id() == view
    assert v.properties["flow"].container == dm.ContainerId(space, "Pump")
    assert [x.as_id() for x in client.data_modeling.views.list(space=space)] == [view]

    model = client.data_modeling.data_models.apply(dm.DataModelApply(space, "Plant", "1", views=[view]))
    assert model.views == [view]
    got = client.data_modeling.data_models.retrieve((space, "Plant", "1"), inline_views=True)[0]
    assert got.views[0].properties["name"].type == dm.Text()

    assert client.data_modeling.data_models.delete((space, "Plant", "1")) == [dm.DataModelId(space, "Plant", "1")]
    assert client.data_modeling.views.delete(view) == [view]
    assert client.data_modeling.containers.delete((space, "Pump")) == [dm.ContainerId(space, "Pump")]
    assert client.data_modeling.spaces.delete(space) == [space]
    assert client.data_modeling.spaces.retrieve(space) is None


def pump(space, view, xid, **props):
    return dm.NodeApply(space, xid, sources=[dm.NodeOrEdgeData(view, props)])


def test_instances_apply_list_retrieve_delete(client, space, view):
    nodes = [pump(space, view, f"p{i}", name=f"pump {i}", flow=i * 1.5, count=i, tags=["a"] if i % 2 else ["b"]) for i in range(30)]
    res = client.data_modeling.instances.apply(nodes)
    assert len(res.nodes) == 30 and all(n.version == 1 and n.was_modified for n in res.nodes)

    node = client.data_modeling.instances.retrieve_nodes(dm.NodeId(space, "p3"), sources=[view])
    assert node.properties[view]["name"] == "pump 3"
    assert node.properties[view]["flow"] == 4.5

    # Pages of 10 through cursors: the SDK follows nextCursor.
    everything = client.data_modeling.instances.list(instance_type="node", space=space, sources=[view], limit=-1)
    assert len(everything) == 30

    flt = f.And(f.Range(view.as_property_ref("count"), gte=10, lt=20), f.ContainsAny(view.as_property_ref("tags"), ["a"]))
    odd_teens = client.data_modeling.instances.list(sources=[view], filter=flt, limit=-1, sort=dm.InstanceSort(view.as_property_ref("count"), "descending"))
    assert [n.external_id for n in odd_teens] == ["p19", "p17", "p15", "p13", "p11"]
    assert [n.external_id for n in client.data_modeling.instances.list(filter=f.Prefix(["node", "externalId"], "p2"), space=space, limit=-1)] == [f"p{i}" for i in [2] + list(range(20, 30))]
    assert [n.external_id for n in client.data_modeling.instances.list(filter=f.In(view.as_property_ref("name"), ["pump 1", "pump 7"]), limit=-1)] == ["p1", "p7"]

    feeds = dm.EdgeApply(space, "p1-p2", type=(space, "feeds"), start_node=(space, "p1"), end_node=(space, "p2"))
    assert client.data_modeling.instances.apply(edges=feeds).edges[0].version == 1
    edges = client.data_modeling.instances.list(instance_type="edge", space=space, limit=-1)
    assert [(e.start_node.external_id, e.end_node.external_id, e.type.external_id) for e in edges] == [("p1", "p2", "feeds")]
    # Deleting a node takes its edges along.
    client.data_modeling.instances.delete(nodes=dm.NodeId(space, "p1"))
    assert client.data_modeling.instances.retrieve_edges(dm.EdgeId(space, "p1-p2")) is None

    deleted = client.data_modeling.instances.delete(nodes=[dm.NodeId(space, "p0"), dm.NodeId(space, "nope")])
    assert deleted.nodes == [dm.NodeId(space, "p0")]
    assert client.data_modeling.instances.retrieve_nodes(dm.NodeId(space, "p0")) is None


def test_type_checks_and_version_conflicts(client, space, view):
    with pytest.raises(CogniteAPIError) as err:
        client.data_modeling.instances.apply(pump(space, view, "bad", name="x", invalidProperty=1))
    assert err.value.code == 400 and "invalidProperty" in err.value.message
    with pytest.raises(CogniteAPIError) as err:
        client.data_modeling.instances.apply(pump(space, view, "bad", flow=1.0))
    assert err.value.code == 400 and "name" in err.value.message
    with pytest.raises(CogniteAPIError) as err:
        client.data_modeling.instances.apply(pump(space, view, "bad", name="x", count=2**40))
    assert err.value.code == 400

    first = pump(space, view, "v", name="x")
    first.existing_version = 0
    client.data_modeling.instances.apply(first)
    with pytest.raises(CogniteAPIError) as err:
        client.data_modeling.instances.apply(first)
    assert err.value.code == 409
    skipped = client.data_modeling.instances.apply(first, skip_on_version_conflict=True)
    assert len(skipped.nodes) == 0

    update = pump(space, view, "v", count=2)
    update.existing_version = 1
    assert client.data_modeling.instances.apply(update).nodes[0].version == 2
    node = client.data_modeling.instances.retrieve_nodes(dm.NodeId(space, "v"), sources=[view])
    assert node.properties[view]["name"] == "x", "patch keeps what the write left out"
    client.data_modeling.instances.apply(pump(space, view, "v", name="y"), replace=True)
    node = client.data_modeling.instances.retrieve_nodes(dm.NodeId(space, "v"), sources=[view])
    assert "count" not in node.properties[view]


def test_core_data_model_and_datapoints_by_instance_id(client, space):
    asset_view = client.data_modeling.views.retrieve(dm.ViewId("cdf_cdm", "CogniteAsset", "v1"))[0]
    assert {"name", "parent", "root", "path"} <= set(asset_view.properties)
    core = client.data_modeling.data_models.retrieve(("cdf_cdm", "CogniteCore", "v1"))[0]
    assert dm.ViewId("cdf_cdm", "CogniteTimeSeries", "v1") in core.views

    client.data_modeling.instances.apply([
        CogniteAssetApply(space, "plant", name="Plant"),
        CogniteAssetApply(space, "pump", name="Pump", parent=(space, "plant")),
    ])
    pump = client.data_modeling.instances.retrieve_nodes(dm.NodeId(space, "pump"), node_cls=dm.Node, sources=[dm.ViewId("cdf_cdm", "CogniteAsset", "v1")])
    props = pump.properties[dm.ViewId("cdf_cdm", "CogniteAsset", "v1")]
    assert props["root"] == {"space": space, "externalId": "plant"}
    assert [p["externalId"] for p in props["path"]] == ["plant", "pump"]

    client.data_modeling.instances.apply([
        CogniteTimeSeriesApply(space, "flow", name="Flow", time_series_type="numeric", is_step=False),
        CogniteTimeSeriesApply(space, "state", time_series_type="string", is_step=False),
    ])
    flow, state = dm.NodeId(space, "flow"), dm.NodeId(space, "state")
    ts = client.time_series.retrieve(instance_id=flow)
    assert ts.instance_id == flow and ts.is_string is False and ts.name == "Flow"
    assert client.time_series.retrieve(instance_id=state).is_string is True
    client.time_series.data.insert([(1_000, 1.5), (2_000, 2.5), (3_000, 3.5)], instance_id=flow)
    client.time_series.data.insert([(1_000, "on"), (2_000, "off")], instance_id=state)
    dps = client.time_series.data.retrieve(instance_id=flow, start=0, end=10_000)
    assert list(dps.value) == [1.5, 2.5, 3.5]
    assert list(client.time_series.data.retrieve(instance_id=state, start=0, end=10_000).value) == ["on", "off"]
    assert client.time_series.data.retrieve_latest(instance_id=flow).value == 3.5
    client.time_series.data.delete_range(start=1_500, end=2_500, instance_id=flow)
    assert list(client.time_series.data.retrieve(instance_id=flow, start=0, end=10_000).timestamp) == [1_000, 3_000]
