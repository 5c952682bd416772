"""The `cadenza` subcommands that talk to running services."""

from __future__ import annotations

import json

from cadenza.documents import DocumentError, parse_run_input
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from . import _rpc
from ._format import flow_run_details, flow_run_line, state_label
from ._rpc import CommandError


def parse_params(pairs: list[str] | None) -> str:
    """`--param k=v` pairs; a value is JSON when it parses as JSON, else a string."""
    params = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--param {pair!r} must look like name=value")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return json.dumps(params)


# -- deploy -------------------------------------------------------------------------------
def deploy(args) -> None:
    from .._load import FlowLoadError, absolute_entrypoint, load_flow

    try:
        flow = load_flow(args.entrypoint)
    except FlowLoadError as exc:
        raise CommandError(str(exc)) from None
    if args.interval is not None and args.interval <= 0:
        raise CommandError("--interval must be a positive number of seconds")
    request = pb.CreateDeploymentRequest(
        name=args.name,
        flow_name=flow.name,
        entrypoint=absolute_entrypoint(args.entrypoint),
        parameters_json=parse_params(args.param),
        tags=args.tag or [],
        schedule=pb.Schedule(interval_seconds=args.interval or 0, cron=args.cron or ""),
        description=(flow.description or "") if hasattr(flow, "description") else "",
    )
    resp = _rpc.orchestrator().CreateDeployment(request)
    verb = "Created" if resp.created else "Updated"
    print(f"{verb} deployment {resp.deployment.name!r} ({resp.deployment.id}) for flow {flow.name!r}")


# -- run ----------------------------------------------------------------------------------
def run(args) -> int:
    from cadenza.v1 import executor_pb2 as epb

    resp = _rpc.executor().SubmitFlowRun(
        epb.SubmitFlowRunRequest(deployment_name=args.deployment, parameters_json=parse_params(args.param))
    )
    print(f"Submitted flow run {resp.flow_run_id}")
    if args.watch:
        return watch_run(resp.flow_run_id)  # non-zero unless the run completed
    return 0


def watch_run(flow_run_id: str) -> int:
    from cadenza.v1 import orchestrator_pb2 as opb

    names = {}
    final_state = None
    for event in _rpc.executor(timeout=None).WatchFlowRun(opb.WatchFlowRunRequest(flow_run_id=flow_run_id)):
        progress = f"[{event.task_runs_done}/{event.task_runs_total} tasks]"
        if event.HasField("state_change"):
            change = event.state_change
            kind = "flow" if change.run_kind == pb.RUN_KIND_FLOW else "task"
            names[change.run_id] = change.run_name
            print(
                f"{progress:>16} {kind} {change.run_name} -> {state_label(change.state)}"
                + (f": {change.state.message}" if change.state.message else ""),
                flush=True,
            )
            if change.run_id == flow_run_id:
                final_state = change.state
        elif event.HasField("log"):
            print(f"{progress:>16} log  {event.log.message}", flush=True)
    if final_state is not None and final_state.type == spb.STATE_TYPE_COMPLETED:
        return 0
    return 1


# -- flow-run -----------------------------------------------------------------------------
def flow_run(args) -> int | None:
    if args.action == "ls":
        request = pb.ListFlowRunsRequest(page_size=args.limit)
        for run_ in _rpc.orchestrator().ListFlowRuns(request).flow_runs:
            print(flow_run_line(run_))
        return None
    if not args.id:
        raise CommandError(f"flow-run {args.action} needs a flow run id")
    if args.action == "inspect":
        details = _rpc.executor().ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=args.id))
        print(flow_run_details(details.flow_run))
        print(
            f"result:        {details.result_json if details.has_result else '(' + details.result_note + ')'}"
        )
        return None
    if args.action == "watch":
        return watch_run(args.id)
    if args.action == "cancel":
        from cadenza.v1 import executor_pb2 as epb

        resp = _rpc.executor().CancelFlowRun(epb.CancelFlowRunRequest(flow_run_id=args.id))
        print(f"Flow run {args.id} is now {state_label(resp.state)}")
        return None
    if args.action == "resume":
        try:
            parse_run_input(args.input or "", "--input")
        except DocumentError as exc:
            raise CommandError(str(exc)) from None
        _rpc.executor().ResumeFlowRun(
            pb.ResumeFlowRunRequest(flow_run_id=args.id, run_input_json=args.input or "")
        )
        print(f"Resumed flow run {args.id}")
        return None
    raise CommandError(f"unknown action {args.action}")


# -- concurrency-limit --------------------------------------------------------------------
def concurrency_limit(args) -> None:
    orch = _rpc.orchestrator()
    if args.action == "ls":
        for limit in orch.ListConcurrencyLimits(pb.ListConcurrencyLimitsRequest()).concurrency_limits:
            print(f"{limit.tag:<24} limit {limit.concurrency_limit:<5} active {len(limit.active_slots)}")
        return
    if not args.tag:
        raise CommandError(f"concurrency-limit {args.action} needs a tag")
    if args.action == "create":
        if args.limit is None:
            raise CommandError(
                "concurrency-limit create needs a limit: cadenza concurrency-limit create TAG N"
            )
        limit = orch.CreateConcurrencyLimit(
            pb.CreateConcurrencyLimitRequest(tag=args.tag, concurrency_limit=args.limit)
        ).concurrency_limit
        print(f"Concurrency limit for tag {limit.tag!r} set to {limit.concurrency_limit}")
    elif args.action == "inspect":
        limit = orch.ReadConcurrencyLimit(pb.ReadConcurrencyLimitRequest(tag=args.tag)).concurrency_limit
        print(
            f"tag:           {limit.tag}\nlimit:         {limit.concurrency_limit}\n"
            f"active slots:  {', '.join(limit.active_slots) or '-'}"
        )
    elif args.action == "delete":
        orch.DeleteConcurrencyLimit(pb.DeleteConcurrencyLimitRequest(tag=args.tag))
        print(f"Deleted concurrency limit for tag {args.tag!r}")


def exit_code(value) -> int:
    return value if isinstance(value, int) else 0


__all__ = ["deploy", "run", "flow_run", "concurrency_limit", "watch_run", "exit_code"]
