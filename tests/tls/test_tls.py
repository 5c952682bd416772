"""Optional TLS: with a certificate and key configured, the orchestrator serves TLS only, and
the engine and CLI connect over TLS when they trust the certificate."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is needed to make a test certificate"
)


@pytest.fixture(scope="module")
def tls_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            tmp / "key.pem",
            "-out",
            tmp / "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    env = dict(
        os.environ,
        CADENZA_TLS_CERT=str(tmp / "cert.pem"),
        CADENZA_TLS_KEY=str(tmp / "key.pem"),
        CADENZA_HOME=str(tmp / "home"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "serve", "--port", "0", "--db", str(tmp / "o.db")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    address = re.search(r"listening on (\S+)", proc.stdout.readline()).group(1)
    env["CADENZA_ORCHESTRATOR"] = address
    yield env
    proc.terminate()
    proc.wait(timeout=10)


def test_flow_runs_over_tls(tls_env, tmp_path):
    script = tmp_path / "f.py"
    script.write_text(
        "from executor import flow, task\n"
        "@task\ndef add(x): return x + 1\n"
        "@flow\ndef f(): return add(41)\n"
        "print('RESULT', f())\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], env=tls_env, capture_output=True, text=True, timeout=60
    )
    assert "RESULT 42" in out.stdout, out.stderr


def test_plaintext_client_is_refused(tls_env):
    env = dict(tls_env, CADENZA_TLS_CERT="", CADENZA_TLS_KEY="")
    out = subprocess.run(
        [sys.executable, "-m", "executor.cli", "concurrency-limit", "ls"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 1
    assert "UNAVAILABLE" in out.stderr


def test_cli_over_tls(tls_env):
    out = subprocess.run(
        [sys.executable, "-m", "executor.cli", "concurrency-limit", "create", "tls-tag", "3"],
        env=tls_env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "set to 3" in out.stdout
