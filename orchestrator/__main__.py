"""`python -m orchestrator serve [--host H] [--port P] [--db PATH]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from .config import ServerConfig


def main(argv: list[str] | None = None) -> int:
    defaults = ServerConfig.from_env()
    parser = argparse.ArgumentParser(prog="python -m orchestrator", description="Cadenza orchestrator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the orchestrator gRPC service")
    serve.add_argument("--host", default=defaults.host, help="bind address (CADENZA_ORCHESTRATOR_HOST)")
    serve.add_argument(
        "--port", type=int, default=defaults.port, help="port, 0 picks a free one (CADENZA_ORCHESTRATOR_PORT)"
    )
    serve.add_argument("--db", default=defaults.db_path, help="SQLite file (CADENZA_ORCHESTRATOR_DB)")
    serve.add_argument("--log-level", default=os.environ.get("CADENZA_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    defaults.host, defaults.port, defaults.db_path = args.host, args.port, args.db
    from .rpc.server import serve as run_server

    try:
        asyncio.run(run_server(defaults))
    except OSError as exc:
        print(f"cannot start the orchestrator: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
