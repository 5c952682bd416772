"""A results document as text: every table of the run (also `python -m benchmarks.run --show FILE`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .comparison import comparison_table
from .engines import Engine
from .tables import floor_text, peer_table, scale_table, workload_table
from .targets import targets_text


def render(document: dict[str, Any]) -> str:
    engines = [
        Engine(
            key,
            e["label"],
            Path(e["python"]),
            peer=e.get("peer", key.startswith("prefect")),
            version=e.get("version", ""),
            code=Path(e["code"]) if e.get("code") else None,
        )
        for key, e in document["engines"].items()
    ]
    summary, scale = document["summary"], document["scale"]
    workloads = document.get("workloads") or sorted({w for by_w in summary.values() for w in by_w})
    floors, two_floors_ms = document["floor"]["runs"], document["floor"]["two_stream_floors_ms"]
    sections = [floor_text(floors, two_floors_ms)]
    if workloads:
        sections += [workload_table(e, summary.get(e.key, {}), workloads) for e in engines]
        if any(e.peer for e in engines):
            sections.append(peer_table([e for e in engines if not e.baseline], summary, workloads))
        if document.get("baseline"):
            sections.append(comparison_table(document, workloads))
    if scale:
        sections.append(scale_table(scale))
    sections.append(targets_text(summary, scale))
    failures = document.get("failures", [])
    if failures:
        lines = [
            f"  {r['engine']} {r['workload']} n={r['n']}: {r['error'].splitlines()[0]} (logs: {r.get('workdir') or '-'})"
            for r in failures
        ]
        sections.append("Failures:\n" + "\n".join(lines))
    how = f"{document['repetitions']} repetition(s), medians" if workloads else "one run per size"
    sections.append(
        f"{document['kind']} run of {document['when']} at {document['commit']}: took {document['took_s']:.0f} s, {how}."
    )
    return "\n\n".join(sections)
