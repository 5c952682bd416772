"""Load a flow from an entrypoint: "path/to/file.py:function" or "package.module:function"."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


class FlowLoadError(Exception):
    """The entrypoint does not name a loadable flow."""


class FlowNotFound(FlowLoadError):
    """The entrypoint's file is missing, or its module loaded but has no flow by that name
    (`found` says what is there instead: "nothing", or the kind of object, e.g. "a class")."""

    def __init__(self, message: str, target: str, name: str, where: str, found: str) -> None:
        super().__init__(message)
        self.target = target
        self.name = name
        self.where = where
        self.found = found


def split_entrypoint(entrypoint: str) -> tuple[str, str]:
    target, sep, name = entrypoint.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise FlowLoadError(
            f"entrypoint {entrypoint!r} must look like 'path/to/file.py:flow' or 'package.module:flow'"
        )
    return target, name


def is_file_target(target: str) -> bool:
    """Whether an entrypoint's target (before the colon) names a file rather than a module."""
    return target.endswith(".py") or "/" in target


def _module_from_path(path: Path) -> ModuleType:
    if not path.is_file():
        raise FlowNotFound(f"flow file {str(path)!r} does not exist", str(path), "", str(path), "nothing")
    name = f"cadenza_flow_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FlowLoadError(f"flow file {str(path)!r} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    # The flow's own folder comes first, so its sibling imports work as with `python file.py`.
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _kind(obj: object) -> str:
    return "a class" if isinstance(obj, type) else f"a {type(obj).__name__}"


def load_flow(entrypoint: str):
    """Import the entrypoint's module and return the flow object it names."""
    from .flows import Flow

    target, name = split_entrypoint(entrypoint)
    try:
        if is_file_target(target):
            module = _module_from_path(Path(target))
        else:
            module = importlib.import_module(target)
    except FlowLoadError:
        raise
    except Exception as exc:
        raise FlowLoadError(f"could not import {target!r}: {exc.__class__.__name__}: {exc}") from exc
    obj = getattr(module, name, None)
    where = getattr(module, "__file__", None) or target
    if obj is None:
        raise FlowNotFound(f"{target!r} has no attribute {name!r}", target, name, where, "nothing")
    if not isinstance(obj, Flow):
        raise FlowNotFound(
            f"{entrypoint!r} is not a flow: decorate it with @flow", target, name, where, _kind(obj)
        )
    return obj


def absolute_entrypoint(entrypoint: str) -> str:
    """File entrypoints are stored with an absolute path, so any worker's cwd can load them."""
    target, name = split_entrypoint(entrypoint)
    if is_file_target(target):
        return f"{Path(target).resolve()}:{name}"
    return entrypoint
