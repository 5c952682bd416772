"""Accepted states lost after SIGKILLs of the orchestrator.

An orchestrator process serves a SQLite file; client coroutines drive flow runs (each with
three task runs) to completion, half of them by unary calls and half through the ProposeStates
stream the engine uses, and note every state the orchestrator answered ACCEPT for. At random
moments the orchestrator is killed with SIGKILL and started again on the same file; the clients
reconnect and go on with new runs. At the end every accepted state is looked up in its run's
history (ReadStates) and its run's current state (ReadFlowRun, ReadTaskRun).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from cadenza.v1 import states_pb2 as spb

from .services import ServiceProcess, start_orchestrator

FLOW, TASK = pb.RUN_KIND_FLOW, pb.RUN_KIND_TASK
ACCEPT = pb.PROPOSAL_STATUS_ACCEPT
RunKind: TypeAlias = pb.RunKind.ValueType
StateType: TypeAlias = spb.StateType.ValueType
CALL_TIMEOUT = 5.0
# What a client sees when the server it talks to was killed under it.
SERVER_GONE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}


class ServerGone(Exception):
    """The call did not get an answer: the server died (or was dying) under it."""


class NotAccepted(Exception):
    """The orchestrator answered, but not ACCEPT (or with an error): the run is left alone."""


@dataclass
class Ledger:
    """What the clients were told: accepted (state id, state type) per run, in order, and the
    proposal still unanswered on each run when its server died."""

    accepted: dict[tuple[RunKind, str], list[tuple[str, StateType]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    in_flight: dict[tuple[RunKind, str], StateType] = field(default_factory=dict)
    count: int = 0
    not_accepted: list[str] = field(default_factory=list)
    unexpected_errors: list[str] = field(default_factory=list)

    def sending(self, kind: RunKind, run_id: str, state_type: StateType) -> None:
        self.in_flight[(kind, run_id)] = state_type

    def accept(self, kind: RunKind, run_id: str, st: spb.State) -> None:
        self.accepted[(kind, run_id)].append((st.id, st.type))
        self.in_flight.pop((kind, run_id), None)
        self.count += 1


class UnaryCalls:
    def __init__(self, stub: pb_grpc.OrchestratorStub) -> None:
        self.stub = stub

    async def close(self) -> None:
        pass

    async def create_flow_run(self, request: pb.CreateFlowRunRequest) -> pb.CreateFlowRunResponse:
        return await self.stub.CreateFlowRun(request, timeout=CALL_TIMEOUT)

    async def create_task_run(self, request: pb.CreateTaskRunRequest) -> pb.CreateTaskRunResponse:
        return await self.stub.CreateTaskRun(request, timeout=CALL_TIMEOUT)

    async def propose(self, request: pb.ProposeStateRequest) -> pb.ProposeStateResponse:
        return await self.stub.ProposeState(request, timeout=CALL_TIMEOUT)


class StreamCalls:
    """The same calls through one ProposeStates stream, one request at a time."""

    def __init__(self, stub: pb_grpc.OrchestratorStub) -> None:
        self.call = stub.ProposeStates()
        self.request_id = 0

    async def close(self) -> None:
        self.call.cancel()

    async def _ask(self, **request) -> pb.ProposeStatesResponse:
        self.request_id += 1
        await self.call.write(pb.ProposeStatesRequest(request_id=self.request_id, **request))
        answer = await asyncio.wait_for(self.call.read(), CALL_TIMEOUT)
        if answer is grpc.aio.EOF:
            raise ServerGone("the stream ended")
        if answer.HasField("error"):
            raise NotAccepted(f"stream error {answer.error.code}: {answer.error.message}")
        return answer

    async def create_flow_run(self, request: pb.CreateFlowRunRequest) -> pb.CreateFlowRunResponse:
        return (await self._ask(create_flow_run=request)).flow_run_created

    async def create_task_run(self, request: pb.CreateTaskRunRequest) -> pb.CreateTaskRunResponse:
        return (await self._ask(create_task_run=request)).task_run_created

    async def propose(self, request: pb.ProposeStateRequest) -> pb.ProposeStateResponse:
        return (await self._ask(propose=request)).proposal


async def _step(calls, ledger: Ledger, kind: RunKind, run_id: str, state_type: StateType) -> None:
    ledger.sending(kind, run_id, state_type)
    answer = await calls.propose(
        pb.ProposeStateRequest(run_kind=kind, run_id=run_id, state=spb.State(type=state_type))
    )
    if answer.status != ACCEPT:
        raise NotAccepted(f"{pb.ProposalStatus.Name(answer.status)} {answer.reason}")
    ledger.accept(kind, run_id, answer.state)


async def _one_flow_run(calls, ledger: Ledger) -> None:
    created = await calls.create_flow_run(pb.CreateFlowRunRequest(flow_name="durable"))
    flow_run_id = created.flow_run.id
    ledger.accept(FLOW, flow_run_id, created.flow_run.state)
    await _step(calls, ledger, FLOW, flow_run_id, spb.STATE_TYPE_RUNNING)
    for k in range(3):
        made = await calls.create_task_run(
            pb.CreateTaskRunRequest(
                flow_run_id=flow_run_id, task_key=f"t{k}", next_state=spb.State(type=spb.STATE_TYPE_RUNNING)
            )
        )
        if made.next_state_result.status != ACCEPT:
            raise NotAccepted(made.next_state_result.reason)
        ledger.accept(TASK, made.task_run.id, made.next_state_result.state)
        await _step(calls, ledger, TASK, made.task_run.id, spb.STATE_TYPE_COMPLETED)
    await _step(calls, ledger, FLOW, flow_run_id, spb.STATE_TYPE_COMPLETED)


@dataclass
class Target:
    """The address of the orchestrator's current life; empty while it is down."""

    address: str = ""


