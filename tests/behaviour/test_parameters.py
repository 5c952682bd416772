"""Parameter validation: invalid or unknown parameters fail the run without running its body
(or raise in the caller), defaults, validate_parameters=False, the parameters of deployed
runs, and parameter names the decorators refuse."""

from __future__ import annotations

import asyncio

import pytest

from executor import flow, task
from executor.exceptions import ParameterTypeError, ReservedArgumentError, SignatureMismatchError
from executor.states import StateType

from ._util import flow_run_id, uniq

pytestmark = pytest.mark.timeout(30)


# 86 ------------------------------------------------------------------------------------------
def test_86_invalid_parameters_fail_the_run_without_running_the_body(client):
    calls = []

    @flow(name=uniq("params-86"))
    def f(x: int, y: int):
        calls.append((x, y))
        return x + y

    state = f("not-an-int", "nor-this", return_state=True)
    assert state.type == StateType.FAILED
    assert state.message.startswith("Validation of flow parameters failed with error:")
    assert "ParameterTypeError: Flow run received invalid parameters" in state.message
    lines = [line.strip().lstrip("-").strip() for line in state.message.splitlines()]
    assert any(line.startswith("x") for line in lines), state.message  # one line per field
    assert any(line.startswith("y") for line in lines), state.message
    with pytest.raises(ParameterTypeError):
        state.result()
    assert calls == []

    # The run exists in the orchestrator, already FAILED, and never ran.
    run = client.read_flow_run(flow_run_id(state))
    assert run.state.type == StateType.FAILED
    assert StateType.RUNNING not in [s.type for s in client.read_flow_run_states(run.id)]


def test_86_calling_with_invalid_parameters_raises():
    calls = []

    @flow(name=uniq("params-86r"))
    def f(x: int):
        calls.append(x)

    with pytest.raises(ParameterTypeError):
        f("nope")
    assert calls == []


def test_86_async_flow_with_invalid_parameters():
    @flow(name=uniq("params-86a"))
    async def f(x: int):
        return x

    with pytest.raises(ParameterTypeError):
        asyncio.run(f("nope"))


def test_86_unknown_parameter_names_raise_signature_mismatch():
    @flow(name=uniq("params-86s"))
    def f(x: int):
        return x

    with pytest.raises(SignatureMismatchError):
        f(1, z=2)


def test_86_parameters_with_defaults_may_be_left_out():
    @flow(name=uniq("params-86d"))
    def f(x: int, y: int = 2, z: str = "three"):
        return x, y, z

    assert f(1) == (1, 2, "three")
    assert f("1", z="zz") == (1, 2, "zz")


def test_86_validate_parameters_false_passes_raw_values():
    @flow(name=uniq("params-86n"), validate_parameters=False)
    def f(x: int):
        return x

    assert f("not-an-int") == "not-an-int"


# 87 ------------------------------------------------------------------------------------------
TYPED_FLOW = """
    from executor import flow

    @flow(persist_result=True)
    def typed(x: int):
        return x
"""


def test_87_deployment_run_parameters_are_coerced_or_fail_through_propose_state(client, deployments):
    coerced = deployments.run(TYPED_FLOW, "typed", {"x": "1"})
    run = deployments.wait_final(client, coerced)
    assert run.state.type == StateType.COMPLETED, run.state
    assert run.parameters == {"x": "1"} and run.state.result() == 1

    refused = deployments.run(TYPED_FLOW, "typed", {"x": "not-an-int"})
    run = deployments.wait_final(client, refused)
    assert run.state.type == StateType.FAILED, run.state
    assert run.state.message.startswith("Validation of flow parameters failed with error:")
    assert "ParameterTypeError" in run.state.message
    # Proposed like any state from Pending, after the claim; the body never ran.
    assert [s.type for s in client.read_flow_run_states(refused)] == [
        StateType.SCHEDULED, StateType.PENDING, StateType.FAILED,
    ]  # fmt: skip
    assert run.run_count == 0


# 88 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reserved", ["wait_for", "return_state"])
def test_88_reserved_parameter_names_are_refused_by_the_flow_decorator(reserved):
    namespace: dict = {}
    exec(f"def f({reserved}):\n    return 1\n", namespace)
    with pytest.raises(ReservedArgumentError):
        flow(name=uniq("params-88"))(namespace["f"])


@pytest.mark.parametrize("reserved", ["wait_for", "return_state"])
def test_88_reserved_parameter_names_are_refused_by_the_task_decorator(reserved):
    namespace: dict = {}
    exec(f"def t(x, {reserved}=None):\n    return x\n", namespace)
    with pytest.raises(ReservedArgumentError):
        task(namespace["t"])
    with pytest.raises(ReservedArgumentError):
        task(name="named")(namespace["t"])
