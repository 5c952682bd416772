"""Result store: values behind states, persisted to local files and referenced by the state.

The orchestrator only ever sees a ResultRef (kind, storage key, serializer, JSON rendering);
values stay in this process's memory unless persistence is on. Persisted files are signed, and
a reference is read only from a result storage and only if its signature verifies
(executor._result_files).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from executor import settings
from executor._result_files import add_storage_root, read_signed, sign
from executor.exceptions import MissingResult
from executor.serializers import PickleSerializer, Serializer, get_serializer, json_rendering

UNPERSISTED = "unpersisted"
PERSISTED = "persisted"
LITERAL = "literal"


@dataclass(slots=True)
class ResultRef:
    kind: str = ""  # "" means the state carries no result
    storage_key: str = ""
    serializer: str = ""
    json: str | None = None


class LocalFileSystem:
    """Results as files under one directory."""

    def __init__(self, basepath: str | os.PathLike | None = None) -> None:
        self.basepath = Path(basepath) if basepath is not None else None
        if basepath is not None:
            add_storage_root(basepath)  # its results are readable in this process
        self._made: Path | None = None

    def root(self) -> Path:
        return self.basepath if self.basepath is not None else settings.storage_path()

    def write(self, blob: bytes) -> str:
        root = self.root()
        if root != self._made:  # the default root follows CADENZA_HOME, which tests change
            root.mkdir(parents=True, exist_ok=True)
            add_storage_root(root)  # results written under an earlier default stay readable
            self._made = root
        path = root / uuid.uuid4().hex
        path.write_bytes(blob)
        return str(path.resolve())


def _is_literal(value: Any) -> bool:
    return value is None or value is True or value is False


class ResultFactory:
    """Turns values into ResultRefs according to a run's persistence settings."""

    __slots__ = ("persist_result", "storage", "serializer")

    def __init__(
        self,
        persist_result: bool = False,
        storage: Any = None,
        serializer: str | Serializer | None = None,
    ) -> None:
        self.persist_result = persist_result
        if storage is None or isinstance(storage, (str, os.PathLike)):
            storage = LocalFileSystem(storage)
        self.storage = storage
        self.serializer = get_serializer(serializer)

    def create_ref(self, value: Any, persist: bool | None = None) -> ResultRef:
        if _is_literal(value):
            return ResultRef(LITERAL, "", "json", json_rendering(value))
        rendering = json_rendering(value)
        if not (self.persist_result if persist is None else persist):
            return ResultRef(UNPERSISTED, "", "", rendering)
        serializer = self.serializer
        try:
            blob = serializer.dumps(value)
        except Exception:
            if isinstance(value, BaseException) and not isinstance(serializer, PickleSerializer):
                serializer = PickleSerializer()  # exceptions have no JSON form
                blob = serializer.dumps(value)
            elif isinstance(value, BaseException):
                # An exception that will not pickle still fails the run; it just is not stored.
                return ResultRef(UNPERSISTED, "", "", None)
            else:
                raise
        key = self.storage.write(sign(serializer.type, blob))
        if not isinstance(self.storage, LocalFileSystem):
            add_storage_root(os.path.dirname(key))  # a storage of its own: where it writes is its root
        return ResultRef(PERSISTED, key, serializer.type, rendering)


def load_result(ref: ResultRef | None) -> Any:
    if ref is None or not ref.kind:
        return None
    if ref.kind == LITERAL:
        import json

        return json.loads(ref.json) if ref.json is not None else None
    if ref.kind == PERSISTED:
        # The signed serializer, not the reference's: the reference is not signed.
        serializer, payload = read_signed(ref.storage_key)
        return get_serializer(serializer).loads(payload)
    raise MissingResult(
        "State data is missing. Typically, this occurs when result persistence is disabled "
        "and the state has been retrieved from the API."
    )


def unreadable_reason(ref: ResultRef | None) -> str | None:
    """Why a persisted result cannot be loaded (missing, outside the storage, signature), or
    None when it can; the file is verified, never deserialized."""
    if ref is None or ref.kind != PERSISTED:
        return None
    try:
        read_signed(ref.storage_key)
    except MissingResult as exc:
        return str(exc)
    return None
