"""Wrappers that change how an argument is treated by the engine (names as in Prefect 2)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BaseAnnotation(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def unwrap(self) -> T:
        return self.value

    def rewrap(self, value: Any) -> BaseAnnotation:
        return type(self)(value)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.value == other.value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class quote(BaseAnnotation[T]):
    """Pass the value to the function untouched: no resolution of futures or states inside."""

    def unquote(self) -> T:
        return self.unwrap()


class allow_failure(BaseAnnotation[T]):
    """Let the run start even if this upstream failed; the function receives the exception."""


class unmapped(BaseAnnotation[T]):
    """In `.map`, pass this value whole to every call instead of iterating over it."""

    def __getitem__(self, _: Any) -> T:
        return self.value
