"""Retries and rerun bookkeeping: a failure with attempts left becomes AwaitingRetry (Scheduled
after the retry delay), and a run entering RUNNING again is named Retrying or Rerunning."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

from ..inputs import NEEDS_FLOW_RUN
from ..models import State, StateDetails, StateType
from ..transition import Transition
from .base import ALL_TYPES, Rule

_RUNNING_TO_FAILED = (frozenset({StateType.RUNNING}), frozenset({StateType.FAILED}))


def task_retry_delay(delays: list[float], run_count: int) -> float:
    """The delay for the attempt that just failed; the last one repeats for later attempts."""
    if not delays:
        return 0.0
    return float(delays[min(max(run_count - 1, 0), len(delays) - 1)])


def jittered(delay: float, factor: float, draw: float) -> float:
    """A random delay averaging about `delay`, clamped to delay*(1 +/- factor).

    Drawn from an exponential distribution (retries spread like arrivals of a Poisson
    process), truncated by inverting its CDF between the two bounds, so no draw is wasted.
    """
    if delay <= 0 or factor <= 0:
        return max(delay, 0.0)
    low, high = max(0.0, delay * (1 - factor)), delay * (1 + factor)
    cdf_low, cdf_high = 1 - math.exp(-low / delay), 1 - math.exp(-high / delay)
    u = cdf_low + draw * (cdf_high - cdf_low)
    return min(high, max(low, -delay * math.log(1 - u)))


def has_attempts_left(t: Transition, retries: int) -> bool:
    # retries=N means N+1 attempts; a failure flagged not retriable is final at once.
    return t.proposed.details.retriable is not False and 0 < t.run.run_count <= retries


def awaiting_retry(failed: State, t: Transition, delay: float) -> State:
    return t.new_state(
        StateType.SCHEDULED,
        name="AwaitingRetry",
        message=failed.message,
        data=replace(failed.data),
        details=StateDetails(scheduled_time=t.now + timedelta(seconds=delay)),
        exception=failed.exception,  # why it is retried
    )


class RetryFailedFlows(Rule):
    FROM, TO = _RUNNING_TO_FAILED

    def before(self, t: Transition) -> None:
        policy = t.flow.empirical_policy
        if not has_attempts_left(t, policy.retries):
            return  # the failure stands
        t.reject(awaiting_retry(t.proposed, t, policy.retry_delay_seconds or 0.0), "Retrying")

    def after(self, t: Transition) -> None:
        # The retry starts afresh: earlier pauses may fire again.
        policy = t.flow.empirical_policy
        policy.pause_keys = set()
        policy.resuming = False


class RetryFailedTasks(Rule):
    FROM, TO = _RUNNING_TO_FAILED

    def before(self, t: Transition) -> None:
        policy = t.task.empirical_policy
        if not has_attempts_left(t, policy.retries):
            return
        delay = task_retry_delay(policy.retry_delay_seconds, t.run.run_count)
        if policy.retry_jitter_factor:
            delay = jittered(delay, policy.retry_jitter_factor, t.inputs.draw)
        t.reject(awaiting_retry(t.proposed, t, delay), "Retrying")


class RenameReruns(Rule):
    FROM = ALL_TYPES
    TO = frozenset({StateType.RUNNING})

    def before(self, t: Transition) -> None:
        if t.initial is None or t.run.run_count <= 0:
            return
        t.proposed.name = "Retrying" if t.initial.name == "AwaitingRetry" else "Rerunning"


class UpdateFlowRunTrackerOnTasks(Rule):
    """Remembers which flow attempt the task last ran in (the terminal rule compares it)."""

    FROM = ALL_TYPES
    TO = frozenset({StateType.RUNNING})
    NEEDS = frozenset({NEEDS_FLOW_RUN})

    def after(self, t: Transition) -> None:
        flow_run = t.parent_flow_run()
        if flow_run is not None:
            t.task.flow_run_run_count = flow_run.run_count
