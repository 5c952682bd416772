"""The `cadenza` command line against running services (CADENZA_ORCHESTRATOR / CADENZA_EXECUTOR)."""

from __future__ import annotations

import json
import re

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from ._harness import (
    CANCELLED,
    COMPLETED,
    FLOWS_FILE,
    PAUSED,
    REPO,
    SCHEDULED,
    cli,
    module_entrypoint,
    read,
    submit,
    task_runs,
    unique,
    wait_final,
    wait_for,
    wait_state,
)


def ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}"
    return done.stdout


def retire(orch, name):
    dep = orch.ReadDeployment(pb.ReadDeploymentRequest(name=name)).deployment
    orch.DeleteDeployment(pb.DeleteDeploymentRequest(name=name))
    for run in orch.ListFlowRuns(pb.ListFlowRunsRequest(deployment_id=dep.id)).flow_runs:
        if run.state.type == SCHEDULED:
            orch.SetFlowRunState(
                pb.SetFlowRunStateRequest(flow_run_id=run.id, state=spb.State(type=CANCELLED), force=True)
            )


def test_deploy_with_interval_cron_params_and_tags(cluster, orch):
    relative = FLOWS_FILE.relative_to(REPO)
    every, nightly = unique("every"), unique("nightly")
    out = ok(
        cli(
            cluster,
            "deploy",
            f"{relative}:arithmetic",
            "--name",
            every,
            "--interval",
            "3600",
            "--param",
            "x=7",
            "--param",
            "y=label",
            "--tag",
            "cli",
        )
    )
    assert re.search(rf"Created deployment '{every}' \(\S+\) for flow 'arithmetic'", out), out
    out = ok(cli(cluster, "deploy", f"{relative}:quick", "--name", nightly, "--cron", "0 3 * * *"))
    assert f"Created deployment '{nightly}'" in out
    out = ok(cli(cluster, "deploy", f"{relative}:quick", "--name", nightly, "--cron", "30 3 * * *"))
    assert f"Updated deployment '{nightly}'" in out
    try:
        dep = orch.ReadDeployment(pb.ReadDeploymentRequest(name=every)).deployment
        assert dep.entrypoint == f"{FLOWS_FILE}:arithmetic"  # stored absolute, for any worker's cwd
        assert dep.schedule.interval_seconds == 3600 and not dep.schedule.cron
        assert json.loads(dep.parameters_json) == {"x": 7, "y": "label"}
        assert list(dep.tags) == ["cli"]
        dep = orch.ReadDeployment(pb.ReadDeploymentRequest(name=nightly)).deployment
        assert dep.schedule.cron == "30 3 * * *" and not dep.schedule.interval_seconds
    finally:
        retire(orch, every)
        retire(orch, nightly)

    bad = cli(cluster, "deploy", f"{relative}:no_such_flow", "--name", unique("bad"))
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "no_such_flow" in bad.stderr, (
        bad.stderr
    )
    both = cli(
        cluster,
        "deploy",
        f"{relative}:quick",
        "--name",
        unique("bad"),
        "--interval",
        "5",
        "--cron",
        "* * * * *",
    )
    assert both.returncode == 2 and "not allowed with argument" in both.stderr, both.stderr


def test_run_with_params_and_watch(cluster, orch):
    name = unique("cli-run")
    ok(cli(cluster, "deploy", f"{FLOWS_FILE}:parent_flow", "--name", name))
    out = ok(cli(cluster, "run", name, "--param", "n=3", "--watch"))
    run_id = re.search(r"Submitted flow run (\S+)", out).group(1)
    lines = out.splitlines()
    assert any(re.search(r"\] flow \S+ -> Running$", line) for line in lines), out
    assert any(re.search(r"\] task chatty-0 -> Completed$", line) for line in lines), out
    assert re.search(r"\[2/2 tasks\] flow parent-flow-\S+ -> Completed$", lines[-1]), (
        out
    )  # the run ends the stream
    assert any(" log  chatty task got 3" in line for line in lines), out
    run = read(orch, run_id)
    assert run.state.type == COMPLETED and json.loads(run.parameters_json) == {"n": 3}


