"""What the Executor can say about a run's result to a caller in another language."""

from __future__ import annotations

from cadenza.v1 import states_pb2 as spb


def describe_result(state: spb.State) -> tuple[bool, str, str]:
    """(has_result, result_json, note) for a run's current state."""
    name = spb.StateType.Name(state.type).removeprefix("STATE_TYPE_")
    data = state.data
    if state.type not in (
        spb.STATE_TYPE_COMPLETED,
        spb.STATE_TYPE_FAILED,
        spb.STATE_TYPE_CRASHED,
        spb.STATE_TYPE_CANCELLED,
    ):
        return False, "", f"the run is not finished (it is {name})"
    if data.HasField("json"):
        return True, data.json, ""
    if state.type != spb.STATE_TYPE_COMPLETED:
        return False, "", _how_it_ended(state, name)
    if data.kind == spb.RESULT_KIND_PERSISTED:
        return (
            False,
            "",
            (
                f"the result is a Python-only value (serializer {data.serializer or 'cloudpickle'}); "
                "read it from Python with executor.client"
            ),
        )
    if data.kind == spb.RESULT_KIND_UNPERSISTED:
        return False, "", "the result was not persisted; set persist_result=True on the flow"
    return False, "", "the run has no result"


def _how_it_ended(state: spb.State, name: str) -> str:
    """A run that did not complete has no result to speak of: say how it ended instead."""
    note = f"the run ended {name}: {state.message}" if state.message else f"the run ended {name}"
    if state.HasField("exception"):
        note += f"; it raised {state.exception.type}, whose traceback is in flow_run.state.exception"
    return note
