"""Cadenza's orchestrator: the single source of truth about runs.

    core/    decisions without I/O (machines, rules, policies, bookkeeping)
    app/     the application layer (create, propose, commit, notify, leases, deployments ...)
    store/   the Store interface, its errors, and SQLite
    rpc/     the gRPC edge (servicers, conversions, status codes, the server)

Start it with `python -m orchestrator serve`, or in-process with `BackgroundServer.start()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rpc.server import BackgroundServer, serve, start_server

__all__ = ["BackgroundServer", "serve", "start_server"]


def __getattr__(name: str) -> Any:
    # The server pulls in grpc; importing `orchestrator.core` alone must not.
    if name in __all__:
        from .rpc import server

        return getattr(server, name)
    raise AttributeError(name)
