"""The protocol fuzzer (benchmarks/fuzz.py): it covers every RPC the contract declares, makes
the same requests from the same seed, and a short run of it against both services as
processes gets no INTERNAL or UNKNOWN answer and leaves them serving with the store intact."""

from __future__ import annotations

import random

import pytest

from benchmarks.fuzz import render, run_session
from benchmarks.robustness.fuzzing import methods, probes_for, rpc_name
from benchmarks.robustness.messages import IdPool, RequestMaker
from cadenza.v1 import executor_pb2, orchestrator_pb2


def test_every_method_of_both_services_is_fuzzed():
    declared = {
        f"{service.name}/{method.name}"
        for module in (orchestrator_pb2, executor_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert {rpc_name(m) for m in methods()} == declared
    assert "Orchestrator/ProposeStates" in declared and "Executor/SubmitFlowRun" in declared


def test_the_same_seed_makes_the_same_requests():
    ids = IdPool({"flow_run": ["00000000-0000-0000-0000-000000000001"]})
    for method in methods():
        first = probes_for(method, ids, seed=5, count=6, raw_count=4)
        again = probes_for(method, ids, seed=5, count=6, raw_count=4)
        assert [p.bodies for p in first] == [p.bodies for p in again], rpc_name(method)
        assert len(first) >= 4 + 5  # a message the client cannot encode is dropped, rarely


def test_requests_reach_edge_values_and_real_ids():
    real = "11111111-2222-3333-4444-555555555555"
    maker = RequestMaker(random.Random(3), IdPool({"flow_run": [real]}))
    requests = [maker.make(orchestrator_pb2.ReadFlowRunRequest.DESCRIPTOR) for _ in range(200)]
    ids = {r.flow_run_id for r in requests}
    assert real in ids and "" in ids
    assert any(len(i) > 1000 for i in ids)  # long strings
    claims = [maker.make(orchestrator_pb2.ClaimFlowRunsRequest.DESCRIPTOR) for _ in range(200)]
    leases = [c.lease_seconds for c in claims]
    assert any(x != x for x in leases) and float("inf") in leases  # NaN and infinity


@pytest.mark.timeout(90)
def test_a_short_fuzz_gets_no_internal_or_unknown_and_leaves_the_services_up(tmp_path):
    session = run_session(tmp_path, calls=8, raw=12, seed=11, workers=8)
    report = render(session)
    assert {rpc_name(m) for m in methods()} <= set(session.tally.codes), report
    assert all(ok for _, ok, _ in session.checks), report
    assert not session.tally.offenders, report
