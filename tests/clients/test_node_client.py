"""The Node.js example client (examples/clients/node) against both services over real gRPC."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ._services import running_services

pytestmark = pytest.mark.timeout(300)

NODE_CLIENT = Path(__file__).resolve().parents[2] / "examples" / "clients" / "node"
LIFECYCLE = ["Pending", "Running", "Completed"]


@pytest.fixture(scope="session")
def node_client() -> Path:
    """The client's directory, its packages installed (`npm ci`) unless node_modules is current."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the Node.js client test needs Node.js 20+ and npm")
    installed = NODE_CLIENT / "node_modules" / ".package-lock.json"
    lock = NODE_CLIENT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: it is needed once to install the Node.js client's packages")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_CLIENT,
            capture_output=True,
            text=True,
            timeout=240,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    return NODE_CLIENT


def submit(
    node_client: Path, address: str, *args: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the client; CADENZA_API_TOKEN reaches it only through `env`."""
    if env is None:
        env = {key: value for key, value in os.environ.items() if key != "CADENZA_API_TOKEN"}
    return subprocess.run(
        ["node", "submit.js", "--address", address, *args],
        cwd=node_client,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def explain(done: subprocess.CompletedProcess, services) -> str:
    return (
        f"exit code {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}"
        f"--- executor log\n{services.log_tail('executor')}"
    )


def states_of(lines: list[str], kind: str) -> dict[str, list[str]]:
    """The state names printed for each run of `kind` ("flow" or "task"), in printed order."""
    runs: dict[str, list[str]] = {}
    for line in lines:
        match = re.fullmatch(rf"{kind} (\S+) -> (\w+)", line)
        if match:
            runs.setdefault(match.group(1), []).append(match.group(2))
    return runs


def test_submit_watch_and_read_a_flow_run(node_client, services):
    done = submit(
        node_client,
        services.executor,
        "--entrypoint",
        "tests.clients.flows:add_numbers",
        "--params",
        '{"a": 2, "b": 4}',
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, explain(done, services)

    flows = states_of(lines, "flow")
    tasks = states_of(lines, "task")
    assert len(flows) == 1, explain(done, services)
    assert sorted(tasks) == ["add-0", "total_of-0"], explain(done, services)
    for states in [*flows.values(), *tasks.values()]:  # a flow run may show Scheduled first
        assert [state for state in states if state in LIFECYCLE] == LIFECYCLE, explain(done, services)

    assert lines[-1] == 'RESULT {"total": 6}', explain(done, services)


def test_log_lines_of_the_flow_are_streamed(node_client, services):
    done = submit(
        node_client,
        services.executor,
        "--entrypoint",
        "tests.clients.flows:add_numbers",
        "--params",
        '{"a": 2, "b": 4}',
    )
    assert done.returncode == 0, explain(done, services)
    assert "log INFO adding 2 and 4" in done.stdout.splitlines(), explain(done, services)


def test_unknown_deployment_is_not_found(node_client, services):
    done = submit(node_client, services.executor, "--deployment", "no-such-deployment")
    assert done.returncode == 2, explain(done, services)
    assert done.stderr.startswith("ERROR NOT_FOUND: "), explain(done, services)
    assert "RESULT" not in done.stdout


def test_token_is_sent_as_bearer_metadata(node_client, tmp_path):
    with running_services(tmp_path, CADENZA_API_TOKEN="s3cret") as secured:
        wrong = submit(node_client, secured.executor, "--deployment", "nothing", "--token", "guess")
        assert wrong.returncode == 2, explain(wrong, secured)
        assert wrong.stderr.startswith("ERROR UNAUTHENTICATED: "), explain(wrong, secured)

        # Past authentication (the token comes from the environment here), the request is answered.
        right = submit(
            node_client,
            secured.executor,
            "--deployment",
            "nothing",
            env={**os.environ, "CADENZA_API_TOKEN": "s3cret"},
        )
        assert right.returncode == 2, explain(right, secured)
        assert right.stderr.startswith("ERROR NOT_FOUND: "), explain(right, secured)
