"""Task runs on Dask (executor.task_runners.DaskTaskRunner).

The flow's process creates each task run (resolving its upstreams and recording its inputs as
the default runner does), then ships it to Dask as one pickled `Shipment`. A Dask worker runs
`worker.run_shipment`: it opens (or reuses) an engine runtime connected to the flow's
orchestrator and runs the run's attempts there with the engine's own code, so Running,
retries, caching, timeouts, results and logs go through the orchestrator as usual. The final
state comes back pickled and settles the run's future in the flow's process.

- `session`: the Dask client (and a temporary cluster) on a loop of its own, in the flow's process.
- `shipping`: what travels to the worker and back, and the flow's side of one run.
- `worker`: what runs in the Dask worker.

`distributed` is imported by `session` only, when a runner starts; workers import it anyway.
"""
