"""Run the Executor service (and its worker) with health checking, reflection, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cadenza import transport
from cadenza.auth import BearerTokenInterceptor
from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import executor_pb2_grpc as epb_grpc
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

from .config import ExecutorConfig
from .servicer import ExecutorServicer
from .worker import Worker

log = logging.getLogger("cadenza.executor")

SERVICE_NAME = epb.DESCRIPTOR.services_by_name["Executor"].full_name

CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30000),
    ("grpc.keepalive_timeout_ms", 10000),
    ("grpc.keepalive_permit_without_calls", 1),
]


@dataclass
class RunningExecutor:
    server: grpc.aio.Server
    port: int
    host: str
    channel: grpc.aio.Channel
    health: health.aio.HealthServicer
    worker: Worker | None
    tasks: list[asyncio.Task] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        if self.worker is not None:
            await self.worker.stop()
        for task in self.tasks:
            task.cancel()
        await self.server.stop(grace)
        await self.channel.close()


async def start_executor(config: ExecutorConfig) -> RunningExecutor:
    channel = transport.aio_channel(config.orchestrator, options=CHANNEL_OPTIONS)
    stub = pb_grpc.OrchestratorStub(channel)
    interceptors = [BearerTokenInterceptor(config.api_token)] if config.api_token else []
    server = grpc.aio.server(interceptors=interceptors, options=[("grpc.keepalive_permit_without_calls", 1)])
    epb_grpc.add_ExecutorServicer_to_server(ExecutorServicer(stub, config), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = transport.add_port(server, f"{config.host}:{config.port}")
    if port == 0:
        raise OSError(f"could not bind {config.host}:{config.port}")
    await server.start()
    for name in (SERVICE_NAME, ""):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    worker = Worker(stub, config) if config.run_worker else None
    running = RunningExecutor(server, port, config.host, channel, health_servicer, worker)
    if worker is not None:
        running.tasks.append(asyncio.create_task(worker.run()))
    return running


async def serve(config: ExecutorConfig, announce=print) -> None:
    running = await start_executor(config)
    announce(f"Cadenza executor listening on {running.address}", flush=True)
    log.info("orchestrator: %s; worker id: %s", config.orchestrator, config.worker_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop()
