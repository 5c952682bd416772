"""A pause for approval: the flow prepares a change, pauses until someone approves it (with
`cadenza flow-run resume ID --input '{"approved": true}'`, or `resume_flow_run`), then
applies it or not. Run as a script, a stand-in approver resumes it after a second."""

import sys
import threading
import time

from executor import flow, get_run_logger, pause_flow_run, resume_flow_run, task
from executor.context import get_run_context


@task
def prepare(target: str) -> str:
    return f"migrate {target}"


@task
def apply(change: str) -> str:
    return f"applied: {change}"


@flow(name="approval")
def release(target: str = "orders-db", approver: bool = True) -> str:
    change = prepare(target)
    if approver:
        _stand_in_approver(str(get_run_context().flow_run.id))
    get_run_logger().info("waiting for approval of %r", change)
    decision = pause_flow_run(timeout=60, poll_interval=0.2, key="approve")
    if not decision or not decision.get("approved"):
        return "rejected"
    return apply(change)


def _stand_in_approver(flow_run_id: str) -> None:
    def approve() -> None:
        time.sleep(1)
        resume_flow_run(flow_run_id, run_input={"approved": True})

    threading.Thread(target=approve, daemon=True).start()


if __name__ == "__main__":
    print(release(approver="--no-approver" not in sys.argv))
