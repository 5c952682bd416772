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
        "inputs",
        "settings",
        "now",
        "initial",
        "_proposed",
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
        self.inputs = inputs
        self.settings = settings
        self.now = inputs.now
        self.initial: State | None = run.state
        # The state that will be written; None once the transition is nullified.
        self._proposed: State | None = proposed
        self.status = Status.ACCEPT
        self.reason = ""
        self.delay = 0.0
        self.effects = Effects()
        self.memo: dict[str, Any] = {}  # what a rule must remember for its cleanup

    @property
    def nullified(self) -> bool:
        return self._proposed is None

    # Hooks only run while the transition stands, and a rule concerning edges FROM a state
    # type only sees runs in one: these typed views spare each rule the None checks.
    @property
    def proposed(self) -> State:
        return cast(State, self._proposed)

    @property
    def current(self) -> State:
        """The run's state before this transition (for rules whose FROM excludes None)."""
        return cast(State, self.initial)

    @property
    def flow(self) -> FlowRun:
        return cast(FlowRun, self.run)

    @property
    def task(self) -> TaskRun:
        return cast(TaskRun, self.run)

    # -- answers -----------------------------------------------------------------------------
    def reject(self, state: State | None, reason: str) -> None:
        """Hand back `state` instead of the proposal; None means "stay where you are"."""
        self._proposed = state
        self.status = Status.REJECT
        self.reason = reason

    def wait(self, delay_seconds: float, reason: str) -> None:
        self._proposed = None
        self.status = Status.WAIT
        self.delay = max(0.0, float(delay_seconds))
        self.reason = reason

    def abort(self, reason: str) -> None:
        self._proposed = None
        self.status = Status.ABORT
        self.reason = reason

    # -- what the decision was fed -------------------------------------------------------------
    def new_state(self, type_: StateType, **fields) -> State:
        """A state the decision creates, with an id from the inputs and the decision's time."""
        return State(type_, id=self.inputs.new_id(), timestamp=self.now, **fields)

    def stop(self) -> None:
        """Nullify without an answer of its own: the error being raised is the answer."""
        self._proposed = None

    def parent_flow_run(self) -> FlowRun | None:
        """The flow run a task run belongs to (None if it has none or it is unknown)."""
        return self.inputs.flow_run

    def limits(self) -> list[ConcurrencyLimit]:
        """The concurrency limits on the run's tags (tags without a limit are absent)."""
        return self.inputs.limits
