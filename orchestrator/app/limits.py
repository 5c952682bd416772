"""Tag concurrency limits: created, read, listed and deleted by users; slots are taken and
given back by the core's rules."""

from __future__ import annotations

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
        return await self.committer.settle(lambda: self._create_once(tag, limit_value))

    async def _create_once(self, tag: str, limit_value: int) -> ConcurrencyLimit:
        limit = next(iter(self.registry.limits_on([tag])), None)
        if limit is None:
            limit = self.registry.limits[tag] = ConcurrencyLimit(tag=tag, concurrency_limit=limit_value)
        limit.concurrency_limit = limit_value
        change = Change()
        change.batch.put_limit(limit)  # a failed commit reads the limit back (Registry.undo)
        await self.committer.commit(change)
        return limit

    def read(self, tag: str) -> ConcurrencyLimit:
        if not tag:
            raise InvalidArgument("tag is required")
        limit = next(iter(self.registry.limits_on([tag])), None)
        if limit is None:
            raise NotFound(f"no concurrency limit for tag {echo(tag)}")
        return limit

    def all(self) -> list[ConcurrencyLimit]:
        return self.registry.all_limits()

    async def delete(self, tag: str) -> None:
        self.read(tag)
        change = Change()
        change.batch.delete_limit(tag)
        await self.committer.commit(change)
        self.registry.limits.pop(tag, None)
