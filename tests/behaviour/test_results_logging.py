"""Results and logging: unpersisted, persisted and literal results and what the API can read of
them; which results persist by default; log_prints, and run logger messages read back per run."""

from __future__ import annotations

import io

import pytest

from executor import flow, get_run_logger, task
from executor.context import get_run_context
from executor.exceptions import MissingResult

from ._util import flow_run_id, uniq, wait_for_log

pytestmark = pytest.mark.timeout(30)


def files_under(path):
    return {p for p in path.rglob("*") if p.is_file()}


# 115 -----------------------------------------------------------------------------------------
def test_115_unpersisted_result_is_local_only(client):
    @flow(name=uniq("res-115u"))
    def f():
        return 1

    state = f(return_state=True)
    assert state.result() == 1  # the local state still has it in memory
    api_state = client.read_flow_run(flow_run_id(state)).state
    assert api_state.is_completed()
    with pytest.raises(MissingResult):
        api_state.result()


def test_115_persisted_result_is_readable_from_the_api(client, cadenza_home):
    before = files_under(cadenza_home)

    @flow(name=uniq("res-115p"), persist_result=True)
    def f():
        return {"answer": 1}

    state = f(return_state=True)
    assert state.result() == {"answer": 1}
    api_state = client.read_flow_run(flow_run_id(state)).state
    assert api_state.result() == {"answer": 1}
    # The default result store is local files under CADENZA_HOME.
    assert files_under(cadenza_home) - before


def test_115_persisted_exception_is_raised_from_the_api_state(client):
    @flow(name=uniq("res-115e"), persist_result=True)
    def f():
        raise ValueError("persisted failure")

    state = f(return_state=True)
    api_state = client.read_flow_run(flow_run_id(state)).state
    assert api_state.is_failed()
    with pytest.raises(ValueError, match="persisted failure"):
        api_state.result()


def test_115_literal_results_are_always_available(client):
    @flow(name=uniq("res-115l"))
    def f():
        return None

    state = f(return_state=True)
    assert client.read_flow_run(flow_run_id(state)).state.result() is None


def test_115_json_serializer_round_trips(client):
    @flow(name=uniq("res-115j"), persist_result=True, result_serializer="json")
    def f():
        return {"numbers": [1, 2, 3], "text": "x"}

    state = f(return_state=True)
    api_state = client.read_flow_run(flow_run_id(state)).state
    assert api_state.result() == {"numbers": [1, 2, 3], "text": "x"}


def test_115_task_persist_result(client):
    @task(persist_result=True)
    def kept():
        return [1, 2]

    @task
    def dropped():
        return [3, 4]

    @flow(name=uniq("res-115t"))
    def f():
        return kept(return_state=True).state_details.task_run_id, dropped(
            return_state=True
        ).state_details.task_run_id

    kept_id, dropped_id = f()
    assert client.read_task_run(str(kept_id)).state.result() == [1, 2]
    with pytest.raises(MissingResult):
        client.read_task_run(str(dropped_id)).state.result()


# 116 -----------------------------------------------------------------------------------------
def test_116_cached_tasks_persist_by_default(client):
    key = uniq("res-116")

    @task(cache_key_fn=lambda context, parameters: key)
    def cached():
        return {"kept": True}

    @flow(name=uniq("res-116f"))
    def f():
        return str(cached(return_state=True).state_details.task_run_id)

    trid = f()
    assert client.read_task_run(trid).state.result() == {"kept": True}


def test_116_children_of_retrying_flows_persist_by_default(client):
    @task
    def child_task():
        return {"kept": "by flow retries"}

    @flow(name=uniq("res-116r"), retries=1)
    def f():
        return str(child_task(return_state=True).state_details.task_run_id)

    trid = f()
    assert client.read_task_run(trid).state.result() == {"kept": "by flow retries"}


# 117 -----------------------------------------------------------------------------------------
def test_117_log_prints_sends_prints_to_the_run_logger(client, capsys):
    marker = uniq("printed-by-flow")

    @flow(name=uniq("res-117"), log_prints=True)
    def f():
        print(marker)
        return str(get_run_context().flow_run.id)

    fid = f()
    out = capsys.readouterr().out
    assert marker not in out.splitlines()  # not printed as a bare line on stdout
    assert any(marker in m for m in wait_for_log(client, fid, marker))


def test_117_task_inherits_log_prints_from_its_flow(client, capsys):
    marker = uniq("printed-by-task")

    @task
    def noisy():
        print(marker)

    @flow(name=uniq("res-117t"), log_prints=True)
    def f():
        noisy()
        return str(get_run_context().flow_run.id)

    fid = f()
    assert marker not in capsys.readouterr().out.splitlines()
    assert any(marker in m for m in wait_for_log(client, fid, marker))


def test_117_task_log_prints_false_overrides_its_flow(client, capsys):
    marker = uniq("printed-plainly")

    @task(log_prints=False)
    def plain():
        print(marker)

    @flow(name=uniq("res-117f"), log_prints=True)
    def f():
        plain()
        return str(get_run_context().flow_run.id)

    f()
    assert marker in capsys.readouterr().out.splitlines()


def test_117_without_log_prints_print_goes_to_stdout(client, capsys):
    marker = uniq("printed-normally")

    @flow(name=uniq("res-117n"))
    def f():
        print(marker)
        return str(get_run_context().flow_run.id)

    fid = f()
    assert marker in capsys.readouterr().out.splitlines()
    assert not any(marker in m for m in wait_for_log(client, fid, marker, timeout=0.3))


def test_117_log_prints_setting_turns_it_on_for_every_run(client, capsys, monkeypatch):
    # Prefect's PREFECT_LOGGING_LOG_PRINTS is CADENZA_LOGGING_LOG_PRINTS here.
    monkeypatch.setenv("CADENZA_LOGGING_LOG_PRINTS", "true")
    marker = uniq("printed-by-setting")

    @flow(name=uniq("res-117set"))
    def f():
        print(marker)
        return str(get_run_context().flow_run.id)

    fid = f()
    assert marker not in capsys.readouterr().out.splitlines()
    assert any(marker in m for m in wait_for_log(client, fid, marker))


def test_117_print_to_another_file_is_left_alone(client):
    marker = uniq("printed-to-file")
    sink = io.StringIO()

    @flow(name=uniq("res-117file"), log_prints=True)
    def f():
        print(marker, file=sink)
        return str(get_run_context().flow_run.id)

    fid = f()
    assert sink.getvalue().strip() == marker
    assert not any(marker in m for m in wait_for_log(client, fid, marker, timeout=0.3))


def test_117_run_logger_messages_are_readable_per_run(client):
    flow_marker = uniq("flow-logger")
    task_marker = uniq("task-logger")

    @task
    def logs():
        get_run_logger().warning(task_marker)

    @flow(name=uniq("res-117log"))
    def f():
        get_run_logger().info(flow_marker)
        logs()
        return str(get_run_context().flow_run.id)

    fid = f()
    messages = wait_for_log(client, fid, task_marker)
    assert any(flow_marker in m for m in wait_for_log(client, fid, flow_marker))
    assert any(task_marker in m for m in messages)
