"""What every side reads from `CADENZA_*` variables, and how each side reads the rest.

Each side declares its variables once, as fields of a pydantic-settings class built on
`CadenzaSettings` (field `foo_bar` is `CADENZA_FOO_BAR`), with a type from here that says what
it accepts. `load(cls)` validates them all together and raises `SettingsError` with one line
naming each bad variable; commands print that line and exit with status 2 (`exit_on_error`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PREFIX = "CADENZA_"
LOCALHOST = "127.0.0.1"
ORCHESTRATOR_PORT = 4300
EXECUTOR_PORT = 4301
# Where clients of the services look when CADENZA_ORCHESTRATOR / CADENZA_EXECUTOR are unset.
ORCHESTRATOR_ADDRESS = f"{LOCALHOST}:{ORCHESTRATOR_PORT}"
EXECUTOR_ADDRESS = f"{LOCALHOST}:{EXECUTOR_PORT}"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# user:password@ inside a URL (up to its last @): the password never goes into a message.
_URL_PASSWORD = re.compile(r"(://[^:@/]*):.*@")


def without_password(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


class SettingsError(ValueError):
    """A `CADENZA_*` variable holds a value its reader does not accept; the message is one line."""


@dataclass(frozen=True)
class Accepts:
    """What a variable accepts, in words, for the one-line error (kept in the field's metadata).
    A secret's value is never repeated in that error: it would end up in logs."""

    text: str
    secret: bool = False


def upper_case(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _readable_file(path: Path) -> Path:
    path = path.expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ValueError("not a readable file")
    return path


# A gRPC target: host:port, [v6]:port, or a scheme grpc resolves itself (unix:/path, dns:...).
_TARGET = re.compile(r"^(?:(?:unix|unix-abstract|dns|ipv4|ipv6):\S+|\S+:\d{1,5})$")
_HOST_PORT = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[^\s,:/\[\]]+):\d{1,5}$")


def _target(value: str) -> str:
    """One gRPC target, or several host:port replicas separated by commas."""
    if "://" in value:  # a URL: gRPC takes host:port
        raise ValueError("a URL, not host:port")
    parts = [part.strip() for part in value.split(",")]
    if len(parts) > 1:
        if not all(_HOST_PORT.match(part) for part in parts):
            raise ValueError("not a list of host:port")
        return ",".join(parts)
    if not _TARGET.match(value):
        raise ValueError("not host:port")
    return value


def _host(value: str) -> str:
    if not value or any(ch.isspace() for ch in value):
        raise ValueError("not a host")
    return value


def _comma_list(value: object) -> object:
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


Port = Annotated[int, Field(ge=0, le=65535), Accepts("a port number 0-65535")]
Host = Annotated[str, AfterValidator(_host), Accepts("a host name or IP address to bind")]
Address = Annotated[
    str,
    AfterValidator(_target),
    Accepts("host:port, several as host1:port1,host2:port2 (or a gRPC target such as unix:/path)"),
]
Count = Annotated[int, Field(ge=0), Accepts("a whole number >= 0")]
PositiveCount = Annotated[int, Field(ge=1), Accepts("a whole number >= 1")]
Seconds = Annotated[float, Field(ge=0), Accepts("a number of seconds >= 0")]
PositiveSeconds = Annotated[float, Field(gt=0), Accepts("a number of seconds > 0")]
Flag = Annotated[bool, Accepts("true or false (also 1/0, yes/no, on/off)")]
UserPath = Annotated[Path, AfterValidator(Path.expanduser), Accepts("a path")]
PemFile = Annotated[Path, AfterValidator(_readable_file), Accepts("the path of a readable PEM file")]
# NoDecode: a comma-separated list, not the JSON pydantic-settings expects for lists.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list), Accepts("comma-separated names")]


def one_of(names: tuple[str, ...]):
    """A validator: the value (already upper-cased) must be one of `names`."""

    def check(value: str) -> str:
        if value not in names:
            raise ValueError(f"not one of {', '.join(names)}")
        return value

    return AfterValidator(check)


# One of the names, given in any case.
LogLevel = Annotated[
    str,
    BeforeValidator(upper_case),
    one_of(LOG_LEVELS),
    Accepts("one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case)"),
]


def log_level(value: str) -> str:
    """`--log-level` values: the names CADENZA_LOG_LEVEL accepts, in any case."""
    if upper_case(value) not in LOG_LEVELS:
        raise ValueError(value)
    return str(upper_case(value))


def port_number(value: str) -> int:
    """`--port` values: what CADENZA_*_PORT accepts."""
    if not value.strip().isdigit() or int(value) > 65535:
        raise ValueError(value)
    return int(value)


def address(value: str) -> str:
    """`--orchestrator` values: what CADENZA_ORCHESTRATOR accepts (one or several host:port)."""
    return _target(value.strip())


# argparse names the type in its error: "argument --port: invalid port number value: 'abc'".
log_level.__name__, port_number.__name__, address.__name__ = "log level", "port number", "host:port"


class CadenzaSettings(BaseSettings):
    """Read by every process: services, engine and CLI."""

    # An empty variable is the same as an unset one, as it always was here.
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", validate_default=True
    )

    home: UserPath = Path("~/.cadenza")
    api_token: str = ""
    tls_cert: PemFile | None = None
    tls_key: PemFile | None = None
    tls_ca: PemFile | None = None


