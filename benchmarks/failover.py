"""Failover times.

- Standby: an orchestrator serving a database is SIGKILLed while a standby
  (`orchestrator serve --standby`) waits on the same database; the figure is the time from the
  signal until the standby answers gRPC, on SQLite and (where installed) PostgreSQL.
- Replicas (PostgreSQL): two replicas serve one database; a flow runs a chain of tasks through
  `CADENZA_ORCHESTRATOR=A,B` and A is SIGKILLed mid-chain; the figure is the time from the
  signal until the next state is stored through B (the flow then completes, checked).

    python -m benchmarks.failover [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from tests.pg import PostgresServer, binaries, free_port

ROOT = Path(__file__).resolve().parents[1]


def _serve(db: str, port: int, log, standby: bool) -> subprocess.Popen:
    argv = ["serve", "--host", "127.0.0.1", "--port", str(port), "--db", db]
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *argv, *(["--standby"] if standby else [])],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_serving(port: int, timeout: float = 30.0) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)


def one_failover(db: str, workdir: Path) -> float:
    active_port, standby_port = free_port(), free_port()
    with open(workdir / "orchestrators.log", "ab") as log:
        active = _serve(db, active_port, log, standby=False)
        _wait_serving(active_port)
        standby = _serve(db, standby_port, log, standby=True)
        try:
            time.sleep(1.0)  # the standby is waiting on the database
            active.kill()
            killed = time.monotonic()
            active.wait()
            _wait_serving(standby_port)
            return time.monotonic() - killed
        finally:
            for proc in (active, standby):
                proc.kill()
                proc.wait()


CHAIN = """
import sys
from executor import flow, task

@task
def step(i):
    return i

@flow
def chain(n: int):
    return sum(step(i) for i in range(n))

print("result", chain(int(sys.argv[1])), flush=True)
"""


def one_replica_failover(db: str, workdir: Path, steps: int = 3000) -> float:
    from datetime import UTC, datetime

    from cadenza.v1 import orchestrator_pb2 as pb
    from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

    ports = [free_port(), free_port()]
    script = workdir / "chain.py"
    script.write_text(CHAIN)
    env = {
        **os.environ,
        "CADENZA_HOME": str(workdir / "home"),
        "CADENZA_ORCHESTRATOR": ",".join(f"127.0.0.1:{p}" for p in ports),
        "PYTHONPATH": str(ROOT),
    }
    with open(workdir / "orchestrators.log", "ab") as log:
        replicas = [_serve(db, port, log, standby=False) for port in ports]
        flow = None
        try:
            for port in ports:
                _wait_serving(port)
            flow = subprocess.Popen(
                [sys.executable, str(script), str(steps)], env=env, stdout=subprocess.PIPE, text=True
            )
            time.sleep(2.0)  # well into the chain
            replicas[0].kill()
            killed = datetime.now(UTC)
            out, _ = flow.communicate(timeout=120)
            assert f"result {sum(range(steps))}" in out, out
            with grpc.insecure_channel(f"127.0.0.1:{ports[1]}") as channel:
                stub = pb_grpc.OrchestratorStub(channel)
                runs = stub.ListFlowRuns(pb.ListFlowRunsRequest(page_size=10), timeout=10).flow_runs
                tasks = stub.ListTaskRuns(
                    pb.ListTaskRunsRequest(flow_run_id=runs[-1].id, page_size=steps), timeout=10
                ).task_runs
            after = [
                t.state.timestamp.ToDatetime(UTC) for t in tasks if t.state.timestamp.ToDatetime(UTC) > killed
            ]
            return (min(after) - killed).total_seconds()
        finally:
            for proc in [*replicas, *([flow] if flow else [])]:
                proc.kill()
                proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cadenza-failover-"))
    stores: list[tuple[str, object]] = [("sqlite", None)]
    pg = None
    if binaries() is not None:
        from tests.pg_fixtures import migrate_template

        pg = PostgresServer.start()
        migrate_template(pg)
        stores.append(("postgres", pg))
    try:
        for kind, server in stores:
            times = []
            for i in range(args.repeat):
                db = str(workdir / f"{kind}{i}.db") if server is None else pg.new_database()  # type: ignore[union-attr]
                times.append(one_failover(db, workdir))
            print(
                f"{kind:8} SIGKILL of the active orchestrator to the standby serving: "
                f"median {statistics.median(times):.2f} s, max {max(times):.2f} s ({args.repeat} runs)"
            )
        if pg is not None:
            times = [one_replica_failover(pg.new_database(), workdir) for _ in range(args.repeat)]
            print(
                "postgres SIGKILL of the replica in use to the next state stored through another: "
                f"median {statistics.median(times):.2f} s, max {max(times):.2f} s ({args.repeat} runs)"
            )
    finally:
        if pg is not None:
            pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
