"""Cadenza's engine: run flows and tasks, every state decided by the orchestrator."""
