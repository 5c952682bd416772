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
    configured = settings.orchestrator_address()
    if configured:
        return configured
    global _server
    with _lock:
        if _server is not None:
            return _server.address
        home = settings.home()
        home.mkdir(parents=True, exist_ok=True)
        db_path = str(home / "cadenza.db")
        running = _running_orchestrator(db_path)
        if running:
            log.debug("using the orchestrator at %s, which serves %s", running, db_path)
            return running
        from orchestrator import BackgroundServer

        _server = BackgroundServer.start(db_path=db_path)
        return _server.address


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
