"""Which flow code the executor may load: one `EntrypointAllowlist`, read from
CADENZA_ALLOWED_ENTRYPOINTS and checked on every path that would import a flow (a submit by
entrypoint or by deployment, the worker before it starts a flow-run process, and that process
before it loads the flow).

An entry is a module prefix (`pkg.flows`: that module and the modules under it) or a directory
(`./flows`, `/srv/flows`, `~/flows`: flow files, and modules whose source files, after symlinks
are resolved, lie inside it). Unset, the variable means the directory the executor runs in;
set but empty, nothing at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource

from cadenza.settings import Accepts, CadenzaSettings, load

from ._load import is_file_target

VARIABLE = "CADENZA_ALLOWED_ENTRYPOINTS"
# Unset: the executor's working directory (where `make demo` and `cadenza start` run from).
DEFAULT_ENTRIES = (".",)


class EntrypointNotAllowed(Exception):
    """The entrypoint names code outside the allowlist; the message says what to change."""


def is_directory_entry(entry: str) -> bool:
    return "/" in entry or entry.startswith((".", "~"))


def normalise_entry(entry: str) -> str:
    """A module prefix as given, or a directory as an absolute real path (symlinks resolved)."""
    entry = entry.strip()
    if is_directory_entry(entry):
        return os.path.realpath(os.path.expanduser(entry))
    if entry and all(part.isidentifier() for part in entry.split(".")):
        return entry
    raise ValueError(f"{entry!r} is neither a module prefix (a.b) nor a directory (./dir, /dir, ~/dir)")


def find_module_spec(name: str) -> tuple[ModuleSpec | None, list[str]]:
    """Where `import name` would load from, without importing or running anything: the spec of
    `name` (None when import would not find it) and where the code behind it comes from (each
    package on the way, then the module; a namespace package has no code).

    `importlib.util.find_spec("a.b")` imports `a` to read its `__path__`; this asks the import
    system's own finders, component by component, with the parent's search locations instead.
    A module already imported is taken as it is, as `import` would."""
    origins: list[str] = []
    search: Any = None  # top level: sys.path, as the finders read it
    spec: ModuleSpec | None = None
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        if depth > 1 and search is None:
            return None, origins  # the parent is a module, not a package
        fullname = ".".join(parts[:depth])
        module = sys.modules.get(fullname)
        if module is not None:
            spec = getattr(module, "__spec__", None)
            search = getattr(module, "__path__", None)
        else:
            spec = _find_with_meta_path(fullname, search)
            search = spec.submodule_search_locations if spec is not None else None
        if spec is None:
            return None, origins
        if spec.origin is not None or search is None:
            origins.append(spec.origin or f"<{fullname}>")
    return spec, origins


def _find_with_meta_path(fullname: str, search: Any) -> ModuleSpec | None:
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(fullname, search)
        if spec is not None:
            return spec
    return None


@dataclass(frozen=True)
class EntrypointAllowlist:
    prefixes: tuple[str, ...]
    directories: tuple[str, ...]  # absolute real paths

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> EntrypointAllowlist:
        """Entries as CADENZA_ALLOWED_ENTRYPOINTS lists them; relative directories are taken
        from the current working directory. Raises ValueError naming a malformed entry."""
        normalised = [normalise_entry(entry) for entry in entries if entry.strip()]
        return cls(
            prefixes=tuple(e for e in normalised if not os.path.isabs(e)),
            directories=tuple(e for e in normalised if os.path.isabs(e)),
        )

    @property
    def entries(self) -> list[str]:
        return [*self.prefixes, *self.directories]

    def as_setting(self) -> str:
        """The value of CADENZA_ALLOWED_ENTRYPOINTS that rebuilds this allowlist anywhere."""
        return ",".join(self.entries)

    def describe(self) -> str:
        return ", ".join(self.entries) or "nothing (the variable is set but empty)"

    def check(self, entrypoint: str) -> str:
        """The entrypoint to load, if its code may be loaded; else raise EntrypointNotAllowed.
        Nothing is imported, whatever the answer. A file entrypoint comes back as the real path
        that was checked: the loader opens that, not the path as given, so a symlink in the
        given path re-pointed after the check cannot send the load elsewhere."""
        target, _, function = entrypoint.rpartition(":")
        checked = entrypoint
        if function.isidentifier() and target and is_file_target(target):
            real = os.path.realpath(target)
            checked = f"{real}:{function}"
            reason = None if self.contains(real) else f"its file {real} lies outside every allowed directory"
        else:
            reason = self._refusal(entrypoint)
        if reason is not None:
            raise EntrypointNotAllowed(
                f"entrypoint {entrypoint!r} is not allowed: {reason}. This executor loads flows "
                f"only from {self.describe()} ({VARIABLE}); add the flow's module prefix or "
                "directory there, or move the flow into an allowed directory."
            )
        return checked

    def allows_module_name(self, module: str) -> bool:
        return any(module == prefix or module.startswith(prefix + ".") for prefix in self.prefixes)

    def contains(self, path: str) -> bool:
        if not os.path.isabs(path):
            return False  # built-in or frozen code: in no directory
        real = Path(os.path.realpath(path))  # a symlink out of a directory does not count as in it
        return any(real.is_relative_to(directory) for directory in self.directories)

    def _refusal(self, entrypoint: str) -> str | None:
        target, sep, function = entrypoint.rpartition(":")
        if not sep or not target or not function.isidentifier():
            return "it names neither 'path/to/file.py:flow' nor 'package.module:flow'"
        if is_file_target(target):
            # Resolved as the loader's open() will: from this process's working directory,
            # following symlinks and `..` in the order they come (no lexical shortcuts).
            real = os.path.realpath(target)
            if self.contains(real):
                return None
            return f"its file {real} lies outside every allowed directory"
        if not all(part.isidentifier() for part in target.split(".")):
            return f"{target!r} is not a module name"
        if self.allows_module_name(target):
            return None
        if not self.directories:
            return "it is under no allowed module prefix"
        spec, origins = find_module_spec(target)
        if spec is None:
            return f"it is under no allowed module prefix, and module {target!r} was not found"
        outside = [origin for origin in origins if not self.contains(origin)]
        if not outside:
            return None
        where = outside[0] if os.path.isabs(outside[0]) else f"its {outside[0]} code"
        return f"it is under no allowed module prefix, and {where} lies outside every allowed directory"


# -- read from the environment ---------------------------------------------------------------
def _entries(value: object) -> object:
    return [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value


def _normalised(entries: list[str]) -> list[str]:
    return EntrypointAllowlist.from_entries(entries).entries


AllowedEntries = Annotated[
    list[str],
    NoDecode,
    BeforeValidator(_entries),
    AfterValidator(_normalised),
    Accepts("comma-separated module prefixes (pkg.flows) and directories (./flows, /srv/flows, ~/flows)"),
]


class _SetButEmpty(PydanticBaseSettingsSource):
    """CADENZA_ALLOWED_ENTRYPOINTS set to nothing allows nothing, where every other variable
    reads empty as unset: an empty allowlist must never widen to the default."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        for name, value in os.environ.items():
            if name.upper() == VARIABLE and not value.strip():
                return {"allowed_entrypoints": []}
        return {}


class AllowlistSettings(CadenzaSettings):
    """Read by the executor service (validated at its start) and its flow-run processes."""

    allowed_entrypoints: AllowedEntries = list(DEFAULT_ENTRIES)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        empty = _SetButEmpty(settings_cls)
        return init_settings, env_settings, empty, dotenv_settings, file_secret_settings


def allowlist_from_env() -> EntrypointAllowlist:
    """The allowlist CADENZA_ALLOWED_ENTRYPOINTS describes now; raises SettingsError naming it."""
    return EntrypointAllowlist.from_entries(load(AllowlistSettings).allowed_entrypoints)
