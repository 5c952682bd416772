"""Exceptions users of the engine see; names mirror Prefect 2 so existing code keeps working."""

from __future__ import annotations

from typing import Any


class CadenzaException(Exception):
    """Base class of every exception the engine raises on purpose."""


class UpstreamTaskError(CadenzaException):
    """An upstream run did not complete, so this run cannot start (it becomes NotReady)."""


class ParameterTypeError(CadenzaException):
    """Parameters did not validate against the function's type hints."""

    @classmethod
    def from_validation_error(cls, exc: Exception) -> ParameterTypeError:
        lines = []
        errors = getattr(exc, "errors", None)
        if callable(errors):
            for err in errors():
                loc = ".".join(str(p) for p in err.get("loc", ()))
                lines.append(f" - {loc}: {err.get('msg')}")
        else:
            lines.append(f" - {exc}")
        return cls("Flow run received invalid parameters:\n" + "\n".join(lines))


class ParameterBindError(CadenzaException, TypeError):
    """The call does not fit the function's signature."""


class SignatureMismatchError(CadenzaException, TypeError):
    """Parameters were given that the function does not accept."""

    @classmethod
    def from_bad_params(cls, expected: list[str], given: list[str]) -> SignatureMismatchError:
        return cls(f"Function expects parameters {expected!r} but was provided with parameters {given!r}")


class ReservedArgumentError(CadenzaException, TypeError):
    """A flow or task declares a parameter name the engine reserves (wait_for, return_state)."""


class InvalidNameError(CadenzaException, ValueError):
    """A name contains a character that is not permitted (one of / % & < >)."""


class MappingLengthMismatch(CadenzaException):
    """Iterables given to `.map` have different lengths."""


class MappingMissingIterable(CadenzaException):
    """`.map` was called with nothing to iterate over."""


class _RunException(CadenzaException):
    def __init__(self, *args: Any, state: Any = None) -> None:
        super().__init__(*args)
        self.state = state


class FailedRun(_RunException):
    """The run failed and its result carries no exception of its own."""


class CrashedRun(_RunException):
    """The run crashed (interrupt, exit, infrastructure)."""


class CancelledRun(_RunException):
    """The run was cancelled."""


class PausedRun(_RunException):
    """The run is paused; it has no result yet."""


class UnfinishedRun(_RunException):
    """The run is not in a final state, so it has no result."""


class MissingResult(CadenzaException):
    """The result was not persisted and is not in this process's memory."""


class ResultIntegrityError(MissingResult):
    """A persisted result was refused unread: its file is outside the result storage, has no
    signature, or its signature does not verify. A MissingResult, because callers that cope
    with a missing result (a cache hit runs the task again) cope with this one the same way."""


class ResultSigningKeyError(CadenzaException):
    """The key results are signed with cannot be read or made (CADENZA_HOME/result-signing.key)."""


class FlowPauseTimeout(CadenzaException):
    """A paused flow run was not resumed before its pause timed out."""


class NotPausedError(CadenzaException):
    """resume_flow_run was called on a run that is not paused."""


class Abort(CadenzaException):
    """The orchestrator told the engine to stop working on this run (ABORT)."""


class TerminationSignal(BaseException):
    """Raised on SIGTERM so the run can be reported before the process exits."""


class ObjectNotFound(CadenzaException):
    """The orchestrator has no such run, limit or object."""


class OrchestratorError(CadenzaException):
    """The orchestrator could not decide a request (bad request, refused credentials, ...).
    `code` is the name of the gRPC status code, e.g. "INVALID_ARGUMENT"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.details = message


class OrchestratorUnreachable(OrchestratorError):
    """No orchestrator answers at the configured address (after the retry window, where the
    call could be repeated)."""

    def __init__(self, address: str, why: str, waited: float = 0.0) -> None:
        tried = f", tried for {waited:.0f}s" if waited >= 1 else ""
        super().__init__(
            "UNAVAILABLE",
            f"cannot reach the orchestrator at {address} ({' '.join(why.split())}{tried}). Start one "
            "(`cadenza start`) or point CADENZA_ORCHESTRATOR at a running one; "
            "CADENZA_ORCHESTRATOR_RETRY_SECONDS sets how long to keep trying.",
        )
        self.address = address
