"""A real orchestrator for the session (in process, gRPC on a loopback port chosen at run time),
and the tasks of these tests sent to Dask workers by value, as a script's own functions are:
the workers need not import the tests."""

from __future__ import annotations

import os

import cloudpickle
import pytest

from tests.environment import restored_environ

from . import _tasks

cloudpickle.register_pickle_by_value(_tasks)


@pytest.fixture(scope="session", autouse=True)
def orchestrator(tmp_path_factory):
    from orchestrator import BackgroundServer

    with restored_environ("CADENZA_ORCHESTRATOR", "CADENZA_HOME"):
        server = BackgroundServer.start(db_path=str(tmp_path_factory.mktemp("dask-db") / "cadenza.db"))
        # Another directory's orchestrator may be serving the engine already (one per process).
        os.environ.setdefault("CADENZA_ORCHESTRATOR", server.address)
        os.environ.setdefault("CADENZA_HOME", str(tmp_path_factory.mktemp("dask-home")))
        try:
            yield server.address
        finally:
            server.stop()


@pytest.fixture
def client(orchestrator):
    from executor.client import get_client

    return get_client()
