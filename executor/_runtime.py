"""The engine thread: one asyncio loop owning the port to the orchestrator.

Everything that talks to the orchestrator runs here as coroutines. User code never runs on
this loop: sync functions run in the calling thread (through a `CallerPortal`) or on a shared
thread pool, async functions on the caller's own loop or on a background user loop.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import inspect
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from cadenza.collector import tune_collector
from executor import _logship, embedded, settings
from executor._engine.holding import RunHolder
from executor._port import OrchestratorPort

if TYPE_CHECKING:
    from executor._wire import Connection

T = TypeVar("T")
log = logging.getLogger("cadenza.engine")


class Runtime:
    """The engine loop and the port it talks through. `open_port` is called on the engine loop
    (a gRPC channel belongs to the loop it is opened on); `connect(address)` opens the gRPC port,
    a test can pass any other OrchestratorPort."""

    # How the port reaches the orchestrator (gRPC runtimes only): what a Dask worker is handed.
    connection: Connection | None = None

    def __init__(self, open_port: Callable[[], OrchestratorPort | Awaitable[OrchestratorPort]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="cadenza-engine", daemon=True)
        self.thread.start()
        workers = settings.task_threads()
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="cadenza-task")
        self._user_loop: asyncio.AbstractEventLoop | None = None
        self.task_loops = LoopPool("cadenza-task-loop", workers)
        self._user_lock = threading.Lock()
        self.port: OrchestratorPort = self.run(_on_loop(open_port))
        self.holder = RunHolder(self.port, settings.lease_seconds())
        tune_collector()  # the flow's modules and the engine are loaded: they stay

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    # -- crossing into the engine loop ---------------------------------------------------------
    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the engine loop and block the calling thread for its result."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("Runtime.run() called from the engine thread would deadlock")
        return self.submit(coro).result(timeout)

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine that must run on the engine loop, from any other loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def user_loop(self) -> asyncio.AbstractEventLoop:
        """A background loop for async user code that has no loop of its own (an async flow
        called from sync code, async hooks)."""
        with self._user_lock:
            if self._user_loop is None:
                self._user_loop = _loop_in_thread("cadenza-user-loop")
            return self._user_loop

    def flush_logs(self) -> None:
        """Send the run log records still waiting through this runtime's port."""
        self.run(_logship.flush(self.port), timeout=10)

    def close(self) -> None:
        try:
            self.run(self.port.close(), timeout=5)
        except Exception:  # closing is best effort, at exit
            log.debug("Closing the orchestrator port failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.pool.shutdown(wait=False, cancel_futures=True)


def _loop_in_thread(name: str) -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=_serve_until_stopped, args=(loop,), name=name, daemon=True).start()
    return loop


