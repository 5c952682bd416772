"""The Orchestrator gRPC service: decode protobuf, call the application layer, encode the
answer, map its errors to status codes. One class, its RPCs grouped by what they concern."""

from __future__ import annotations

from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

from ..app import Orchestrator
from .resources import ResourcesRpc
from .stream import StreamRpc
from .watch import WatchRpc


class OrchestratorServicer(StreamRpc, WatchRpc, ResourcesRpc, pb_grpc.OrchestratorServicer):
    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator


__all__ = ["OrchestratorServicer"]
