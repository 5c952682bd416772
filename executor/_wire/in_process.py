"""`InProcessPort`: the engine's port to an orchestrator running in the same process, on the
engine's own event loop (the embedded default).

It speaks the same messages as `GrpcPort` and gets the same answers, decided and committed the
same way, but hands each request to the orchestrator's servicer directly: no HTTP/2 framing, no
socket, no thread hand-off. The orchestrator's gRPC server stays up for every other client (the
CLI, another process, Dask workers), at `address`.
"""

from __future__ import annotations

import itertools
from typing import Any

import grpc

from cadenza.v1 import orchestrator_pb2 as opb
from executor import settings
from executor._wire.port import GrpcPort
from executor._wire.stream import CODE_NAMES
from executor.exceptions import OrchestratorError


class _Context:
    """What a servicer method is handed instead of a gRPC context: an abort raises the same
    error a gRPC client would see."""

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class _Stub:
    """The servicer's unary methods, called the way `OrchestratorStub`'s are."""

    def __init__(self, servicer: Any) -> None:
        self._servicer = servicer

    def __getattr__(self, method: str) -> Any:
        handler = getattr(self._servicer, method)

        async def call(request: Any, metadata: Any = None, timeout: float | None = None) -> Any:
            return await handler(request, _Context())

        return call


class _Requests:
    """The ProposeStates stream's requests, each answered by the servicer as the stream
    answers it (`answer`), without the stream."""

    reconnects = 0

    def __init__(self, servicer: Any) -> None:
        self._servicer = servicer
        self._ids = itertools.count(1)

    async def request(self, **oneof: Any) -> Any:
        msg = opb.ProposeStatesRequest(request_id=next(self._ids), **oneof)
        resp = await self._servicer.answer(msg)
        kind = resp.WhichOneof("response")
        if kind == "error":
            raise OrchestratorError(CODE_NAMES.get(resp.error.code, "UNKNOWN"), resp.error.message)
        return getattr(resp, kind)

    async def close(self) -> None:
        return None


class InProcessPort(GrpcPort):
    def __init__(self, running: Any) -> None:
        """`running`: the orchestrator's RunningServer, started on this (the engine's) loop."""
        self.address = running.address
        self.retry_seconds = settings.orchestrator_retry_seconds()
        self._running = running
        self._metadata = ()
        self._stub = _Stub(running.servicer)  # type: ignore[assignment]  # the stub's shape
        self.stream = _Requests(running.servicer)  # type: ignore[assignment]
        self.lease_epoch = 0

    async def close(self) -> None:
        # Every answered change is durable already; this drains what is queued and lets go of
        # the database, so the next process (or a CLI) can serve it.
        await self._running.stop(grace=1.0)