def _serve_until_stopped(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


class LoopPool:
    """Event loops, each in a thread of its own, for async task bodies. Prefect 2 runs each task
    run's function in a new thread, so a blocking call in one async task (time.sleep) holds up
    no other: a body gets an idle loop, or a new one while there are fewer than `size`; past
    that (a large fan-out) it shares the least busy loop, so threads stay bounded. A loop counts
    as busy until the body on it has ended (after a timeout's cancellation too)."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = max(1, size)
        self._busy: dict[asyncio.AbstractEventLoop, int] = {}  # loop -> bodies on it
        self._lock = threading.Lock()

    def acquire(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            busy = self._busy
            loop = min(busy, key=busy.__getitem__) if busy else None
            if loop is None or (busy[loop] and len(busy) < self.size):
                loop = _loop_in_thread(self.name)
                busy[loop] = 0
            busy[loop] += 1
            return loop

    def release(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._busy[loop] -= 1


async def _on_loop(fn: Callable[[], Any]) -> Any:
    made = fn()
    return await made if inspect.isawaitable(made) else made


def connect(address: str, connection: Connection | None = None) -> Runtime:
    """A runtime talking gRPC to the orchestrator at `address`, with the token and TLS roots of
    `connection` (by default this process's settings)."""
    from executor._wire import Connection, GrpcPort

    reach = connection or Connection.from_settings(address)
    rt = Runtime(lambda: GrpcPort(address, reach))
    rt.connection = reach
    return rt


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()
_atexit_registered = False


def get_runtime() -> Runtime:
    rt = _runtime
    if rt is not None:
        return rt
    with _runtime_lock:
        rt = _runtime
        if rt is None:
            rt = _embedded_or_connect()
            _install(rt)
        return rt


def _embedded_or_connect() -> Runtime:
    """Connect to the orchestrator there is; else start the embedded one, on the engine's loop
    and called directly (or, with CADENZA_IN_PROCESS=false, in a thread of its own)."""
    address = embedded.existing_orchestrator()
    if address is None and settings.in_process():
        from executor._wire.in_process import InProcessPort

        async def open_in_process() -> OrchestratorPort:
            return InProcessPort(await embedded.start_on_this_loop())

        from executor._wire import Connection

        rt = Runtime(open_in_process)
        # What a Dask worker is handed: the same orchestrator, through its gRPC server.
        rt.connection = Connection.from_settings(rt.port.address)  # type: ignore[attr-defined]
        return rt
    return connect(address or embedded.orchestrator_address())


def installed_runtime() -> Runtime | None:
    """The process's runtime if it has one; unlike get_runtime(), never connects."""
    return _runtime


def _install(rt: Runtime | None) -> None:
    global _runtime, _atexit_registered
    _runtime = rt
    if rt is None:
        _logship.detach()
        return
    _logship.attach(rt.loop, rt.port)  # run log records go out through this runtime
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(shutdown)


def install_runtime(rt: Runtime | None) -> Runtime | None:
    """Make `rt` the process's runtime (e.g. one over a fake port in a test); returns the
    runtime it replaces, which stays open (install it again to restore it)."""
    with _runtime_lock:
        previous = _runtime
        _install(rt)
    return previous


def shutdown() -> None:
    """Flush logs, close the port and stop the embedded orchestrator (idempotent)."""
    with _runtime_lock:
        rt = _runtime
        _install(None)
    if rt is not None:
        try:
            rt.flush_logs()
        except Exception:  # logs must never block the exit
            log.debug("Flushing run logs at exit failed", exc_info=True)
        rt.close()
    embedded.stop_embedded()


# -- running sync user code in the thread that is waiting ----------------------------------------
class Outcome:
    """A call's result or exception, carried across threads without raising on the engine loop
    (a KeyboardInterrupt raised inside an asyncio task would stop the loop itself)."""

    __slots__ = ("value", "exc")

    def __init__(self, value: Any = None, exc: BaseException | None = None) -> None:
        self.value = value
        self.exc = exc


def capture(fn: Callable[..., Any], *args: Any) -> Outcome:
    try:
        return Outcome(fn(*args))
    except BaseException as exc:  # noqa: B902 - every exception crosses the thread as data
        log.debug("%r raised %r; handed to the waiting caller", fn, exc)
        return Outcome(exc=exc)


class CallerPortal:
    """Lets a coroutine on the engine loop run callables in a thread that is blocked waiting
    for that coroutine (the flow body runs in the thread that called the flow)."""

    __slots__ = ("_queue", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._loop = loop

    async def call(self, fn: Callable[..., Any], *args: Any) -> Outcome:
        fut = self._loop.create_future()
        self._queue.put((fn, args, fut))
        return await fut

    def wait(self, cf: concurrent.futures.Future[T]) -> T:
        """Serve calls until `cf` (the driving coroutine) is done; return its result."""
        put = self._queue.put
        cf.add_done_callback(lambda _: put(None))
        get = self._queue.get
        loop = self._loop
        while True:
            item = get()
            if item is None:
                return cf.result()
            fn, args, fut = item
            out = capture(fn, *args)
            loop.call_soon_threadsafe(_resolve, fut, out)


def _resolve(fut: asyncio.Future, value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


async def run_in_thread(runtime: Runtime, fn: Callable[..., Any], *args: Any) -> Outcome:
    """Run a sync callable on the shared pool; the Outcome never raises on the engine loop."""
    return await asyncio.wrap_future(runtime.pool.submit(capture, fn, *args))


async def run_in_new_thread(fn: Callable[..., Any], *args: Any) -> Outcome:
    """A dedicated thread, for bodies that may outlive a timeout (sync flows with a timeout)."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def target() -> None:
        out = capture(fn, *args)
        loop.call_soon_threadsafe(_resolve, fut, out)

    threading.Thread(target=target, name="cadenza-flow-body", daemon=True).start()
    return await fut


async def run_on_loop(
    loop: asyncio.AbstractEventLoop, factory: Callable[[], Awaitable[Any]], pool: LoopPool | None = None
) -> Outcome:
    """Run an async user callable on its loop; cancelling this cancels the user task. A loop
    borrowed from `pool` goes back to it when the user task has ended."""

    async def wrapper() -> Outcome:
        try:
            return Outcome(await factory())
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: B902 - handed to the caller as data, as in capture()
            log.debug("Async call raised %r; handed to the waiting caller", exc)
            return Outcome(exc=exc)

    running = asyncio.run_coroutine_threadsafe(wrapper(), loop)
    if pool is not None:
        running.add_done_callback(lambda _: pool.release(loop))
    return await asyncio.wrap_future(running)
