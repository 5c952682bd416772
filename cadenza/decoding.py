"""Undecodable request bodies answered INVALID_ARGUMENT, for every RPC of a service.

gRPC turns a request that fails to decode into UNKNOWN (unary) or silently ends the stream.
Registering a servicer through `register_checked` wraps each method's deserializer so that a
body that is not the method's request message reaches the method as a marker (`Undecodable`),
and is refused with INVALID_ARGUMENT and a message naming the message type: by the wrapper for
methods taking one request, by the method itself for methods taking a stream of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError


class Undecodable:
    """What a method receives in place of a request body that did not decode."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _deserializer(inner: Callable[[bytes], Any], method: str) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return inner(data)
        except DecodeError as exc:
            return Undecodable(f"the request body is not a valid {method} request message: {exc}")

    return deserialize


async def refuse(context: grpc.aio.ServicerContext, request: Undecodable) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)


def _wrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    if handler.request_deserializer is None:
        return handler
    # Methods that take a stream of requests get the marker in their stream and refuse it
    # themselves (`refuse`): wrapping every message of a hot stream in another async
    # generator costs more than one isinstance check where the messages are read anyway.
    inner_unary_unary, inner_unary_stream = handler.unary_unary, handler.unary_stream

    async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            await refuse(context, request)
        return await inner_unary_unary(request, context)

    async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if isinstance(request, Undecodable):
            await refuse(context, request)
        async for response in inner_unary_stream(request, context):
            yield response

    return handler._replace(
        request_deserializer=_deserializer(handler.request_deserializer, method),
        unary_unary=unary_unary if inner_unary_unary else None,
        unary_stream=unary_stream if inner_unary_stream else None,
    )


class _CheckingGenericHandler(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self._inner = inner
        self._wrapped: dict[str, grpc.RpcMethodHandler | None] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        if method not in self._wrapped:
            found = self._inner.service(handler_call_details)
            self._wrapped[method] = _wrap(found, method.strip("/")) if found is not None else None
        return self._wrapped[method]


class _CheckingServer:
    """Stands in for the server while a generated `add_*Servicer_to_server` registers."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        wrapped = {name: _wrap(h, f"{service}/{name}") for name, h in handlers.items()}
        self._server.add_registered_method_handlers(service, wrapped)

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(tuple(_CheckingGenericHandler(h) for h in handlers))


def register_checked(add_servicer: Callable[[Any], None], server: grpc.aio.Server) -> None:
    """Register a servicer (`lambda s: add_XServicer_to_server(servicer, s)`) with every
    method refusing undecodable bodies as INVALID_ARGUMENT."""
    add_servicer(_CheckingServer(server))
