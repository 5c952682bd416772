"""The gRPC floor on this machine: what an empty call costs before any engine work.

    .venv/bin/python benchmarks/floor.py [--calls 5000] [--warmup 500]

Starts a tiny grpc.aio server in a child process (`--serve`), then, from this process with a
grpc.aio client (the engine's kind of client against the orchestrator's kind of server):
  - unary: an empty request to `/cadenza.bench.Floor/Ping`, answered with an empty response;
  - stream: one empty message written on an open bidirectional stream
    (`/cadenza.bench.Floor/PingPong`) and its empty echo read back (ping-pong, one in flight).
The service is defined with grpc's generic handlers and raw bytes: no .proto, no serializer.
Prints `BENCH_RESULT {json}` with the median and p99 of each, in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import grpc

SERVICE = "cadenza.bench.Floor"


async def serve() -> None:
    async def ping(request: bytes, context) -> bytes:
        return b""

    async def ping_pong(request_iterator, context):
        async for message in request_iterator:
            yield message

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "Ping": grpc.unary_unary_rpc_method_handler(ping),
                    "PingPong": grpc.stream_stream_rpc_method_handler(ping_pong),
                },
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    # Serve until the parent closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(0)


def summarise(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    return {
        "median_us": statistics.median(ordered) / 1000.0,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000.0,
        "mean_us": statistics.fmean(ordered) / 1000.0,
    }


async def measure(address: str, calls: int, warmup: int) -> dict[str, dict[str, float]]:
    clock = time.perf_counter_ns
    async with grpc.aio.insecure_channel(address) as channel:
        await channel.channel_ready()
        ping = channel.unary_unary(f"/{SERVICE}/Ping")
        unary: list[int] = []
        for i in range(warmup + calls):
            start = clock()
            await ping(b"")
            if i >= warmup:
                unary.append(clock() - start)

        call = channel.stream_stream(f"/{SERVICE}/PingPong")()
        stream: list[int] = []
        for i in range(warmup + calls):
            start = clock()
            await call.write(b"")
            await call.read()
            if i >= warmup:
                stream.append(clock() - start)
        await call.done_writing()
        await call.code()
    return {"unary": summarise(unary), "stream": summarise(stream)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline())
        result = asyncio.run(measure(f"127.0.0.1:{port}", args.calls, args.warmup))
    finally:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    result["calls"] = args.calls
    result["grpc"] = grpc.__version__
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
