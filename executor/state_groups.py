"""Several states taken as one (Prefect 2's `StateGroup`), and the final state a run gets when
its function returned states: imported from `executor.states`, as Prefect users do."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Collection
from typing import Any, TypeGuard

from executor.states import State, StateType, is_hand_built, is_state_iterable


def is_state(obj: Any) -> TypeGuard[State]:
    return isinstance(obj, State)


class StateGroup:
    """Counts of the states in a collection by type, and the questions asked of them when a
    run's final state is decided from the states its function returned."""

    def __init__(self, states: Collection[State]) -> None:
        self.states = states
        self.type_counts: Counter[StateType] = Counter(state.type for state in states)
        self.total_count = len(states)
        self.cancelled_count = self.type_counts[StateType.CANCELLED]
        self.final_count = sum(state.is_final() for state in states)
        self.not_final_count = self.total_count - self.final_count
        self.paused_count = self.type_counts[StateType.PAUSED]

    @property
    def fail_count(self) -> int:
        return self.type_counts[StateType.FAILED] + self.type_counts[StateType.CRASHED]

    def all_completed(self) -> bool:
        return self.type_counts[StateType.COMPLETED] == self.total_count

    def any_cancelled(self) -> bool:
        return self.cancelled_count > 0

    def any_failed(self) -> bool:
        return self.fail_count > 0

    def any_paused(self) -> bool:
        return self.paused_count > 0

    def all_final(self) -> bool:
        return self.final_count == self.total_count

    def counts_message(self) -> str:
        parts = [f"total={self.total_count}"]
        if self.not_final_count:
            parts.append(f"not_final={self.not_final_count}")
        parts += [f"{state_type.value!r}={count}" for state_type, count in self.type_counts.items() if count]
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"StateGroup<{self.counts_message()}>"


def aggregate_states(states: Collection[State]) -> tuple[StateType, str]:
    """The type and message of a run whose function returned these states."""
    group = StateGroup(states)
    total = group.total_count
    if group.all_completed():
        return StateType.COMPLETED, "All states completed."
    if group.any_cancelled():
        return StateType.CANCELLED, f"{group.cancelled_count}/{total} states cancelled."
    if group.any_paused():
        return StateType.PAUSED, f"{group.paused_count}/{total} states paused."
    if group.any_failed():
        return StateType.FAILED, f"{group.fail_count}/{total} states failed."
    if not group.all_final():
        return StateType.FAILED, f"{group.not_final_count}/{total} states are not final."
    return StateType.FAILED, "Given states: " + group.counts_message()


def return_value_to_state(retval: Any) -> State:
    """Turn what a function returned into the state to propose (data not yet persisted)."""
    if isinstance(retval, State) and is_hand_built(retval):
        return retval
    if isinstance(retval, State) or is_state_iterable(retval):
        states = [retval] if isinstance(retval, State) else list(retval)
        type_, message = aggregate_states(states)
        return State(type_, message=message, data=retval)
    if inspect.isgenerator(retval):
        retval = list(retval)
    return State(StateType.COMPLETED, data=retval)
