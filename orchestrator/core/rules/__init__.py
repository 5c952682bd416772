"""Prefect 2's core orchestration rules, one module per family. Policies order them."""

from .base import Rule
from .caching import CacheInsertion, CacheRetrieval
from .concurrency import ReleaseTaskConcurrencySlots, SecureTaskConcurrencySlots
from .leases import ReleaseLeaseWhenWorkEnds
from .pausing import (
    HandlePausingFlows,
    HandleResumingPausedFlows,
    PreventRunningTasksFromStoppedFlows,
)
from .pending import BypassCancellingScheduledFlowRuns, CancelUnheldFlowRunsAtOnce, PreventPendingTransitions
from .retries import RenameReruns, RetryFailedFlows, RetryFailedTasks, UpdateFlowRunTrackerOnTasks
from .scheduling import CopyScheduledTime, WaitForScheduledTime
from .subflows import MirrorSubflowStateOntoTracker
from .terminal import (
    EnforceCancellingToCancelledTransition,
    HandleFlowTerminalStateTransitions,
    HandleTaskTerminalStateTransitions,
)

__all__ = [
    "BypassCancellingScheduledFlowRuns",
    "CancelUnheldFlowRunsAtOnce",
    "CacheInsertion",
    "CacheRetrieval",
    "CopyScheduledTime",
    "EnforceCancellingToCancelledTransition",
    "HandleFlowTerminalStateTransitions",
    "HandlePausingFlows",
    "HandleResumingPausedFlows",
    "HandleTaskTerminalStateTransitions",
    "MirrorSubflowStateOntoTracker",
    "PreventPendingTransitions",
    "PreventRunningTasksFromStoppedFlows",
    "ReleaseLeaseWhenWorkEnds",
    "ReleaseTaskConcurrencySlots",
    "RenameReruns",
    "RetryFailedFlows",
    "RetryFailedTasks",
    "Rule",
    "SecureTaskConcurrencySlots",
    "UpdateFlowRunTrackerOnTasks",
    "WaitForScheduledTime",
]
