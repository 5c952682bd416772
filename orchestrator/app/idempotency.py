"""Answers already given, by transition id, so a repeated proposal is answered, not re-applied.

Recent answers are kept in memory; older ones (and those given before a restart) are rebuilt
from the stored states, each of which carries the transition id of the proposal it answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.models import Decision, FlowRun, Proposal, State, Status, TaskRun
from ..store.base import Store

_KEEP = 20_000  # answers remembered in memory; half are dropped when there are more
# Runs whose answers were dropped, looked up in their stored history on a miss. Past this many,
# the set is cleared and every miss looks there (what it did for all runs before: a read of the
# run's states per proposal, which made a 100k-task flow slower with every task).
_FORGOTTEN_RUNS_MAX = 200_000


@dataclass(slots=True)
class Answer:
    """A decision plus what the caller needs to carry on without reading the run back."""

    decision: Decision
    run_count: int


class AnswerMemory:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._recent: dict[str, tuple[Answer, str]] = {}  # transition id -> (answer, run id)
        self._forgotten_runs: set[str] = set()
        self._forgot_too_many = False

    def recall(self, run: FlowRun | TaskRun, proposal: Proposal) -> Answer | None:
        tid = proposal.state.details.transition_id
        if not tid:
            return None
        kept = self._recent.get(tid)
        if kept is not None:
            return kept[0]
        if run.loaded_from_store or self._forgot_too_many or run.id in self._forgotten_runs:
            return self._from_history(run, proposal, tid)
        return None

    def remember(self, tid: str, answer: Answer, run_id: str) -> None:
        self._recent[tid] = (answer, run_id)
        if len(self._recent) > _KEEP:
            for old in list(self._recent)[: _KEEP // 2]:
                self._forgotten_runs.add(self._recent.pop(old)[1])
            if len(self._forgotten_runs) > _FORGOTTEN_RUNS_MAX:
                self._forgotten_runs.clear()
                self._forgot_too_many = True

    def forget(self, tids: list[str]) -> None:
        """Answers that never became durable must not be handed to a retry of the proposal."""
        for tid in tids:
            self._recent.pop(tid, None)

    def _from_history(self, run: FlowRun | TaskRun, proposal: Proposal, tid: str) -> Answer | None:
        """The answer a proposal got, rebuilt from the state it produced."""
        produced: State | None
        if run.state is not None and run.state.details.transition_id == tid:
            produced = run.state
        else:
            produced = next(
                (s for s in self.store.read_states(run.id) if s.details.transition_id == tid), None
            )
        if produced is None:
            return None
        accepted = produced.type is proposal.state.type and produced.name == proposal.state.name
        return Answer(Decision(Status.ACCEPT if accepted else Status.REJECT, produced), run.run_count)
