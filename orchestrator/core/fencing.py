"""Fencing: a process whose claim on a flow run was taken away (its lease lapsed) may change
nothing more about that run or its task runs, whatever it proposes, forced or not."""

from __future__ import annotations

from .models import FlowRun, Proposal, TaskRun


def claim_of(run: FlowRun | TaskRun, flow_run: FlowRun | None) -> FlowRun | None:
    """The flow run whose claim covers `run` (itself, or a task run's flow run)."""
    return run if isinstance(run, FlowRun) else flow_run


def fenced_out(run: FlowRun | TaskRun, proposal: Proposal, flow_run: FlowRun | None) -> str:
    """Why the proposal comes from a claim that is no longer the run's, or "" when it does not."""
    epoch = proposal.lease_epoch
    if not epoch:
        return ""  # no claim: a script's own flow, a user, the orchestrator itself
    claimed = claim_of(run, flow_run)
    if claimed is None:
        return "The proposal names a lease epoch, but the flow run it belongs to is unknown."
    if claimed.lease_epoch == epoch:
        return ""
    return (
        f"This process's claim on flow run {claimed.id} was taken away (its lease lapsed): it "
        f"worked under lease epoch {epoch}, the run is now at epoch {claimed.lease_epoch}. "
        "Nothing more is accepted from it; stop working on this run."
    )
