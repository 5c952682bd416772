"""Run the orchestrator: gRPC server with health checking, reflection and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health

from cadenza.collector import tune_collector
from cadenza.serving import start_grpc_server, wait_for_stop_signal
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

from ..app import Orchestrator
from ..app.background import start_loops
from ..config import ServerConfig, cadenza_home
from ..store.base import Store
from ..store.choice import StoreOwnership, describe, store_for
from ..store.ownership import StoreInUse
from .servicer import OrchestratorServicer

log = logging.getLogger("cadenza.orchestrator")
# How often a standby tries to take the database over.
STANDBY_POLL_SECONDS = 0.25

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Orchestrator"].full_name

# Long-lived streams (ProposeStates, WatchFlowRun) need client keepalives to be allowed.
SERVER_OPTIONS = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    host: str
    orchestrator: Orchestrator
    store: Store
    health: health.aio.HealthServicer
    lock: StoreOwnership
    # The servicer behind the gRPC server, for a caller in the same process and on the same
    # event loop to call without the network (the embedded default's engine).
    servicer: OrchestratorServicer | None = None
    loops: list[asyncio.Task] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        for task in self.loops:
            task.cancel()
        await self.server.stop(grace)
        # Every answered decision is already durable; this drains what is still queued.
        try:
            await self.store.close()
        finally:
            self.lock.release()


async def start_server(config: ServerConfig) -> RunningServer:
    # transitions logs every state change at INFO; decisions are logged by us at DEBUG.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    database = config.database or str(cadenza_home() / "cadenza.db")
    store, lock = store_for(database, config.db_synchronous, config.standby)
    if config.standby:
        await _stand_by(lock, describe(database))
    else:
        lock.acquire()  # a SQLite file refuses a second orchestrator, naming the holder
    try:
        store.open()
    except BaseException:
        lock.release()
        raise
    orchestrator = Orchestrator(
        store, config.policy, config.late_runs_after_seconds, config.lease_takeover_grace_seconds
    )
    servicer = OrchestratorServicer(orchestrator)
    try:
        server, port, health_servicer = await start_grpc_server(
            lambda s: pb_grpc.add_OrchestratorServicer_to_server(servicer, s),
            SERVICE_NAME,
            config.host,
            config.port,
            config.api_token,
            options=SERVER_OPTIONS,
        )
    except OSError:
        await store.close()
        lock.release()
        raise
    running = RunningServer(server, port, config.host, orchestrator, store, health_servicer, lock, servicer)
    lock.publish(running.address)
    running.loops += start_loops(orchestrator, pause_interval=config.pause_check_interval_seconds)
    if orchestrator.replicas is not None:
        running.loops.append(asyncio.get_running_loop().create_task(orchestrator.replicas.listen()))
    return running


async def _stand_by(lock: StoreOwnership, database: str) -> None:
    """Wait until the orchestrator serving the database stops, then hold it. Nothing listens
    meanwhile, so clients given both addresses keep using the one that serves."""
    waiting = False
    while True:
        try:
            await asyncio.to_thread(lock.acquire)
        except StoreInUse as exc:
            if not waiting:
                log.info("standing by: %s; taking over when it stops", exc)
                waiting = True
            await asyncio.sleep(STANDBY_POLL_SECONDS)
            continue
        if waiting:
            log.warning("taking over %s: the orchestrator that served it stopped", database)
        return


async def serve(config: ServerConfig, announce=print) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    running = await start_server(config)
    tune_collector()  # after start-up: what it made lives as long as the process
    announce(f"Cadenza orchestrator listening on {running.address}", flush=True)
    log.info("database: %s", describe(config.database))
    await wait_for_stop_signal()
    log.info("shutting down")
    await running.stop(config.shutdown_grace_seconds)


class BackgroundServer:
    """An orchestrator on its own event loop in a daemon thread (embedded default, tests)."""

    def __init__(self, running: RunningServer, loop: asyncio.AbstractEventLoop, thread: threading.Thread):
        self._running = running
        self._loop = loop
        self._thread = thread
        self.address = running.address
        self.port = running.port

    @classmethod
    def start(
        cls,
        db_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        config: ServerConfig | None = None,
    ) -> BackgroundServer:
        """`db_path`: a SQLite file or a postgresql:// URL (else the config's database)."""
        config = config or ServerConfig.from_env()
        config.host, config.port = host, port
        if db_path:
            config.database = db_path
        loop = asyncio.new_event_loop()
        ready: dict = {}
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                ready["server"] = loop.run_until_complete(start_server(config))
            except BaseException as exc:  # surfaced to the caller below
                ready["error"] = exc
                started.set()
                return
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="cadenza-orchestrator", daemon=True)
        thread.start()
        started.wait()
        if "error" in ready:
            raise ready["error"]
        return cls(ready["server"], loop, thread)

    def stop(self, grace: float = 1.0) -> None:
        if not self._loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self._running.stop(grace), self._loop)
        with contextlib.suppress(Exception):
            future.result(timeout=grace + 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
