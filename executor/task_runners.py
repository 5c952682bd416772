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
from typing import TYPE_CHECKING, Any

from executor._engine.task_run import run_task
from executor.futures import PrefectFuture

if TYPE_CHECKING:
    from executor._engine.task_run import TaskCall
    from executor.states import State


class BaseTaskRunner(abc.ABC):
    _started = False

    @property
    def name(self) -> str:
        return type(self).__name__.replace("TaskRunner", "").lower()

    def duplicate(self) -> "BaseTaskRunner":
        """A new, unstarted runner with the same settings (override when __init__ takes any)."""
        return type(self)()

    # -- submissions ------------------------------------------------------------------------------
    @abc.abstractmethod
    def submit(self, call: "TaskCall") -> PrefectFuture:
        """Start the run of `call` from the submitting thread; give back `call.future`."""

    async def submit_async(self, call: "TaskCall") -> PrefectFuture:
        """Start the run of `call` from an async flow's loop, without blocking that loop."""
        return self.submit(call)

    async def wait(self, future: PrefectFuture, timeout: float | None = None) -> "State | None":
        """The run's final state, or None if it has not ended within `timeout` seconds."""
        state = future.get_state()
        if state is not None:
            return state
        if timeout is None:
            return await future._wait_engine()
        try:
            # shield: a timeout must not cancel the waiter other callers share.
            return await asyncio.wait_for(asyncio.shield(future._wait_engine()), timeout)
        except asyncio.TimeoutError:
            return None

    # -- lifetime: one flow run -------------------------------------------------------------------
    async def start(self) -> None:
        """Acquire what submissions need (a cluster, a client). Called once, on the engine loop."""

    async def stop(self, exc: BaseException | None) -> None:
        """Release what `start` acquired, never dropping a submitted run."""

    async def __aenter__(self) -> "BaseTaskRunner":
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

    def submit(self, call: "TaskCall") -> PrefectFuture:
        from executor._engine.calls import run_to_end

        run_to_end(call).unwrap()  # an interrupt inside the run ends the flow too
        return call.future

    async def submit_async(self, call: "TaskCall") -> PrefectFuture:
        from executor._engine.calls import run_to_end_async

        (await run_to_end_async(call)).unwrap()
        return call.future


class ConcurrentTaskRunner(BaseTaskRunner):
    """Submissions return at once; the runs go on side by side on the engine loop (sync
    functions on the shared thread pool, async ones on the flow's loop)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unfinished = 0  # admitted or queued, not ended (engine loop only)
        self._idle: asyncio.Future | None = None  # set when _unfinished drops to 0 during stop

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def submit(self, call: "TaskCall") -> PrefectFuture:
        loop = self._loop
        if loop is None:
            raise RuntimeError(f"{self!r} is not started: tasks are submitted from inside a flow run")
        # No waiting for the engine loop here: a fan-out submits at the speed of the caller.
        loop.call_soon_threadsafe(self._admit, call)
        return call.future

    def _admit(self, call: "TaskCall") -> None:
        self._unfinished += 1
        _admission.admit(self, call)

    def _run_ended(self) -> None:
        self._unfinished -= 1
        idle = self._idle
        if not self._unfinished and idle is not None and not idle.done():
            idle.set_result(None)

    async def stop(self, exc: BaseException | None) -> None:
        # After a normal end every run has been waited for already; this only guards the rest.
        # When the flow run is torn down by an error, its runs go on and report their own
        # states, as they would without a runner.
        if exc is None and self._unfinished and self._loop is not None:
            self._idle = self._loop.create_future()
            await self._idle
        self._idle = None


# Submitted runs are admitted in submission order, at most MAX_IN_FLIGHT at a time in the whole
# process: a 100k-task fan-out then holds 100k small TaskCalls, not 100k suspended coroutines.
# FIFO admission cannot deadlock: a run's upstreams were submitted, hence admitted, before it.
MAX_IN_FLIGHT = 2000


class _Admission:
    """The engine loop's FIFO of concurrent task runs (engine loop only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # Strong references (the loop keeps only weak ones to its tasks), and who submitted each.
        self.running: dict[asyncio.Task, ConcurrentTaskRunner] = {}
        self.queued: collections.deque[tuple[ConcurrentTaskRunner, TaskCall]] = collections.deque()

    def admit(self, runner: ConcurrentTaskRunner, call: "TaskCall") -> None:
        if len(self.running) >= self.limit:
            self.queued.append((runner, call))
            return
        task = runner._loop.create_task(run_task(call))
        self.running[task] = runner
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        self.running.pop(task)._run_ended()
        while self.queued and len(self.running) < self.limit:
            self.admit(*self.queued.popleft())


_admission = _Admission(MAX_IN_FLIGHT)


def as_task_runner(spec: "BaseTaskRunner | type[BaseTaskRunner] | None") -> BaseTaskRunner:
    """`task_runner=` as given to @flow: None (concurrent), a runner class or an instance."""
    if spec is None:
        return ConcurrentTaskRunner()
    if isinstance(spec, type) and issubclass(spec, BaseTaskRunner):
        return spec()
    if isinstance(spec, BaseTaskRunner):
        return spec
    raise TypeError(f"task_runner must be a task runner class or instance, not {spec!r}")
