"""Cadenza's orchestrator: the gRPC service that decides every state change of every run."""
