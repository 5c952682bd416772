"""Result files: signed by the engine that writes them, read only from a result storage and
only once their signature verifies.

A state's result reference travels through the orchestrator, and whoever may propose states
can point one at any path. Two checks stand between such a reference and the deserializer
(cloudpickle runs code):

- where: the path, with symlinks and `..` resolved, must lie inside a result storage this
  process knows: the default storage in force (CADENZA_LOCAL_STORAGE_PATH or CADENZA_HOME/storage)
  and every storage a flow or task of this process names (`result_storage=`) or wrote to.
- what: the file must carry an HMAC-SHA256 over its content made with the engine's key (the
  signature is what makes reading safe; the place only keeps the engine from opening
  arbitrary files, FIFOs or devices on someone else's say-so).

The key is CADENZA_RESULT_SIGNING_KEY (machines sharing a storage share it) or a 32-byte file
CADENZA_HOME/result-signing.key made on first use. The signature covers the content, not the
path: a storage may be moved or copied whole and still be read.

Layout, version 1: MAGIC | version | len(serializer) | serializer | MAC | payload. The MAC
covers everything but itself, so the serializer a payload is read with is signed too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import threading
import uuid
from pathlib import Path

from executor import settings
from executor.exceptions import MissingResult, ResultIntegrityError, ResultSigningKeyError

MAGIC = b"\x89CDZ"  # neither text, JSON nor a pickle (pickles start with \x80)
VERSION = 1
MAC_BYTES = 32
KEY_BYTES = 32
KEY_FILE_NAME = "result-signing.key"
_PREFIX = len(MAGIC) + 2  # magic, version, length of the serializer's name

# -- the key ------------------------------------------------------------------------------------

# (the settings it was read under, the key): read again only when a CADENZA_* variable changed.
_key_cache: tuple[settings.EngineSettings, bytes] | None = None


def signing_key() -> bytes:
    """The key in force: CADENZA_RESULT_SIGNING_KEY, else CADENZA_HOME's key file."""
    global _key_cache
    current = settings.current()
    cached = _key_cache
    if cached is not None and cached[0] is current:
        return cached[1]
    given = current.result_signing_key
    key = given.get_secret_value() if given is not None else _key_in_home(current.home)
    _key_cache = (current, key)
    return key


def _key_in_home(home: Path) -> bytes:
    path = home / KEY_FILE_NAME
    try:
        if not path.exists():
            _make_key_file(path)
        key = path.read_bytes()
    except OSError as exc:
        raise ResultSigningKeyError(
            f"The result signing key {str(path)!r} cannot be made or read: {exc}"
        ) from None
    if len(key) != KEY_BYTES:
        raise ResultSigningKeyError(
            f"The result signing key {str(path)!r} is not {KEY_BYTES} bytes long. Remove it to have a "
            "new one made (results signed with it can then no longer be read), or set "
            "CADENZA_RESULT_SIGNING_KEY."
        )
    return key


def _make_key_file(path: Path) -> None:
    """A complete key file is hard-linked into place: the link fails when another process got
    there first (its key is the one used), and no reader ever sees a half-written key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
    finally:
        draft.unlink(missing_ok=True)


# -- writing ------------------------------------------------------------------------------------


def _header(serializer: str) -> bytes:
    name = serializer.encode("ascii")
    if len(name) > 255:
        raise ValueError(f"A serializer name is at most 255 characters, not {serializer!r}")
    return MAGIC + bytes((VERSION, len(name))) + name


def sign(serializer: str, payload: bytes) -> bytes:
    """The file content for `payload`, written by `serializer`."""
    header = _header(serializer)
    mac = hmac.new(signing_key(), header, hashlib.sha256)
    mac.update(payload)
    return b"".join((header, mac.digest(), payload))


# -- where results may be read from -------------------------------------------------------------

_roots_lock = threading.Lock()
# Real paths, each ending in a separator; replaced whole, so readers need no lock.
_storage_roots: tuple[str, ...] = ()


def _real_dir(path: str | os.PathLike) -> str:
    return os.path.join(os.path.realpath(os.path.expanduser(path)), "")


def add_storage_root(path: str | os.PathLike) -> None:
    """Results under `path` may be read: a storage a flow or task of this process uses.
    Resolved now, so that checking a reference stays cheap however many storages there are."""
    global _storage_roots
    root = _real_dir(path)
    if root in _storage_roots:
        return
    with _roots_lock:
        if root not in _storage_roots:
            _storage_roots = (*_storage_roots, root)


def _resolved_inside_storage(key: str) -> str:
    """The real path of `key`, if it lies inside a result storage; else ResultIntegrityError."""
    default = settings.storage_path()
    try:
        resolved = os.path.realpath(key) if os.path.isabs(key) else ""
    except (ValueError, OSError):  # a NUL byte, a symlink loop
        resolved = ""
    if resolved and (resolved.startswith(_real_dir(default)) or resolved.startswith(_storage_roots)):
        return resolved
    others = len(_storage_roots)
    raise ResultIntegrityError(
        f"Result file {key!r} is refused: it is outside the result storage ({default}"
        + (f", or one of the {others} storage(s) this process has used" if others else "")
        + "), once symlinks and '..' are resolved."
    )


# -- reading ------------------------------------------------------------------------------------

# No following a symlink swapped in after the path was resolved; no blocking on a FIFO.
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
)


def _unsigned(key: str) -> ResultIntegrityError:
    return ResultIntegrityError(
        f"Result file {key!r} is refused: it has no signature, so it predates result signing "
        "(or was not written by Cadenza). Run the flow or task again to write it anew."
    )


def _read(path: str, key: str) -> bytes:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise MissingResult(f"Result file {key!r} is missing.") from None
    except OSError as exc:
        raise ResultIntegrityError(
            f"Result file {key!r} is refused: it cannot be opened ({exc.strerror})."
        ) from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ResultIntegrityError(f"Result file {key!r} is refused: it is not a regular file.")
        head = file.read(len(MAGIC))
        if head != MAGIC:  # decided before reading what may be a large foreign file
            raise _unsigned(key)
        return head + file.read()


def _verified(blob: bytes, key: str) -> tuple[str, bytes]:
    if not blob.startswith(MAGIC):
        raise _unsigned(key)
    if len(blob) < _PREFIX or blob[len(MAGIC)] != VERSION:
        version = blob[len(MAGIC)] if len(blob) > len(MAGIC) else "none"
        raise ResultIntegrityError(
            f"Result file {key!r} is refused: its format (version {version}) is not one this engine reads."
        )
    header_end = _PREFIX + blob[_PREFIX - 1]
    payload_start = header_end + MAC_BYTES
    view = memoryview(blob)
    expected = hmac.new(signing_key(), view[:header_end], hashlib.sha256)
    expected.update(view[payload_start:])
    if len(blob) < payload_start or not hmac.compare_digest(
        view[header_end:payload_start], expected.digest()
    ):
        raise ResultIntegrityError(
            f"Result file {key!r} is refused: its signature does not verify "
            "(written with another signing key, or altered)."
        )
    return blob[_PREFIX:header_end].decode("ascii"), blob[payload_start:]


def read_signed(key: str) -> tuple[str, bytes]:
    """(serializer, payload) of the result file a reference names, once it is known to lie in
    a result storage and its signature verifies; MissingResult or ResultIntegrityError else."""
    return _verified(_read(_resolved_inside_storage(key), key), key)
