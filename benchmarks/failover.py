"""Failover time: an orchestrator serving a database is SIGKILLed while a standby
(`orchestrator serve --standby`) waits on the same database; the figure is the time from the
signal until the standby answers gRPC, on SQLite and (where installed) PostgreSQL.

    python -m benchmarks.failover [--repeat 5]
"""

from __future__ import annotations

import argparse
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
    finally:
        if pg is not None:
            pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
