"""Run the Executor service (and its worker) with health checking, reflection, graceful stop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health

from cadenza import transport
from cadenza.collector import tune_collector
from cadenza.serving import start_grpc_server, wait_for_stop_signal
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
    try:
        server, port, health_servicer = await start_grpc_server(
            lambda s: epb_grpc.add_ExecutorServicer_to_server(ExecutorServicer(stub, config), s),
            SERVICE_NAME,
            config.host,
            config.port,
            config.api_token,
            options=[("grpc.keepalive_permit_without_calls", 1)],
        )
    except OSError:
        await channel.close()
        raise
    worker = Worker(stub, config) if config.run_worker else None
    running = RunningExecutor(server, port, config.host, channel, health_servicer, worker)
    if worker is not None:
        running.tasks.append(asyncio.create_task(worker.run()))
    return running


async def serve(config: ExecutorConfig, announce=print) -> None:
    running = await start_executor(config)
    tune_collector()  # after start-up: what it made lives as long as the process
    announce(f"Cadenza executor listening on {running.address}", flush=True)
    log.info("orchestrator: %s; worker id: %s", config.orchestrator, config.worker_id)
    await wait_for_stop_signal()
    await running.stop()
