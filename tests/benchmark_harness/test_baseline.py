"""`benchmarks.run --baseline REF`: the pieces (environment, order, table) and one real baseline
checkout whose workload process imports the baseline's packages. Nothing here is timed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.harness import baseline
from benchmarks.harness.catalog import ROOT
from benchmarks.harness.engines import baseline_engines, cadenza_engines, engine_env
from benchmarks.harness.report import render
from benchmarks.harness.workload_run import run_workload
from benchmarks.run import repetition_order

OLD_LAYOUT = "d1f37ce"  # the last commit whose cadenza package and stubs lived under protos/


def fake_baseline(root: Path) -> baseline.Baseline:
    return baseline.Baseline(ref="HEAD~3", commit="ab" * 20, short="ababab", root=root)


def test_baseline_env_puts_the_checkout_and_its_protos_first(monkeypatch, tmp_path):
    monkeypatch.setenv("CADENZA_ORCHESTRATOR", "127.0.0.1:1")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = baseline.baseline_env(tmp_path)
    assert env["PYTHONPATH"].split(os.pathsep) == [
        str(tmp_path.resolve()),
        str((tmp_path / "protos").resolve()),
    ]
    assert "CADENZA_ORCHESTRATOR" not in env


def test_only_baseline_engines_get_a_pythonpath(tmp_path):
    now = cadenza_engines()
    old = baseline_engines(fake_baseline(tmp_path))
    assert [e.mode for e in old] == [e.mode for e in now] == ["service", "embedded"]
    assert all("PYTHONPATH" not in engine_env(e) for e in now)
    assert all(engine_env(e)["PYTHONPATH"] == baseline.import_path(tmp_path) for e in old)
    assert [e.label for e in old] == ["Baseline ababab (service)", "Baseline ababab (embedded)"]


def test_baseline_runs_next_to_its_mode_and_first_on_every_other_repetition(tmp_path):
    now_s, now_e = cadenza_engines()
    old_s, old_e = baseline_engines(fake_baseline(tmp_path))
    engines = [now_s, old_s, now_e, old_e]
    assert repetition_order(engines, 0) == engines
    assert repetition_order(engines, 1) == [old_s, now_s, old_e, now_e]
    assert repetition_order(engines, 2) == engines


def fake_document(tmp_path: Path) -> dict:
    """A results document as `benchmarks.run` writes it, with made-up figures."""
    engines = cadenza_engines() + baseline_engines(fake_baseline(tmp_path))
    per_unit = {
        "cadenza-service": 1.0,
        "cadenza-embedded": 3.0,
        "baseline-service": 2.0,
        "baseline-embedded": 2.0,
    }
    runs = [
        {"engine": key, "workload": "W1", "n": 500, "repetition": rep, "per_unit_ms": ms * rep}
        for key, ms in per_unit.items()
        for rep in (1, 2)
    ]
    runs.append(
        {"engine": "baseline-embedded", "workload": "W4", "n": 20, "repetition": 1, "error": "exit code 1"}
    )
    runs.append(
        {"engine": "cadenza-embedded", "workload": "W4", "n": 20, "repetition": 1, "per_unit_ms": 5.0}
    )
    summary = {
        key: {"W1": {"repetitions": 2, "succeeded": 2, "n": 500, "per_unit_ms": ms * 1.5}}
        for key, ms in per_unit.items()
    }
    summary["cadenza-embedded"]["W4"] = {"repetitions": 1, "succeeded": 1, "n": 20, "per_unit_ms": 5.0}
    summary["baseline-embedded"]["W4"] = {
        "repetitions": 1,
        "succeeded": 0,
        "n": 20,
        "errors": ["exit code 1"],
    }
    floor = {"unary": {"median_us": 100, "p99_us": 200}, "stream": {"median_us": 50, "p99_us": 90}}
    return {
        "kind": "latest",
        "when": "2026-01-01T00:00:00+0000",
        "took_s": 1.0,
        "commit": "cafe123",
        "repetitions": 2,
        "workloads": ["W1", "W4"],
        "engines": {
            e.key: {
                "label": e.label,
                "python": str(e.python),
                "version": e.version,
                "peer": False,
                "code": str(e.code) if e.code else None,
            }
            for e in engines
        },
        "baseline": {
            "ref": "HEAD~3",
            "commit": "ab" * 20,
            "short": "ababab",
            "root": str(tmp_path),
            "imports": {},
        },
        "floor": {"runs": [floor, floor], "two_stream_floors_ms": 0.1},
        "summary": summary,
        "scale": {},
        "runs": runs,
        "failures": [],
    }


def test_before_after_table_from_a_results_document(tmp_path):
    text = render(fake_document(tmp_path))
    title = "Before/after: this checkout (cafe123) against --baseline HEAD~3 = ababab, in the same run:"
    assert title in text
    header = text.split(title, 1)[1].splitlines()[1].split()
    assert header == [
        "workload",
        "mode",
        "ms/unit",
        "now",
        "ms/unit",
        "at",
        "ababab",
        "now/baseline",
        "per-rep",
        "ratios",
    ]
    lines = text.split(title, 1)[1].splitlines()[3:6]  # after the header and its rule
    cells = [[c.strip() for c in line.split("  ") if c.strip()] for line in lines]
    assert cells[0] == ["W1 chain (per task)", "service", "1.500", "3.000", "0.50", "0.50-0.50"]
    assert cells[1] == ["W1 chain (per task)", "embedded", "4.500", "3.000", "1.50", "1.50-1.50"]
    assert cells[2] == ["W4 retries (per flow run)", "embedded", "5.000", "FAILED", "-", "-"]
    assert "geometric mean of now/baseline over 2 rows: 0.87" in text
    assert "Baseline ababab (service)" in text  # the baseline's own tables, next to the others


def test_no_before_after_table_without_a_baseline(tmp_path):
    document = fake_document(tmp_path)
    document["baseline"] = None
    assert "Before/after" not in render(document)


def test_an_unknown_ref_is_refused():
    with pytest.raises(SystemExit, match="names no commit"):
        baseline.resolve("no-such-ref-anywhere")


def has_commit(ref: str) -> bool:
    return (
        subprocess.run(
            ["git", "cat-file", "-e", f"{ref}^{{commit}}"], cwd=ROOT, capture_output=True
        ).returncode
        == 0
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("ref", ["HEAD", OLD_LAYOUT])
def test_a_workload_process_runs_the_baseline_checkout(ref, tmp_path):
    if not has_commit(ref):
        pytest.skip(f"{ref} is not in this clone")
    prepared = baseline.prepare(ref, under=tmp_path)
    try:  # the worktree is registered in the repository: unregister it whatever happens
        assert prepared.root == tmp_path / f"baseline-{prepared.commit[:12]}"
        assert baseline.stubs_present(prepared.root)
        for package, file in prepared.imports.items():
            assert baseline.is_under(file, prepared.root), (package, file)
        assert baseline.prepare(ref, under=tmp_path).root == prepared.root  # reused as it is
        embedded = next(e for e in baseline_engines(prepared) if e.mode == "embedded")
        record = run_workload(embedded, "W1", 3, tmp_path, timeout=90)
        assert "error" not in record, record.get("error")
        assert baseline.is_under(record["engine_file"], prepared.root), record["engine_file"]
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(prepared.root)], cwd=ROOT, capture_output=True
        )


def test_the_editable_install_runs_without_a_baseline(tmp_path):
    record = run_workload(cadenza_engines()[1], "W1", 3, tmp_path, timeout=90)
    assert "error" not in record, record.get("error")
    assert baseline.is_under(record["engine_file"], ROOT)
    assert not baseline.is_under(record["engine_file"], ROOT / ".bench")
