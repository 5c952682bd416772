"""The performance targets of issue 11, checked against one run's medians (met / MISS), as ratios
to Prefect 3 measured in the same run: W1 embedded at least 8x, W1 against the orchestrator
service at least 5x, W2 embedded at least 15x; at 100k tasks (W1 and W2, service mode) the
per-task time within 1.2x of the 1k figure and each of orchestrator and engine below 200 MiB."""

from __future__ import annotations

from typing import Any

# (label, Cadenza engine key, workload, the least speed-up over Prefect 3)
PEER_TARGETS = (
    ("W1 chain, embedded", "cadenza-embedded", "W1", 8.0),
    ("W1 chain, against the orchestrator service", "cadenza-service", "W1", 5.0),
    ("W2 fan-out, embedded", "cadenza-embedded", "W2", 15.0),
)
SCALE_RATIO_LIMIT = 1.2
RSS_LIMIT_MIB = 200.0


class _Checks:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, label: str, value: float | None, limit: float, unit: str, at_least: bool = False) -> None:
        if value is None:
            self.lines.append(f"  [ n/a] {label}: not measured in this run")
            return
        met = value >= limit if at_least else value <= limit
        sign = ">=" if at_least else "<="
        self.lines.append(
            f"  [{' met' if met else 'MISS'}] {label}: {value:.2f} {unit} (target {sign} {limit:g} {unit})"
        )


def _speedup(summary: dict[str, dict[str, dict[str, Any]]], key: str, w: str) -> float | None:
    ours = summary.get(key, {}).get(w, {}).get("per_unit_ms")
    theirs = summary.get("prefect3", {}).get(w, {}).get("per_unit_ms")
    return theirs / ours if ours and theirs else None


def targets_text(summary: dict[str, dict[str, dict[str, Any]]], scale: dict[str, Any] | None) -> str:
    checks = _Checks()
    if summary:  # not in a scale-only run
        for label, key, w, least in PEER_TARGETS:
            checks.add(f"{label}: Prefect 3 ms/task over ours", _speedup(summary, key, w), least, "x", True)
    for w in ("W1", "W2"):
        rows = {int(k): v for k, v in (scale or {}).get(w, {}).items() if "error" not in v}
        big, small = rows.get(100000), rows.get(1000)
        ratio = big["per_unit_ms"] / small["per_unit_ms"] if big and small else None
        checks.add(f"{w} 100k per-task time over the 1k figure", ratio, SCALE_RATIO_LIMIT, "x")
        checks.add(
            f"{w} 100k orchestrator peak RSS",
            big and big.get("orchestrator_peak_rss_mib"),
            RSS_LIMIT_MIB,
            "MiB",
        )
        checks.add(f"{w} 100k engine peak RSS", big and big.get("tree_peak_rss_mib"), RSS_LIMIT_MIB, "MiB")
    return (
        "Performance targets (issue 11; speed-ups are Prefect 3's median ms/task over Cadenza's, "
        "both measured in this run):\n" + "\n".join(checks.lines)
    )
