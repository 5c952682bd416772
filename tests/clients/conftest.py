"""`services`: one orchestrator and one executor, as subprocesses, for the whole session.

Yields `Services(orchestrator="127.0.0.1:P", executor="127.0.0.1:Q", home=Path)`; tests that need
services of their own (a token, another executor, a process to kill) use `_services` directly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._services import Services, running_services


@pytest.fixture(scope="session")
def services(tmp_path_factory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("services")) as running:
        yield running
