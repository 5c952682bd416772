"""One orchestrator per SQLite database: an exclusive lock held for as long as it serves, and
its address published beside the database so that others find it and use it instead of
starting a second orchestrator (whose memory would disagree with the first's).

    <db>.lock      flock'ed (exclusive) by the owner; the kernel drops it when the owner dies
    <db>.address   {"address": "host:port", "pid": ...}, written once the owner serves
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError


class StoreInUse(StoreError):
    """Another live process owns the database."""


@dataclass(frozen=True)
class Owner:
    address: str  # empty while the owner is starting
    pid: int


def _lock_path(db_path: str) -> Path:
    return Path(f"{db_path}.lock")


def _address_path(db_path: str) -> Path:
    return Path(f"{db_path}.address")


def _read_owner(db_path: str) -> Owner:
    try:
        doc = json.loads(_address_path(db_path).read_text())
        return Owner(str(doc.get("address", "")), int(doc.get("pid", 0)))
    except (OSError, ValueError, AttributeError):
        return Owner("", 0)


def _is_locked(db_path: str) -> bool:
    try:
        fd = os.open(_lock_path(db_path), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock we may have taken
    return False


def find_owner(db_path: str) -> Owner | None:
    """The live orchestrator serving this database, or None when nobody holds it."""
    if db_path == ":memory:" or not _is_locked(db_path):
        return None
    return _read_owner(db_path)


class StoreLock:
    """The owner's side: take the lock (or refuse, naming the holder), publish, give back."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._fd: int | None = None

    def acquire(self) -> None:
        if self.db_path == ":memory:":
            return
        Path(self.db_path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(_lock_path(self.db_path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = _read_owner(self.db_path)
            where = f"the orchestrator at {owner.address}" if owner.address else "another orchestrator"
            pid = f" (pid {owner.pid})" if owner.pid else ""
            use = f"use it (CADENZA_ORCHESTRATOR={owner.address}) or " if owner.address else ""
            raise StoreInUse(
                f"{self.db_path} is already served by {where}{pid}: {use}stop it first"
            ) from None
        self._fd = fd
        _address_path(self.db_path).unlink(missing_ok=True)  # a dead owner's address

    def publish(self, address: str) -> None:
        if self._fd is None:
            return
        path = _address_path(self.db_path)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps({"address": address, "pid": os.getpid()}))
        temporary.replace(path)  # readers never see half a file

    def release(self) -> None:
        if self._fd is None:
            return
        _address_path(self.db_path).unlink(missing_ok=True)
        os.close(self._fd)  # drops the lock
        self._fd = None
