"""Why the application layer refuses a request. Plain Python: the gRPC edge maps each class to
its status code (rpc/status.py)."""

from __future__ import annotations

from cadenza.text import echo as echo  # how a refusal quotes what the client sent


class ServiceError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ServiceError):
    """The request itself is wrong (a field missing, malformed or out of range)."""


class NotFound(ServiceError):
    """The request names something that does not exist."""


class FailedPrecondition(ServiceError):
    """The request is well formed but the system is not in a state to do it (and retrying the
    same request will not help)."""


class Unavailable(ServiceError):
    """The request could not be served now; the same request may succeed when retried."""


class Conflict(Unavailable):
    """A change was decided on what another replica has changed since: it was not kept. Decided
    again on what the store holds now, it may well go through (see Committer.settle)."""
