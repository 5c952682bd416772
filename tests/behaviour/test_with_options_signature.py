"""`Flow.with_options` and `Task.with_options` name each option as a keyword, as Prefect 2.20's
explicit signatures do (help(), inspect and editors list them), instead of taking `**kwargs`."""

from __future__ import annotations

import inspect

import pytest

from executor import Flow, Task

pytestmark = pytest.mark.timeout(30)

# Prefect 2.20's keywords of each, less those Cadenza does not have yet (result_storage_key) or
# does not draw (viz_return_value).
PREFECT_FLOW_KEYWORDS = {
    "name", "version", "retries", "retry_delay_seconds", "description", "flow_run_name", "task_runner",
    "timeout_seconds", "validate_parameters", "persist_result", "result_storage", "result_serializer",
    "cache_result_in_memory", "log_prints", "on_completion", "on_failure", "on_cancellation",
    "on_crashed", "on_running",
}  # fmt: skip
PREFECT_TASK_KEYWORDS = {
    "name", "description", "tags", "cache_key_fn", "task_run_name", "cache_expiration", "retries",
    "retry_delay_seconds", "retry_jitter_factor", "persist_result", "result_storage", "result_serializer",
    "cache_result_in_memory", "timeout_seconds", "log_prints", "refresh_cache", "on_completion",
    "on_failure", "retry_condition_fn",
}  # fmt: skip


@pytest.mark.parametrize("cls, keywords", [(Flow, PREFECT_FLOW_KEYWORDS), (Task, PREFECT_TASK_KEYWORDS)])
def test_with_options_lists_every_option_as_a_keyword(cls, keywords):
    params = inspect.signature(cls.with_options).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = {name for name, p in params.items() if p.kind is p.KEYWORD_ONLY}
    assert keywords <= named
    assert list(params)[0] == "self"
