"""Where the orchestrator is: CADENZA_ORCHESTRATOR; else the one already serving the database
under CADENZA_HOME (a database has one orchestrator); else an in-process one started on first
use, the real gRPC service over that database, started through the orchestrator package's
public entry point.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from executor import settings

log = logging.getLogger("cadenza.engine")

_lock = threading.Lock()
_server: Any = None


def orchestrator_address() -> str:
    configured = existing_orchestrator()
    if configured:
        return configured
    global _server
    with _lock:
        if _server is None:
            from orchestrator import BackgroundServer

            _server = BackgroundServer.start(db_path=database_path())
        return _server.address


def existing_orchestrator() -> str | None:
    """CADENZA_ORCHESTRATOR, or the address of the orchestrator already serving the database
    under CADENZA_HOME (this process's own, or another's); None: there is none yet."""
    configured = settings.orchestrator_address()
    if configured:
        return configured
    with _lock:
        if _server is not None:
            return _server.address
    db_path = database_path()
    running = _running_orchestrator(db_path)
    if running:
        log.debug("using the orchestrator at %s, which serves %s", running, db_path)
    return running


def database_path() -> str:
    home = settings.home()
    home.mkdir(parents=True, exist_ok=True)
    return str(home / "cadenza.db")


async def start_on_this_loop() -> Any:
    """The embedded orchestrator, started on the running loop (the engine's): its RunningServer."""
    from orchestrator import start_server
    from orchestrator.config import ServerConfig

    config = ServerConfig.from_env()
    config.host, config.port, config.database = "127.0.0.1", 0, database_path()
    return await start_server(config)


def _running_orchestrator(db_path: str) -> str | None:
    """The address of another process's orchestrator on this database; one still starting is
    given a few seconds to publish its address."""
    from orchestrator import running_orchestrator

    deadline = time.monotonic() + 10.0
    while True:
        address = running_orchestrator(db_path)
        if address is None or address or time.monotonic() > deadline:
            return address or None
        time.sleep(0.05)


def stop_embedded() -> None:
    global _server
    with _lock:
        if _server is not None:
            try:
                _server.stop()
            finally:
                _server = None
