"""`cadenza`: the command line, mirroring Prefect's CLI where it has one."""

from __future__ import annotations

import argparse

from cadenza.settings import address, log_level, port_number

from . import commands, services
from ._rpc import reported_errors
from .settings import settings

# Commands that talk to running services; the others start services, which check their own.
_CLIENT_COMMANDS = {"deploy", "run", "flow-run", "concurrency-limit", "demo"}


def _parser() -> argparse.ArgumentParser:
    # Option defaults stay None: `--help` is built without reading the environment, and an
    # option left out falls back to its CADENZA_* variable when the command runs.
    parser = argparse.ArgumentParser(prog="cadenza", description="Cadenza workflow engine")
    sub = parser.add_subparsers(dest="command", required=True)
    level_help = "DEBUG, INFO, WARNING, ERROR or CRITICAL (CADENZA_LOG_LEVEL, default INFO)"

    orch = sub.add_parser("orchestrator", help="the orchestrator service")
    orch.add_argument("action", choices=["serve"])
    orch.add_argument("rest", nargs=argparse.REMAINDER, help="options of `python -m orchestrator serve`")

    ex = sub.add_parser("executor", help="the executor service (and its worker)")
    ex.add_argument("action", choices=["serve"])
    ex.add_argument("--host")
    ex.add_argument(
        "--port", type=port_number, help="port, 0 picks a free one (CADENZA_EXECUTOR_PORT, default 4301)"
    )
    ex.add_argument(
        "--orchestrator",
        type=address,
        help="host:port of the orchestrator, or of its replicas as host1:port1,host2:port2 (CADENZA_ORCHESTRATOR)",
    )
    ex.add_argument(
        "--max-runs", type=int, help="concurrent flow runs (CADENZA_EXECUTOR_MAX_RUNS, default 4)"
    )
    ex.add_argument("--log-level", type=log_level, help=level_help)

    st = sub.add_parser("start", help="run both services in the foreground; Ctrl-C stops both")
    st.add_argument("--orchestrator-port", type=port_number, help="CADENZA_ORCHESTRATOR_PORT, default 4300")
    st.add_argument("--executor-port", type=port_number, help="CADENZA_EXECUTOR_PORT, default 4301")
    st.add_argument("--log-level", type=log_level, help=level_help)

    dm = sub.add_parser(
        "demo", help="start both services, run an example flow through the Executor RPC, stop"
    )
    dm.add_argument("--examples", default="examples")

    dp = sub.add_parser("deploy", help="create or update a deployment of a flow")
    dp.add_argument("entrypoint", help="path/to/file.py:flow or package.module:flow")
    dp.add_argument("--name", required=True)
    dp.add_argument("--param", action="append", help="default parameter name=value (repeatable)")
    dp.add_argument("--tag", action="append")
    when = dp.add_mutually_exclusive_group()
    when.add_argument("--interval", type=float, help="run every N seconds")
    when.add_argument("--cron", help="run on a cron schedule (UTC)")

    rn = sub.add_parser("run", help="run a deployment through the executor")
    rn.add_argument("deployment")
    rn.add_argument("--param", action="append", help="parameter name=value (repeatable)")
    rn.add_argument("--watch", action="store_true", help="stream the run's states until it ends")

    fr = sub.add_parser("flow-run", help="inspect and control flow runs")
    fr.add_argument("action", choices=["ls", "inspect", "watch", "cancel", "resume"])
    fr.add_argument("id", nargs="?")
    fr.add_argument("--limit", type=int, default=50)
    fr.add_argument("--input", help="JSON handed to a resumed flow")

    cl = sub.add_parser("concurrency-limit", help="tag concurrency limits")
    cl.add_argument("action", choices=["create", "inspect", "ls", "delete"])
    cl.add_argument("tag", nargs="?")
    cl.add_argument("limit", nargs="?", type=int)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with reported_errors():
        if args.command in _CLIENT_COMMANDS:
            settings()  # a bad value stops the command before it does anything
        if args.command == "orchestrator":
            return services.orchestrator_serve(args.rest)
        if args.command == "executor":
            return services.executor_serve(args)
        if args.command == "start":
            return services.start(args)
        if args.command == "demo":
            return services.demo(args)
        if args.command == "deploy":
            commands.deploy(args)
            return 0
        if args.command == "run":
            return commands.run(args)
        if args.command == "flow-run":
            return commands.exit_code(commands.flow_run(args))
        if args.command == "concurrency-limit":
            commands.concurrency_limit(args)
            return 0
    return 2
