"""Tag concurrency limits: created, read, listed and deleted by users; slots are taken and
given back by the core's rules."""

from __future__ import annotations

from dataclasses import replace

from ..core.models import ConcurrencyLimit
from .commits import Change, Committer
from .errors import InvalidArgument, NotFound, echo
from .registry import Registry


class Limits:
    def __init__(self, registry: Registry, committer: Committer) -> None:
        self.registry = registry
        self.committer = committer

    async def create(self, tag: str, limit_value: int) -> ConcurrencyLimit:
        """Create the tag's limit, or change its value (the slots held stay held)."""
        if not tag:
            raise InvalidArgument("tag is required")
        if limit_value < 0:
            raise InvalidArgument(f"concurrency_limit must not be negative (got {limit_value})")
        limit = self.registry.limits.get(tag)
        if limit is None:
            limit = ConcurrencyLimit(tag=tag, concurrency_limit=limit_value)
        change = Change()
        change.batch.put_limit(replace(limit, concurrency_limit=limit_value))
        await self.committer.commit(change)
        limit.concurrency_limit = limit_value
        self.registry.limits[tag] = limit
        return limit

    def read(self, tag: str) -> ConcurrencyLimit:
        if not tag:
            raise InvalidArgument("tag is required")
        limit = self.registry.limits.get(tag)
        if limit is None:
            raise NotFound(f"no concurrency limit for tag {echo(tag)}")
        return limit

    def all(self) -> list[ConcurrencyLimit]:
        return sorted(self.registry.limits.values(), key=lambda limit: limit.tag)

    async def delete(self, tag: str) -> None:
        self.read(tag)
        change = Change()
        change.batch.delete_limit(tag)
        await self.committer.commit(change)
        self.registry.limits.pop(tag, None)
