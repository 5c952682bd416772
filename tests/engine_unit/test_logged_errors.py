"""Errors the engine expects and handles are narrowed or written to the debug log, never
swallowed in silence."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading

from executor._resolve import collect_inputs
from executor.futures import PrefectFuture
from executor.states import Completed, State
from executor.tasks import hash_objects


def test_unhashable_inputs_give_no_cache_key_and_say_why(caplog):
    caplog.set_level(logging.DEBUG, logger="cadenza.tasks")
    assert hash_objects({"b": 1, "a": [1, 2]}) == hash_objects({"a": [1, 2], "b": 1})
    assert hash_objects({1: "int key", "a": "str key"}) is not None  # unsortable keys: cloudpickle
    assert hash_objects(threading.Lock()) is None
    assert "not cached" in caplog.text and "TypeError" in caplog.text


@dataclasses.dataclass
class NoStates:
    value: object

    def __post_init__(self) -> None:
        if isinstance(self.value, State):
            raise ValueError("a state is not a value")


def test_collecting_upstreams_logs_an_argument_it_cannot_rebuild(caplog):
    caplog.set_level(logging.DEBUG, logger="cadenza.engine")

    async def collect() -> list[str]:
        upstream = Completed(data=1)
        upstream.state_details.task_run_id = "upstream-run"
        future = PrefectFuture(None, "upstream-0", asyncio.get_running_loop())
        future._set_state(upstream)
        # Collecting replaces the future by its state: the dataclass's own check refuses it.
        return await collect_inputs([upstream, NoStates(future)], None)

    assert asyncio.run(collect()) == ["upstream-run"]
    assert "cannot be rebuilt" in caplog.text and "a state is not a value" in caplog.text
