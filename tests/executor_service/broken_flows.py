"""A flow file that cannot be imported: deployments of it must end Failed, not hang."""

raise RuntimeError("broken_flows.py fails on import on purpose")
