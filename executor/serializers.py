"""Serializers for results: cloudpickle by default, JSON where asked (readable from any language)."""

from __future__ import annotations

import json
from typing import Any

import cloudpickle


class Serializer:
    type: str = ""

    def dumps(self, obj: Any) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def loads(self, blob: bytes) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class PickleSerializer(Serializer):
    type = "cloudpickle"

    def dumps(self, obj: Any) -> bytes:
        return cloudpickle.dumps(obj)

    def loads(self, blob: bytes) -> Any:
        return cloudpickle.loads(blob)


class JSONSerializer(Serializer):
    type = "json"

    def dumps(self, obj: Any) -> bytes:
        return json.dumps(obj, default=_json_default).encode()

    def loads(self, blob: bytes) -> Any:
        return json.loads(blob)


def _json_default(obj: Any) -> Any:
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(obj)


_BY_NAME: dict[str, type[Serializer]] = {
    "cloudpickle": PickleSerializer,
    "pickle": PickleSerializer,
    "json": JSONSerializer,
}


def get_serializer(spec: str | Serializer | None) -> Serializer:
    if spec is None:
        return PickleSerializer()
    if isinstance(spec, Serializer):
        return spec
    try:
        return _BY_NAME[spec]()
    except KeyError:
        raise ValueError(f"Unknown result serializer {spec!r}; use 'cloudpickle' or 'json'") from None


_SIMPLE = (int, float, str, bool, type(None))


def json_rendering(value: Any, limit: int = 1 << 16) -> str | None:
    """A JSON rendering of the value for other languages, or None when it has none."""
    if isinstance(value, _SIMPLE):
        try:
            return json.dumps(value)
        except ValueError:  # NaN and friends are fine in Python's json; be safe anyway
            return None
    if isinstance(value, (list, tuple, dict)):
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            return None
        return text if len(text) <= limit else None
    return None
