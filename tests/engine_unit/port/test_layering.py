"""The engine speaks plain Python to its port: gRPC and protobuf stay in executor/_wire (and in
the Executor service and the CLI, which are gRPC edges of their own)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import executor
from executor._port import OrchestratorPort
from executor._wire import GrpcPort

from .fake_port import FakePort

ROOT = Path(executor.__file__).parent
ALLOWED = ("_wire", "service", "cli")
FORBIDDEN = ("grpc", "cadenza.v1", "google.protobuf")


def _imported(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_only_the_wire_layer_imports_grpc_or_protobuf():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ALLOWED:
            continue
        for name in _imported(ast.parse(path.read_text(), str(path))):
            if _forbidden(name):
                offenders.append(f"{relative}: {name}")
    assert offenders == []


def test_the_scan_sees_the_wire_layer_imports():
    """The scan itself finds such imports where they are allowed (it is not vacuous)."""
    found = [
        name for name in _imported(ast.parse((ROOT / "_wire" / "port.py").read_text())) if _forbidden(name)
    ]
    assert "grpc" in found and "cadenza.v1.orchestrator_pb2" in found


def test_the_grpc_port_and_the_fake_implement_every_operation_of_the_port():
    operations = {name for name, _ in inspect.getmembers(OrchestratorPort, inspect.iscoroutinefunction)}
    assert "propose_state" in operations and "create_task_run" in operations
    for implementation in (GrpcPort, FakePort):
        missing = {
            name
            for name in operations
            if not inspect.iscoroutinefunction(getattr(implementation, name, None))
        }
        assert missing == set(), implementation