async def _client(target: Target, ledger: Ledger, stop: asyncio.Event, streaming: bool) -> None:
    while not stop.is_set():
        address = target.address
        if not address:
            await asyncio.sleep(0.02)
            continue
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.OrchestratorStub(channel)
            calls = StreamCalls(stub) if streaming else UnaryCalls(stub)
            try:
                while not stop.is_set() and target.address == address:
                    try:
                        await _one_flow_run(calls, ledger)
                    except NotAccepted as exc:
                        ledger.not_accepted.append(str(exc))
            except (ServerGone, TimeoutError, asyncio.InvalidStateError):
                await asyncio.sleep(0.02)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in SERVER_GONE and target.address == address:
                    ledger.unexpected_errors.append(f"{exc.code().name}: {exc.details()}")
                await asyncio.sleep(0.02)
            finally:
                await calls.close()


@dataclass
class KillReport:
    kills: int
    clients: int
    accepted: int = 0
    lost: int = 0
    out_of_order: int = 0
    wrong_current: int = 0
    committed_unanswered: int = 0  # proposals the server committed but died before answering
    runs: int = 0
    accepted_per_life: list[int] = field(default_factory=list)
    restart_seconds: list[float] = field(default_factory=list)
    not_accepted: list[str] = field(default_factory=list)
    unexpected_errors: list[str] = field(default_factory=list)
    lost_examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.out_of_order or self.wrong_current or self.unexpected_errors)


async def _verify(address: str, ledger: Ledger, report: KillReport) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.OrchestratorStub(channel)
        for (kind, run_id), accepted in ledger.accepted.items():
            report.runs += 1
            report.accepted += len(accepted)
            history = (
                await stub.ReadStates(
                    pb.ReadStatesRequest(run_kind=kind, run_id=run_id), timeout=CALL_TIMEOUT
                )
            ).states
            stored = [s.id for s in history]
            missing = [sid for sid, _ in accepted if sid not in stored]
            report.lost += len(missing)
            if missing and len(report.lost_examples) < 10:
                report.lost_examples.append(f"{pb.RunKind.Name(kind)} {run_id}: {missing}")
            wanted = [sid for sid, _ in accepted]
            if [sid for sid in stored if sid in set(wanted)] != [sid for sid in wanted if sid in stored]:
                report.out_of_order += 1
            if kind == FLOW:
                run = (
                    await stub.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id), timeout=CALL_TIMEOUT)
                ).flow_run
            else:
                run = (
                    await stub.ReadTaskRun(pb.ReadTaskRunRequest(task_run_id=run_id), timeout=CALL_TIMEOUT)
                ).task_run
            # After the last accepted state there may be one more: the proposal that was
            # unanswered when the server died, committed just before.
            after = history[stored.index(wanted[-1]) + 1 :] if wanted[-1] in stored else []
            unanswered = ledger.in_flight.get((kind, run_id))
            if after:
                report.committed_unanswered += 1
            if len(after) > 1 or any(s.type != unanswered for s in after) or run.state.id != stored[-1]:
                report.wrong_current += 1


async def measure_kills(
    home: Path, kills: int, clients: int = 4, seed: int = 1, uptime: tuple[float, float] = (0.4, 1.5)
) -> KillReport:
    """SIGKILL the orchestrator `kills` times, each after a random `uptime` under load."""
    rng = random.Random(seed)
    home.mkdir(parents=True, exist_ok=True)
    db = home / "kills.db"
    report = KillReport(kills=kills, clients=clients)
    ledger, stop, target = Ledger(), asyncio.Event(), Target()
    orchestrator: ServiceProcess = await asyncio.to_thread(start_orchestrator, home, db)
    target.address = orchestrator.address
    tasks = [asyncio.create_task(_client(target, ledger, stop, streaming=i % 2 == 1)) for i in range(clients)]
    try:
        for _ in range(kills):
            before = ledger.count
            await asyncio.sleep(rng.uniform(*uptime))
            killed_at = orchestrator.kill()
            target.address = ""
            report.accepted_per_life.append(ledger.count - before)
            orchestrator = await asyncio.to_thread(start_orchestrator, home, db)
            report.restart_seconds.append(time.monotonic() - killed_at)
            target.address = orchestrator.address
        before = ledger.count
        await asyncio.sleep(rng.uniform(*uptime))  # the last life works too, then is checked
        report.accepted_per_life.append(ledger.count - before)
        stop.set()
        await asyncio.gather(*tasks)
        await _verify(orchestrator.address, ledger, report)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        orchestrator.stop()
    report.not_accepted = ledger.not_accepted[:20]
    report.unexpected_errors = ledger.unexpected_errors[:20]
    return report
