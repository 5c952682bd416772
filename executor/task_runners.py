"""Task runners: how the task runs a flow run submits (`.submit()`, `.map()`) are run.

Each flow run enters a duplicate of its flow's runner when it starts and leaves it when it ends;
in between the engine hands the runner every submission. Direct calls (`t(x)`) never reach the
runner: they run to their end where they are called.

What a runner implements (a Dask runner, say):

- `submit(call)`, in the thread that submitted (a sync flow's body, or an async flow's loop
  submitting a sync task), never on the engine loop: start the task run described by `call`
  and return `call.future`. Running it locally means awaiting `run_task(call)` on the engine
  loop. Whoever runs it must give the future its final state when the run ends (`run_task`
  does); a runner may return before the run ends (concurrent) or after (sequential).
- `submit_async(call)`, awaited on an async flow's own loop when it submits an async task: the
  same, without blocking that loop. The default calls `submit`, right for runners whose
  `submit` never waits.
- `wait(future, timeout)`, on the engine loop: the final state of a run submitted here, or None
  if it has not ended within `timeout` seconds. The flow run waits for its runs through it.
- `start()` and `stop(exc)`, on the engine loop, when the flow run enters and leaves the runner
  (`async with runner:`). `stop` must not lose a submitted run: each one still reaches its end
  and sets its future. `exc` is None when the flow run ended normally (it has waited for its
  runs), else the error or cancellation that is ending it.
- `duplicate()`: a fresh runner with the same settings (one per flow run); `name`.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from executor._engine.task_run import run_task
from executor.futures import PrefectFuture

if TYPE_CHECKING:
    from executor._dask.session import DaskSession
    from executor._engine.task_run import TaskCall
    from executor._runtime import Outcome
    from executor.states import State


class BaseTaskRunner(abc.ABC):
    """The interface described at the top of this module."""

    _started = False  # entered by a flow run; one at a time, so each run gets a duplicate()

    @property
    def name(self) -> str:
        return type(self).__name__.replace("TaskRunner", "").lower()

    def duplicate(self) -> BaseTaskRunner:
        """A new, unstarted runner with the same settings (override when __init__ takes any)."""
        return type(self)()

    # -- submissions ------------------------------------------------------------------------------
    @abc.abstractmethod
    def submit(self, call: TaskCall) -> PrefectFuture:
        """Start the run of `call` from the submitting thread; give back `call.future`."""

    async def submit_async(self, call: TaskCall) -> PrefectFuture:
        """Start the run of `call` from an async flow's loop, without blocking that loop."""
        return self.submit(call)

    async def wait(self, future: PrefectFuture, timeout: float | None = None) -> State | None:
        """The run's final state, or None if it has not ended within `timeout` seconds."""
        state = future.get_state()
        if state is not None:
            return state
        if timeout is None:
            return await future._wait_engine()
        try:
            # shield: a timeout must not cancel the waiter other callers share.
            return await asyncio.wait_for(asyncio.shield(future._wait_engine()), timeout)
        except TimeoutError:
            return None

    # -- lifetime: one flow run -------------------------------------------------------------------
    async def start(self) -> None:  # noqa: B027 (optional hook: most runners need nothing)
        """Acquire what submissions need (a cluster, a client). Called once, on the engine loop."""

    async def stop(self, exc: BaseException | None) -> None:  # noqa: B027 (optional hook)
        """Release what `start` acquired, never dropping a submitted run."""

    async def __aenter__(self) -> BaseTaskRunner:
        if self._started:
            raise RuntimeError(f"{self!r} is already in use by a flow run; give each one a duplicate()")
        await self.start()
        self._started = True
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self._started = False
        await self.stop(exc)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SequentialTaskRunner(BaseTaskRunner):
    """Each submission runs to its end before `.submit()` returns: strict call order, and a sync
    function runs in the flow's own thread, as a direct call would."""

    def submit(self, call: TaskCall) -> PrefectFuture:
        from executor._engine.calls import run_to_end

        outcome = run_to_end(call)
        if outcome.exc is not None:
            raise outcome.exc  # an interrupt inside the run ends the flow too
        return call.future

    async def submit_async(self, call: TaskCall) -> PrefectFuture:
        from executor._engine.calls import run_to_end_async

        outcome = await run_to_end_async(call)
        if outcome.exc is not None:
            raise outcome.exc
        return call.future


class ConcurrentTaskRunner(BaseTaskRunner):
    """Submissions return at once; the runs go on side by side on the engine loop (sync
    functions on the shared thread pool, async ones on the flow's loop)."""

    _loop: asyncio.AbstractEventLoop  # the engine loop, from start() on

    def __init__(self) -> None:
        # From start() on: `_admit(call)` on the engine loop, callable from any thread.
        self._admit_soon: Callable[[TaskCall], object] | None = None

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        # call_soon_threadsafe is generic over its callback's arguments, and mypy cannot infer
        # them through a partial: the one signature used here, named.
        call_soon: Callable[[Callable[[TaskCall], None], TaskCall], object] = loop.call_soon_threadsafe
        self._admit_soon = functools.partial(call_soon, self._admit)

    def submit(self, call: TaskCall) -> PrefectFuture:
        admit_soon = self._admit_soon
        if admit_soon is None:
            raise RuntimeError(f"{self!r} is not started: tasks are submitted from inside a flow run")
        # No waiting for the engine loop here: a fan-out submits at the speed of the caller.
        admit_soon(call)
        return call.future

    def _admit(self, call: TaskCall) -> None:
        if len(_running) >= MAX_IN_FLIGHT:
            _queued.append((self, call))
            return
        task = self._loop.create_task(self._run(call))
        _running[task] = self
        task.add_done_callback(_run_ended)

    def _run(self, call: TaskCall) -> Coroutine[Any, Any, Outcome]:
        """The coroutine that drives one admitted run on the engine loop."""
        return run_task(call)

    async def stop(self, exc: BaseException | None) -> None:
        # After a normal end the flow run has waited for its runs already; this guards the rest
        # (running, or queued behind other flows' runs). When the flow run is torn down by an
        # error, its runs go on and report their own states, as they would without a runner.
        if exc is None:
            await asyncio.sleep(0)  # submissions already handed to the loop get admitted first
        while exc is None:
            mine = [task for task, runner in _running.items() if runner is self]
            if not mine and any(runner is self for runner, _ in _queued):
                mine = list(_running)  # ours are queued behind these: wait for room
            if not mine:
                return
            await asyncio.wait(mine, return_when=asyncio.FIRST_COMPLETED)


