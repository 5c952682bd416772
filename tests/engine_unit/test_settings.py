"""The engine's CADENZA_* settings: read when first needed, validated as a whole, and a bad
value is a `SettingsError` (a ValueError) whose one-line message names the variable and what
it accepts, raised before any run is created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from executor import flow, settings, task
from executor.settings import SettingsError

from .conftest import uniq

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "variable, value, accepts",
    [
        ("CADENZA_TASK_DEFAULT_RETRIES", "two", "a whole number >= 0"),
        ("CADENZA_FLOW_DEFAULT_RETRIES", "-1", "a whole number >= 0"),
        ("CADENZA_TASK_DEFAULT_RETRY_DELAY_SECONDS", "soon", "a number of seconds >= 0"),
        ("CADENZA_TASKS_REFRESH_CACHE", "maybe", "true or false"),
        ("CADENZA_TASK_THREADS", "many", "0 picks one from the CPU count"),
        ("CADENZA_LOGGING_LEVEL", "verbose", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("CADENZA_ORCHESTRATOR", "localhost", "host:port"),
    ],
)
def test_a_bad_value_fails_every_read_with_one_line_naming_it(monkeypatch, variable, value, accepts):
    monkeypatch.setenv(variable, value)
    # Validated as a whole: reading any other setting fails on it too.
    for read in (settings.home, settings.task_default_retries, settings.orchestrator_address):
        with pytest.raises(SettingsError) as info:
            read()
        message = str(info.value)
        assert message.startswith(f"{variable}={value!r} is not valid: expected ")
        assert accepts in message and "\n" not in message
    assert isinstance(info.value, ValueError)


def test_every_bad_value_is_named_on_the_same_line(monkeypatch):
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "two")
    monkeypatch.setenv("CADENZA_LOGGING_LOG_PRINTS", "sometimes")
    with pytest.raises(SettingsError) as info:
        settings.current()
    assert "CADENZA_TASK_DEFAULT_RETRIES='two'" in str(info.value)
    assert "CADENZA_LOGGING_LOG_PRINTS='sometimes'" in str(info.value)
    assert "\n" not in str(info.value)


def test_values_are_read_again_when_the_environment_changes(monkeypatch):
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "2")
    assert settings.task_default_retries() == 2
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "5")
    assert settings.task_default_retries() == 5
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "")  # empty is unset
    assert settings.task_default_retries() == 0


def test_threads_and_logging_level(monkeypatch):
    monkeypatch.delenv("CADENZA_TASK_THREADS", raising=False)
    assert settings.task_threads() == min(64, (os.cpu_count() or 2) * 8)  # 0 / unset: auto
    monkeypatch.setenv("CADENZA_TASK_THREADS", "3")
    assert settings.task_threads() == 3
    monkeypatch.setenv("CADENZA_LOGGING_LEVEL", "debug")
    assert settings.logging_level() == "DEBUG"


def test_paths_default_under_home_and_expand_the_user(monkeypatch, tmp_path):
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path))
    monkeypatch.delenv("CADENZA_LOCAL_STORAGE_PATH", raising=False)
    assert settings.storage_path() == tmp_path / "storage"
    monkeypatch.setenv("CADENZA_LOCAL_STORAGE_PATH", "~/results")
    assert settings.storage_path() == Path.home() / "results"


def test_a_flow_call_with_a_bad_value_raises_before_creating_a_run(monkeypatch, client):
    @flow(name=uniq("settings-bad"))
    def f():
        return 1

    before = len(client.read_flow_runs(limit=1000))
    monkeypatch.setenv("CADENZA_FLOW_DEFAULT_RETRIES", "two")
    with pytest.raises(SettingsError, match="CADENZA_FLOW_DEFAULT_RETRIES='two'"):
        f()
    assert len(client.read_flow_runs(limit=1000)) == before


def test_a_good_default_retries_value_gives_a_task_that_many_retries(monkeypatch):
    calls = []

    @task
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("not yet")
        return len(calls)

    @flow(name=uniq("settings-retries"))
    def f():
        return flaky()

    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "2")
    assert f() == 3


SCRIPT = """
from executor import flow

@flow
def hello():
    return "hello"

print(hello())
"""


def test_a_script_with_a_bad_value_stops_with_the_variable_named(tmp_path):
    script = tmp_path / "my_flow.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env.update(CADENZA_HOME=str(tmp_path / "home"), CADENZA_TASK_DEFAULT_RETRIES="two", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "hello" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "cadenza.settings.SettingsError: CADENZA_TASK_DEFAULT_RETRIES='two' is not valid: "
        "expected a whole number >= 0"
    ), done.stderr
    assert not (tmp_path / "home" / "cadenza.db").exists()  # stopped before starting anything
