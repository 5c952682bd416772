"""Time from a killed process to a Crashed run, with an orchestrator and an executor as processes.

A flow run publishes the pid of its process and sleeps in a task run. Two faults:

* the flow run's process is killed with SIGKILL: its executor sees the exit and reports the
  run Crashed;
* the executor itself is killed with SIGKILL: nobody renews the run's lease; the orphaned
  flow-run process sees that and stops itself, and the orchestrator takes the run away
  (Crashed) once the lease has lapsed and its takeover grace has passed;
* a script (`python file.py`, no executor) running the flow is killed with SIGKILL: the
  script held its own run, so the same lease lapse ends it Crashed.

The time is from the signal to the first read of the run that shows it Crashed (polled every
POLL_SECONDS), read against the lease the executor asks for (CADENZA_LEASE_SECONDS).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import executor_pb2_grpc as epb_grpc
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from cadenza.v1 import states_pb2 as spb

from .flows import ALLOWED, MODULE
from .services import ServiceProcess, start_executor, start_orchestrator

POLL_SECONDS = 0.02
REPO = Path(__file__).resolve().parents[2]
CALL_TIMEOUT = 10.0
START_TIMEOUT = 60.0  # from submitting a run to its process sleeping in its task run
TAKEOVER_GRACE_SECONDS = 2.0  # the orchestrator's CADENZA_LEASE_TAKEOVER_GRACE_SECONDS, set explicitly
FINAL = {spb.STATE_TYPE_COMPLETED, spb.STATE_TYPE_FAILED, spb.STATE_TYPE_CRASHED, spb.STATE_TYPE_CANCELLED}


def process_gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@dataclass
class Timing:
    seconds: float | None  # None: not Crashed within the time allowed
    final_state: str
    message: str
    orphan_stopped_seconds: float | None = None


@dataclass
class Scenario:
    what: str
    timings: list[Timing] = field(default_factory=list)

    def measured(self) -> list[float]:
        return [t.seconds for t in self.timings if t.seconds is not None]

    @property
    def ok(self) -> bool:
        return bool(self.timings) and len(self.measured()) == len(self.timings)

    def summary(self) -> dict[str, float | int | None]:
        got = self.measured()
        orphans = [t.orphan_stopped_seconds for t in self.timings if t.orphan_stopped_seconds is not None]
        return {
            "runs": len(self.timings),
            "crashed": len(got),
            "median_s": statistics.median(got) if got else None,
            "max_s": max(got) if got else None,
            "orphan_stopped_median_s": statistics.median(orphans) if orphans else None,
        }


class _Cluster:
    """One orchestrator and the executors started against it, in one CADENZA_HOME."""

    def __init__(self, home: Path, lease_seconds: float) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.lease_seconds = lease_seconds
        self.orchestrator = start_orchestrator(
            home, home / "crashes.db", CADENZA_LEASE_TAKEOVER_GRACE_SECONDS=str(TAKEOVER_GRACE_SECONDS)
        )
        self.executors: list[ServiceProcess] = []
        self.channel = grpc.insecure_channel(self.orchestrator.address)
        self.orch = pb_grpc.OrchestratorStub(self.channel)

    def executor(self) -> ServiceProcess:
        executor = start_executor(
            self.home,
            self.orchestrator.address,
            log_name=f"executor{len(self.executors)}.log",
            CADENZA_LEASE_SECONDS=str(self.lease_seconds),
            CADENZA_ALLOWED_ENTRYPOINTS=ALLOWED,
            CADENZA_CANCEL_GRACE_SECONDS="1",
        )
        self.executors.append(executor)
        return executor

    def sleeping_run(self, executor: ServiceProcess, tag: str) -> tuple[str, int]:
        """Submit a run that sleeps; (its id, the pid of its process) once it sleeps."""
        pid_file = self.home / f"{tag}.pid"
        with grpc.insecure_channel(executor.address) as channel:
            run_id = (
                epb_grpc.ExecutorStub(channel)
                .SubmitFlowRun(
                    epb.SubmitFlowRunRequest(
                        entrypoint=f"{MODULE}:pid_then_sleep",
                        parameters_json=json.dumps({"pid_file": str(pid_file)}),
                    ),
                    timeout=CALL_TIMEOUT,
                )
                .flow_run_id
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not (pid_file.exists() and pid_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"flow run {run_id} did not start within {START_TIMEOUT:.0f} s")
            time.sleep(POLL_SECONDS)
        return run_id, int(pid_file.read_text())

    def until_final(self, run_id: str, killed_at: float, limit: float, orphan: int | None = None) -> Timing:
        orphan_stopped = None
        while True:
            now = time.monotonic()
            run = self.orch.ReadFlowRun(
                pb.ReadFlowRunRequest(flow_run_id=run_id), timeout=CALL_TIMEOUT
            ).flow_run
            if orphan is not None and orphan_stopped is None and process_gone(orphan):
                orphan_stopped = now - killed_at
            if run.state.type in FINAL or now - killed_at > limit:
                crashed = run.state.type == spb.STATE_TYPE_CRASHED
                name = spb.StateType.Name(run.state.type).removeprefix("STATE_TYPE_")
                return Timing(now - killed_at if crashed else None, name, run.state.message, orphan_stopped)
            time.sleep(POLL_SECONDS)

    def script_run(self, tag: str) -> tuple[subprocess.Popen, str, int]:
        """A script that runs the sleeping flow itself; (its process, the run's id, its pid)."""
        pid_file = self.home / f"{tag}.pid"
        code = f"from {MODULE} import pid_then_sleep\npid_then_sleep({str(pid_file)!r})\n"
        env = dict(
            os.environ,
            CADENZA_ORCHESTRATOR=self.orchestrator.address,
            CADENZA_HOME=str(self.home),
            CADENZA_LEASE_SECONDS=str(self.lease_seconds),
        )
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not (pid_file.exists() and pid_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"the script {tag} did not start its flow run")
            time.sleep(POLL_SECONDS)
        running = self.orch.ListFlowRuns(
            pb.ListFlowRunsRequest(flow_name="pid-then-sleep", state_types=[spb.STATE_TYPE_RUNNING]),
            timeout=CALL_TIMEOUT,
        ).flow_runs
        held = [r.id for r in running if r.worker_id.startswith("engine-")]
        if len(held) != 1:
            proc.kill()
            raise RuntimeError(f"expected one running script run, found {held}")
        return proc, held[0], proc.pid

    def stop(self) -> None:
        self.channel.close()
        for executor in self.executors:
            executor.stop()  # also kills what is left in its process group (orphans)
        self.orchestrator.stop()


def measure_crashes(home: Path, repeat: int, lease_seconds: float) -> list[Scenario]:
    """`repeat` runs of each fault; a run not Crashed within 3 leases plus the grace and 10 s
    of slack counts as not measured."""
    limit = 3 * lease_seconds + TAKEOVER_GRACE_SECONDS + 10
    child = Scenario("flow-run process SIGKILLed")
    whole = Scenario("executor SIGKILLed")
    script = Scenario("script SIGKILLed")
    cluster = _Cluster(home, lease_seconds)
    try:
        survivor = cluster.executor()
        for i in range(repeat):
            run_id, pid = cluster.sleeping_run(survivor, f"child{i}")
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            child.timings.append(cluster.until_final(run_id, killed_at, limit))
        survivor.stop()
        for i in range(repeat):
            victim = cluster.executor()
            run_id, pid = cluster.sleeping_run(victim, f"executor{i}")
            killed_at = victim.kill()
            whole.timings.append(cluster.until_final(run_id, killed_at, limit, orphan=pid))
            victim.stop()
        for i in range(repeat):
            proc, run_id, pid = cluster.script_run(f"script{i}")
            killed_at = time.monotonic()
            proc.kill()
            proc.wait(timeout=10)
            script.timings.append(cluster.until_final(run_id, killed_at, limit))
    finally:
        cluster.stop()
    return [child, whole, script]
