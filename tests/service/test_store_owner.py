"""One orchestrator per SQLite database, and a database it can trust: a second orchestrator on
the same file refuses naming the holder, the embedded default and the CLI use the running one,
a damaged or locked file is refused at start in one line, and another process holding the
write lock never stalls the event loop (that last one on PostgreSQL too; its own refusals are
in test_postgres_start.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import grpc
import psycopg
import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from orchestrator.store.postgres_url import is_postgres_url

from ._helpers import FLOW, RUNNING, TASK, new_task, one_line_refusal, propose, running_flow, state

REPO = Path(__file__).resolve().parents[2]


def _serve(db: str, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "serve", "--port", "0", "--db", db, *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_orchestrator_on_the_same_database_refuses_naming_the_holder(server_process, tmp_path):
    first = server_process(str(tmp_path / "cadenza.db"))
    line = one_line_refusal(_serve(first.db), first.db, first.address, str(first.proc.pid))
    assert "CADENZA_ORCHESTRATOR=" in line


def test_a_flow_script_and_the_cli_use_the_orchestrator_already_serving_their_home(server_process, tmp_path):
    home = tmp_path / "home"
    serving = server_process(str(home / "cadenza.db"))
    script = tmp_path / "my_flow.py"
    script.write_text(
        textwrap.dedent("""
        from executor import flow
        from executor import embedded
        from executor.context import get_run_context

        @flow
        def hello():
            return get_run_context().flow_run.id

        print(hello())
        print(embedded.orchestrator_address() if embedded._server is None else "started its own")
    """)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env.update(CADENZA_HOME=str(home))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    flow_run_id, used = done.stdout.strip().splitlines()[-2:]
    assert used == serving.address  # no orchestrator of its own
    with grpc.insecure_channel(serving.address) as channel:
        stub = pb_grpc.OrchestratorStub(channel)
        run = stub.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=flow_run_id), timeout=5).flow_run
    assert run.id == flow_run_id
    cli = subprocess.run(
        [sys.executable, "-m", "executor.cli", "flow-run", "ls"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert flow_run_id[:8] in cli.stdout or run.name in cli.stdout


@pytest.mark.parametrize("damage", ["not-sqlite", "truncated", "bad-page"])
def test_a_damaged_database_is_refused_in_one_line(tmp_path, damage):
    db = tmp_path / "cadenza.db"
    if damage == "not-sqlite":
        db.write_bytes(b"these are not the bytes you are looking for" * 100)
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE t (x TEXT)")
            conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(200)])
        data = bytearray(db.read_bytes())
        if damage == "truncated":
            data = data[: len(data) // 3]
        else:
            for offset in range(4096 + 8, 4096 * 3, 7):  # scribble over the table's pages
                data[offset] = 0xA5
        db.write_bytes(bytes(data))
    one_line_refusal(_serve(str(db)), str(db))


def test_a_database_locked_by_another_process_is_refused_at_start(tmp_path):
    db = str(tmp_path / "cadenza.db")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sqlite3, sys, time
            conn = sqlite3.connect({db!r}, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        one_line_refusal(_serve(db), db, "locked")
    finally:
        holder.kill()
        holder.wait()


def test_a_write_lock_held_elsewhere_does_not_stall_the_service(stub, server, database):
    flow = running_flow(stub)
    task = new_task(stub, flow.id)
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock():
        if is_postgres_url(database):  # the tables a proposal writes, locked against writes
            with psycopg.connect(database) as conn:
                conn.execute("LOCK TABLE flow_runs, task_runs, states IN EXCLUSIVE MODE")
                locked.set()
                release.wait(10)
            return
        conn = sqlite3.connect(database, isolation_level=None, timeout=10)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert locked.wait(5)
    answer: dict = {}
    proposer = threading.Thread(target=lambda: answer.update(r=propose(stub, TASK, task.id, state(RUNNING))))
    proposer.start()
    try:
        time.sleep(0.3)  # the proposal is decided and waiting for its commit
        started = time.monotonic()
        stub.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=flow.id), timeout=5)
        assert time.monotonic() - started < 0.5, "a read that needs no database waited for the lock"
        assert "r" not in answer, "answered before the change could be stored"
    finally:
        release.set()
        holder.join()
        proposer.join(10)
    assert answer["r"].state.type == RUNNING
    assert propose(stub, FLOW, flow.id, state(RUNNING)).state.type == RUNNING
