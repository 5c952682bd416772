"""The engine's hot path: one ProposeStates bidi stream per process, multiplexing every run.

Requests are correlated by request_id. When the stream drops, it is reopened and every request
still waiting for its answer is sent again unchanged: proposals carry a transition_id and
creations an idempotency key, so the orchestrator answers a repeat with its first answer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any

import grpc

from cadenza.v1 import orchestrator_pb2 as opb
from executor.exceptions import OrchestratorError, OrchestratorUnreachable

log = logging.getLogger("cadenza.engine")

_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}

# Status codes by number, as an Error answer on the stream carries them.
CODE_NAMES = {c.value[0]: c.name for c in grpc.StatusCode}


class ProposalStream:
    def __init__(
        self,
        open_call: Callable[[], Any],
        max_backoff: float = 2.0,
        address: str = "",
        give_up_after: float = float("inf"),
    ) -> None:
        self._open_call = open_call  # returns a fresh grpc.aio StreamStreamCall
        self._address = address
        # Requests wait this long for an orchestrator that does not answer, then fail: a
        # script ends with an error instead of hanging, and a run is left to its lease.
        self._give_up_after = give_up_after
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future, opb.ProposeStatesRequest]] = {}
        self._outbox: list[opb.ProposeStatesRequest] = []
        self._wakeup = asyncio.Event()  # set when the outbox has something to write
        self._runner: asyncio.Task | None = None
        self._closed = False
        self._max_backoff = max_backoff
        self._call: Any = None
        self._answered = 0
        self.reconnects = 0

    async def request(self, **oneof: Any) -> Any:
        """Send one request and return the inner response message (raises OrchestratorError)."""
        if self._closed:
            raise RuntimeError("The engine's orchestrator connection is closed")
        rid = next(self._ids)
        req = opb.ProposeStatesRequest(request_id=rid, **oneof)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = (fut, req)
        self._outbox.append(req)
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())
        self._wakeup.set()
        try:
            resp = await fut
        finally:
            self._pending.pop(rid, None)
        kind = resp.WhichOneof("response")
        if kind == "error":
            raise OrchestratorError(CODE_NAMES.get(resp.error.code, "UNKNOWN"), resp.error.message)
        return getattr(resp, kind)

    async def _run(self) -> None:
        try:
            await self._connect_and_serve()
        finally:
            self._runner = None  # the next request starts again, with a fresh window

    async def _connect_and_serve(self) -> None:
        backoff = 0.05
        loop = asyncio.get_running_loop()
        down_since: float | None = None
        while not self._closed:
            call = self._open_call()
            self._call = call
            self._answered = 0
            # One writer and one reader per connection; whichever ends first means the stream
            # is broken (a write on a cancelled call may never return, so never wait on it alone).
            writer = loop.create_task(self._write(call))
            reader = loop.create_task(self._read(call))
            try:
                done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                writer.cancel()
                reader.cancel()
                call.cancel()
                raise
            writer.cancel()
            reader.cancel()
            call.cancel()
            why = "the stream closed"
            for finished in done:
                exc = None if finished.cancelled() else finished.exception()
                if isinstance(exc, grpc.aio.AioRpcError):
                    why = exc.details() or exc.code().name
                    if exc.code() not in _RETRYABLE:
                        self._fail_all(OrchestratorError(exc.code().name, why))
                log.debug("ProposeStates stream dropped (%r); reconnecting", exc)
            if self._closed:
                return
            self.reconnects += 1
            now = loop.time()
            if self._answered or down_since is None:
                backoff = 0.05  # the stream was working: this is a fresh failure
                down_since = now
            if now - down_since >= self._give_up_after:
                log.error(
                    "No orchestrator answered at %s for %.3gs; giving up", self._address, now - down_since
                )
                self._fail_all(OrchestratorUnreachable(self._address, why, now - down_since))
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)
            # Everything unanswered goes out again, in the original order.
            self._outbox = [entry[1] for _, entry in sorted(self._pending.items())]

    async def _write(self, call: Any) -> None:
        wakeup = self._wakeup
        pending = self._pending
        while True:
            if not self._outbox:
                wakeup.clear()
                await wakeup.wait()  # set by request()
                continue
            batch, self._outbox = self._outbox, []
            batch = [req for req in batch if req.request_id in pending]
            if len(batch) == 1:
                await call.write(batch[0])
            elif batch:
                # Everything ready goes in one envelope message: one gRPC write, not many.
                envelope = opb.ProposeStatesRequest()
                envelope.more.extend(batch)
                await call.write(envelope)

    async def _read(self, call: Any) -> None:
        pending = self._pending
        while True:
            resp = await call.read()
            if resp is grpc.aio.EOF:
                raise ConnectionError("ProposeStates stream closed by the orchestrator")
            self._answered += 1
            for answer in resp.more if resp.more else (resp,):
                entry = pending.get(answer.request_id)
                if entry is not None and not entry[0].done():
                    entry[0].set_result(answer)

    def _fail_all(self, err: BaseException) -> None:
        for fut, _ in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(err)
        self._pending.clear()

    async def close(self) -> None:
        self._closed = True
        if self._runner is not None:
            self._runner.cancel()
            try:
                await self._runner
            except (asyncio.CancelledError, Exception):
                pass
        if self._call is not None:
            self._call.cancel()
        self._fail_all(RuntimeError("The engine's orchestrator connection is closed"))
