"""How the application layer's refusals reach a gRPC client: one status code per error class,
and the message as it was written for a person to act on."""

from __future__ import annotations

import functools
import logging

import grpc

from cadenza.text import fit_details

from ..app.errors import FailedPrecondition, InvalidArgument, NotFound, ServiceError, Unavailable
from ..store.errors import StoreError

log = logging.getLogger("cadenza.orchestrator.rpc")

_CODES: dict[type[ServiceError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_code(error: ServiceError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        code = _CODES.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def store_unavailable(exc: StoreError) -> Unavailable:
    """A read the database did not answer (down, or too slow): the client may retry."""
    return Unavailable(f"the store could not be read; retry: {exc}")


def unary(method):
    """Map service errors to status codes; an unexpected error is INTERNAL, never a crash."""

    @functools.wraps(method)
    async def wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except ServiceError as exc:
            await context.abort(status_code(exc), fit_details(exc.message))
        except StoreError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, fit_details(store_unavailable(exc).message))
        except Exception:
            log.exception("%s failed", method.__name__)
            await context.abort(
                grpc.StatusCode.INTERNAL, f"{method.__name__} failed unexpectedly; see the orchestrator log"
            )

    return wrapper
