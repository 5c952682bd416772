"""Where the orchestrator is: CADENZA_ORCHESTRATOR, or an in-process one started on first use.

The embedded orchestrator is the real gRPC service over SQLite under CADENZA_HOME, started
through the orchestrator package's public entry point; the engine still talks to it over gRPC.
"""

from __future__ import annotations

import threading
from typing import Any

from executor import settings

_lock = threading.Lock()
_server: Any = None


def orchestrator_address() -> str:
    configured = settings.orchestrator_address()
    if configured:
        return configured
    global _server
    with _lock:
        if _server is None:
            from orchestrator import BackgroundServer

            home = settings.home()
            home.mkdir(parents=True, exist_ok=True)
            _server = BackgroundServer.start(db_path=str(home / "cadenza.db"))
        return _server.address


def stop_embedded() -> None:
    global _server
    with _lock:
        if _server is not None:
            try:
                _server.stop()
            finally:
                _server = None
