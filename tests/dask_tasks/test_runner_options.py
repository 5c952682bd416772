"""DaskTaskRunner's options as prefect-dask takes them, its duplicates, a scheduler it cannot
reach, and `distributed` left unimported until a runner starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from executor import flow
from executor.client import get_client
from executor.task_runners import DaskTaskRunner

from . import _tasks as t

pytestmark = pytest.mark.timeout(60)


def test_an_address_and_a_cluster_to_start_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        DaskTaskRunner(address="tcp://127.0.0.1:8786", cluster_kwargs={"n_workers": 1})
    with pytest.raises(ValueError, match="not both"):
        DaskTaskRunner(address="tcp://127.0.0.1:8786", cluster_class="distributed.LocalCluster")


def test_the_client_stays_asynchronous():
    with pytest.raises(ValueError, match="asynchronous"):
        DaskTaskRunner(client_kwargs={"asynchronous": False})


def test_a_duplicate_has_the_same_settings_and_is_a_new_runner():
    runner = DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": 2},
        adapt_kwargs={"maximum": 4},
        client_kwargs={"timeout": 5},
    )
    copy = runner.duplicate()
    assert copy is not runner and copy == runner
    assert copy.cluster_kwargs == {"n_workers": 2} and copy.cluster_kwargs is not runner.cluster_kwargs
    assert runner != DaskTaskRunner(address="tcp://127.0.0.1:8786")
    assert runner.name == "dask"


def test_a_cluster_class_given_by_a_bad_path_is_refused_when_the_flow_starts():
    @flow(task_runner=DaskTaskRunner(cluster_class="LocalCluster"))
    def nowhere():
        return t.inc(1)

    with pytest.raises(ValueError, match="dotted path"):
        nowhere()


def test_a_scheduler_that_cannot_be_reached_crashes_the_flow_run_naming_it():
    address = "tcp://127.0.0.1:9"  # the discard port: nothing listens there

    @flow(task_runner=DaskTaskRunner(address=address, client_kwargs={"timeout": 1}))
    def unreachable():
        return t.inc(1)

    with pytest.raises(OSError, match="127.0.0.1:9"):
        unreachable()
    runs = get_client().read_flow_runs(flow_name="unreachable")
    assert runs and all(run.state.is_crashed() for run in runs)


def test_the_engine_does_not_import_distributed():
    code = (
        "import sys, executor, executor.task_runners\n"
        "executor.task_runners.DaskTaskRunner(cluster_kwargs={'n_workers': 1})\n"
        "print('distributed' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False", out.stderr
