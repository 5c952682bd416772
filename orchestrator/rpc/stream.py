"""ProposeStates: the engine's bidirectional stream of creations and proposals, each answered
as soon as it is decided and durable, tagged with its request id."""

from __future__ import annotations

import asyncio
import logging

import grpc

from cadenza.decoding import Undecodable, refuse
from cadenza.v1 import orchestrator_pb2 as pb

from ..app.errors import InvalidArgument, ServiceError
from ..store.errors import StoreError
from . import requests
from .runs import RunsRpc
from .status import status_code, store_unavailable

log = logging.getLogger("cadenza.orchestrator.rpc")


class StreamRpc(RunsRpc):
    """Builds on the unary RPCs on runs: a request on the stream is answered the same way."""

    async def answer(self, msg: pb.ProposeStatesRequest) -> pb.ProposeStatesResponse:
        """One request of the stream, answered (also called directly by an engine in this
        process, see executor/_wire/in_process.py)."""
        resp = pb.ProposeStatesResponse(request_id=msg.request_id)
        try:
            which = msg.WhichOneof("request")
            if which == "propose":
                kind, run_id, proposal = requests.proposal(msg.propose)
                answer = await self.orchestrator.proposals.propose(kind, run_id, proposal)
                resp.proposal.CopyFrom(requests.answer_pb(answer))
            elif which == "create_task_run":
                resp.task_run_created.CopyFrom(await self.create_task_run(msg.create_task_run))
            elif which == "create_flow_run":
                resp.flow_run_created.CopyFrom(await self.create_flow_run(msg.create_flow_run))
            else:
                raise InvalidArgument("request is empty: set propose, create_task_run or create_flow_run")
        except ServiceError as exc:
            resp.error.code = status_code(exc).value[0]
            resp.error.message = exc.message
        except StoreError as exc:
            resp.error.code = grpc.StatusCode.UNAVAILABLE.value[0]
            resp.error.message = store_unavailable(exc).message
        except Exception as exc:
            log.exception("stream request %s failed", msg.request_id)
            resp.error.code = grpc.StatusCode.INTERNAL.value[0]
            resp.error.message = f"request failed unexpectedly: {exc.__class__.__name__}"
        return resp

    async def ProposeStates(self, request_iterator, context):
        out: asyncio.Queue = asyncio.Queue()
        pending: set[asyncio.Task] = set()
        packing = False  # set once the client has sent an envelope

        async def handle(msg: pb.ProposeStatesRequest) -> None:
            out.put_nowait(await self.answer(msg))

        def start(msg: pb.ProposeStatesRequest) -> None:
            task = asyncio.create_task(handle(msg))
            pending.add(task)
            task.add_done_callback(pending.discard)

        async def read_requests() -> None:
            nonlocal packing
            try:
                async for msg in request_iterator:
                    if isinstance(msg, Undecodable):
                        out.put_nowait(msg)  # the stream ends, refused
                        return
                    if msg.WhichOneof("request") is not None or not msg.more:
                        start(msg)
                    if msg.more:
                        packing = True  # this client reads envelopes: answer in them too
                    for extra in msg.more:
                        start(extra)
                if pending:
                    await asyncio.gather(*list(pending), return_exceptions=True)
            finally:
                out.put_nowait(None)

        reader = asyncio.create_task(read_requests())
        try:
            while True:
                resp = await out.get()
                if resp is None:
                    break
                if isinstance(resp, Undecodable):
                    await refuse(context, resp)
                if out.empty() or not packing:
                    yield resp
                    continue
                # Answers ready together leave in one envelope message.
                envelope = pb.ProposeStatesResponse()
                envelope.more.append(resp)
                finished = False
                refusal: Undecodable | None = None
                while not out.empty():
                    extra = out.get_nowait()
                    if extra is None:
                        finished = True
                        break
                    if isinstance(extra, Undecodable):
                        refusal = extra  # the answers so far go out first, then the refusal
                        break
                    envelope.more.append(extra)
                yield envelope
                if refusal is not None:
                    await refuse(context, refusal)
                if finished:
                    break
        finally:
            reader.cancel()
