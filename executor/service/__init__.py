"""The Executor gRPC service: submit, watch, read, cancel and resume runs; and the worker
that claims scheduled runs from the orchestrator and runs each in a child process."""
