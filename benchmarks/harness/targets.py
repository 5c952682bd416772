"""The performance targets, checked against a run's medians (met / MISS): per task at most 0.5 ms
and at most twice its budget of two stream round trips, at least 2,000 task runs a second, at
most 5 ms per flow run, the embedded default started within 0.5 s; at 100k tasks, the per-task
time within 1.5x of the 1k figure and peak RSS (engine plus orchestrator) under 1 GiB."""

from __future__ import annotations

import statistics
from typing import Any


def targets_text(summary: dict[str, dict[str, dict[str, Any]]], scale: dict[str, Any] | None) -> str:
    svc = summary.get("cadenza-service", {})
    emb = summary.get("cadenza-embedded", {})
    checks = []

    def check(label: str, value: float | None, limit: float, unit: str, below: bool = True) -> None:
        if value is None:
            checks.append(f"  [ n/a] {label}")
            return
        met = value <= limit if below else value >= limit
        checks.append(
            f"  [{' met' if met else 'MISS'}] {label}: {value:.3f} {unit} (target {'<=' if below else '>='} {limit} {unit})"
        )

    if summary:  # not in a scale-only run
        check("W1 per task, service", svc.get("W1", {}).get("per_unit_ms"), 0.5, "ms")
        check(
            "W1 per task as a multiple of 2 x stream floor", svc.get("W1", {}).get("floor_multiple"), 2.0, "x"
        )
        w2 = svc.get("W2", {}).get("per_unit_ms")
        check("W2 task runs per second, service", 1000.0 / w2 if w2 else None, 2000, "/s", below=False)
        check("W3 per flow run, service", svc.get("W3", {}).get("per_unit_ms"), 5.0, "ms")
        startups = [s.get("startup_s") for s in emb.values() if s.get("startup_s") is not None]
        check(
            "start-up of the embedded default (median over workloads)",
            statistics.median(startups) if startups else None,
            0.5,
            "s",
        )
    if scale:
        for w in ("W1", "W2"):
            rows = {int(k): v for k, v in scale.get(w, {}).items() if "error" not in v}
            if 100000 in rows and 1000 in rows:
                ratio = rows[100000]["per_unit_ms"] / rows[1000]["per_unit_ms"]
                check(f"{w} 100k per-task time over the 1k figure", ratio, 1.5, "x")
                rss = rows[100000].get("tree_peak_rss_mib", 0) + (
                    rows[100000].get("orchestrator_peak_rss_mib") or 0
                )
                check(f"{w} 100k peak RSS (engine + orchestrator)", rss, 1024, "MiB")
    return "Performance targets (medians, Cadenza against its orchestrator service):\n" + "\n".join(checks)
