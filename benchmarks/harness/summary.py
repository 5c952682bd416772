"""Medians over the repetitions of one workload on one engine."""

from __future__ import annotations

import statistics
from typing import Any

NUMERIC = (
    "per_unit_ms",
    "startup_s",
    "first_flow_s",
    "import_s",
    "work_s",
    "elapsed_s",
    "wall_s",
    "peak_rss_mib",
    "tree_peak_rss_mib",
    "peak_rss_self_mib",
    "orchestrator_peak_rss_mib",
    "orchestrator_rss_mib",
    "round_trips_per_unit",
)


def summarise(runs: list[dict[str, Any]], two_floors_ms: float) -> dict[str, Any]:
    good = [r for r in runs if "error" not in r]
    out: dict[str, Any] = {"repetitions": len(runs), "succeeded": len(good)}
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        out["errors"] = errors
    for key in NUMERIC:
        values = [r[key] for r in good if isinstance(r.get(key), (int, float))]
        if values:
            out[key] = statistics.median(values)
        elif good and key in good[0]:
            out[key] = good[0][key]  # "n/a"
    if "per_unit_ms" in out:
        out["floor_multiple"] = out["per_unit_ms"] / two_floors_ms
    if good and "rpc_by_method" in good[0]:
        out["rpc_by_method"] = good[0]["rpc_by_method"]
    return out
