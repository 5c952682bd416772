"""The tables of a benchmark run: the floor, one per engine, the peer comparison, the scale runs."""

from __future__ import annotations

import statistics
from typing import Any

from .catalog import DEFAULT_N, TITLES, UNITS
from .engines import Engine


def fmt(value: Any, spec: str = ".2f", missing: str = "-") -> str:
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    return format(value, spec)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def floor_text(floors: list[dict[str, Any]], two_floors_ms: float) -> str:
    parts = []
    for label, f in zip(("before", "after"), floors):
        parts.append(
            f"  {label}: unary {f['unary']['median_us']:.0f} µs (p99 {f['unary']['p99_us']:.0f}), "
            f"stream ping-pong {f['stream']['median_us']:.0f} µs (p99 {f['stream']['p99_us']:.0f})"
        )
    return (
        "gRPC floor (empty messages, aio client -> aio server in another process, medians):\n"
        + "\n".join(parts)
        + f"\n  2 x stream floor = {two_floors_ms:.3f} ms: the 'x floor' column is per-unit time over this"
    )


def workload_table(engine: Engine, summary: dict[str, dict[str, Any]], workloads: list[str]) -> str:
    headers = [
        "workload",
        "n",
        "ms/unit",
        "x floor",
        "rt/unit",
        "start-up s",
        "elapsed s",
        "wall s",
        "RSS MiB",
    ]
    if engine.service:
        headers.append("orch. RSS")
    rows = []
    for w in workloads:
        s = summary.get(w)
        if s is None:
            continue
        if not s.get("succeeded"):
            rows.append([TITLES[w], "", "FAILED"] + [""] * (len(headers) - 3))
            continue
        row = [
            f"{TITLES[w]} (per {UNITS[w]})",
            str(s.get("n", DEFAULT_N[w])),
            fmt(s.get("per_unit_ms"), ".3f"),
            fmt(s.get("floor_multiple"), ".1f"),
            fmt(s.get("round_trips_per_unit"), ".2f"),
            fmt(s.get("startup_s"), ".3f"),
            fmt(s.get("elapsed_s"), ".2f"),
            fmt(s.get("wall_s"), ".2f"),
            fmt(s.get("tree_peak_rss_mib"), ".0f"),
        ]
        if engine.service:
            row.append(fmt(s.get("orchestrator_peak_rss_mib"), ".0f"))
        if s["succeeded"] < s["repetitions"]:
            row[0] += f" [{s['repetitions'] - s['succeeded']} failed]"
        rows.append(row)
    return f"{engine.label}\n" + table(headers, rows)


def scale_table(scale: dict[str, dict[str, dict[str, Any]]]) -> str:
    headers = [
        "workload",
        "tasks",
        "ms/task",
        "vs smallest",
        "rt/task",
        "work s",
        "wall s",
        "RSS MiB",
        "orch. RSS",
    ]
    rows = []
    for w, by_n in scale.items():
        sizes = sorted(by_n, key=int)
        base = next((by_n[k]["per_unit_ms"] for k in sizes if "error" not in by_n[k]), None)
        for k in sizes:
            r = by_n[k]
            if "error" in r:
                rows.append([TITLES[w], f"{int(k):,}", "FAILED", "", "", "", "", "", ""])
                continue
            rows.append(
                [
                    TITLES[w],
                    f"{int(k):,}",
                    fmt(r["per_unit_ms"], ".3f"),
                    fmt(r["per_unit_ms"] / base if base else None, ".2f"),
                    fmt(r.get("round_trips_per_unit"), ".2f"),
                    fmt(r.get("work_s"), ".1f"),
                    fmt(r.get("wall_s"), ".1f"),
                    fmt(r.get("tree_peak_rss_mib"), ".0f"),
                    fmt(r.get("orchestrator_peak_rss_mib"), ".0f"),
                ]
            )
    return "Scale (Cadenza against its orchestrator service, one run each):\n" + table(headers, rows)


def peer_table(
    engines: list[Engine], summary: dict[str, dict[str, dict[str, Any]]], workloads: list[str]
) -> str:
    cz_s, cz_e = "cadenza-service", "cadenza-embedded"
    peers = [e for e in engines if e.peer]
    headers = ["median", *[e.label for e in engines]]
    for p in peers:
        short = "P" + p.key[-1]
        headers += [f"{short}/svc", f"{short}/emb"]

    def row(label: str, getter, spec: str) -> list[str]:
        values = {e.key: getter(e.key) for e in engines}
        cells = [label, *[fmt(values[e.key], spec) for e in engines]]
        for p in peers:
            for base in (cz_s, cz_e):
                a, b = values.get(p.key), values.get(base)
                cells.append(
                    fmt(
                        a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None,
                        ".1f",
                    )
                )
        return cells

    def field(w: str, key: str):
        return lambda e: summary.get(e, {}).get(w, {}).get(key)

    rows = []
    for w in workloads:
        rows.append(row(f"{TITLES[w]}, ms per {UNITS[w]}", field(w, "per_unit_ms"), ".3f"))
    for w in workloads:
        rows.append(row(f"{w} x (2 x stream floor)", field(w, "floor_multiple"), ".1f"))

    def startup(e: str) -> float | None:
        values = [s.get("startup_s") for s in summary.get(e, {}).values() if s.get("startup_s") is not None]
        return statistics.median(values) if values else None

    rows.append(row("start-up s (first flow call)", startup, ".3f"))
    for w in workloads:
        rows.append(row(f"{w} whole process wall s", field(w, "wall_s"), ".2f"))

    def all_rss(w: str):
        # Every process of the engine: Prefect's own children, and Cadenza's separate orchestrator.
        def get(e: str) -> float | None:
            s = summary.get(e, {}).get(w, {})
            if s.get("tree_peak_rss_mib") is None:
                return None
            return s["tree_peak_rss_mib"] + (s.get("orchestrator_peak_rss_mib") or 0.0)

        return get

    for w in workloads:
        rows.append(row(f"{w} peak RSS MiB (all processes)", all_rss(w), ".0f"))
    for w in workloads:
        rows.append(row(f"{w} round trips per {UNITS[w]}", field(w, "round_trips_per_unit"), ".2f"))
    note = (
        "Ratios are Prefect / Cadenza (svc: against `orchestrator serve`; emb: embedded default):\n"
        "above 1 means Cadenza is faster (smaller). Prefect runs on its ephemeral default.\n"
        "Peak RSS adds up every process of the engine: Cadenza (service) includes its orchestrator,\n"
        "Prefect 3 its ephemeral API server subprocess; Prefect 2 and Cadenza (embedded) run in one."
    )
    return "Cadenza vs Prefect, measured side by side in this run:\n" + table(headers, rows) + "\n" + note
