"""With no CADENZA_ORCHESTRATOR, the first flow call starts the real orchestrator in process
over SQLite under CADENZA_HOME: `python my_flow.py` just works. The engine calls it directly on
its own loop, while its gRPC server serves every other client; CADENZA_IN_PROCESS=false puts it
in a thread of its own, called over gRPC."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_embedded_default_runs_a_flow_file(tmp_path):
    script = tmp_path / "my_flow.py"
    script.write_text(
        textwrap.dedent(
            """
        from executor import flow, task
        from executor.client import get_client

        @task
        def inc(x):
            return x + 1

        @flow(persist_result=True)
        def my_flow(n: int):
            return sum(inc.map(range(n)).__iter__().__next__().result() for _ in range(1)) + inc(n)

        state = my_flow("3", return_state=True)
        run = get_client().read_flow_run(state.state_details.flow_run_id)
        print("RESULT", state.result(), run.state.result(), run.parameters)
        """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_HOME"] = str(tmp_path / "home")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "RESULT 5 5 {'n': 3}" in proc.stdout
    assert (tmp_path / "home" / "cadenza.db").exists()
    assert any((tmp_path / "home" / "storage").iterdir())


PORT_SCRIPT = """
import grpc
from cadenza.v1 import orchestrator_pb2 as pb, orchestrator_pb2_grpc as pb_grpc
from executor import flow, task
from executor._runtime import get_runtime

@task
def double(x):
    return 2 * x

@flow
def doubled(n: int):
    return sum(f.result() for f in double.map(range(n)))

state = doubled(4, return_state=True)
port = get_runtime().port
with grpc.insecure_channel(port.address) as channel:  # what the CLI or another process uses
    run = pb_grpc.OrchestratorStub(channel).ReadFlowRun(
        pb.ReadFlowRunRequest(flow_run_id=state.state_details.flow_run_id), timeout=5
    ).flow_run
print("PORT", type(port).__name__, state.result(), run.state.name == "Completed")
"""


def test_the_embedded_orchestrator_is_called_in_process_and_serves_grpc_too(tmp_path):
    script = tmp_path / "port_flow.py"
    script.write_text(PORT_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_HOME"] = str(tmp_path / "home")
    for setting, port in (("true", "InProcessPort"), ("false", "GrpcPort")):
        env["CADENZA_IN_PROCESS"] = setting
        proc = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        assert f"PORT {port} 12 True" in proc.stdout, proc.stdout


def test_sigterm_crashes_a_running_top_level_flow(tmp_path, orchestrator):
    script = tmp_path / "term.py"
    script.write_text(
        textwrap.dedent(
            """
        import sys, time
        from executor import flow
        from executor.context import get_run_context

        @flow
        def forever():
            print(get_run_context().flow_run.id, flush=True)
            time.sleep(30)

        forever()
        """
        )
    )
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    flow_run_id = proc.stdout.readline().strip()
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "TerminationSignal" in err
    from executor.client import get_client

    state = get_client().read_flow_run(flow_run_id).state
    assert state.type.value == "CRASHED"
    assert state.message == "Execution was aborted by a termination signal."


def test_api_token_is_sent_as_bearer_metadata(tmp_path):
    import re

    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env.update(CADENZA_API_TOKEN="s3cret", CADENZA_HOME=str(tmp_path / "home"))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(tmp_path / "auth.db"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        address = None
        for _ in range(50):
            match = re.search(r"listening on (\S+)", server.stdout.readline())
            if match:
                address = match.group(1)
                break
        assert address
        script = tmp_path / "auth_flow.py"
        script.write_text(
            "from executor import flow\n\n@flow\ndef hello():\n    return 'hi'\n\nprint(hello())\n"
        )
        ok = subprocess.run(
            [sys.executable, str(script)],
            env={**env, "CADENZA_ORCHESTRATOR": address},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ok.returncode == 0 and ok.stdout.strip().endswith("hi"), ok.stderr
        env_without = {k: v for k, v in env.items() if k != "CADENZA_API_TOKEN"}
        denied = subprocess.run(
            [sys.executable, str(script)],
            env={**env_without, "CADENZA_ORCHESTRATOR": address},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert denied.returncode != 0 and "UNAUTHENTICATED" in denied.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
