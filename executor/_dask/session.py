"""A Dask client, and the temporary cluster it may have started, for one flow run.

Dask runs on an asyncio loop of its own thread, not on the engine loop: a LocalCluster's
scheduler lives in this process, and its work must not delay the engine's proposals. The
engine loop reaches it through `run()`, which it awaits without blocking.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("cadenza.dask")

# A temporary LocalCluster serves no dashboard unless asked (Dask's default listens on every
# interface). It listens on 127.0.0.1 by Dask's own default (or in process, without processes).
LOCAL_CLUSTER_DEFAULTS = {"dashboard_address": None}


class DaskLost(RuntimeError):
    """Dask did not give back a task run's result: a worker died, the cluster went away, or the
    worker could not load what was shipped."""


def cluster_class_of(spec: Any) -> Any:
    """`cluster_class` as given: None (LocalCluster), a class or callable, or its dotted path."""
    if spec is None:
        from distributed import LocalCluster

        return LocalCluster
    if isinstance(spec, str):
        module, _, name = spec.rpartition(".")
        if not module:
            raise ValueError(
                f"cluster_class {spec!r} is not a dotted path such as 'distributed.LocalCluster'"
            )
        return getattr(importlib.import_module(module), name)
    return spec


class DaskSession:
    """Open with `await DaskSession.open(...)` on any loop; `run` and `close` likewise."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="cadenza-dask", daemon=True)
        self._thread.start()
        self.client: Any = None
        self.cluster: Any = None  # only when this session started it
        self._runs: set[asyncio.Task] = set()  # submissions awaiting their result (Dask loop only)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    async def _on_dask_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    @classmethod
    async def open(
        cls,
        address: str | None,
        cluster_class: Any,
        cluster_kwargs: dict,
        adapt_kwargs: dict,
        client_kwargs: dict,
    ) -> DaskSession:
        session = cls()
        try:
            await session._on_dask_loop(
                session._connect(address, cluster_class, cluster_kwargs, adapt_kwargs, client_kwargs)
            )
        except BaseException:
            await session.close()
            raise
        return session

    async def _connect(
        self,
        address: str | None,
        cluster_class: Any,
        cluster_kwargs: dict,
        adapt_kwargs: dict,
        client_kwargs: dict,
    ) -> None:
        from distributed import Client, LocalCluster

        target: Any = address
        if address is None:
            make = cluster_class_of(cluster_class)
            kwargs = dict(cluster_kwargs)
            if make is LocalCluster:
                kwargs = {**LOCAL_CLUSTER_DEFAULTS, **kwargs}
            cluster = make(asynchronous=True, **kwargs)
            if inspect.isawaitable(cluster):  # SpecCluster (LocalCluster) starts when awaited
                cluster = await cluster
            self.cluster = target = cluster
            if adapt_kwargs:
                adapting = cluster.adapt(**adapt_kwargs)
                if inspect.isawaitable(adapting):
                    await adapting
            log.debug("Started a temporary Dask cluster at %s", cluster.scheduler_address)
        # Not the default client: the flow's own Dask code (if any) keeps using its own.
        kwargs = {"set_as_default": False, **client_kwargs}
        self.client = await Client(target, asynchronous=True, **kwargs)

    @property
    def scheduler_address(self) -> str:
        return str(self.client.scheduler.address) if self.client is not None else ""

    async def run(self, fn: Any, args: tuple, key: str) -> Any:
        """`fn(*args)` on a Dask worker; its return value. Awaited from the engine loop."""
        return await self._on_dask_loop(self._run(fn, args, key))

    async def _run(self, fn: Any, args: tuple, key: str) -> Any:
        if self.client is None:
            raise DaskLost(f"the Dask client was closed before {key!r} could be submitted")
        this = asyncio.current_task()
        assert this is not None
        self._runs.add(this)
        try:
            return await self.client.submit(fn, *args, key=key, pure=False)
        except Exception as exc:
            # The worker function catches the task's own errors; what arrives here is Dask's
            # (a lost worker, a closed cluster: FutureCancelledError is an Exception).
            raise DaskLost(f"Dask could not run {key!r}: {type(exc).__name__}: {exc}") from exc
        finally:
            self._runs.discard(this)

    async def close(self) -> None:
        """Close the client, then the cluster this session started; stop the Dask loop."""
        try:
            await self._on_dask_loop(self._close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)

    async def _close(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        runs = list(self._runs)
        for closable in (client, cluster):
            if closable is None:
                continue
            try:
                await closable.close()
            except Exception:  # closing is best effort: the flow run has ended either way
                log.debug("Closing %r failed", closable, exc_info=True)
        # Runs still out (the flow run ended by an error) now fail with DaskLost: let them say
        # so to the engine loop before this loop stops, so their futures end Crashed.
        if runs:
            _, left = await asyncio.wait(runs, timeout=5)
            for task in left:
                task.cancel()
