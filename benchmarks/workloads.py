"""The four benchmark workloads, written once against the Prefect-style API.

Run as a plain script, one workload per process, so that start-up and peak memory belong to
that workload alone:

    BENCH_ENGINE=cadenza  .venv/bin/python benchmarks/workloads.py W1 --n 500
    BENCH_ENGINE=prefect  .bench/prefect3/bin/python benchmarks/workloads.py W1 --n 500

The script imports nothing from this repository except the engine under test (Cadenza's
`executor` in the project venv; `prefect` in its own venv), and prints one line
`BENCH_RESULT {json}` on stdout. `benchmarks.run` starts it and adds what only the parent
can see (whole-process wall time, peak RSS from wait4).

Timeline inside the process:
  BENCH_T0 (set by the parent just before it starts the process)
    -> first flow call returns: `startup_s`  (a one-task flow run; for W3 it is W3's own flow)
    -> the workload proper: `work_s`, divided by its units for `per_unit_ms`
  `elapsed_s` runs from the first flow call to the end of the workload.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

ENGINE = os.environ.get("BENCH_ENGINE", "cadenza")


# -- counting the engine's gRPC messages (Cadenza only) ------------------------------------------
class MessageCounter:
    """Counts every message the engine's channels serialize (requests) and deserialize
    (responses), per method. It wraps the serializers of `grpc.aio` channels instead of
    installing a `grpc.aio` client interceptor: an intercepted stream-stream call routes each
    `write()` through an extra asyncio queue and task, which would slow down the very stream
    being measured; a wrapped serializer costs one Python call per message."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.received: dict[str, int] = {}

    def _count(self, table: dict[str, int], method: str, fn):
        def counted(message):
            table[method] = table.get(method, 0) + 1
            return fn(message) if fn is not None else message

        return counted

    def install(self) -> None:
        import grpc.aio

        original = grpc.aio.insecure_channel
        counter = self

        def insecure_channel(*args, **kwargs):
            channel = original(*args, **kwargs)
            for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
                setattr(channel, kind, counter._wrap_factory(getattr(channel, kind)))
            return channel

        grpc.aio.insecure_channel = insecure_channel

    def _wrap_factory(self, factory):
        def make(method, request_serializer=None, response_deserializer=None, *args, **kwargs):
            name = method.decode() if isinstance(method, bytes) else str(method)
            name = name.rsplit("/", 1)[-1]
            return factory(
                method,
                self._count(self.sent, name, request_serializer),
                self._count(self.received, name, response_deserializer),
                *args,
                **kwargs,
            )

        return make

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        return dict(self.sent), dict(self.received)


COUNTER: MessageCounter | None = None
if ENGINE == "cadenza":
    COUNTER = MessageCounter()
    COUNTER.install()  # before the engine opens its channel
    import executor
    from executor import flow, task

    ENGINE_FILE = executor.__file__  # which checkout runs: the current one or a baseline's

    ENGINE_VERSION = "cadenza"
    try:
        from importlib.metadata import version

        ENGINE_VERSION = f"cadenza {version('cadenza')}"
    except Exception:
        pass
elif ENGINE == "prefect":
    import prefect
    from prefect import __version__ as _prefect_version
    from prefect import flow, task

    ENGINE_FILE = prefect.__file__

    ENGINE_VERSION = f"prefect {_prefect_version}"
else:
    sys.exit(f"BENCH_ENGINE must be 'cadenza' or 'prefect', not {ENGINE!r}")


# -- the flows and tasks --------------------------------------------------------------------------
@task
def inc(x: int) -> int:
    return x + 1


@flow
def one_task_flow(i: int) -> int:
    """W3's flow, and the first flow call of every workload (start-up)."""
    return inc(i)


@flow
def chain(n: int) -> int:
    """W1: each call feeds its result into the next, so the calls are strictly sequential."""
    x = 0
    for _ in range(n):
        x = inc(x)
    return x


