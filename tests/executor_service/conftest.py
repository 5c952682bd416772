"""`cluster`: one orchestrator and one executor for this whole directory (tests that kill,
signal or need a differently configured service start a `Cluster` of their own).

Each test uses deployments with unique names and only looks at its own runs, so sharing
the services is safe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._harness import Cluster


@pytest.fixture(scope="package")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    running = Cluster.start(tmp_path_factory.mktemp("cluster"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def orch(cluster):
    return cluster.orch()


@pytest.fixture
def ex(cluster):
    return cluster.ex()
