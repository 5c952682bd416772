"""The orchestrator's layers, read from its imports: the core does no I/O and knows no other
layer; only the gRPC edge knows gRPC and protobuf; nothing in the orchestrator knows the
executor."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "orchestrator"
WIRE = ("grpc", "grpc_health", "grpc_reflection", "google.protobuf", "cadenza.v1")
IO = ("sqlite3", "asyncio", "socket", "os", "random", "uuid", "time", "threading")


def imports(path: Path) -> set[str]:
    """Absolute names of every module a file imports (relative imports resolved)."""
    package = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            found.add(".".join(base + ([node.module] if node.module else [])))
    return found


def layer_files(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


def starts(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_only_the_rpc_edge_imports_grpc_or_protobuf():
    for path in ROOT.rglob("*.py"):
        if "rpc" in path.relative_to(ROOT).parts:
            continue
        wire = [name for name in imports(path) if starts(name, WIRE)]
        assert not wire, f"{path.relative_to(ROOT)} imports {wire}"


def test_the_core_does_no_io_and_knows_no_other_layer():
    others = ("orchestrator.app", "orchestrator.store", "orchestrator.rpc")
    for path in layer_files("core"):
        names = imports(path)
        if path.name == "models.py":
            # Records have default ids for callers outside the core; decisions never use them
            # (test_inputs.py runs decisions with the id source and the clock broken).
            names.discard("uuid")
        bad = [n for n in names if starts(n, IO) or starts(n, others)]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_application_layer_does_not_know_the_edge():
    for path in layer_files("app") + layer_files("store"):
        bad = [n for n in imports(path) if starts(n, ("orchestrator.rpc",))]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_nothing_in_the_orchestrator_imports_the_executor():
    for path in ROOT.rglob("*.py"):
        bad = [n for n in imports(path) if starts(n, ("executor",))]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
