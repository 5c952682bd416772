"""Plain-text rendering of runs and states for the terminal."""

from __future__ import annotations

import json

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb


def state_label(state: spb.State) -> str:
    kind = spb.StateType.Name(state.type).removeprefix("STATE_TYPE_")
    name = state.name or kind.title()
    return name if name.upper() == kind else f"{name} ({kind})"


def when(ts) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


def flow_run_line(run: pb.FlowRun) -> str:
    return f"{run.id}  {run.name:<28}  {state_label(run.state):<22}  {when(run.created)}"


def flow_run_details(run: pb.FlowRun) -> str:
    lines = [
        f"id:            {run.id}",
        f"name:          {run.name}",
        f"flow:          {run.flow_name}",
        f"state:         {state_label(run.state)}" + (f" - {run.state.message}" if run.state.message else ""),
        f"parameters:    {json.dumps(json.loads(run.parameters_json or '{}'))}",
        f"tags:          {', '.join(run.tags) or '-'}",
        f"run count:     {run.run_count}",
        f"started:       {when(run.start_time)}",
        f"ended:         {when(run.end_time)}",
        f"run time:      {run.estimated_run_time_seconds:.3f}s",
    ]
    if run.deployment_id:
        lines.append(f"deployment:    {run.deployment_id}")
    if run.entrypoint:
        lines.append(f"entrypoint:    {run.entrypoint}")
    if run.parent_task_run_id:
        lines.append(f"parent task:   {run.parent_task_run_id}")
    return "\n".join(lines)