class ServingSettings(CadenzaSettings):
    """Read by both services: their log level, and TLS as a server needs it."""

    log_level: LogLevel = "INFO"

    @model_validator(mode="after")
    def _tls_pair(self) -> ServingSettings:
        # A client may trust CADENZA_TLS_CERT alone; a server needs the key that goes with it.
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both CADENZA_TLS_CERT and CADENZA_TLS_KEY")
        return self


def variable(name: str) -> str:
    return f"{PREFIX}{name.upper()}"


def _accepts(cls: type[BaseSettings], name: str) -> Accepts | None:
    field = cls.model_fields.get(name)
    found = list(field.metadata) if field is not None else []
    pending = [field.annotation] if field is not None else []
    while pending:  # an optional field keeps its type's metadata inside the union
        hint = pending.pop()
        found += getattr(hint, "__metadata__", ())
        pending += get_args(hint)
    for item in found:
        if isinstance(item, Accepts):
            return item
    return None


def one_line(exc: ValidationError, cls: type[BaseSettings]) -> str:
    """`CADENZA_X='v' is not valid: expected ...`, for each bad variable, on one line."""
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        if not error["loc"]:  # a check across fields: its message names the variables
            parts.append(error["msg"].removeprefix("Value error, "))
            continue
        name = str(error["loc"][0])
        if any(part.startswith(f"{variable(name)}=") for part in parts):
            continue  # one variable, several failed checks (e.g. of a union): say it once
        accepts = _accepts(cls, name)
        expected = accepts.text if accepts is not None else error["msg"]
        if accepts is not None and accepts.secret:
            parts.append(f"{variable(name)} (value not shown) is not valid: expected {expected}")
            continue
        given = os.environ.get(variable(name), error["input"])  # as typed, before any clean-up
        if isinstance(given, str):
            given = without_password(given)
        parts.append(f"{variable(name)}={given!r} is not valid: expected {expected}")
    return "; ".join(parts)


# os.environ's raw mapping is ~6x cheaper to scan than its decoding view, and the engine
# asks for its settings several times per task run.
# Its keys are bytes on POSIX and str on Windows.
_RAW_ENVIRON: Mapping[Any, Any] = getattr(os.environ, "_data", None) or os.environ
_RAW_PREFIX: str | bytes = PREFIX.encode() if _RAW_ENVIRON is not os.environ and os.name != "nt" else PREFIX


def _environment_key() -> tuple:
    """The `CADENZA_*` items as they are now (any case: the variables are read case-insensitively)."""
    return tuple(item for item in _RAW_ENVIRON.items() if item[0][:8].upper() == _RAW_PREFIX)


class _EnvironmentWatch:
    """Tells cheaply whether the `CADENZA_*` variables may have changed since the last full scan:
    the number of variables, and the values of the `CADENZA_*` ones then present. A variable
    set, changed or removed changes one of these; only then is the environment scanned again."""

    __slots__ = ("size", "names", "values", "key")

    def __init__(self) -> None:
        self.size = -1
        self.names: tuple = ()
        self.values: tuple = ()
        self.key: tuple = ()

    def current_key(self) -> tuple:
        environ = _RAW_ENVIRON
        if len(environ) == self.size and tuple(map(environ.get, self.names)) == self.values:
            return self.key
        self.key = _environment_key()
        self.size = len(environ)
        self.names = tuple(name for name, _ in self.key)
        self.values = tuple(value for _, value in self.key)
        return self.key


_watch = _EnvironmentWatch()


S = TypeVar("S", bound=BaseSettings)
_loaded: dict[type, tuple[tuple, BaseSettings]] = {}


def load(cls: type[S]) -> S:
    """`cls` from the environment as it is now: validated as a whole, read again only after a
    `CADENZA_*` variable changed (tests change them between runs)."""
    key = _watch.current_key()
    cached = _loaded.get(cls)
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[return-value]
    try:
        settings = cls()
    except ValidationError as exc:
        raise SettingsError(one_line(exc, cls)) from None
    _loaded[cls] = (key, settings)
    return settings


@contextmanager
def exit_on_error(prog: str) -> Iterator[None]:
    """For commands: a bad setting is one line on stderr and exit status 2, not a traceback."""
    try:
        yield
    except SettingsError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
