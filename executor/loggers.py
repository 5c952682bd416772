"""Run loggers (Prefect's `prefect.logging.loggers`). Records logged through a run logger
(get_run_logger, log_prints) are batched and written to the orchestrator through the engine's
port, where they can be read back per run."""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import datetime as _dt
import logging
import sys
from collections.abc import Iterator
from typing import Any

from executor import settings
from executor._logship import ship
from executor.context import FlowRunContext, MissingContextError, TaskRunContext
from executor.objects import LogEntry

_installed = False
_CONSOLE = "cadenza-console"  # the name of the console handler on the "cadenza" logger


class OrchestratorHandler(logging.Handler):
    """Hands the records that belong to a run to the log shipper (executor._logship). The stored
    line is the message followed by its traceback, if any (exc_info, stack_info); a record
    logged with extra={"send_to_api": False} (or Prefect's older "send_to_orion") is not stored,
    though the console still prints it."""

    def emit(self, record: logging.LogRecord) -> None:
        flow_run_id = getattr(record, "flow_run_id", None)
        if not flow_run_id:
            return
        if not getattr(record, "send_to_api", True) or not getattr(record, "send_to_orion", True):
            return
        try:
            entry = LogEntry(
                flow_run_id,
                getattr(record, "task_run_id", None) or None,
                record.name,
                record.levelno,
                self.format(record),  # the default format: the message, then the traceback
                _dt.datetime.fromtimestamp(record.created, _dt.UTC),
            )
        except Exception:  # a message that cannot be formatted: logging's own error report
            self.handleError(record)
            return
        ship(entry)


class RunLoggerAdapter(logging.LoggerAdapter):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def install_handlers() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    root = logging.getLogger("cadenza")
    level = settings.logging_level()
    root.setLevel(level)
    handler = OrchestratorHandler()
    logging.getLogger("cadenza.flow_runs").addHandler(handler)
    logging.getLogger("cadenza.task_runs").addHandler(handler)
    if not any(h.name == _CONSOLE for h in root.handlers):
        console = logging.StreamHandler(sys.stderr)
        console.name = _CONSOLE
        console.setFormatter(
            logging.Formatter(
                "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s", "%H:%M:%S"
            )
        )
        root.addHandler(console)


def run_logger(
    flow_run_id: str | None = None, task_run_id: str | None = None, **extra: Any
) -> RunLoggerAdapter:
    install_handlers()
    name = "cadenza.task_runs" if task_run_id else "cadenza.flow_runs"
    return RunLoggerAdapter(
        logging.getLogger(name), {"flow_run_id": flow_run_id, "task_run_id": task_run_id, **extra}
    )


def flow_run_logger(flow_run: Any, flow: Any = None, **extra: Any) -> RunLoggerAdapter:
    """The logger of a flow run, given the run (Prefect's `flow_run_logger`)."""
    names = {"flow_run_name": flow_run.name, "flow_name": flow.name if flow is not None else "<unknown>"}
    return run_logger(flow_run_id=flow_run.id, **{**names, **extra})


def task_run_logger(task_run: Any, task: Any = None, **extra: Any) -> RunLoggerAdapter:
    """The logger of a task run, given the run (Prefect's `task_run_logger`)."""
    names = {"task_run_name": task_run.name, "task_name": task.name if task is not None else "<unknown>"}
    return run_logger(flow_run_id=task_run.flow_run_id, task_run_id=task_run.id, **{**names, **extra})


def get_run_logger(**extra: Any) -> RunLoggerAdapter:
    """The logger of the current flow or task run; its records are stored with the run."""
    task_ctx = TaskRunContext.get()
    if task_ctx is not None:
        return task_run_logger(task_ctx.task_run, task_ctx.task, **extra)
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None:
        return flow_run_logger(flow_ctx.flow_run, flow_ctx.flow, **extra)
    raise MissingContextError("There is no active flow or task run context.")


# -- log_prints: print() inside a run goes to the run logger ---------------------------------------
_print_target: contextvars.ContextVar[bool] = contextvars.ContextVar("cadenza_log_prints", default=False)
_original_print = builtins.print


def _dispatching_print(
    *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
) -> None:
    if _print_target.get() and file in (None, sys.stdout, sys.stderr):
        try:
            logger = get_run_logger()
        except MissingContextError:
            logger = None
        if logger is not None:
            logger.info((sep if sep is not None else " ").join(str(a) for a in args))
            return
    _original_print(*args, sep=sep, end=end, file=file, flush=flush)


@contextlib.contextmanager
def _print_mode(enabled: bool) -> Iterator[None]:
    if enabled and builtins.print is not _dispatching_print:
        builtins.print = _dispatching_print
    token = _print_target.set(enabled)
    try:
        yield
    finally:
        _print_target.reset(token)


def print_mode(enabled: bool) -> Any:
    """Route print() to the run logger (or stop doing so) for the duration of a run."""
    if enabled == _print_target.get():
        return contextlib.nullcontext()
    return _print_mode(enabled)
