"""Run log records reach the port of the runtime that flushes them, even once that runtime is
no longer installed (as at exit, where the runtime is removed first and then flushed)."""

from __future__ import annotations

from executor import _runtime as rtm
from executor.loggers import run_logger


def _written(fake) -> list[str]:
    return [e.message for c in fake.calls if c.method == "write_logs" for e in c.args["entries"]]


def test_records_still_waiting_go_out_through_the_runtime_that_flushes_them(fake):
    run_logger(flow_run_id="run-1").info("last words")
    runtime = rtm.install_runtime(None)
    assert runtime is not None
    try:
        runtime.flush_logs()
    finally:
        rtm.install_runtime(runtime)
    assert _written(fake) == ["last words"]