# Concurrent runs are admitted to the engine loop in submission order, at most MAX_IN_FLIGHT at a
# time in the whole process: a 100k-task fan-out then holds 100k small TaskCalls, not 100k
# suspended coroutines. FIFO admission cannot deadlock: a run's upstreams were submitted, hence
# admitted, before it. Both structures belong to the engine loop.
MAX_IN_FLIGHT = 2000
# Strong references to the running asyncio tasks (the loop keeps only weak ones), with their runner.
_running: dict[asyncio.Task, ConcurrentTaskRunner] = {}
_queued: collections.deque[tuple[ConcurrentTaskRunner, TaskCall]] = collections.deque()


def _run_ended(task: asyncio.Task) -> None:
    del _running[task]
    while _queued and len(_running) < MAX_IN_FLIGHT:
        runner, call = _queued.popleft()
        runner._admit(call)


class DaskTaskRunner(ConcurrentTaskRunner):
    """Task runs on a Dask cluster, as prefect-dask's runner: `address=` an existing scheduler
    ("tcp://host:port"), or else a temporary cluster started when the flow run starts and
    closed when it ends: `cluster_class` (default `distributed.LocalCluster`, on 127.0.0.1
    without a dashboard unless `cluster_kwargs` says otherwise) made with `cluster_kwargs`,
    optionally adaptive (`adapt_kwargs`). `client_kwargs` go to `distributed.Client`.

    Each run is created in the flow's process (its upstreams resolved there); its attempts run
    in a Dask worker, which reports their states to the same orchestrator. The task's function
    and arguments travel pickled, so both must be picklable. Needs the `dask` extra."""

    def __init__(
        self,
        cluster_class: str | Callable[..., Any] | None = None,
        cluster_kwargs: dict | None = None,
        adapt_kwargs: dict | None = None,
        client_kwargs: dict | None = None,
        address: str | None = None,
    ) -> None:
        super().__init__()
        if address is not None and (cluster_class is not None or cluster_kwargs or adapt_kwargs):
            raise ValueError("DaskTaskRunner takes an address or a cluster to start, not both")
        if client_kwargs and "asynchronous" in client_kwargs:
            raise ValueError("client_kwargs cannot set 'asynchronous': the runner decides it")
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = dict(adapt_kwargs or {})
        self.client_kwargs = dict(client_kwargs or {})
        self._session: DaskSession | None = None

    def _settings(self) -> tuple:
        return (self.address, self.cluster_class, self.cluster_kwargs, self.adapt_kwargs, self.client_kwargs)

    def duplicate(self) -> DaskTaskRunner:
        return DaskTaskRunner(
            self.cluster_class, self.cluster_kwargs, self.adapt_kwargs, self.client_kwargs, self.address
        )

    @property
    def scheduler_address(self) -> str:
        """The scheduler this runner submits to, while a flow run is in it."""
        return self._session.scheduler_address if self._session is not None else ""

    async def start(self) -> None:
        from executor._dask.session import DaskSession

        self._session = await DaskSession.open(
            self.address, self.cluster_class, self.cluster_kwargs, self.adapt_kwargs, self.client_kwargs
        )
        await super().start()

    def _run(self, call: TaskCall) -> Coroutine[Any, Any, Outcome]:
        from executor._dask.shipping import run_on_dask

        # None: admitted after stop() (queued behind other flows' runs when this one failed).
        return run_task(call, functools.partial(run_on_dask, self._session))

    async def stop(self, exc: BaseException | None) -> None:
        # A normal end waits for every run first; after an error the cluster closes under the
        # runs still out, whose futures then end Crashed.
        try:
            await super().stop(exc)
        finally:
            session, self._session = self._session, None
            if session is not None:
                await session.close()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DaskTaskRunner) and self._settings() == other._settings()

    def __hash__(self) -> int:
        return hash((type(self), self.address))

    def __repr__(self) -> str:
        where = f"address={self.address!r}" if self.address else f"cluster_kwargs={self.cluster_kwargs!r}"
        return f"DaskTaskRunner({where})"


def as_task_runner(spec: BaseTaskRunner | type[BaseTaskRunner] | None) -> BaseTaskRunner:
    """`task_runner=` as given to @flow: None (concurrent), a runner class or an instance."""
    if spec is None:
        return ConcurrentTaskRunner()
    if isinstance(spec, type) and issubclass(spec, BaseTaskRunner):
        return spec()
    if isinstance(spec, BaseTaskRunner):
        return spec
    raise TypeError(f"task_runner must be a task runner class or instance, not {spec!r}")
