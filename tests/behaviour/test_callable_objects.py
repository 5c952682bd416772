"""Callable objects as tasks (Prefect 2.20's `Task` takes any callable): an instance with
`__call__` or a functools.partial runs like a function; without a `__name__` of its own, the
task is named after the object's class, and its task key does not depend on the object's
address, so it is the same in every process."""

from __future__ import annotations

import functools

import pytest

from executor import flow, task

from ._util import uniq

pytestmark = pytest.mark.timeout(30)


class Adder:
    """Adds a fixed amount."""

    def __init__(self, amount: int) -> None:
        self.amount = amount

    def __call__(self, x: int) -> int:
        return x + self.amount


def add(x: int, y: int) -> int:
    return x + y


def test_instance_with_call_is_named_after_its_class():
    adder = task(Adder(10))
    assert adder.name == "Adder"
    assert adder.description == "Adds a fixed amount."
    assert task(Adder(1), name="adds-one").name == "adds-one"
    named = Adder(1)
    named.__name__ = "add_one"  # type: ignore[attr-defined]
    assert task(named).name == "add_one"  # an object with a name of its own keeps it


def test_instance_with_call_runs_called_submitted_and_mapped(client):
    adder = task(Adder(10))

    @flow(name=uniq("callable-obj"))
    def host():
        state = adder(1, return_state=True)
        submitted = adder.submit(2).result()
        mapped = [f.result() for f in adder.map([3, 4])]
        return state, submitted, mapped

    state, submitted, mapped = host()
    assert state.result() == 11
    assert (submitted, mapped) == (12, [13, 14])
    run = client.read_task_run(str(state.state_details.task_run_id))
    assert run.name == "Adder-0"


def test_task_key_of_an_instance_does_not_depend_on_its_address():
    first, second = task(Adder(1)), task(Adder(2))
    assert first.task_key == second.task_key
    assert "Adder" in first.task_key
    assert hex(id(first.fn))[2:] not in first.task_key


def test_partial_is_a_task_named_partial():
    add_two = task(functools.partial(add, y=2))
    assert add_two.name == "partial"

    @flow(name=uniq("callable-partial"))
    def host():
        return add_two(5)

    assert host() == 7
