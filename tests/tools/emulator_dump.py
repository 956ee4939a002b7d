#!/usr/bin/env python3
"""Prints what the CDF emulator holds, deterministically, for tests and the demo.

    emulator_dump.py items RESOURCE FIELD[,FIELD...]   one line per stored item, by externalId
    emulator_dump.py stats ENDPOINT                    request and item counts of one endpoint

Server-assigned ids are replaced by the externalId of the object they point at, and items are
listed by externalId (items without one last, by their fields), so the output depends neither on
id allocation nor on the order the emulator keeps (the suites run it with random ids, as CDF's). The emulator's URL and project come from CDF_EMULATOR_URL and
CDF_PROJECT (default demo).
"""
import json
import os
import sys
import urllib.request

BASE = os.environ.get("CDF_EMULATOR_URL", "http://127.0.0.1:54080").rstrip("/")
PROJECT = os.environ.get("CDF_PROJECT", "demo")


def get(path):
    with urllib.request.urlopen(BASE + path) as r:
        return json.load(r)


def show(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def items(resource, fields):
    stored = get(f"/_admin/dump/{PROJECT}/{resource}")["items"]
    xid_of = {item.get("id"): item.get("externalId") for item in stored}
    print(f"{resource}: {len(stored)} item(s)")
    lines = []
    for item in stored:
        parts = []
        for field in fields:
            value = item.get(field)
            if field in ("parentId", "rootId") and value is not None:
                value = "->" + str(xid_of.get(value, value))
            if value is None:
                continue
            parts.append(f"{field}={show(value)}")
        xid = item.get("externalId")
        lines.append((xid is None, xid or "", " ".join(parts)))
    for _, _, line in sorted(lines):
        print("  " + line)


def stats(endpoint):
    entry = get("/_admin/stats").get("endpoints", {}).get(endpoint)
    if entry is None:
        print(f"{endpoint}: no requests")
        return
    print(
        f"{endpoint}: requests={entry['requests']} items={entry['items']} "
        f"max_items={entry['max_items']} statuses={show(entry['statuses'])}"
    )


def main(argv):
    if len(argv) == 3 and argv[0] == "items":
        items(argv[1], argv[2].split(","))
    elif len(argv) == 2 and argv[0] == "stats":
        stats(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
