"""A bad CADENZA_* value stops each command at start with one line naming the variable and
what it accepts, exit status 2 and no traceback; good values still apply; `--help` works
whatever the environment holds."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.clients._services import REPO, service_env, start_service

from ._harness import CADENZA


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=REPO, env=service_env(**env), capture_output=True, text=True, timeout=30)


def assert_one_line(done: subprocess.CompletedProcess, prog: str, variable: str, value: str, accepts: str):
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr.splitlines() == [f"{prog}: {variable}={value!r} is not valid: expected {accepts}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ORCHESTRATOR = [sys.executable, "-m", "orchestrator", "serve", "--port", "0"]
EXECUTOR = [sys.executable, "-m", "executor", "serve", "--port", "0", "--orchestrator", "127.0.0.1:1"]


@pytest.mark.parametrize(
    "variable, value, accepts",
    [
        ("CADENZA_ORCHESTRATOR_PORT", "abc", "a port number 0-65535"),
        ("CADENZA_LOG_LEVEL", "verbose", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case)"),
        ("CADENZA_DB_SYNCHRONOUS", "sometimes", "NORMAL or FULL (also OFF, EXTRA; any case)"),
        ("CADENZA_SLOT_WAIT_SECONDS", "0", "a number of seconds > 0"),
        ("CADENZA_LATE_RUNS_AFTER_SECONDS", "late", "a number of seconds >= 0"),
        ("CADENZA_TLS_CERT", "/no/such/cert.pem", "the path of a readable PEM file"),
    ],
)
def test_orchestrator_serve(tmp_path, variable, value, accepts):
    done = run(
        ORCHESTRATOR + ["--db", str(tmp_path / "o.db")], CADENZA_HOME=str(tmp_path), **{variable: value}
    )
    assert_one_line(done, "orchestrator", variable, value, accepts)
    assert not (tmp_path / "o.db").exists()


@pytest.mark.parametrize(
    "variable, value, accepts",
    [
        ("CADENZA_EXECUTOR_PORT", "abc", "a port number 0-65535"),
        ("CADENZA_EXECUTOR_MAX_RUNS", "0", "a whole number >= 1"),
        ("CADENZA_LEASE_SECONDS", "ten", "a number of seconds > 0"),
        ("CADENZA_LOG_LEVEL", "verbose", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case)"),
        # The engine's settings, which its flow-run processes would read, are checked at start too.
        ("CADENZA_TASK_DEFAULT_RETRIES", "two", "a whole number >= 0"),
    ],
)
def test_executor_serve(tmp_path, variable, value, accepts):
    done = run(EXECUTOR, CADENZA_HOME=str(tmp_path), **{variable: value})
    assert_one_line(done, "cadenza", variable, value, accepts)


def test_a_server_certificate_without_its_key_is_refused(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not checked here")
    done = run(EXECUTOR, CADENZA_HOME=str(tmp_path), CADENZA_TLS_CERT=str(cert))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == ["cadenza: TLS needs both CADENZA_TLS_CERT and CADENZA_TLS_KEY"]


@pytest.mark.parametrize(
    "variable, value, accepts",
    [
        (
            "CADENZA_ORCHESTRATOR",
            "nowhere",
            "host:port, several as host1:port1,host2:port2 (or a gRPC target such as unix:/path)",
        ),
        (
            "CADENZA_EXECUTOR",
            "127.0.0.1",
            "host:port, several as host1:port1,host2:port2 (or a gRPC target such as unix:/path)",
        ),
    ],
)
def test_cli_client_commands(tmp_path, variable, value, accepts):
    done = run([CADENZA, "flow-run", "ls"], CADENZA_HOME=str(tmp_path), **{variable: value})
    assert_one_line(done, "cadenza", variable, value, accepts)


def test_several_bad_values_are_named_on_one_line(tmp_path):
    done = run(
        ORCHESTRATOR, CADENZA_HOME=str(tmp_path), CADENZA_ORCHESTRATOR_PORT="abc", CADENZA_LOG_LEVEL="loud"
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert "CADENZA_ORCHESTRATOR_PORT='abc'" in line and "CADENZA_LOG_LEVEL='loud'" in line


def test_cadenza_start_reports_the_orchestrators_bad_value(tmp_path):
    done = run([CADENZA, "start"], CADENZA_HOME=str(tmp_path), CADENZA_ORCHESTRATOR_PORT="abc")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert (
        "orchestrator: CADENZA_ORCHESTRATOR_PORT='abc' is not valid: expected a port number 0-65535"
        in done.stderr
    )


@pytest.mark.parametrize(
    "argv",
    [
        [CADENZA, "--help"],
        [CADENZA, "start", "--help"],
        [CADENZA, "executor", "serve", "--help"],
        [sys.executable, "-m", "orchestrator", "serve", "--help"],
        [sys.executable, "-m", "executor", "serve", "--help"],
    ],
)
def test_help_does_not_read_the_environment(argv):
    bad = dict(
        CADENZA_ORCHESTRATOR_PORT="abc",
        CADENZA_EXECUTOR_PORT="abc",
        CADENZA_LOG_LEVEL="verbose",
        CADENZA_ORCHESTRATOR="nowhere",
        CADENZA_TASK_DEFAULT_RETRIES="two",
    )
    done = run(argv, **bad)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("usage:")


@pytest.mark.parametrize(
    "argv, error",
    [
        (
            [CADENZA, "executor", "serve", "--log-level", "loud"],
            "argument --log-level: invalid log level value: 'loud'",
        ),
        (
            [CADENZA, "start", "--executor-port", "70000"],
            "argument --executor-port: invalid port number value: '70000'",
        ),
    ],
)
def test_bad_options_are_usage_errors(argv, error):
    done = run(argv)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error in done.stderr


def test_good_values_apply_to_both_services(tmp_path):
    orch_port, exec_port = free_port(), free_port()
    orch = start_service(
        "orchestrator",
        ["--db", str(tmp_path / "o.db")],
        service_env(
            CADENZA_HOME=str(tmp_path),
            CADENZA_ORCHESTRATOR_PORT=str(orch_port),
            CADENZA_LOG_LEVEL="debug",
            CADENZA_DB_SYNCHRONOUS="full",
        ),
        tmp_path / "orchestrator.log",
    )
    try:
        assert orch.address == f"127.0.0.1:{orch_port}"
        ex = start_service(
            "executor",
            [],
            service_env(
                CADENZA_HOME=str(tmp_path),
                CADENZA_EXECUTOR_PORT=str(exec_port),
                CADENZA_ORCHESTRATOR=orch.address,
                CADENZA_LOG_LEVEL="Debug",
            ),
            tmp_path / "executor.log",
        )
        try:
            assert ex.address == f"127.0.0.1:{exec_port}"
            assert f"orchestrator: {orch.address}" in (tmp_path / "executor.log").read_text()
            listed = run(
                [CADENZA, "flow-run", "ls"], CADENZA_ORCHESTRATOR=orch.address, CADENZA_HOME=str(tmp_path)
            )
            assert listed.returncode == 0, listed.stderr
        finally:
            ex.stop()
        assert " DEBUG " in (tmp_path / "orchestrator.log").read_text()  # CADENZA_LOG_LEVEL=debug
    finally:
        orch.stop()
