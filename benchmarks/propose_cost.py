"""The cost of one ProposeState, unary and on the ProposeStates stream, next to an empty
unary call (health Check) on the same orchestrator process, measured in one run.

    .venv/bin/python -m benchmarks.propose_cost [--calls 2000]

Each proposal moves a task run RUNNING -> RUNNING ("Rerunning"): a real decision through the
machine and the rules, bookkeeping, a committed state, like any other proposal.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from cadenza.v1 import states_pb2 as spb


def _proposal(task_run_id: str) -> pb.ProposeStateRequest:
    return pb.ProposeStateRequest(
        run_kind=pb.RUN_KIND_TASK,
        run_id=task_run_id,
        state=spb.State(
            type=spb.STATE_TYPE_RUNNING, details=spb.StateDetails(transition_id=str(uuid.uuid4()))
        ),
    )


async def _timed(calls: int, one) -> float:
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        await one()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


async def measure(address: str, calls: int) -> dict[str, float]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.OrchestratorStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        flow = (await stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name="cost"))).flow_run
        await stub.ProposeState(
            pb.ProposeStateRequest(
                run_kind=pb.RUN_KIND_FLOW, run_id=flow.id, state=spb.State(type=spb.STATE_TYPE_RUNNING)
            )
        )
        task = (await stub.CreateTaskRun(pb.CreateTaskRunRequest(flow_run_id=flow.id, task_key="t"))).task_run
        stream = stub.ProposeStates()
        counter = iter(range(10**9))

        async def on_stream() -> None:
            await stream.write(pb.ProposeStatesRequest(request_id=next(counter), propose=_proposal(task.id)))
            await stream.read()

        for _ in range(200):  # warm-up
            await health.Check(health_pb2.HealthCheckRequest())
            await stub.ProposeState(_proposal(task.id))
            await on_stream()
        out = {
            "empty unary (health Check)": await _timed(
                calls, lambda: health.Check(health_pb2.HealthCheckRequest())
            ),
            "ProposeState, unary": await _timed(calls, lambda: stub.ProposeState(_proposal(task.id))),
            "ProposeState, on the stream": await _timed(calls, on_stream),
        }
        await stream.done_writing()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve", "--port", "0", "--db", f"{tmp}/cost.db"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            address = re.search(r"listening on (\S+)", server.stdout.readline()).group(1)
            results = asyncio.run(measure(address, args.calls))
        finally:
            server.terminate()
            server.wait(timeout=10)
    floor = results["empty unary (health Check)"]
    print(f"medians over {args.calls} calls, client and orchestrator in separate processes:")
    for name, micros in results.items():
        print(f"  {name:<30} {micros:8.0f} µs   {micros / floor:5.2f} x empty unary")


if __name__ == "__main__":
    main()
