"""How the `cadenza` command ends: a watched run that does not complete is a non-zero exit,
Ctrl-C stops quietly, and mistakes in what was typed name what was typed."""

from __future__ import annotations

import signal
import subprocess
import time

from ._harness import CADENZA, FLOWS_FILE, RUNNING, cli, module_entrypoint, submit, unique, wait_state


def test_run_watch_of_a_failing_flow_exits_non_zero(cluster):
    name = unique("fails")
    assert cli(cluster, "deploy", f"{FLOWS_FILE}:always_fails", "--name", name).returncode == 0
    done = cli(cluster, "run", name, "--watch")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "-> Failed" in done.stdout


def test_resume_input_errors_name_the_option(cluster):
    done = cli(cluster, "flow-run", "resume", "7d5f2b1e-0000-4000-8000-000000000000", "--input", "{oops")
    assert done.returncode == 1
    assert "--input" in done.stderr and "parameters_json" not in done.stderr, done.stderr


def test_an_address_given_as_a_url_says_to_give_host_and_port(cluster):
    done = cli(cluster, "flow-run", "ls", CADENZA_ORCHESTRATOR="http://127.0.0.1:4300")
    assert done.returncode == 2
    assert "CADENZA_ORCHESTRATOR" in done.stderr and "host:port" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_while_watching_stops_quietly(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("sleepy_loop"), params={"steps": 100, "seconds": 0.2})
    wait_state(cluster, orch, run_id, RUNNING)
    watcher = subprocess.Popen(
        [CADENZA, "flow-run", "watch", run_id],
        env=cluster.cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # watching
    watcher.send_signal(signal.SIGINT)
    _, stderr = watcher.communicate(timeout=15)
    assert watcher.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
