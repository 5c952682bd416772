"""The engine: one async implementation of flow and task orchestration (flow_run, task_run),
and thin adapters (calls) that enter it from sync or async user code."""
