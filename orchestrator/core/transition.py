"""One proposal while it is being decided: the run, where it is, where it is asked to go, and
the answer so far. Rules read it and answer through `reject`, `wait` and `abort`."""

from __future__ import annotations

from datetime import datetime

from .context import Effects, PolicyContext
from .models import ConcurrencyLimit, FlowRun, State, StateType, Status, TaskRun


class Transition:
    __slots__ = (
        "run", "ctx", "now", "initial", "proposed", "status", "reason", "delay", "effects",
        "memo", "_flow_run", "_limits",
    )

    def __init__(self, run: FlowRun | TaskRun, ctx: PolicyContext, proposed: State) -> None:
        self.run = run
        self.ctx = ctx
        self.now: datetime = ctx.now()
        self.initial: State | None = run.state
        # The state that will be written; None once the transition is nullified.
        self.proposed: State | None = proposed
        self.status = Status.ACCEPT
        self.reason = ""
        self.delay = 0.0
        self.effects = Effects()
        self.memo: dict[str, object] = {}  # what a rule must remember for its cleanup
        self._flow_run: FlowRun | None | bool = False  # False: not looked up yet
        self._limits: list[ConcurrencyLimit] | None = None

    @property
    def initial_type(self) -> StateType | None:
        return self.initial.type if self.initial is not None else None

    @property
    def nullified(self) -> bool:
        return self.proposed is None

    # -- answers -----------------------------------------------------------------------------
    def reject(self, state: State | None, reason: str) -> None:
        """Hand back `state` instead of the proposal; None means "stay where you are"."""
        self.proposed = state
        self.status = Status.REJECT
        self.reason = reason

    def wait(self, delay_seconds: float, reason: str) -> None:
        self.proposed = None
        self.status = Status.WAIT
        self.delay = max(0.0, float(delay_seconds))
        self.reason = reason

    def abort(self, reason: str) -> None:
        self.proposed = None
        self.status = Status.ABORT
        self.reason = reason

    # -- look-ups, each made at most once per proposal -----------------------------------------
    def parent_flow_run(self) -> FlowRun | None:
        """The flow run a task run belongs to (None if it has none or it is unknown)."""
        if self._flow_run is False:
            flow_run_id = getattr(self.run, "flow_run_id", "")
            self._flow_run = self.ctx.read_flow_run(flow_run_id) if flow_run_id else None
        return self._flow_run  # type: ignore[return-value]

    def limits(self) -> list[ConcurrencyLimit]:
        """The concurrency limits on the run's tags (tags without a limit are skipped)."""
        if self._limits is None:
            found = []
            for tag in dict.fromkeys(self.run.tags):  # a tag listed twice is one limit
                limit = self.ctx.read_concurrency_limit(tag)
                if limit is not None:
                    found.append(limit)
            self._limits = found
        return self._limits
