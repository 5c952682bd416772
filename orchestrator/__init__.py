"""Cadenza's orchestrator: the single source of truth about runs.

    core/    decisions without I/O (machines, rules, policies, bookkeeping)
    app/     the application layer (create, propose, commit, notify, leases, deployments ...)
    store/   the Store interface, its errors, SQLite and PostgreSQL
    rpc/     the gRPC edge (servicers, conversions, status codes, the server)

Start it with `python -m orchestrator serve`, or in-process with `BackgroundServer.start()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rpc.server import BackgroundServer, serve, start_server

__all__ = ["BackgroundServer", "running_orchestrator", "serve", "start_server"]


def running_orchestrator(db_path: str) -> str | None:
    """The address of the live orchestrator that serves this SQLite database, if there is one
    (it may still be starting: then the address is empty)."""
    from .store.ownership import find_owner

    owner = find_owner(db_path)
    return owner.address if owner is not None else None


def __getattr__(name: str) -> Any:
    # The server pulls in grpc; importing `orchestrator.core` alone must not.
    if name in ("BackgroundServer", "serve", "start_server"):
        from .rpc import server

        return getattr(server, name)
    raise AttributeError(name)
