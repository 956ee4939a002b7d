"""Starts the cdf-emulator binary on a free loopback port and hands tests a CogniteClient
built with OAuthClientCredentials against the emulator's token URL."""

import os
import subprocess
import uuid

import pytest
from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import OAuthClientCredentials

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", "/work/target-emu")


def _binary() -> str:
    explicit = os.environ.get("CDF_EMULATOR_BIN")
    if explicit:
        return explicit
    for profile in ("release", "debug"):
        path = os.path.join(TARGET, profile, "cdf-emulator")
        if os.path.exists(path):
            return path
    raise RuntimeError("cdf-emulator binary not found; run tests/sdk/run.sh or set CDF_EMULATOR_BIN")


@pytest.fixture(scope="session")
def emulator_url():
    # CDF_EMULATOR_LISTEN pins the address (e.g. a port range given to a developer); default: a free port.
    listen = os.environ.get("CDF_EMULATOR_LISTEN", "127.0.0.1:0")
    proc = subprocess.Popen([_binary(), "--listen", listen], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("cdf-emulator listening on "), line
    yield line.rsplit(" ", 1)[1]
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def client(emulator_url) -> CogniteClient:
    creds = OAuthClientCredentials(
        token_url=f"{emulator_url}/oauth2/token",
        client_id="demo-client",
        client_secret="demo-secret",
        scopes=["https://api.cognitedata.com/.default"],
    )
    config = ClientConfig(client_name="cdf-emulator-sdk-tests", project="demo", credentials=creds, base_url=emulator_url)
    return CogniteClient(config)


@pytest.fixture
def xid():
    """A fresh externalId prefix per test, so tests sharing one emulator do not collide."""
    return f"t-{uuid.uuid4().hex[:10]}"
