"""`python -m executor.engine <flow-run-id>`: run one existing flow run in this process.

This is the worker's child process (Prefect's `enter_flow_run_engine_from_subprocess`): it
reads the run, checks its entrypoint against CADENZA_ALLOWED_ENTRYPOINTS (a refusal forces
Failed with the reason), loads the flow from the run's entrypoint (a failure to load forces Failed
"Flow could not be retrieved from deployment."), validates the parameters (a failure is
proposed as Failed, not forced), and drives the run to its end like any flow call.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from executor import _runtime as rtm
from executor._allowlist import EntrypointNotAllowed, allowlist_from_env
from executor._engine.answers import FLOW, propose
from executor._engine.flow_drive import drive_flow_run
from executor._engine.flow_start import FlowCall
from executor._engine.lease_watch import LeaseWatch
from executor._load import FlowLoadError, load_flow
from executor.context import current_tags
from executor.exceptions import ParameterTypeError, SignatureMismatchError
from executor.objects import FlowRun
from executor.states import State, StateType

log = logging.getLogger("cadenza.engine")

RETRIEVAL_FAILED = "Flow could not be retrieved from deployment."


async def run_flow_run(flow_run_id: str) -> State:
    rt = rtm.get_runtime()
    port = rt.port
    stored = await port.read_flow_run(flow_run_id)
    if not stored.lease_epoch:
        return await _run_stored(flow_run_id, stored)
    # A worker's claim: everything this process proposes carries its epoch, and the process
    # stops by itself once the claim is gone.
    port.lease_epoch = stored.lease_epoch
    watch = LeaseWatch(
        port, flow_run_id, stored.lease_epoch, stored.lease_expiration, on_cancel=rt.holder.request_cancel
    )
    watching = asyncio.get_running_loop().create_task(watch.run())
    try:
        return await _run_stored(flow_run_id, stored)
    finally:
        watching.cancel()


async def _run_stored(flow_run_id: str, stored: FlowRun) -> State:
    rt = rtm.get_runtime()
    port = rt.port
    try:
        # Checked here too, whoever started this process (a worker of an older version, say).
        entrypoint = allowlist_from_env().check(stored.entrypoint or "")
    except EntrypointNotAllowed as exc:
        log.error("%s", exc)
        state, _ = await propose(
            port, FLOW, flow_run_id, State(StateType.FAILED, message=str(exc)), force=True
        )
        return state
    try:
        flow = load_flow(entrypoint)  # the very file the allowlist checked
    except FlowLoadError as exc:
        log.error("%s %s", RETRIEVAL_FAILED, exc)
        failed = State(StateType.FAILED, message=f"{RETRIEVAL_FAILED} {exc}")
        state, _ = await propose(port, FLOW, flow_run_id, failed, force=True)
        return state
    # The flow's version and retry policy, known only now that it is loaded.
    await port.update_flow_run(
        flow_run_id,
        flow_version=flow.version or "",
        retries=flow._retries(),
        retry_delay_seconds=flow._retry_delay(),
    )
    flow_run = await port.read_flow_run(flow_run_id)
    parameters = dict(flow_run.parameters)
    if flow.should_validate_parameters:
        try:
            parameters = flow.validate_parameters(parameters)
        except (ParameterTypeError, SignatureMismatchError) as exc:
            message = f"Validation of flow parameters failed with error: {exc.__class__.__name__}: {exc}"
            state, _ = await propose(port, FLOW, flow_run_id, State(StateType.FAILED, message=message))
            return state
    where = "loop" if flow.isasync else "thread"
    call = FlowCall(
        flow,
        parameters,
        None,
        None,
        current_tags() | frozenset(flow_run.tags),
        flow_run.name,
        where,
        loop=rt.user_loop() if flow.isasync else None,
    )
    outcome = await drive_flow_run(call, flow_run, parameters)
    if outcome.exc is not None and not isinstance(outcome.exc, Exception):
        raise outcome.exc  # interrupts end the process, as they would a script
    return outcome.value


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if len(argv) != 1:
        print("usage: python -m executor.engine <flow-run-id>", file=sys.stderr)
        return 2
    rt = rtm.get_runtime()
    try:
        state = rt.run(run_flow_run(argv[0]))
    finally:
        rtm.shutdown()
    log.info("Flow run %s finished in state %s", argv[0], state.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
