"""The lifecycle graphs, edge by edge, and the way they are fired."""

from __future__ import annotations

import pytest

from orchestrator.core import machines
from orchestrator.core.models import StateType

COLUMNS = "SCHEDULED PENDING RUNNING COMPLETED FAILED CRASHED CANCELLED CANCELLING PAUSED".split()

# 1 = the edge exists in the lifecycle; 0 = refused before any rule is consulted.
FLOW_EDGES = """
            S P R C F X D G Z
NONE        1 1 1 1 1 1 1 1 1
SCHEDULED   1 1 1 1 1 1 1 1 0
PENDING     1 1 1 1 1 1 1 1 0
RUNNING     1 1 1 1 1 1 1 1 1
COMPLETED   1 1 1 1 1 1 1 1 1
FAILED      1 1 1 1 1 1 1 1 1
CRASHED     1 1 1 1 1 1 1 1 1
CANCELLED   1 0 0 0 0 1 1 1 1
CANCELLING  0 0 0 0 0 0 1 0 0
PAUSED      1 0 1 1 1 1 1 1 0
"""

TASK_EDGES = """
            S P R C F X D G Z
NONE        1 1 1 1 1 1 1 1 1
SCHEDULED   1 1 1 1 1 1 1 1 1
PENDING     1 1 1 1 1 1 1 1 1
RUNNING     1 1 1 1 1 1 1 1 1
COMPLETED   1 1 1 1 1 1 1 1 1
FAILED      1 1 1 1 1 1 1 1 1
CRASHED     1 1 1 1 1 1 1 1 1
CANCELLED   0 0 0 0 0 1 1 1 1
CANCELLING  0 0 0 0 0 0 1 0 0
PAUSED      1 1 1 1 1 1 1 1 1
"""


def table(text: str):
    rows = [line.split() for line in text.strip().splitlines()[1:]]
    return [
        (None if row[0] == "NONE" else StateType(row[0]), StateType(col), cell == "1")
        for row in rows
        for col, cell in zip(COLUMNS, row[1:])
    ]


@pytest.mark.parametrize("from_type,to_type,exists", table(FLOW_EDGES))
def test_flow_run_edge(from_type, to_type, exists):
    assert machines.allows(machines.FLOW_RUN_MACHINE, from_type, to_type) is exists


@pytest.mark.parametrize("from_type,to_type,exists", table(TASK_EDGES))
def test_task_run_edge(from_type, to_type, exists):
    assert machines.allows(machines.TASK_RUN_MACHINE, from_type, to_type) is exists


@pytest.mark.parametrize("machine", [machines.FLOW_RUN_MACHINE, machines.TASK_RUN_MACHINE])
def test_machines_hold_no_models_and_no_implicit_edges(machine):
    assert machine.models == []  # nothing was registered (registering resets a model)
    assert not any(name.startswith("to_") for name in machine.events)  # auto_transitions off
    assert set(machine.states) == set(machines.STATES)


@pytest.mark.parametrize("graph", [machines.FLOW_RUN_GRAPH, machines.TASK_RUN_GRAPH])
def test_lifecycle_invariants(graph):
    assert set(graph[machines.NONE]) == set(machines.ANY)  # a new run may start anywhere
    assert graph[machines.CANCELLING] == (machines.CANCELLED,)
    # Out of CANCELLED only edges that a rule aborts, and the self-loop.
    assert set(graph[machines.CANCELLED]) <= {
        machines.CANCELLED,
        machines.S,
        machines.X,
        machines.CANCELLING,
        machines.PAUSED,
    }


def test_firing_is_side_effect_free_for_the_caller():
    # Each check fires on a fresh cursor: repeated checks give the same answer.
    for _ in range(3):
        assert machines.allows(machines.FLOW_RUN_MACHINE, StateType.RUNNING, StateType.FAILED)
        assert not machines.allows(machines.FLOW_RUN_MACHINE, StateType.CANCELLING, StateType.RUNNING)


def test_describe_lists_every_source():
    text = machines.describe(machines.FLOW_RUN_GRAPH)
    assert text.count("->") == len(machines.STATES)
    assert "CANCELLING -> CANCELLED" in text


@pytest.mark.parametrize("machine", [machines.FLOW_RUN_MACHINE, machines.TASK_RUN_MACHINE])
def test_remembered_verdicts_agree_with_firing_the_machine(machine):
    for from_type in [None, *StateType]:
        for to_type in StateType:
            assert machines.allows(machine, from_type, to_type) is machines.fire(machine, from_type, to_type)


def test_a_machine_with_guards_is_fired_every_time():
    from transitions import Machine

    gate = {"open": True}
    guarded = Machine(
        model=None,
        states=list(machines.STATES),
        auto_transitions=False,
        send_event=True,
        initial=machines.NONE,
        transitions=[
            {
                "trigger": "propose_running",
                "source": "PENDING",
                "dest": "RUNNING",
                "conditions": lambda event: gate["open"],
            }
        ],
    )
    assert machines.allows(guarded, StateType.PENDING, StateType.RUNNING)
    gate["open"] = False
    assert not machines.allows(guarded, StateType.PENDING, StateType.RUNNING)
