"""Connections from the CLI to the two services, and how gRPC errors are shown."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import grpc

from cadenza import transport
from cadenza.settings import exit_on_error
from cadenza.v1 import executor_pb2_grpc as epb_grpc
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

from .settings import api_token, executor_address, orchestrator_address


def metadata() -> tuple:
    token = api_token()
    return (("authorization", f"Bearer {token}"),) if token else ()


class Stub:
    """A stub whose calls carry the token and a deadline."""

    def __init__(self, stub, timeout: float | None = 30) -> None:
        self._stub = stub
        self._timeout = timeout

    def __getattr__(self, name):
        method = getattr(self._stub, name)

        def call(request, **kw):
            kw.setdefault("metadata", metadata())
            if self._timeout is not None:
                kw.setdefault("timeout", self._timeout)
            return method(request, **kw)

        return call


def orchestrator(timeout: float | None = 30) -> Stub:
    return Stub(pb_grpc.OrchestratorStub(transport.channel(orchestrator_address())), timeout)


def executor(timeout: float | None = 30) -> Stub:
    return Stub(epb_grpc.ExecutorStub(transport.channel(executor_address())), timeout)


class CommandError(Exception):
    """A problem to print for the user, with exit code 1."""


@contextmanager
def reported_errors():
    """gRPC and command errors exit 1; a bad CADENZA_* value exits 2 (exit_on_error)."""
    with exit_on_error("cadenza"), _exit_one():
        yield


@contextmanager
def _exit_one():
    try:
        yield
    except grpc.RpcError as exc:
        code = exc.code()
        hint = ""
        if code == grpc.StatusCode.UNAVAILABLE:
            hint = " (is the service running? see CADENZA_ORCHESTRATOR / CADENZA_EXECUTOR)"
        print(f"error: {code.name}: {exc.details()}{hint}", file=sys.stderr)
        raise SystemExit(1) from None
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # Ctrl-C: stop quietly, as a shell expects
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining
        # about the closed stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None
