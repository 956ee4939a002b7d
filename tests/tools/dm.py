#!/usr/bin/env python3
"""Data-modeling helpers of the view-table tests, talking to the CDF emulator.

    dm.py setup                 spaces `test_dm` (schema) and `inst` (instances), a container
                                and view `Pump` v1 with a property of every DMS type
    dm.py instances [SPACE]     one line per stored node: space, externalId and its container data
    dm.py post PATH JSON        POSTs JSON to a project path, prints the answer

The emulator's URL and project come from CDF_EMULATOR_URL and CDF_PROJECT (default demo).
"""
import json
import os
import sys
import urllib.parse
import urllib.request

BASE = os.environ.get("CDF_EMULATOR_URL", "http://127.0.0.1:54080").rstrip("/")
PROJECT = os.environ.get("CDF_PROJECT", "demo")


def token():
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "demo-client",
                                   "client_secret": "demo-secret", "scope": "https://cdf/.default"}).encode()
    with urllib.request.urlopen(BASE + "/oauth2/token", body) as r:
        return json.load(r)["access_token"]


def post(path, payload):
    req = urllib.request.Request(f"{BASE}/api/v1/projects/{PROJECT}/{path}", json.dumps(payload).encode(),
                                 {"Authorization": "Bearer " + token(), "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


PROPS = {
    "name": {"type": "text"},
    "tags": {"type": "text", "list": True},
    "count": {"type": "int32"},
    "big": {"type": "int64"},
    "counts": {"type": "int32", "list": True},
    "ratio": {"type": "float32"},
    "precise": {"type": "float64"},
    "readings": {"type": "float64", "list": True},
    "active": {"type": "boolean"},
    "flags": {"type": "boolean", "list": True},
    "startTime": {"type": "timestamp"},
    "times": {"type": "timestamp", "list": True},
    "day": {"type": "date"},
    "days": {"type": "date", "list": True},
    "doc": {"type": "json"},
    "kind": {"type": "enum", "values": {"centrifugal": {}, "piston": {}}},
    "parent": {"type": "direct"},
    "related": {"type": "direct", "list": True},
    "series": {"type": "timeseries"},
    "manual": {"type": "file"},
    "curve": {"type": "sequence"},
}


def setup():
    post("models/spaces", {"items": [{"space": "test_dm"}, {"space": "inst"}]})
    props = {k: {"type": v, "nullable": k != "name"} for k, v in PROPS.items()}
    post("models/containers", {"items": [{"space": "test_dm", "externalId": "Pump", "properties": props}]})
    view_props = {k: {"container": {"type": "container", "space": "test_dm", "externalId": "Pump"},
                      "containerPropertyIdentifier": k} for k in PROPS}
    post("models/views", {"items": [{"space": "test_dm", "externalId": "Pump", "version": "v1",
                                     "properties": view_props}]})


def instances(space=None):
    with urllib.request.urlopen(f"{BASE}/_admin/dump/{PROJECT}/models/instances") as r:
        stored = json.load(r)["items"]
    stored = [i for i in stored if space is None or i["space"] == space]
    print(f"instances: {len(stored)}")
    for i in sorted(stored, key=lambda i: (i["space"], i["externalId"])):
        data = {f"{s}:{c}": v for s, cs in i.get("properties", {}).items() for c, v in cs.items()}
        print(f"  {i['space']}:{i['externalId']} v{i['version']} {json.dumps(data, sort_keys=True)}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "setup":
        setup()
    elif cmd == "instances":
        instances(*args)
    elif cmd == "post":
        print(json.dumps(post(args[0], json.loads(args[1])), sort_keys=True))
    else:
        sys.exit(__doc__)
