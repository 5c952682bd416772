"""Flows that the client tests submit by entrypoint (the executor allows `tests.clients`)."""

from __future__ import annotations

from executor import flow, task
from executor.loggers import get_run_logger


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def total_of(value: int) -> dict:
    return {"total": value}


@flow
def add_numbers(a: int, b: int) -> dict:
    get_run_logger().info("adding %s and %s", a, b)
    return total_of(add(a, b))
