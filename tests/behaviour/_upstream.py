"""Tasks used by both upstream modules (test_upstream_*.py)."""

from __future__ import annotations

from executor import task


@task
def fails():
    raise ValueError("boom")


@task
def identity(x):
    return x
