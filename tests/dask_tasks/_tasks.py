"""Tasks the Dask tests run; each says which process it ran in where that matters."""

from __future__ import annotations

import asyncio
import os
import time

from executor import get_run_logger, task
from executor.tasks import task_input_hash


@task
def inc(x):
    return x + 1


@task
def pid_of(_item=None):
    return os.getpid()


@task
def nests():
    return inc(1)  # a nested task: not on a Dask worker


@task
def total(values):
    return sum(values)


@task
def fails():
    raise ValueError("this task fails")


@task
def describe(value):
    return f"{type(value).__name__}: {value}"


@task(retries=2)
def fails_with_retries():
    raise RuntimeError(f"attempt in {os.getpid()} failed")


@task(cache_key_fn=task_input_hash)
def cached_square(nonce, x):
    return {"square": x * x, "pid": os.getpid()}


@task(timeout_seconds=0.5)
def sleeps_too_long():
    time.sleep(3)
    return "never seen"


@task
def logs_a_line(text):
    get_run_logger().info("from a Dask worker: %s", text)
    return os.getpid()


@task
def sleeps_then_notes(seconds):
    time.sleep(seconds)
    return time.time()


@task
async def async_inc(x):
    await asyncio.sleep(0.01)
    return x + 1, os.getpid()
