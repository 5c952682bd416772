"""Real flows and tasks driven through a fake port: what the engine proposes, and how it honours
each kind of answer (ACCEPT, WAIT, REJECT, ABORT), with no orchestrator behind it."""

from __future__ import annotations

import time

from executor import flow, task
from executor._port import ABORT, REJECT, WAIT, OrchestrationResult, RunKind
from executor.exceptions import OrchestratorError
from executor.results import ResultFactory
from executor.states import State, StateType

from .fake_port import Proposal

FLOW, TASK = RunKind.FLOW.value, RunKind.TASK.value


def _is(proposal: Proposal, kind: RunKind, name: str) -> bool:
    return proposal.kind == kind and proposal.state.name == name


def test_a_flow_with_a_task_proposes_each_state_in_one_round_trip(fake):
    @task
    def add(x, y):
        return x + y

    @flow
    def adding():
        return add(1, 2)

    assert adding() == 3
    # The creations carry the first proposal: Pending and Running travel together.
    assert [m for m in fake.methods() if m != "write_logs"] == [
        "create_flow_run",
        "create_task_run",
        "propose_state",
        "propose_state",
    ]
    assert fake.names() == [
        (FLOW, "Pending"),
        (FLOW, "Running"),
        (TASK, "Pending"),
        (TASK, "Running"),
        (TASK, "Completed"),
        (FLOW, "Completed"),
    ]
    task_run = next(iter(fake.task_runs.values()))
    assert task_run.state.name == "Completed" and task_run.run_count == 1


def test_wait_is_slept_then_proposed_again_with_a_fresh_transition_id(fake):
    waits = []

    @fake.answer
    def wait_twice(p: Proposal):
        if _is(p, RunKind.TASK, "Running") and len(waits) < 2:
            waits.append(time.monotonic())
            return OrchestrationResult(WAIT, None, delay_seconds=0.05)
        return None

    @task
    def one():
        return 1

    @flow
    def waiting():
        return one()

    started = time.monotonic()
    assert waiting() == 1
    assert time.monotonic() - started >= 0.1
    runnings = [p for p in fake.proposed if _is(p, RunKind.TASK, "Running")]
    assert len(runnings) == 3  # with the creation, then twice more after each WAIT
    assert len({p.transition_id for p in runnings}) == 3
    assert fake.names(RunKind.TASK)[-1] == (TASK, "Completed")


def test_reject_hands_back_a_cached_state_that_is_adopted_and_the_body_never_runs(fake, tmp_path):
    ran = []
    cached = State(StateType.COMPLETED, name="Cached")
    cached.result_ref = ResultFactory(True, tmp_path / "results").create_ref({"answer": 42})

    @fake.answer
    def cache_hit(p: Proposal):
        if _is(p, RunKind.TASK, "Running"):
            return OrchestrationResult(REJECT, cached, reason="cache hit")
        return None

    @task
    def expensive():
        ran.append(1)
        return {"answer": 0}

    @flow
    def caching():
        state = expensive(return_state=True)
        return state.name, state.result()

    assert caching() == ("Cached", {"answer": 42})
    assert ran == []
    assert fake.names(RunKind.TASK) == [(TASK, "Pending"), (TASK, "Running")]


def test_abort_on_running_stops_the_task_without_running_its_body(fake):
    ran = []

    @fake.answer
    def abort(p: Proposal):
        if _is(p, RunKind.TASK, "Running"):
            return OrchestrationResult(ABORT, None, reason="the flow run is being cancelled")
        return None

    @task
    def never():
        ran.append(1)

    @flow
    def aborting():
        return never(return_state=True).name

    assert aborting() == "Pending"  # the run's stored state, read back after the ABORT
    assert ran == []
    assert fake.names(RunKind.TASK) == [(TASK, "Pending"), (TASK, "Running")]
    assert "read_task_run" in fake.methods()


def test_an_engine_error_is_reported_as_a_crash_of_the_task_run(fake):
    @fake.answer
    def broken(p: Proposal):
        if _is(p, RunKind.TASK, "Completed"):
            raise OrchestratorError("INTERNAL", "the store is gone")
        return None

    @task
    def fine():
        return 1

    @flow
    def crashing():
        return fine(return_state=True).type

    assert crashing() is StateType.CRASHED
    crash = fake.proposed[-2]  # before the flow's own final state
    assert crash.kind == RunKind.TASK and crash.state.type is StateType.CRASHED and crash.force
