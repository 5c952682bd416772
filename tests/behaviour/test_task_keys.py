"""A task's key, as Prefect 2.20 makes it: the function's name plus a hash of its compiled code.
An edit of comments or layout keeps the key, so a cached result is found again after it; a
change of what the function does makes a new key."""

from __future__ import annotations

import textwrap

from executor import flow, task

from ._util import uniq

ORIGINAL = """
def weigh(x):
    return x * 2
"""
COMMENTED = """
def weigh(x):
    # Twice the input: the same code, another text.

    return x * 2
"""
CHANGED = """
def weigh(x):
    return x * 3
"""


def _function(source: str):
    """`weigh` defined from `source`, as a module would define it."""
    scope: dict = {}
    exec(compile(textwrap.dedent(source), "weights.py", "exec"), scope)  # noqa: S102 - test input
    return scope["weigh"]


def test_the_key_is_the_name_plus_a_hash_of_the_code():
    original = task(_function(ORIGINAL))
    assert original.task_key.startswith("weigh-")
    assert task(_function(COMMENTED)).task_key == original.task_key
    assert task(_function(CHANGED)).task_key != original.task_key


def test_a_comment_only_edit_still_finds_the_cached_result():
    key_fn = uniq("weigh-cache")

    def cache_key(context, arguments):
        return f"{key_fn}-{context.task.task_key}-{arguments['x']}"

    def run(weigh):
        @flow(name=uniq("weights"))
        def weights():
            state = weigh(5, return_state=True)
            return state.name, state.result()

        return weights()

    results = [
        run(task(_function(source), cache_key_fn=cache_key, persist_result=True))
        for source in (ORIGINAL, COMMENTED, CHANGED)
    ]
    assert results == [("Completed", 10), ("Cached", 10), ("Completed", 15)]
