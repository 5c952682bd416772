"""DaskTaskRunner(address=...): a `dask scheduler` and two `dask worker` processes started here
on loopback, with no Cadenza settings in their environment (what a worker needs comes with
each task run); the runner uses the cluster and leaves it running."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from distributed import Client

from executor import flow, task
from executor.task_runners import DaskTaskRunner
from tests.processes import stop_process

from . import _tasks as t

pytestmark = pytest.mark.timeout(90)

SCHEDULER_AT = re.compile(r"Scheduler at:\s+(tcp://[0-9.]+:\d+)")


def _without_cadenza_settings() -> dict:
    return {key: value for key, value in os.environ.items() if not key.upper().startswith("CADENZA_")}


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_without_cadenza_settings(),
            cwd=log.parent,  # not the repository: nothing of the tests is importable there
        )


def _scheduler_address(log: Path, proc: subprocess.Popen, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = SCHEDULER_AT.search(log.read_text())
        if match:
            return match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the dask scheduler did not start; its log:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(scheduler address, {worker pid}); every process is stopped afterwards."""
    tmp = tmp_path_factory.mktemp("dask-cluster")
    procs: list[subprocess.Popen] = []
    try:
        scheduler = _start(
            ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            tmp / "scheduler.log",
        )
        procs.append(scheduler)
        address = _scheduler_address(tmp / "scheduler.log", scheduler)
        for i in range(2):
            # No nanny: the worker is the process started here, so its pid is the tasks' pid.
            args = ["distributed.cli.dask_worker", address, "--no-nanny", "--nthreads", "2"]
            args += ["--host", "127.0.0.1", "--no-dashboard"]
            procs.append(_start(args, tmp / f"worker{i}.log"))
        with Client(address, set_as_default=False, timeout=30) as dask:
            dask.wait_for_workers(2, timeout=30)
        yield address, {proc.pid for proc in procs[1:]}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def test_tasks_run_in_the_workers_of_an_existing_cluster_which_stays_up(cluster, client):
    address, worker_pids = cluster

    @flow(task_runner=DaskTaskRunner(address=address))
    def on_existing():
        pids = t.pid_of.map(range(6))
        return [f.result() for f in pids], t.inc.submit(t.inc.submit(1))

    pids, last = on_existing()
    assert set(pids) <= worker_pids and os.getpid() not in pids
    assert last.result() == 3
    assert client.read_task_run(last.state_details.task_run_id).state.is_completed()
    with Client(address, set_as_default=False, timeout=10) as dask:
        assert len(dask.scheduler_info()["workers"]) == 2  # the runner closed its client only


def test_an_unpicklable_task_or_argument_fails_its_run_with_a_message_naming_it(cluster, client):
    address, _ = cluster
    lock = threading.Lock()

    @task
    def holds_a_lock():
        with lock:
            return 1

    def numbers():
        yield 1

    @flow(task_runner=DaskTaskRunner(address=address))
    def with_unpicklables():
        return holds_a_lock.submit().wait(), t.describe.submit(numbers()).wait(), t.inc.submit(1).result()

    started = time.monotonic()
    lock_state, generator_state, after = with_unpicklables()
    assert time.monotonic() - started < 20
    assert after == 2  # the flow goes on with the tasks that can travel
    for state, name, problem in (
        (lock_state, "holds_a_lock", "_thread.lock"),
        (generator_state, "describe", "generator"),
    ):
        assert state.is_failed()
        assert f"Task {name!r} cannot be sent to Dask workers" in state.message
        assert problem in state.message
        assert client.read_task_run(state.state_details.task_run_id).state.is_failed()
    error = lock_state.result(raise_on_failure=False)
    assert "cannot be pickled" in str(error) and isinstance(error.__cause__, TypeError)


@pytest.fixture
def guarded_orchestrator(tmp_path):
    """An orchestrator serving TLS only and asking for an API token; the settings its clients need."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert]
        + ["-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    env = dict(_without_cadenza_settings(), CADENZA_API_TOKEN="dask-test-token")
    serve = ["orchestrator", "serve", "--host", "127.0.0.1", "--port", "0", "--db", str(tmp_path / "o.db")]
    proc = subprocess.Popen(
        [sys.executable, "-m", *serve],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(env, CADENZA_TLS_CERT=str(cert), CADENZA_TLS_KEY=str(key)),
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        address = re.search(r"listening on (\S+)", line)
        assert address, line
        yield dict(
            env,
            CADENZA_ORCHESTRATOR=address.group(1),
            CADENZA_TLS_CA=str(cert),
            CADENZA_HOME=str(tmp_path / "home"),
        )
    finally:
        stop_process(proc)  # the workers keep their proposal streams open


SCRIPT = """
import os, sys
from executor import flow, get_run_logger, task
from executor.client import get_client
from executor.task_runners import DaskTaskRunner

@task
def where(x):
    get_run_logger().info("ran in %s", os.getpid())
    return x + 1, os.getpid()

@flow(task_runner=DaskTaskRunner(address=sys.argv[1]))
def guarded():
    return where.submit(41)

if __name__ == "__main__":
    state = guarded(return_state=True)
    future_state = state.result()
    value, pid = future_state.result()
    run_id = future_state.state_details.task_run_id
    stored = get_client().read_task_run(run_id)
    lines = [e.message for e in get_client().read_logs(state.state_details.flow_run_id, run_id)]
    print("RESULT", value, pid, os.getpid(), stored.state.name, lines)
"""


def test_workers_reach_a_tls_orchestrator_with_a_token_they_were_not_configured_for(
    cluster, guarded_orchestrator, tmp_path
):
    address, worker_pids = cluster
    script = tmp_path / "guarded.py"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), address],
        env=guarded_orchestrator,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\w+) (.*)", out.stdout)
    assert match, out.stdout + out.stderr
    value, pid, script_pid, stored, lines = match.groups()
    assert value == "42" and int(pid) in worker_pids and pid != script_pid
    assert stored == "Completed"
    assert lines == f"['ran in {pid}']"
