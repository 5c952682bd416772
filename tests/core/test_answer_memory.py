"""Answers remembered by transition id: a run whose answers were dropped from memory is looked up
in its stored history; every other run is not (a store read per proposal made a 100k-task flow
slower with every task)."""

from __future__ import annotations

import pytest

from orchestrator.app import idempotency
from orchestrator.app.idempotency import Answer, AnswerMemory
from orchestrator.core.models import Decision, Proposal, State, StateDetails, StateType, Status, TaskRun


class HistoryStore:
    """The one store read AnswerMemory makes, over states kept in a dict, counting the reads."""

    def __init__(self) -> None:
        self.states: dict[str, list[State]] = {}
        self.reads: list[str] = []

    def read_states(self, run_id: str) -> list[State]:
        self.reads.append(run_id)
        return self.states.get(run_id, [])


def _proposal(tid: str, type_: StateType = StateType.RUNNING) -> Proposal:
    return Proposal(State(type_, details=StateDetails(transition_id=tid)))


def _answer(state: State) -> Answer:
    return Answer(Decision(Status.ACCEPT, state), 1)


@pytest.fixture
def small_memory(monkeypatch):
    monkeypatch.setattr(idempotency, "_KEEP", 4)
    store = HistoryStore()
    return store, AnswerMemory(store)


def test_a_remembered_answer_is_given_again_without_reading_the_store(small_memory):
    store, memory = small_memory
    run = TaskRun()
    proposal = _proposal("t-1")
    memory.remember("t-1", _answer(proposal.state), run.id)
    assert memory.recall(run, proposal).decision.state is proposal.state
    assert store.reads == []


def test_after_a_forget_only_the_runs_that_lost_answers_read_their_history(small_memory):
    store, memory = small_memory
    old_runs = [TaskRun() for _ in range(5)]
    for n, run in enumerate(old_runs):  # the fifth answer drops the first two
        memory.remember(f"t-{n}", _answer(State(StateType.RUNNING)), run.id)

    new_run = TaskRun()
    assert memory.recall(new_run, _proposal("t-new")) is None
    assert store.reads == []  # a run created after the forget has nothing to look up

    first = old_runs[0]
    produced = State(StateType.RUNNING, details=StateDetails(transition_id="t-0"))
    store.states[first.id] = [produced]
    seen = memory.recall(first, _proposal("t-0"))
    assert store.reads == [first.id]
    assert seen is not None and seen.decision.status is Status.ACCEPT and seen.decision.state is produced


def test_past_the_bound_on_forgotten_runs_every_miss_reads_the_history(small_memory, monkeypatch):
    store, memory = small_memory
    monkeypatch.setattr(idempotency, "_FORGOTTEN_RUNS_MAX", 1)
    for n in range(5):
        memory.remember(f"t-{n}", _answer(State(StateType.RUNNING)), TaskRun().id)
    assert memory.recall(TaskRun(), _proposal("t-other")) is None
    assert len(store.reads) == 1
