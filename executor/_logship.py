"""Shipping run log records to the orchestrator.

The run loggers' handler (executor.loggers) hands each record to `ship`; records wait in one
buffer for the process and go out in batches through the port of the runtime that is attached.
The runtime attaches its engine loop and port when it is installed, and flushes what is left
when it shuts down; the engine flushes before a run's final state, so a watcher sees the
run's lines before its end. With no runtime attached, records wait for the next flush.
"""

from __future__ import annotations

import asyncio
import sys
import threading

from executor._port import OrchestratorPort
from executor.objects import LogEntry

_BATCH = 200  # records waiting: sent at once instead of after _INTERVAL seconds
_INTERVAL = 0.5  # seconds a record waits for others to go with it
_WRITE = 1000  # records per write to the orchestrator

_lock = threading.Lock()
_buffer: list[LogEntry] = []
_scheduled = False  # a flush is on its way (or waits for a runtime to flush)
_loop: asyncio.AbstractEventLoop | None = None
_port: OrchestratorPort | None = None


def attach(loop: asyncio.AbstractEventLoop, port: OrchestratorPort) -> None:
    """Send records through `port`, from `loop` (the engine loop, to which the port belongs)."""
    global _loop, _port
    with _lock:
        _loop, _port = loop, port


def detach() -> None:
    """No runtime: records wait in the buffer until the next flush."""
    global _loop, _port
    with _lock:
        _loop = _port = None


def ship(entry: LogEntry) -> None:
    """Buffer a record (from any thread); the first one waiting schedules a flush."""
    global _scheduled
    with _lock:
        _buffer.append(entry)
        if _scheduled:
            return
        _scheduled = True
        delay = 0.0 if len(_buffer) >= _BATCH else _INTERVAL
        loop, port = _loop, _port
    if loop is not None and port is not None:
        loop.call_soon_threadsafe(_flush_later, loop, port, delay)


def _flush_later(loop: asyncio.AbstractEventLoop, port: OrchestratorPort, delay: float) -> None:
    loop.call_later(delay, _start_flush, loop, port)


def _start_flush(loop: asyncio.AbstractEventLoop, port: OrchestratorPort) -> None:
    loop.create_task(flush(port))


async def flush(port: OrchestratorPort) -> None:
    """Send every buffered record through `port`, on the loop it belongs to. Logs never break
    a run: a failed write is reported on stderr and its records are dropped."""
    global _scheduled
    with _lock:
        batch = _buffer[:]
        _buffer.clear()
        _scheduled = False
    if not batch:
        return
    try:
        for i in range(0, len(batch), _WRITE):
            await port.write_logs(batch[i : i + _WRITE])
    except Exception as exc:
        sys.stderr.write(f"cadenza: could not send {len(batch)} log records: {exc}\n")
