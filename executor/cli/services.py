"""Starting the services: each alone, both together (`cadenza start`), and the demo."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from .._allowlist import VARIABLE as ALLOWLIST_VARIABLE
from ._rpc import CommandError
from .settings import settings

_LISTENING = re.compile(r"listening on (\S+:\d+)")


def _listening_address(process: subprocess.Popen[str]) -> str | None:
    """The address a service started with stdout=PIPE names in its first line, if it does."""
    assert process.stdout is not None, "started with stdout=PIPE"
    match = _LISTENING.search(process.stdout.readline())
    return match.group(1) if match else None


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )


def orchestrator_serve(extra: list[str]) -> int:
    """`cadenza orchestrator serve ...` runs `python -m orchestrator serve ...` in this process's place."""
    os.execv(sys.executable, [sys.executable, "-m", "orchestrator", "serve", *extra])
    return 0  # pragma: no cover


def executor_serve(args) -> int:
    from ..service.config import ExecutorConfig
    from ..service.config import settings as service_settings
    from ..service.server import serve

    config = ExecutorConfig.from_env()
    _setup_logging(args.log_level or service_settings().log_level)
    config.host, config.port = args.host or config.host, args.port if args.port is not None else config.port
    if args.orchestrator:
        config.orchestrator = args.orchestrator
    if args.max_runs is not None:
        config.max_concurrent_runs = args.max_runs
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"cannot start the executor: {exc}", file=sys.stderr)
        return 1
    return 0


class OrchestratorProcess:
    """The orchestrator as a child process, on a port it picks itself when asked for 0."""

    def __init__(self, port: int | None, db: str | None = None, stderr=None) -> None:
        cmd = [sys.executable, "-m", "orchestrator", "serve"]
        if port is not None:
            cmd += ["--port", str(port)]
        if db:
            cmd += ["--db", db]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
        address = _listening_address(self.process)
        if address is None:
            self.process.kill()
            raise CommandError(f"the orchestrator did not start (exit code {self.process.wait()})")
        self.address = address

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start(args) -> int:
    """Both services in the foreground; Ctrl-C (or SIGTERM) stops both cleanly."""
    from ..service.config import ExecutorConfig
    from ..service.config import settings as service_settings
    from ..service.server import serve

    config = ExecutorConfig.from_env()
    _setup_logging(args.log_level or service_settings().log_level)
    # Without --orchestrator-port the orchestrator reads CADENZA_ORCHESTRATOR_PORT itself.
    orch = OrchestratorProcess(args.orchestrator_port)
    print(f"Cadenza orchestrator listening on {orch.address}", flush=True)
    config.orchestrator = orch.address
    if args.executor_port is not None:
        config.port = args.executor_port
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    finally:
        orch.stop()
    print("Stopped both services.", flush=True)
    return 0


def demo(args) -> int:
    """Start both services, deploy the example flows, run one through the Executor RPC and
    stream its states to the terminal, then stop everything."""
    from cadenza.v1 import executor_pb2 as epb
    from cadenza.v1 import orchestrator_pb2 as pb

    from .._load import absolute_entrypoint, load_flow
    from . import _rpc
    from .commands import watch_run

    examples = Path(args.examples).resolve()
    entrypoint = f"{examples / 'demo_etl.py'}:etl"
    # The services' own logs go to a file, so the terminal shows the run as a client sees it.
    log_path = settings().home / "demo-services.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    service_log = open(log_path, "w")
    orch = OrchestratorProcess(0, stderr=service_log)
    executor_env = dict(os.environ)
    # The executor may load the example flows wherever --examples points (by default they lie
    # in its working directory anyway); an allowlist the user set is left as it is.
    executor_env.setdefault(ALLOWLIST_VARIABLE, str(examples))
    executor = subprocess.Popen(
        [sys.executable, "-m", "executor", "serve", "--port", "0", "--orchestrator", orch.address],
        stdout=subprocess.PIPE,
        stderr=service_log,
        text=True,
        env=executor_env,
    )
    try:
        address = _listening_address(executor)
        if address is None:
            raise CommandError("the executor did not start")
        os.environ["CADENZA_ORCHESTRATOR"] = orch.address
        os.environ["CADENZA_EXECUTOR"] = address
        print(f"orchestrator on {orch.address}, executor on {address} (service logs: {log_path})")
        flow = load_flow(entrypoint)
        _rpc.orchestrator().CreateDeployment(
            pb.CreateDeploymentRequest(
                name="demo-etl",
                flow_name=flow.name,
                entrypoint=absolute_entrypoint(entrypoint),
                parameters_json='{"rows": 5}',
            )
        )
        print("deployed examples/demo_etl.py:etl as 'demo-etl'; submitting a run through the Executor RPC")
        resp = _rpc.executor().SubmitFlowRun(epb.SubmitFlowRunRequest(deployment_name="demo-etl"))
        code = watch_run(resp.flow_run_id)
        details = _rpc.executor().ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=resp.flow_run_id))
        print(f"result: {details.result_json if details.has_result else details.result_note}")
        return code
    finally:
        executor.terminate()
        executor.wait(timeout=15)
        orch.stop()
        service_log.close()
