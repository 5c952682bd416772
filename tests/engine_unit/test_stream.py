"""The ProposeStates stream: one per engine process, multiplexing every run; a dropped stream
reconnects and re-sends what is in flight without applying anything twice."""

from __future__ import annotations

import threading
import time

from executor import flow, task
from executor._runtime import get_runtime

from .conftest import uniq


@task
def nap(i):
    time.sleep(0.01)
    return i


def test_one_stream_multiplexes_concurrent_runs(client):
    rt = get_runtime()
    before = rt.port.stream.reconnects
    opened = []
    original = rt.port.stream._open_call

    def counting():
        opened.append(1)
        return original()

    rt.port.stream._open_call = counting
    try:

        @flow(name=uniq("mux"))
        def fan():
            return [f.result() for f in [nap.submit(i) for i in range(40)]]

        assert fan() == list(range(40))
    finally:
        rt.port.stream._open_call = original
    # 40 concurrent task runs (80+ requests) and the flow's own went over at most one stream
    # (none opened if the stream was already up).
    assert len(opened) <= 1 and rt.port.stream.reconnects == before


def test_dropped_stream_reconnects_and_resends_in_flight_requests(client):
    rt = get_runtime()
    before = rt.port.stream.reconnects
    stop = threading.Event()

    def saboteur():
        for _ in range(6):  # drop the stream a few times while runs are in flight
            if stop.wait(0.03):
                return
            call = rt.port.stream._call
            if call is not None:
                rt.loop.call_soon_threadsafe(call.cancel)

    seen = {}

    @flow(name=uniq("drop"))
    def fan():
        from executor.context import get_run_context

        seen["id"] = get_run_context().flow_run.id
        return [f.result() for f in [nap.submit(i) for i in range(60)]]

    thread = threading.Thread(target=saboteur, daemon=True)
    thread.start()
    try:
        assert fan() == list(range(60))
    finally:
        stop.set()
        thread.join()
    assert rt.port.stream.reconnects > before
    runs = client.read_task_runs(flow_run_id=seen["id"])
    assert len(runs) == 60
    for run in runs:
        names = [s.name for s in client.read_task_run_states(run.id)]
        assert names == ["Pending", "Running", "Completed"], names
        assert run.run_count == 1
