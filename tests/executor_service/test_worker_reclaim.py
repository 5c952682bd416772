"""The worker after a child exits, when the run was claimed again in the meantime (a retry or a
resume handed it back and this executor took it at once): the old child's exit must neither
drop the new child from the heartbeats nor end the new claim's run Crashed.

The worker is driven directly with stand-ins for the orchestrator stub and the child
processes, so the interleaving that is rare in a real cluster happens on every run."""

from __future__ import annotations

import asyncio

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb
from executor.service.config import ExecutorConfig
from executor.service.worker import Child, Worker


class FakeProcess:
    def __init__(self) -> None:
        self.exited = asyncio.Event()
        self.returncode: int | None = None
        self.pid = 4242

    async def wait(self) -> int:
        await self.exited.wait()
        return self.returncode or 0

    def exit(self, code: int) -> None:
        self.returncode = code
        self.exited.set()


class FakeStub:
    """Answers ReadFlowRun with the run as the orchestrator now has it; records state changes."""

    def __init__(self, run: pb.FlowRun) -> None:
        self.run = run
        self.set_states: list[pb.SetFlowRunStateRequest] = []

    async def ReadFlowRun(self, request, timeout=None, metadata=None):
        return pb.ReadFlowRunResponse(flow_run=self.run)

    async def SetFlowRunState(self, request, timeout=None, metadata=None):
        self.set_states.append(request)
        return pb.SetFlowRunStateResponse()


def _running(epoch: int) -> pb.FlowRun:
    return pb.FlowRun(id="run-1", lease_epoch=epoch, state=spb.State(type=spb.STATE_TYPE_RUNNING))


def _worker_with_child(stub: FakeStub, epoch: int) -> tuple[Worker, Child, asyncio.Task]:
    """A worker whose child for run-1 (under `epoch`) is being watched."""
    worker = Worker(stub, ExecutorConfig(run_worker=False))
    child = Child("run-1", FakeProcess(), lease_epoch=epoch)  # type: ignore[arg-type]
    worker.children["run-1"] = child
    return worker, child, asyncio.create_task(worker._watch_child(child))


def test_an_old_childs_exit_leaves_the_new_claim_alone():
    async def scenario():
        stub = FakeStub(_running(epoch=1))
        worker, old, watching = _worker_with_child(stub, epoch=1)
        # The run is claimed again (epoch 2) and a new child starts before the old one's exit
        # is settled.
        new = Child("run-1", FakeProcess(), lease_epoch=2)  # type: ignore[arg-type]
        worker.children["run-1"] = new
        stub.run = _running(epoch=2)
        old.process.exit(1)
        await watching
        return worker, stub, new

    worker, stub, new = asyncio.run(scenario())
    assert worker.children.get("run-1") is new  # still heartbeated
    assert stub.set_states == []  # the new claim's run was not crashed


def test_a_childs_exit_under_its_own_claim_still_crashes_the_run():
    async def scenario():
        stub = FakeStub(_running(epoch=3))
        worker, child, watching = _worker_with_child(stub, epoch=3)
        child.process.exit(-9)
        await watching
        return worker, stub

    worker, stub = asyncio.run(scenario())
    assert "run-1" not in worker.children
    assert [r.state.type for r in stub.set_states] == [spb.STATE_TYPE_CRASHED]
    assert "SIGKILL" in stub.set_states[0].state.message
