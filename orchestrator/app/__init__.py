"""The application layer: create, propose, idempotency, commit, notify; deployments; leases;
watch; logs. Plain Python in and out; the gRPC edge (`orchestrator.rpc`) adapts it."""

from .orchestrator import Orchestrator

__all__ = ["Orchestrator"]
