"""Engine tests over a fake port: no orchestrator and no gRPC at all. The session's real
orchestrator (tests/engine_unit/conftest.py) is replaced here by nothing, and each test runs
the engine in a runtime of its own over a FakePort."""

from __future__ import annotations

import pytest

from executor import _runtime as rtm
from executor import embedded

from .fake_port import FakePort


@pytest.fixture(scope="session", autouse=True)
def orchestrator():
    """No orchestrator for these tests (overrides the session fixture of tests/engine_unit)."""
    yield None


def _no_orchestrator() -> str:
    raise AssertionError("an engine test over the fake port reached for a real orchestrator")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(embedded, "orchestrator_address", _no_orchestrator)
    port = FakePort()
    runtime = rtm.Runtime(lambda: port)
    previous = rtm.install_runtime(None)
    if previous is not None:
        previous.flush_logs()  # the previous runtime's run logs go to its own orchestrator
    rtm.install_runtime(runtime)
    try:
        yield port
    finally:
        runtime.flush_logs()
        rtm.install_runtime(previous)
        runtime.close()
