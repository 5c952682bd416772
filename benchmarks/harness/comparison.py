"""Before/after: the current checkout against `--baseline REF`, per workload and mode, from the
same run's medians and from each repetition's pair (measured back to back)."""

from __future__ import annotations

import math
from typing import Any

from .catalog import TITLES, UNITS
from .tables import fmt, table

MODES = ("service", "embedded")


def repetition_ratios(runs: list[dict[str, Any]], workload: str, mode: str) -> list[float]:
    """now / baseline of each repetition in which both succeeded."""
    by_side: dict[str, dict[int, float]] = {"cadenza": {}, "baseline": {}}
    for r in runs:
        side, _, run_mode = r["engine"].partition("-")
        if side in by_side and run_mode == mode and r["workload"] == workload and "error" not in r:
            by_side[side][r.get("repetition", 0)] = r["per_unit_ms"]
    now, before = by_side["cadenza"], by_side["baseline"]
    return [now[rep] / before[rep] for rep in sorted(now) if rep in before and before[rep]]


def comparison_rows(
    summary: dict[str, Any], runs: list[dict[str, Any]], workloads: list[str]
) -> list[dict[str, Any]]:
    rows = []
    for w in workloads:
        for mode in MODES:
            now = summary.get(f"cadenza-{mode}", {}).get(w)
            before = summary.get(f"baseline-{mode}", {}).get(w)
            if now is None and before is None:
                continue
            now_ms = (now or {}).get("per_unit_ms")
            before_ms = (before or {}).get("per_unit_ms")
            rows.append(
                {
                    "workload": w,
                    "mode": mode,
                    "now_ms": now_ms,
                    "baseline_ms": before_ms,
                    "ratio": now_ms / before_ms if now_ms and before_ms else None,
                    "repetition_ratios": repetition_ratios(runs, w, mode),
                }
            )
    return rows


def comparison_table(document: dict[str, Any], workloads: list[str]) -> str:
    baseline = document["baseline"]
    at = baseline["short"]
    rows = comparison_rows(document["summary"], document.get("runs", []), workloads)
    headers = ["workload", "mode", "ms/unit now", f"ms/unit at {at}", "now/baseline", "per-rep ratios"]
    cells = []
    for r in rows:
        reps = r["repetition_ratios"]
        cells.append(
            [
                f"{TITLES[r['workload']]} (per {UNITS[r['workload']]})",
                r["mode"],
                fmt(r["now_ms"], ".3f", "FAILED"),
                fmt(r["baseline_ms"], ".3f", "FAILED"),
                fmt(r["ratio"], ".2f"),
                f"{min(reps):.2f}-{max(reps):.2f}" if reps else "-",
            ]
        )
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    overall = (
        f"geometric mean of now/baseline over {len(ratios)} rows: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}\n"
        if ratios
        else ""
    )
    ref = baseline["ref"] if baseline["ref"] == at else f"{baseline['ref']} = {at}"
    return (
        f"Before/after: this checkout ({document['commit']}) against --baseline {ref}, in the same run:\n"
        + table(headers, cells)
        + "\n"
        + overall
        + "now/baseline: median now over median at the baseline; below 1.0 = faster now.\n"
        + "per-rep ratios: lowest and highest now/baseline of single repetitions, each pair run back to back."
    )
