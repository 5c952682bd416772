"""One proposal while it is being decided: the run, where it is, where it is asked to go, the
inputs gathered for it, and the answer so far. Rules read it and answer through `reject`,
`wait` and `abort`."""

from __future__ import annotations

from typing import Any, cast

from .inputs import DecisionInputs, Effects, PolicySettings
from .models import ConcurrencyLimit, FlowRun, State, StateType, Status, TaskRun


class Transition:
    __slots__ = (
        "run",
        "flow",
        "task",
        "inputs",
        "settings",
        "now",
        "initial",
        "current",
        "proposed",
        "nullified",
        "status",
        "reason",
        "delay",
        "effects",
        "memo",
    )

    def __init__(
        self, run: FlowRun | TaskRun, proposed: State, inputs: DecisionInputs, settings: PolicySettings
    ) -> None:
        self.run = run
        # Typed views of the run for rules that concern one kind only (set once: every
        # rule reads them, and this is the hot path of every proposal).
        self.flow = cast(FlowRun, run)
        self.task = cast(TaskRun, run)
        self.inputs = inputs
        self.settings = settings
        self.now = inputs.now
        self.initial: State | None = run.state
        # The same, for rules whose FROM excludes None (they only see runs that have a state).
        self.current = cast(State, run.state)
        # The state that will be written. Once `nullified`, it is only the run's state (or the
        # proposal) and means nothing: hooks only run while the transition stands.
        self.proposed: State = proposed
        self.nullified = False
        self.status = Status.ACCEPT
        self.reason = ""
        self.delay = 0.0
        self.effects = Effects()
        self.memo: dict[str, Any] = {}  # what a rule must remember for its cleanup

    # -- answers -----------------------------------------------------------------------------
    def reject(self, state: State | None, reason: str) -> None:
        """Hand back `state` instead of the proposal; None means "stay where you are"."""
        if state is None:
            self.nullified = True
        else:
            self.proposed = state
        self.status = Status.REJECT
        self.reason = reason

    def wait(self, delay_seconds: float, reason: str) -> None:
        self.nullified = True
        self.status = Status.WAIT
        self.delay = max(0.0, float(delay_seconds))
        self.reason = reason

    def abort(self, reason: str) -> None:
        self.nullified = True
        self.status = Status.ABORT
        self.reason = reason

    # -- what the decision was fed -------------------------------------------------------------
    def new_state(self, type_: StateType, **fields) -> State:
        """A state the decision creates, with an id from the inputs and the decision's time."""
        return State(type_, id=self.inputs.new_id(), timestamp=self.now, **fields)

    def stop(self) -> None:
        """Nullify without an answer of its own: the error being raised is the answer."""
        self.nullified = True

    def parent_flow_run(self) -> FlowRun | None:
        """The flow run a task run belongs to (None if it has none or it is unknown)."""
        return self.inputs.flow_run

    def limits(self) -> list[ConcurrencyLimit]:
        """The concurrency limits on the run's tags (tags without a limit are absent)."""
        return self.inputs.limits
