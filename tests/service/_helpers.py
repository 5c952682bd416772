"""Small builders and assertions shared by the service tests. They only speak the contract."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

TIMEOUT = 5.0

FLOW = pb.RUN_KIND_FLOW
TASK = pb.RUN_KIND_TASK

ACCEPT = pb.PROPOSAL_STATUS_ACCEPT
REJECT = pb.PROPOSAL_STATUS_REJECT
WAIT = pb.PROPOSAL_STATUS_WAIT
ABORT = pb.PROPOSAL_STATUS_ABORT

SCHEDULED = spb.STATE_TYPE_SCHEDULED
PENDING = spb.STATE_TYPE_PENDING
RUNNING = spb.STATE_TYPE_RUNNING
COMPLETED = spb.STATE_TYPE_COMPLETED
FAILED = spb.STATE_TYPE_FAILED
CRASHED = spb.STATE_TYPE_CRASHED
CANCELLED = spb.STATE_TYPE_CANCELLED
CANCELLING = spb.STATE_TYPE_CANCELLING
PAUSED = spb.STATE_TYPE_PAUSED

_TIME_FIELDS = ("scheduled_time", "cache_expiration", "pause_timeout")


def utcnow() -> datetime:
    return datetime.now(UTC)


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def tname(state_type: int) -> str:
    return spb.StateType.Name(state_type)


def sname(status: int) -> str:
    return pb.ProposalStatus.Name(status)


def state(
    state_type: int, name: str = "", *, id: str = "", message: str = "", persisted: str = "", **details
) -> spb.State:
    """A proposed state; `persisted="key"` gives it a persisted result reference."""
    st = spb.State(type=state_type, name=name, id=id, message=message)
    if persisted:
        st.data.kind = spb.RESULT_KIND_PERSISTED
        st.data.storage_key = persisted
        st.data.serializer = "json"
    for key, value in details.items():
        if key in _TIME_FIELDS:
            getattr(st.details, key).FromDatetime(value)
        else:
            setattr(st.details, key, value)
    return st


def new_flow(stub, flow_name: str = "flow", **kw) -> pb.FlowRun:
    return stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name=flow_name, **kw), timeout=TIMEOUT).flow_run


def new_task(stub, flow_run_id: str, task_key: str = "task", **kw) -> pb.TaskRun:
    req = pb.CreateTaskRunRequest(flow_run_id=flow_run_id, task_key=task_key, **kw)
    return stub.CreateTaskRun(req, timeout=TIMEOUT).task_run


def propose(
    stub, kind: int, run_id: str, st: spb.State, *, force: bool = False, expected: str = ""
) -> pb.ProposeStateResponse:
    req = pb.ProposeStateRequest(
        run_kind=kind, run_id=run_id, state=st, force=force, expected_state_id=expected
    )
    return stub.ProposeState(req, timeout=TIMEOUT)


def accepted(stub, kind: int, run_id: str, st: spb.State, **kw) -> spb.State:
    """Propose and insist on ACCEPT; return the stored state."""
    resp = propose(stub, kind, run_id, st, **kw)
    assert resp.status == ACCEPT, f"{sname(resp.status)} {resp.reason!r} {resp.state}"
    return resp.state


def propose_until_decided(stub, kind: int, run_id: str, make_state, limit: float = 2.0):
    """Propose again after each WAIT (sleeping its delay), as the engine does."""
    deadline = time.monotonic() + limit
    while True:
        resp = propose(stub, kind, run_id, make_state())
        if resp.status != WAIT:
            return resp
        assert time.monotonic() < deadline, "still WAITing"
        time.sleep(resp.delay_seconds)


def running_flow(stub, **kw) -> pb.FlowRun:
    run = new_flow(stub, **kw)
    accepted(stub, FLOW, run.id, state(RUNNING))
    return read_flow(stub, run.id)


def read_flow(stub, run_id: str) -> pb.FlowRun:
    return stub.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id), timeout=TIMEOUT).flow_run


def read_task(stub, run_id: str) -> pb.TaskRun:
    return stub.ReadTaskRun(pb.ReadTaskRunRequest(task_run_id=run_id), timeout=TIMEOUT).task_run


def history(stub, kind: int, run_id: str) -> list[spb.State]:
    req = pb.ReadStatesRequest(run_kind=kind, run_id=run_id)
    return list(stub.ReadStates(req, timeout=TIMEOUT).states)


def ids(states) -> list[str]:
    return [s.id for s in states]


def types(states) -> list[str]:
    return [tname(s.type) for s in states]


def names(states) -> list[str]:
    return [s.name for s in states]


def all_flow_runs(stub, **kw) -> list[pb.FlowRun]:
    out, token = [], ""
    while True:
        page = stub.ListFlowRuns(pb.ListFlowRunsRequest(page_token=token, **kw), timeout=TIMEOUT)
        out += page.flow_runs
        token = page.next_page_token
        if not token:
            return out


def all_task_runs(stub, **kw) -> list[pb.TaskRun]:
    out, token = [], ""
    while True:
        page = stub.ListTaskRuns(pb.ListTaskRunsRequest(page_token=token, **kw), timeout=TIMEOUT)
        out += page.task_runs
        token = page.next_page_token
        if not token:
            return out


def expect_error(code: grpc.StatusCode, call, request, *, names_field: str | None = None) -> str:
    """Call and insist on an error status `code`; the message must name `names_field`."""
    with pytest.raises(grpc.RpcError) as info:
        result = call(request, timeout=TIMEOUT)
        # A server stream only fails once it is read.
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            list(result)
    err = info.value
    assert err.code() == code, f"expected {code}, got {err.code()}: {err.details()}"
    if names_field is not None:
        assert names_field in err.details(), f"{err.details()!r} does not name {names_field!r}"
    return err.details()


def wait_until(predicate, timeout: float = 2.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def uid() -> str:
    return str(uuid.uuid4())


class BidiStream:
    """A ProposeStates stream: send requests any time, wait for the answer to a request_id."""

    def __init__(self, stub, timeout: float = 30.0) -> None:
        self._requests: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self.answers: dict[int, pb.ProposeStatesResponse] = {}
        self.order: list[int] = []
        self.error: grpc.RpcError | None = None
        self.ended = False
        self._call = stub.ProposeStates(iter(self._requests.get, None), timeout=timeout)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for resp in self._call:
                with self._cond:
                    for answer in resp.more or [resp]:  # answers to envelopes come packed
                        self.answers[answer.request_id] = answer
                        self.order.append(answer.request_id)
                    self._cond.notify_all()
        except grpc.RpcError as exc:
            self.error = exc
        finally:
            with self._cond:
                self.ended = True
                self._cond.notify_all()

    def send(self, request_id: int, **which) -> None:
        self._requests.put(pb.ProposeStatesRequest(request_id=request_id, **which))

    def propose(self, request_id: int, kind: int, run_id: str, st: spb.State, **kw) -> None:
        self.send(request_id, propose=pb.ProposeStateRequest(run_kind=kind, run_id=run_id, state=st, **kw))

    def wait(self, *request_ids: int, timeout: float = TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(r in self.answers for r in request_ids):
                left = deadline - time.monotonic()
                assert left > 0 and not self.ended, (
                    f"no answer to {[r for r in request_ids if r not in self.answers]}; "
                    f"stream error: {self.error}"
                )
                self._cond.wait(left)
            found = [self.answers[r] for r in request_ids]
        return found[0] if len(found) == 1 else found

    def close(self) -> None:
        self._requests.put(None)
        self._reader.join(timeout=TIMEOUT)


_END = object()


class Watch:
    """A WatchFlowRun stream read on a thread into a queue."""

    def __init__(self, stub, flow_run_id: str, **kw) -> None:
        self.items: queue.Queue = queue.Queue()
        self.call = stub.WatchFlowRun(pb.WatchFlowRunRequest(flow_run_id=flow_run_id, **kw), timeout=15)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for msg in self.call:
                self.items.put(msg)
        except Exception as exc:  # surfaced by next()
            self.items.put(exc)
        self.items.put(_END)

    def next(self, timeout: float = TIMEOUT):
        item = self.items.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def take(self, n: int) -> list:
        return [self.next() for _ in range(n)]

    def ended(self) -> bool:
        return self.items.get(timeout=TIMEOUT) is _END


@dataclass
class World:
    """A small world for bad-input tests: a running flow run with one running task run."""

    flow: str
    task: str


def new_world(stub) -> World:
    flow = running_flow(stub)
    task = new_task(stub, flow.id, next_state=state(RUNNING))
    return World(flow.id, task.id)


def snapshot(stub, w: World):
    """Everything a refused request must leave as it was."""
    return (
        [r.id for r in all_flow_runs(stub)],
        [(r.id, r.state.id) for r in all_task_runs(stub)],
        ids(history(stub, FLOW, w.flow)),
        ids(history(stub, TASK, w.task)),
        [lim.tag for lim in stub.ListConcurrencyLimits(pb.ListConcurrencyLimitsRequest()).concurrency_limits],
        len(stub.ReadLogs(pb.ReadLogsRequest(flow_run_id=w.flow)).logs),
    )


def one_line_refusal(done: subprocess.CompletedProcess, *needles: str, secret: str = "") -> str:
    """The process failed with exactly one line on stderr (no traceback), naming `needles`,
    and never showing `secret`; that line."""
    assert done.returncode != 0
    if secret:
        assert secret not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
