"""Fixtures for client-level tests: a psycopg connection to the test cluster (PG* environment set
by scripts/test.sh) and a handle on the CDF emulator's admin API."""
import json
import os
import urllib.request

import psycopg
import pytest

EMULATOR = os.environ.get("CDF_EMULATOR_URL", "http://127.0.0.1:54081").rstrip("/")


class Emulator:
    def _call(self, method, path):
        req = urllib.request.Request(EMULATOR + path, method=method)
        with urllib.request.urlopen(req) as r:
            body = r.read()
        return json.loads(body) if body else None

    def reset(self):
        self._call("POST", "/_admin/reset")

    def items(self, resource, project="demo"):
        return self._call("GET", f"/_admin/dump/{project}/{resource}")["items"]

    def endpoint_stats(self, endpoint):
        return self._call("GET", "/_admin/stats")["endpoints"].get(endpoint)


@pytest.fixture
def emulator():
    e = Emulator()
    e.reset()
    return e


@pytest.fixture(scope="session")
def gateway():
    """Creates the extension, server, user mapping and tables once per test session."""
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("DROP EXTENSION IF EXISTS cdf_fdw CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS cdf_tables CASCADE")
        conn.execute("CREATE EXTENSION cdf_fdw")
        conn.execute(
            f"""CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (
                  base_url '{EMULATOR}', project 'demo',
                  token_url '{EMULATOR}/oauth2/token', scopes 'https://cdf/.default')"""
        )
        conn.execute(
            "CREATE USER MAPPING FOR CURRENT_USER SERVER cdf "
            "OPTIONS (client_id 'demo-client', client_secret 'demo-secret')"
        )
        conn.execute("CREATE SCHEMA cdf_tables")
        conn.execute("IMPORT FOREIGN SCHEMA cdf FROM SERVER cdf INTO cdf_tables")
    return True


@pytest.fixture
def conn(gateway):
    with psycopg.connect(autocommit=True) as c:
        yield c
