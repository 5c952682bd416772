"""The robustness tools: a protocol fuzzer over every RPC of both services (`benchmarks/fuzz.py`)
and fault measurements with real processes and real signals (`benchmarks/faults.py`).

    services.py    both services as processes on loopback ports they pick; health checks
    messages.py    random requests made by walking a request's descriptor
    raw_bodies.py  request bodies that do not decode
    world.py       real runs, deployments and limits for the fuzzer to aim at; a sentinel run
    fuzzing.py     calling every RPC, tallying status codes, collecting offenders
    kills.py       accepted states lost after SIGKILLs of the orchestrator
    crashes.py     time from a killed executor or flow-run process to a Crashed run
    flows.py       the flows the fault measurements run
"""
