"""`python -m orchestrator serve [--host H] [--port P] [--db PATH|postgresql://...]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from cadenza.settings import exit_on_error, log_level, port_number, without_password

from .config import ServerConfig, database_location, settings
from .store.postgres_url import EXPECTED


def _parser() -> argparse.ArgumentParser:
    # Defaults stay None: the help is built without reading the environment, and an option
    # given on the command line wins over its variable.
    parser = argparse.ArgumentParser(prog="python -m orchestrator", description="Cadenza orchestrator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the orchestrator gRPC service")
    serve.add_argument("--host", help="bind address (CADENZA_ORCHESTRATOR_HOST, default 127.0.0.1)")
    serve.add_argument(
        "--port", type=port_number, help="port, 0 picks a free one (CADENZA_ORCHESTRATOR_PORT, default 4300)"
    )
    serve.add_argument(
        "--db",
        help="SQLite file or postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
        "(CADENZA_ORCHESTRATOR_DB, default $CADENZA_HOME/cadenza.db)",
    )
    serve.add_argument(
        "--standby",
        action="store_true",
        default=None,
        help="serve nothing while other orchestrators serve the database; take over once none does "
        "(CADENZA_ORCHESTRATOR_STANDBY; without it, PostgreSQL replicas serve side by side)",
    )
    serve.add_argument(
        "--log-level", type=log_level, help="DEBUG logs every decision (CADENZA_LOG_LEVEL, default INFO)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with exit_on_error("orchestrator"):
        config = ServerConfig.from_env()
        level = args.log_level or settings().log_level
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    config.host = args.host or config.host
    config.port = args.port if args.port is not None else config.port
    config.standby = args.standby or config.standby
    if args.db:
        # Checked here rather than by argparse, whose message would quote a password.
        try:
            config.database = database_location(args.db)
        except ValueError as exc:
            print(
                f"orchestrator: --db {without_password(args.db)!r} is not valid ({exc}): expected {EXPECTED}",
                file=sys.stderr,
            )
            return 2
    from .rpc.server import serve as run_server
    from .store.errors import StoreError

    try:
        with exit_on_error("orchestrator"):  # e.g. a TLS file that went away since the check
            asyncio.run(run_server(config))
    except (OSError, StoreError) as exc:
        print(f"cannot start the orchestrator: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
