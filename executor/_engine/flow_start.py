"""Starting a flow run (top-level or subflow): record a subflow's tracking task run in its
parent, validate the parameters, create the run (proposing Running in the same round trip when
nothing must be resolved first), then hand it to `flow_drive` to reach its final state. A run
that cannot start (invalid parameters, an engine error) gets its final state here."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from executor import _runtime as rtm
from executor._engine.answers import FLOW, crashed_state, propose
from executor._engine.flow_drive import drive_flow_run, finish_flow_run
from executor._params import parameters_json
from executor._port import FlowRunSpec, OrchestratorPort, TaskRunSpec
from executor._resolve import collect_inputs, resolve_parameters
from executor.context import FlowRunContext
from executor.exceptions import (
    OrchestratorUnreachable,
    ParameterTypeError,
    SignatureMismatchError,
    UpstreamTaskError,
)
from executor.states import State, StateType, new_transition_id

log = logging.getLogger("cadenza.flow_runs")


class FlowCall:
    """Everything one flow call needs, captured in the calling thread."""

    __slots__ = (
        "flow",
        "parameters",
        "wait_for",
        "parent",
        "tags",
        "name",
        "where",
        "portal",
        "loop",
        "dynamic_key",
        "flow_run_id",
        "flow_run",
        "reported_by_caller",
        "interrupt",
    )

    def __init__(
        self,
        flow: Any,
        parameters: dict,
        wait_for: Any,
        parent: FlowRunContext | None,
        tags: frozenset,
        name: str | None,
        where: str,
        portal: Any = None,
        loop: Any = None,
        dynamic_key: int = 0,
    ) -> None:
        self.flow = flow
        self.parameters = parameters
        self.wait_for = wait_for
        self.parent = parent
        self.tags = tags
        self.name = name
        self.where = where  # "caller" (portal), "thread" (own thread, for timeouts) or "loop"
        self.portal = portal
        self.loop = loop
        self.dynamic_key = dynamic_key
        self.flow_run_id: str | None = None  # known once the run is created
        self.flow_run: Any = None
        # Set by a sync caller that was interrupted: it reports the crash with its own reason.
        self.reported_by_caller = False
        # The signal that interrupted the caller (SIGTERM): the reason of the crash its
        # cancellation then causes here.
        self.interrupt: BaseException | None = None


async def run_flow(call: FlowCall) -> rtm.Outcome:
    """Start one flow run and drive it to its end; the Outcome's value is its final state, `exc`
    an exception to re-raise in the caller (interrupts, Abort)."""
    rt = rtm.get_runtime()
    port = rt.port
    flow = call.flow
    parent = call.parent
    tracking_id = ""
    parameters = call.parameters

    if parent is not None:
        links = parent.task_run_results
        inputs = {n: await collect_inputs(v, links) for n, v in parameters.items()}
        if call.wait_for is not None:
            inputs["wait_for"] = await collect_inputs(call.wait_for, links)
        tracking = await port.create_task_run(
            TaskRunSpec(
                flow_run_id=parent.flow_run.id,
                task_key=flow.task_key,
                dynamic_key=str(call.dynamic_key),
                name=f"{flow.name}-{call.dynamic_key}",
                task_version=flow.version or "",
                tags=sorted(call.tags),
                task_inputs=inputs,
            )
        )
        tracking_id = tracking.id
        if not tracking.created and tracking.state is not None and tracking.state.is_completed():
            reused = await _reuse_completed_child(port, tracking_id)
            if reused is not None:
                return rtm.Outcome(reused)
        try:
            parameters, _ = await resolve_parameters(parameters, links)
        except UpstreamTaskError:
            pass  # the NotReady check in drive_flow_run reports it as the run's state

    validation_error: Exception | None = None
    if flow.should_validate_parameters:
        try:
            parameters = flow.validate_parameters(parameters)
        except (ParameterTypeError, SignatureMismatchError) as exc:
            validation_error = exc

    spec = FlowRunSpec(
        flow_name=flow.name,
        name=call.name or _generated_name(),
        flow_version=flow.version or "",
        parameters_json=parameters_json(parameters),
        tags=sorted(call.tags),
        parent_task_run_id=tracking_id or None,
        idempotency_key=str(uuid.uuid4()),
        retries=flow._retries(),
        retry_delay_seconds=flow._retry_delay(),
    )
    holder = rt.holder if parent is None else None
    if holder is not None:
        # This process holds its own top-level run while it drives it (see holding.py).
        spec.holder_id, spec.lease_seconds = holder.id, holder.lease_seconds
    if validation_error is not None and parent is None:
        # Top-level: the run is created already Failed; its body never runs.
        spec.state = _validation_failed(validation_error)
    elif parent is None and call.wait_for is None:
        # Nothing to resolve first: create the run and propose Running in one round trip.
        spec.next_state = State(StateType.RUNNING)
        spec.transition_id = new_transition_id()
    created = await port.create_flow_run(spec)
    flow_run = created.flow_run
    call.flow_run_id = flow_run.id
    call.flow_run = flow_run
    if validation_error is not None:
        if parent is None:
            state = flow_run.state
            assert state is not None, "a run is created in a state"
            state._data = validation_error
        else:
            failed = _validation_failed(validation_error)
            state, _ = await propose(port, FLOW, flow_run.id, failed)
            if state is not failed and state.type is StateType.FAILED:
                state._data = validation_error
        return rtm.Outcome(_record_child(parent, state))

    if holder is not None:
        holder.hold(flow_run.id)
    try:
        outcome = await drive_flow_run(call, flow_run, parameters, first=created.answer)
    except asyncio.CancelledError as exc:
        # The caller stopped waiting (an async caller cancelled, asyncio.run interrupted): the
        # run must not stay Running. It ends Crashed and its on_crashed hooks run.
        if not call.reported_by_caller:
            await _report_cancelled(call, flow_run, exc)
        raise
    except OrchestratorUnreachable as exc:
        # Nobody to report to: the run's lease lapses and the orchestrator ends it Crashed.
        log.error("Flow run %s stopped: %s", flow_run.id, exc)
        outcome = rtm.Outcome(crashed_state(exc), exc)
    except Exception as exc:  # engine failure: report Crashed so the run is never left Running
        log.debug("Flow engine error", exc_info=True)
        state = crashed_state(exc)
        try:
            state, _ = await propose(port, FLOW, flow_run.id, state, force=True)
        except Exception:
            log.debug("Could not report the crash of flow run %s", flow_run.id, exc_info=True)
        outcome = rtm.Outcome(state, exc)
    finally:
        if holder is not None:
            holder.release(flow_run.id)
    _record_child(parent, outcome.value)
    return outcome


async def _report_cancelled(call: FlowCall, flow_run: Any, exc: BaseException) -> None:
    await report_crash(call, call.interrupt or exc)


async def report_crash(call: FlowCall, exc: BaseException) -> None:
    """The caller was interrupted or stopped waiting (Ctrl-C, SIGTERM, a cancelled async caller):
    never leave the run Running. Crashed is proposed unforced, as Prefect does: a run already
    Cancelling stays so, and the hooks of the state it is left in run (on_crashed or
    on_cancellation)."""
    flow_run = call.flow_run
    if flow_run is None:
        return
    try:
        state, _ = await propose(rtm.get_runtime().port, FLOW, flow_run.id, crashed_state(exc))
        flow_run.state = state
        call.loop = None  # the caller's loop may be going away: async hooks run on the user loop
        await finish_flow_run(call.flow, flow_run, state, call)
    except Exception:
        log.debug("Could not report the crash of flow run %s", flow_run.id, exc_info=True)


def _record_child(parent: FlowRunContext | None, state: State) -> State:
    if parent is not None:
        parent.children.append(state)
    return state


def _validation_failed(exc: Exception) -> State:
    return State(
        StateType.FAILED,
        message=f"Validation of flow parameters failed with error: {type(exc).__name__}: {exc}",
        data=exc,
    )


async def _reuse_completed_child(port: OrchestratorPort, tracking_id: str) -> State | None:
    """A completed subflow run of this tracking run whose result can still be read."""
    runs = await port.read_flow_runs(parent_task_run_id=tracking_id)
    runs = [r for r in runs if r.state is not None]
    if not runs:
        return None
    latest = max(runs, key=lambda r: r.created or 0)
    state = latest.state
    if state is None or not state.is_completed():
        return None
    ref = state.result_ref
    if ref is not None and ref.kind == "unpersisted":
        return None
    return state


_ADJ = (
    "amber",
    "brisk",
    "calm",
    "deft",
    "eager",
    "fuzzy",
    "gentle",
    "hasty",
    "ivory",
    "jolly",
    "keen",
    "lively",
    "mellow",
    "nimble",
    "olive",
    "proud",
    "quiet",
    "rapid",
    "sunny",
    "tidy",
)
_NOUN = (
    "otter",
    "heron",
    "lynx",
    "mole",
    "newt",
    "owl",
    "panda",
    "quail",
    "raven",
    "seal",
    "tapir",
    "viper",
    "wren",
    "yak",
    "zebra",
    "bison",
    "crane",
    "dingo",
    "egret",
    "finch",
)


def _generated_name() -> str:
    h = uuid.uuid4().int
    return f"{_ADJ[h % 20]}-{_NOUN[(h >> 8) % 20]}"
