"""Checks on request fields, made once at the edge so the layers below can trust what they get.

Each refusal names the field, says what it accepts, and echoes the bad value only in part (a
huge value echoed whole would make the error itself too big to send).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from ..app.errors import InvalidArgument, echo

# Any delay, lease or interval longer than ten years is a mistake, and would overflow dates.
MAX_SECONDS = 10 * 365 * 24 * 3600.0
MAX_TAGS = 100
MAX_TAG_LENGTH = 200
# What a run raised (the engine keeps to less): bounded, since every read of the run carries it.
MAX_EXCEPTION_TYPE = 1000
MAX_EXCEPTION_TEXT = 64 * 1024
# What a datetime can hold: 0001-01-01 to 9999-12-31 (protobuf's own range).
_MIN_EPOCH = -62135596800
_MAX_EPOCH = 253402300799


def seconds(value: float, field: str, *, positive: bool = False) -> float:
    """A duration in seconds: finite, not negative (or positive), at most ten years."""
    if not math.isfinite(value):
        raise InvalidArgument(f"{field} must be a finite number of seconds (got {value})")
    if value < 0:
        raise InvalidArgument(f"{field} must not be negative (got {value})")
    if positive and value == 0:
        raise InvalidArgument(f"{field} must be positive (got {value})")
    if value > MAX_SECONDS:
        raise InvalidArgument(f"{field} must be at most {MAX_SECONDS:.0f} seconds (ten years; got {value:g})")
    return value


def factor(value: float, field: str, upper: float = 100.0) -> float:
    """A finite, non-negative ratio."""
    if not math.isfinite(value) or value < 0 or value > upper:
        raise InvalidArgument(f"{field} must be a number from 0 to {upper:g} (got {value})")
    return value


def timestamp(value: Timestamp, field: str) -> datetime:
    if not _MIN_EPOCH <= value.seconds <= _MAX_EPOCH or not 0 <= value.nanos < 1_000_000_000:
        raise InvalidArgument(
            f"{field} is out of range: seconds must be a time from year 1 to 9999 "
            f"(got seconds={value.seconds}, nanos={value.nanos})"
        )
    return value.ToDatetime(tzinfo=UTC)


def tags(values: Iterable[str], field: str) -> list[str]:
    """Distinct tags in the order given, each non-empty and short, and not too many."""
    unique = list(dict.fromkeys(values))
    if len(unique) > MAX_TAGS:
        raise InvalidArgument(f"{field} has {len(unique)} tags; at most {MAX_TAGS} are allowed")
    for tag in unique:
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise InvalidArgument(
                f"{field} has the tag {echo(tag)}: tags are 1 to {MAX_TAG_LENGTH} characters"
            )
    return unique


def text(value: str, field: str, limit: int) -> str:
    """Free text of at most `limit` characters."""
    if len(value) > limit:
        raise InvalidArgument(f"{field} has {len(value)} characters; at most {limit} are allowed")
    return value