@flow
def fan_out(n: int) -> int:
    """W2: map, then gather every result. Iterating works on Prefect 2's list of futures,
    Prefect 3's PrefectFutureList and Cadenza's list alike."""
    futures = inc.map(range(n))
    return sum(future.result() for future in futures)


ATTEMPTS: dict[int, int] = {}


@task(retries=2, retry_delay_seconds=0)
def flaky(key: int) -> int:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise ValueError(f"attempt {ATTEMPTS[key]} of flow call {key} fails on purpose")
    return ATTEMPTS[key]


@flow
def retrying(key: int) -> int:
    """W4: the task fails twice, then succeeds on its third attempt (retries=2)."""
    return flaky(key)


# -- the workloads --------------------------------------------------------------------------------
def w1(n: int) -> tuple[int, str, list[str]]:
    result = chain(n)
    return n, "task", [] if result == n else [f"chain({n}) returned {result!r}, expected {n}"]


def w2(n: int) -> tuple[int, str, list[str]]:
    result = fan_out(n)
    expected = n * (n + 1) // 2
    return n, "task", [] if result == expected else [f"fan_out({n}) returned {result!r}, expected {expected}"]


def w3(n: int) -> tuple[int, str, list[str]]:
    problems = []
    for i in range(n):
        result = one_task_flow(i)
        if result != i + 1:
            problems.append(f"one_task_flow({i}) returned {result!r}")
    return n, "flow run", problems[:5]


def w4(n: int) -> tuple[int, str, list[str]]:
    problems = []
    for key in range(n):
        result = retrying(key)
        if result != 3 or ATTEMPTS.get(key) != 3:
            problems.append(f"retrying({key}) returned {result!r} after {ATTEMPTS.get(key)} attempts")
    return n, "flow run", problems[:5]


WORKLOADS = {"W1": (w1, 500), "W2": (w2, 500), "W3": (w3, 100), "W4": (w4, 20)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--n", type=int, default=None, help="tasks (W1, W2) or flow runs (W3, W4)")
    args = parser.parse_args()
    fn, default_n = WORKLOADS[args.workload]
    n = args.n or default_n
    t0 = float(os.environ.get("BENCH_T0") or 0.0)

    first_call = time.perf_counter()
    wall_first_call = time.time()
    warm = one_task_flow(-1)  # the first flow call: start-up, identical for every workload
    startup_s = time.time() - t0 if t0 else None
    first_flow_s = time.perf_counter() - first_call
    problems = [] if warm == 0 else [f"first flow call returned {warm!r}"]

    before = COUNTER.snapshot() if COUNTER else None
    start = time.perf_counter()
    units, unit, found = fn(n)
    end = time.perf_counter()
    after = COUNTER.snapshot() if COUNTER else None
    problems += found

    result = {
        "engine": ENGINE_VERSION,
        "engine_file": ENGINE_FILE,
        "workload": args.workload,
        "n": n,
        "unit": unit,
        "startup_s": startup_s,
        "import_s": (wall_first_call - t0) if t0 else None,
        "first_flow_s": first_flow_s,
        "work_s": end - start,
        "elapsed_s": end - first_call,
        "per_unit_ms": (end - start) * 1000.0 / units,
        "peak_rss_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "ok": not problems,
        "problems": problems,
    }
    if before is not None and after is not None:
        sent = {m: after[0].get(m, 0) - before[0].get(m, 0) for m in after[0]}
        received = {m: after[1].get(m, 0) - before[1].get(m, 0) for m in after[1]}
        sent = {m: c for m, c in sent.items() if c}
        received = {m: c for m, c in received.items() if c}
        result["rpc_requests"] = sum(sent.values())
        result["rpc_responses"] = sum(received.values())
        result["rpc_by_method"] = sent
        result["round_trips_per_unit"] = sum(sent.values()) / units
    else:
        result["round_trips_per_unit"] = "n/a"
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
