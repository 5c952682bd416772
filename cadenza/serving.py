"""What both services do to come up and go down: one gRPC server with the optional token,
standard health checking and reflection, bound plaintext or TLS; and waiting for SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from . import transport
from .auth import BearerTokenInterceptor
from .decoding import register_checked

# Never share a port with another process (SO_REUSEPORT): a second server on a busy port
# would "start" and then split the calls with the first.
_EXCLUSIVE_PORT = ("grpc.so_reuseport", 0)


async def start_grpc_server(
    add_servicer: Callable[[grpc.aio.Server], None],
    service_name: str,
    host: str,
    port: int,
    api_token: str = "",
    options: list | None = None,
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Start a server for one service; return it, the bound port and its health servicer."""
    interceptors = [BearerTokenInterceptor(api_token)] if api_token else []
    server = grpc.aio.server(interceptors=interceptors, options=[*(options or []), _EXCLUSIVE_PORT])
    register_checked(add_servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((service_name, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        bound = transport.add_port(server, f"{host}:{port}")
    except RuntimeError as exc:  # grpc raises RuntimeError when it cannot bind
        raise OSError(f"could not bind {host}:{port}: is another process using that port?") from exc
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}: is another process using that port?")
    await server.start()
    for name in (service_name, ""):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound, health_servicer


async def wait_for_stop_signal() -> None:
    """Return on SIGTERM or SIGINT, so the caller can shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
