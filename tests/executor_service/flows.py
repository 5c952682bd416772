"""Flows the executor-service tests run, by entrypoint (`tests.executor_service.flows:NAME`,
allowed through CADENZA_ALLOWED_ENTRYPOINTS) or deployed by this file's path."""

from __future__ import annotations

import os
import time

from executor import flow, get_run_context, get_run_logger, pause_flow_run, task


@task
def double(x: int) -> int:
    return 2 * x


@flow(persist_result=True)
def arithmetic(x: int, y: int = 1) -> dict:
    return {"x": x, "y": y, "doubled_plus_y": double(x) + y}


class Opaque:
    """A value only Python can read back."""

    def __init__(self, value: int) -> None:
        self.value = value


@flow(persist_result=True)
def python_only(kind: str = "set"):
    return {1, 2, 3} if kind == "set" else Opaque(7)


@task
def chatty(n: int) -> int:
    get_run_logger().info("chatty task got %s", n)
    return n + 1


@flow
def child_flow(n: int) -> int:
    return chatty(n)


@flow(persist_result=True)
def parent_flow(n: int = 1) -> int:
    first = chatty(n)
    return child_flow(first) + 0


@flow
def typed(count: int) -> int:
    return count


@task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@flow
def sleepy_loop(steps: int = 60, seconds: float = 0.3) -> int:
    for _ in range(steps):
        nap(seconds)
    return steps


@task
def write_pid_and_sleep(pid_file: str, seconds: float) -> None:
    with open(pid_file + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
    time.sleep(seconds)


@flow
def pid_then_sleep(pid_file: str, seconds: float = 60) -> None:
    """Publishes the pid of the process running it, then blocks in a task (ignoring cancels)."""
    write_pid_and_sleep(pid_file, seconds)


@flow
def append_run_id(path: str) -> str:
    run_id = get_run_context().flow_run.id
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{run_id}\n".encode())
    finally:
        os.close(fd)
    return run_id


@flow(persist_result=True)
def pause_here(timeout: float = 20) -> str:
    double(1)
    given = pause_flow_run(timeout=timeout, poll_interval=0.2)
    double(2)
    return "resumed" if given is None else given


@flow(persist_result=True)
def pause_and_reschedule(marker: str, timeout: float = 30) -> int:
    """Counts its executions in `marker` (one line each), pausing out of process once."""
    fd = os.open(marker, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.close(fd)
    double(1)
    pause_flow_run(reschedule=True, timeout=timeout)
    double(2)
    with open(marker) as fh:
        return len(fh.read().splitlines())


@flow
def quick() -> str:
    return "ok"


@flow
def parent_of_sleepy(steps: int = 60, seconds: float = 0.3) -> int:
    return sleepy_loop(steps, seconds)


@flow
def one_chatty_task(n: int = 1) -> int:
    return chatty(n)


@flow
def timed_section(path: str, seconds: float = 0.3) -> None:
    """Appends when it starts and ends, to check how many runs overlap."""
    run_id = get_run_context().flow_run.id
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{run_id} start {time.time()}\n".encode())
        time.sleep(seconds)
        os.write(fd, f"{run_id} end {time.time()}\n".encode())
    finally:
        os.close(fd)


SLOT_TAG = "executor-service-slot"


@task(tags=[SLOT_TAG])
def hold_slot_and_sleep(pid_file: str, seconds: float) -> None:
    write_pid_and_sleep.fn(pid_file, seconds)


@flow
def slot_holder(pid_file: str, seconds: float = 60) -> None:
    """Like pid_then_sleep, in a task that holds a slot of the SLOT_TAG concurrency limit."""
    hold_slot_and_sleep(pid_file, seconds)


@flow
def always_fails() -> None:
    raise ValueError("this flow always fails")


def _note_cancellation(flow, flow_run, state) -> None:
    with open(flow_run.parameters["marker"], "w") as fh:
        fh.write(state.type.value)


@flow(on_cancellation=[_note_cancellation])
def pause_with_cancel_hook(marker: str, timeout: float = 20) -> str:
    """Pauses in process; its on_cancellation hook writes the final state type to `marker`."""
    pause_flow_run(timeout=timeout, poll_interval=0.2)
    return "resumed"


class Rejected(Exception):
    """An error of the user's own, named by its module in what a run raised."""


@task
def reject(reason: str) -> None:
    raise Rejected(reason)


@flow(persist_result=True)
def fails_in_task(reason: str = "not today") -> None:
    reject(reason)
