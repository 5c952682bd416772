"""One flow run on a temporary LocalCluster of two worker processes, using what a flow uses
(submit, map, wait_for, upstream failure and allow_failure, retries, caching, a timeout,
results, run logs, an async task); each test below checks one of them in that run. One run,
because starting a cluster takes seconds and each check needs only the run's record."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid

import pytest
from distributed import Client

from executor import allow_failure, flow
from executor.context import FlowRunContext
from executor.states import StateType
from executor.task_runners import DaskTaskRunner
from tests.behaviour._util import wait_until
from tests.processes import pid_alive

from . import _tasks as t

pytestmark = pytest.mark.timeout(90)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _names(states):
    return [s.name for s in states]


def _input_ids(run, name):
    return {str(i.id) for i in run.task_inputs.get(name, [])}


@pytest.fixture(scope="module")
def run(orchestrator):
    """The flow run and what its body saw: futures, the cluster's addresses and worker pids."""
    seen: dict = {}

    @flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": True}))
    def on_dask(nonce):
        runner = FlowRunContext.get().task_runner
        seen["scheduler"] = runner.scheduler_address
        with Client(runner.scheduler_address, set_as_default=False) as dask:
            seen["worker_pids"] = set(dask.run(os.getpid).values())
            info = dask.scheduler_info()
            seen["workers"] = list(info["workers"])
            http = f"http://127.0.0.1:{info['services']['dashboard']}"
            seen["health"], seen["status_page"] = _status(f"{http}/health"), _status(f"{http}/status")
        one = t.inc.submit(1)
        seen["two"] = two = t.inc.submit(one)  # a future as argument: resolved upstream
        seen["mapped"] = mapped = t.inc.map([10, 20, 30])
        seen["total"] = t.total.submit(mapped)
        seen["pids"] = t.pid_of.map(range(6))
        seen["slow"] = slow = t.sleeps_then_notes.submit(0.3)
        seen["after"] = t.sleeps_then_notes.submit(0, wait_for=[slow])
        seen["bad"] = bad = t.fails.submit()
        seen["blocked"] = t.inc.submit(bad)
        seen["allowed"] = t.describe.submit(allow_failure(bad))
        seen["retried"] = t.fails_with_retries.submit()
        seen["first"] = first = t.cached_square.submit(nonce, 7)
        first.wait()
        seen["cached"] = t.cached_square.submit(nonce, 7)
        seen["timeout"] = t.sleeps_too_long.submit()
        seen["logged"] = t.logs_a_line.submit(nonce)
        seen["async"] = t.async_inc.submit(41)
        seen["nested"] = t.nests.submit()
        seen["two_value"] = two.result()
        return os.getpid()

    nonce = uuid.uuid4().hex
    seen["state"] = on_dask(nonce, return_state=True)
    seen["nonce"] = nonce
    return seen


def test_the_flow_run_completes_with_its_failures_handled(run):
    # The failing tasks are not returned: the run completes, as with the default runner.
    assert run["state"].is_completed(), run["state"]
    assert run["state"].result() == os.getpid()


def test_tasks_run_in_the_clusters_worker_processes(run):
    pids = {future.result() for future in run["pids"]}
    assert pids <= run["worker_pids"]
    assert os.getpid() not in pids
    assert len(run["worker_pids"]) == 2


def test_a_temporary_cluster_is_local_only_without_a_dashboard_and_closed_after(run):
    assert run["scheduler"].startswith("tcp://127.0.0.1:")
    assert run["workers"] and all(w.startswith("tcp://127.0.0.1:") for w in run["workers"])
    # The scheduler's own HTTP server (health, metrics) answers; the dashboard's pages do not.
    assert (run["health"], run["status_page"]) == (200, 404)
    # Closed with the flow run: its worker processes are gone, its scheduler does not answer.
    assert wait_until(lambda: not any(pid_alive(pid) for pid in run["worker_pids"]), timeout=10)
    with pytest.raises(OSError):
        with Client(run["scheduler"], timeout=1, set_as_default=False):
            pass


def test_submit_resolves_upstream_futures_and_records_them(run, client):
    two = run["two"]
    assert run["two_value"] == 3
    assert two.result() == 3
    stored = client.read_task_run(two.task_run_id)
    assert stored.state.is_completed()
    assert len(_input_ids(stored, "x")) == 1
    upstream = client.read_task_run(next(iter(_input_ids(stored, "x"))))
    assert upstream.name.startswith("inc-")


def test_map_and_a_list_of_futures_as_argument(run, client):
    assert [f.result() for f in run["mapped"]] == [11, 21, 31]
    assert run["total"].result() == 63
    stored = client.read_task_run(run["total"].task_run_id)
    assert _input_ids(stored, "values") == {f.task_run_id for f in run["mapped"]}


def test_wait_for_starts_the_task_after_its_upstream_ended(run, client):
    slow, after = run["slow"], run["after"]
    assert after.result() >= slow.result()
    stored = client.read_task_run(after.task_run_id)
    assert _input_ids(stored, "wait_for") == {slow.task_run_id}


def test_a_task_called_in_a_task_on_a_worker_fails_the_outer_with_what_to_do(run):
    state = run["nested"].wait()
    assert state.is_failed()
    with pytest.raises(RuntimeError, match=r"within a task running on a Dask worker.*task\.fn"):
        state.result()


def test_an_upstream_failure_leaves_the_downstream_not_ready(run, client):
    blocked = run["blocked"]
    state = blocked.wait()
    assert state.type is StateType.PENDING and state.name == "NotReady"
    assert client.read_task_run(blocked.task_run_id).state.name == "NotReady"


def test_allow_failure_hands_the_exception_downstream(run):
    bad = run["bad"]
    assert bad.wait().is_failed()
    error = bad.result(raise_on_failure=False)
    assert isinstance(error, ValueError) and str(error) == "this task fails"
    assert run["allowed"].result() == "ValueError: this task fails"


def test_retries_show_one_running_state_per_attempt(run, client):
    retried = run["retried"]
    state = retried.wait()
    assert state.is_failed()
    assert isinstance(retried.result(raise_on_failure=False), RuntimeError)
    history = client.read_task_run_states(retried.task_run_id)
    assert [s.name for s in history if s.type is StateType.RUNNING] == ["Running", "Retrying", "Retrying"]
    assert _names(history)[-1] == "Failed"
    assert client.read_task_run(retried.task_run_id).run_count == 3


def test_a_second_call_with_the_same_inputs_is_cached(run, client):
    first, cached = run["first"], run["cached"]
    assert first.wait().name == "Completed"
    assert cached.wait().name == "Cached"
    assert cached.result() == first.result()
    assert cached.result()["square"] == 49


def test_a_task_timeout_fails_the_run(run, client):
    state = run["timeout"].wait()
    assert state.is_failed() and state.name == "TimedOut"
    assert "timeout of 0.5 seconds" in state.message
    assert client.read_task_run(run["timeout"].task_run_id).state.name == "TimedOut"


def test_a_tasks_log_lines_are_stored_with_its_run(run, client):
    logged = run["logged"]
    flow_run_id = run["state"].state_details.flow_run_id
    lines = client.read_logs(flow_run_id, task_run_id=logged.task_run_id)
    assert [line.message for line in lines] == [f"from a Dask worker: {run['nonce']}"]
    assert logged.result() in run["worker_pids"]


def test_an_async_task_runs_on_a_worker(run):
    value, pid = run["async"].result()
    assert value == 42 and pid in run["worker_pids"]
