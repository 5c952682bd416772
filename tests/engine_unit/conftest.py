"""A real orchestrator (BackgroundServer, in process, gRPC on a loopback port chosen at run
time) for the whole session; the engine is pointed at it through CADENZA_ORCHESTRATOR and
keeps results under a temporary CADENZA_HOME."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.environment import restored_environ


@pytest.fixture(scope="session", autouse=True)
def orchestrator(tmp_path_factory):
    from executor import _runtime
    from orchestrator import BackgroundServer

    # The engine keeps the first orchestrator it found, per process: another directory's
    # session (tests/behaviour's) may have left one; start from none.
    _runtime.shutdown()
    home = tmp_path_factory.mktemp("engine-home")
    with restored_environ(
        "CADENZA_ORCHESTRATOR", "CADENZA_HOME", "CADENZA_SLOT_WAIT_SECONDS", "CADENZA_SLOT_WAIT_MAX_SECONDS"
    ):
        os.environ["CADENZA_SLOT_WAIT_SECONDS"] = "0.01"
        os.environ["CADENZA_SLOT_WAIT_MAX_SECONDS"] = "0.02"
        server = BackgroundServer.start(db_path=str(tmp_path_factory.mktemp("engine-db") / "cadenza.db"))
        os.environ.setdefault("CADENZA_ORCHESTRATOR", server.address)
        os.environ["CADENZA_HOME"] = str(home)
        try:
            yield {"address": server.address, "home": home}
        finally:
            _runtime.shutdown()
            server.stop()


@pytest.fixture
def client(orchestrator):
    from executor.client import get_client

    return get_client()


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
