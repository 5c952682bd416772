"""Behaviour suite: what flows and tasks do, through the public API against a real orchestrator
service: calls, futures, upstream failures, map, final states, subflows, retries, run names,
timeouts, caching, parameters, pauses, crashes and hooks, orchestration rules, results, logs."""
