"""Pure units (no orchestrator): states, aggregation, results, parameters, input resolution."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect

import pydantic
import pytest

from executor import allow_failure, quote
from executor._engine.answers import MAX_WAIT_SECONDS, crash_message, wait_delay
from executor._params import Validator, bind, check_reserved, to_call_args
from executor._resolve import is_untrackable, resolve_parameters
from executor.exceptions import (
    CrashedRun,
    FailedRun,
    MissingResult,
    ParameterTypeError,
    PausedRun,
    ReservedArgumentError,
    SignatureMismatchError,
    UnfinishedRun,
    UpstreamTaskError,
)
from executor.results import LITERAL, PERSISTED, UNPERSISTED, ResultFactory, load_result
from executor.states import (
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Paused,
    Pending,
    Running,
    State,
    StateType,
    return_value_to_state,
)


def _real(state: State, run_id: str = "t") -> State:
    state.state_details.task_run_id = run_id
    return state


# -- states ------------------------------------------------------------------------------------
def test_result_of_unfinished_and_paused_states():
    with pytest.raises(UnfinishedRun):
        Running().result(raise_on_failure=False)
    with pytest.raises(PausedRun):
        Paused().result()


def test_result_of_a_failed_state_raises_its_exception_or_a_failed_run_error():
    err = ValueError("boom")
    assert Failed(data=err).result(raise_on_failure=False) is err
    with pytest.raises(ValueError):
        Failed(data=err).result()
    with pytest.raises(FailedRun, match="hello"):
        Failed(data="hello").result()
    with pytest.raises(FailedRun, match="msg"):
        Failed(message="msg").result()
    with pytest.raises(CrashedRun):
        Crashed(message="x", data=KeyboardInterrupt()).result()
    inner = _real(Failed(data=KeyError("k")))
    with pytest.raises(KeyError):
        Failed(data=[_real(Completed(data=1)), inner]).result()


def test_aggregation_messages():
    ok = _real(Completed(data=1))
    bad = _real(Failed(data=ValueError()))
    assert return_value_to_state([ok, ok]).message == "All states completed."
    s = return_value_to_state((bad, bad, ok))
    assert (s.type, s.message) == (StateType.FAILED, "2/3 states failed.")
    s = return_value_to_state([_real(Cancelled()), ok, bad])
    assert (s.type, s.message) == (StateType.CANCELLED, "1/3 states cancelled.")
    s = return_value_to_state([_real(Paused()), bad])
    assert s.type is StateType.PAUSED
    s = return_value_to_state(_real(Pending(name="NotReady")))
    assert s.message == "1/1 states are not final."
    # only the top level counts; hand-built states are used exactly as given
    assert return_value_to_state([[bad]]).type is StateType.COMPLETED
    built = State(StateType.FAILED, message="m", data=True)
    assert return_value_to_state(built) is built
    assert return_value_to_state(x for x in range(3)).result() == [0, 1, 2]


# -- results -----------------------------------------------------------------------------------
def test_result_refs(tmp_path):
    factory = ResultFactory(persist_result=False, storage=tmp_path)
    assert factory.create_ref(None).kind == LITERAL
    ref = factory.create_ref({"a": [1, 2]})
    assert ref.kind == UNPERSISTED and ref.json == '{"a": [1, 2]}'
    with pytest.raises(MissingResult):
        load_result(ref)
    ref = factory.create_ref(object, persist=True)
    assert ref.kind == PERSISTED and ref.serializer == "cloudpickle" and ref.json is None
    assert load_result(ref) is object
    jf = ResultFactory(persist_result=True, storage=tmp_path, serializer="json")
    ref = jf.create_ref([1, "x"])
    written = (tmp_path / ref.storage_key.rsplit("/", 1)[1]).read_bytes()
    assert ref.serializer == "json" and written.endswith(b'[1, "x"]')  # behind the signed header
    ref = jf.create_ref(ValueError("e"))  # exceptions have no JSON form: pickled instead
    assert ref.serializer == "cloudpickle" and isinstance(load_result(ref), ValueError)


# -- parameters --------------------------------------------------------------------------------
def test_bind_and_call_args_round_trip():
    def fn(a, b=2, *args, c, **kw):
        return a, b, args, c, kw

    sig = inspect.signature(fn)
    params = bind(sig, fn, (1, 5, 6, 7), {"c": 3, "z": 9})
    assert params == {"a": 1, "b": 5, "args": (6, 7), "c": 3, "kw": {"z": 9}}
    args, kwargs = to_call_args(sig, params)
    assert fn(*args, **kwargs) == (1, 5, (6, 7), 3, {"z": 9})
    with pytest.raises(SignatureMismatchError):
        bind(inspect.signature(lambda x: x), fn, (), {"y": 1})


class Model(pydantic.BaseModel):
    z: int


def test_validator_coerces_and_reports():
    def fn(x: int, y: list[int], m: Model, free=None):
        pass

    v = Validator(fn, inspect.signature(fn))
    out = v.validate({"x": "1", "y": ["2", "3"], "m": {"z": "4"}, "free": object})
    assert out["x"] == 1 and out["y"] == [2, 3] and out["m"].z == 4 and out["free"] is object
    with pytest.raises(ParameterTypeError, match="invalid parameters"):
        v.validate({"x": "nope", "y": [], "m": {"z": 1}})


def test_reserved_names():
    with pytest.raises(ReservedArgumentError):
        check_reserved(lambda wait_for: None, "task")
    with pytest.raises(ReservedArgumentError):
        check_reserved(lambda return_state: None, "flow")


# -- input resolution --------------------------------------------------------------------------
@dataclasses.dataclass
class Box:
    inner: object


def test_resolution_nested_quote_allow_failure_and_links():
    ok = _real(Completed(data=10), "up-1")
    bad = _real(Failed(data=ValueError("no")), "up-2")
    linked = "a produced string"
    links = {id(linked): _real(Completed(data=linked), "up-3")}
    params = {
        "a": [ok, {"k": (ok,)}],
        "b": Box(ok),
        "c": quote(ok),
        "d": allow_failure([bad, 1]),
        "e": linked,
        "f": {ok, 1} if False else frozenset([1]),
    }
    resolved, inputs = asyncio.run(resolve_parameters(params, links))
    assert resolved["a"] == [10, {"k": (10,)}]
    assert resolved["b"] == Box(10)
    assert resolved["c"] is ok  # quoted: passed through untouched
    assert isinstance(resolved["d"][0], ValueError) and resolved["d"][1] == 1
    assert inputs["a"] == ["up-1"] and inputs["d"] == ["up-2"] and inputs["e"] == ["up-3"]
    assert inputs["c"] == []
    with pytest.raises(
        UpstreamTaskError, match="Upstream task run 'up-2' did not reach a 'COMPLETED' state."
    ):
        asyncio.run(resolve_parameters({"x": {"nested": [bad]}}, None))


def test_untrackable_singletons():
    assert all(is_untrackable(v) for v in (None, True, False, 0, 256, -5))
    assert not is_untrackable(257) and not is_untrackable("s")


def test_wait_backoff_is_capped_and_messages():
    assert wait_delay(0, 0) < wait_delay(0, 3) <= 1.0
    assert wait_delay(0, 100) == 1.0
    assert wait_delay(10_000, 0) == MAX_WAIT_SECONDS
    assert crash_message(KeyboardInterrupt()) == "Execution was aborted by an interrupt signal."
    assert crash_message(SystemExit()) == "Execution was aborted by Python system exit call."
