"""Task runners decide whether `.submit()` returns at once (concurrent) or after the run ends
(sequential). Where the function runs is the engine's business: sync functions on the shared
thread pool, async ones on the flow's event loop."""

from __future__ import annotations


class BaseTaskRunner:
    #: True: each submission runs to its end before `.submit()` returns (strict call order).
    sequential: bool = False

    @property
    def name(self) -> str:
        return type(self).__name__.replace("TaskRunner", "").lower()

    def duplicate(self) -> "BaseTaskRunner":
        return type(self)()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SequentialTaskRunner(BaseTaskRunner):
    sequential = True


class ConcurrentTaskRunner(BaseTaskRunner):
    sequential = False


def as_task_runner(spec: "BaseTaskRunner | type[BaseTaskRunner] | None") -> BaseTaskRunner:
    if spec is None:
        return ConcurrentTaskRunner()
    if isinstance(spec, type):
        return spec()
    return spec