def test_flow_run_ls_inspect_and_watch(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("arithmetic"), params={"x": 5})
    assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()

    assert run_id in ok(cli(cluster, "flow-run", "ls"))
    out = ok(cli(cluster, "flow-run", "inspect", run_id))
    assert f"id:            {run_id}" in out and "state:         Completed" in out, out
    assert 'parameters:    {"x": 5}' in out, out
    assert 'result:        {"x": 5, "y": 1, "doubled_plus_y": 11}' in out, out

    out = ok(cli(cluster, "flow-run", "watch", run_id))  # a finished run: its history
    flow_lines = [line for line in out.splitlines() if " flow " in line]
    assert [line.rsplit("-> ", 1)[1] for line in flow_lines] == [
        "Scheduled",
        "Pending",
        "Running",
        "Completed",
    ], out
    assert "[1/1 tasks]" in flow_lines[-1], out


def test_flow_run_cancel_and_resume(cluster, orch, ex):
    sleepy = submit(ex, entrypoint=module_entrypoint("sleepy_loop"))
    paused = submit(ex, entrypoint=module_entrypoint("pause_here"))
    wait_for(lambda: task_runs(orch, sleepy), 8, "the sleepy run's first task", cluster)
    out = ok(cli(cluster, "flow-run", "cancel", sleepy))
    assert f"Flow run {sleepy} is now Cancelling" in out, out
    assert wait_final(cluster, orch, sleepy).state.type == CANCELLED, cluster.logs()

    wait_state(cluster, orch, paused, PAUSED)
    out = ok(cli(cluster, "flow-run", "resume", paused, "--input", '{"go": true}'))
    assert f"Resumed flow run {paused}" in out
    assert read(orch, paused).run_input_json == '{"go": true}'
    assert wait_final(cluster, orch, paused).state.type == COMPLETED, cluster.logs()

    again = cli(cluster, "flow-run", "resume", paused)
    assert again.returncode == 1 and again.stderr.startswith("error: FAILED_PRECONDITION: "), again.stderr
    again = cli(cluster, "flow-run", "cancel", sleepy)
    assert (
        again.returncode == 1
        and "error: FAILED_PRECONDITION: " in again.stderr
        and "CANCELLED" in again.stderr
    )


def test_concurrency_limit_create_inspect_ls_delete(cluster):
    tag = unique("cli-tag")
    assert f"Concurrency limit for tag '{tag}' set to 3" in ok(
        cli(cluster, "concurrency-limit", "create", tag, "3")
    )
    out = ok(cli(cluster, "concurrency-limit", "inspect", tag))
    assert f"tag:           {tag}" in out and "limit:         3" in out, out
    assert re.search(
        rf"^{re.escape(tag)}\s+limit 3\s+active 0$", ok(cli(cluster, "concurrency-limit", "ls")), re.M
    )
    assert f"Deleted concurrency limit for tag '{tag}'" in ok(
        cli(cluster, "concurrency-limit", "delete", tag)
    )
    gone = cli(cluster, "concurrency-limit", "inspect", tag)
    assert gone.returncode == 1 and gone.stderr.startswith("error: NOT_FOUND: ") and tag in gone.stderr, (
        gone.stderr
    )
    missing = cli(cluster, "concurrency-limit", "create", tag)
    assert missing.returncode == 1 and "needs a limit" in missing.stderr, missing.stderr


def test_errors_print_the_status_and_exit_1(cluster):
    done = cli(cluster, "run", "no-such-deployment")
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith("error: NOT_FOUND: ") and "no-such-deployment" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr

    done = cli(cluster, "flow-run", "inspect")
    assert done.returncode == 1 and done.stderr.strip() == "error: flow-run inspect needs a flow run id"

    done = cli(cluster, "flow-run", "ls", CADENZA_ORCHESTRATOR="127.0.0.1:1")
    assert done.returncode == 1 and done.stderr.startswith("error: UNAVAILABLE: "), done.stderr
    assert "is the service running?" in done.stderr
