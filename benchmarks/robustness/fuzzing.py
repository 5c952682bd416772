"""Fuzzing every RPC of both services: the methods come from the generated descriptors, the
requests from `messages.RequestMaker` and `raw_bodies`, and every answer's status code is
tallied per RPC. INTERNAL and UNKNOWN are offences: each is kept with its request (in text
format, and as bytes) so that it can be sent again.

Every body is sent already serialized, through a generic channel call with an identity
serializer, so a raw body reaches the server exactly as written. A server-streaming call reads
a few events within a short deadline; a client-streaming call sends one to four messages.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import text_format
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from cadenza.v1 import executor_pb2, orchestrator_pb2

from .messages import IdPool, RequestMaker
from .raw_bodies import raw_bodies

SERVICE_MODULES = (orchestrator_pb2, executor_pb2)
OFFENCES = ("INTERNAL", "UNKNOWN")
UNARY_TIMEOUT = 10.0
STREAM_DEADLINE = 0.5  # a watch of a live run stays open; half a second shows it answers
STREAM_EVENTS = 3  # events read from a server stream before the fuzzer hangs up ("OPEN")
UNDELIVERED = "metadata size exceeds"  # how grpc says a status message was too big to receive
SAMPLES = 5  # distinct status messages kept per RPC and code
SHOWN_BODY_LIMIT = 64 * 1024  # offending bodies up to this size are kept whole, base64
SHOWN_TEXT_LIMIT = 2000  # of a request kept for a report, not as an offence


def methods() -> list[MethodDescriptor]:
    """Every method of every service in the contract, in the order the protos declare them."""
    return [
        method
        for module in SERVICE_MODULES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]


def rpc_name(method: MethodDescriptor) -> str:
    return f"{method.containing_service.name}/{method.name}"


@dataclass
class Probe:
    """One call: its method, the bodies it sends (one, or several on a client stream) and how
    to show them to a person."""

    method: MethodDescriptor
    bodies: list[bytes]
    shown: str
    raw_kind: str = ""


def _show(message: Message) -> str:
    return text_format.MessageToString(message, as_utf8=True) or "(empty message)"


def probes_for(method: MethodDescriptor, ids: IdPool, seed: int, count: int, raw_count: int) -> list[Probe]:
    """`count` random requests and `raw_count` raw bodies for `method`; the same seed gives the
    same probes, and a method's probes do not change when another method is added."""
    rng = random.Random(f"{seed}/{rpc_name(method)}")
    maker = RequestMaker(rng, ids)
    probes: list[Probe] = []
    for _ in range(count):
        messages = [
            maker.make(method.input_type) for _ in range(rng.randint(1, 4) if method.client_streaming else 1)
        ]
        try:
            bodies = [m.SerializeToString() for m in messages]
        except Exception:  # noqa: BLE001 (a message the client library itself cannot encode)
            continue
        probes.append(Probe(method, bodies, "\n---\n".join(_show(m) for m in messages)))
    valid, valid_shown = (probes[0].bodies[0], probes[0].shown.split("\n---\n")[0]) if probes else (b"", "")
    for kind, body in raw_bodies(method.input_type, valid, rng, raw_count):
        shown = f"raw body ({kind}, {len(body)} bytes)" + (f": {body.hex()}" if len(body) <= 64 else "")
        if method.client_streaming and rng.random() < 0.5:  # after a good message on the stream
            probes.append(Probe(method, [valid, body], f"{valid_shown}\n---\n{shown}", raw_kind=kind))
        else:
            probes.append(Probe(method, [body], shown, raw_kind=kind))
    return probes


@dataclass
class Outcome:
    code: str
    seconds: float
    details: str = ""
    embedded: list[str] = field(default_factory=list)  # codes inside stream answers


def _embedded_codes(answer: Message) -> Iterator[str]:
    """Status codes a stream answers inside its messages (ProposeStates' `error`), nested too."""
    fields = answer.DESCRIPTOR.fields_by_name
    if "error" in fields and answer.HasField("error"):
        code = answer.error.code  # type: ignore[attr-defined]
        yield next((c.name for c in grpc.StatusCode if c.value[0] == code), f"code {code}")
    for fd in answer.DESCRIPTOR.fields:
        if fd.message_type is answer.DESCRIPTOR and fd.is_repeated:
            for inner in getattr(answer, fd.name):
                yield from _embedded_codes(inner)


def call(channel: grpc.Channel, probe: Probe) -> Outcome:
    method = probe.method
    path = f"/{method.containing_service.full_name}/{method.name}"
    decode = GetMessageClass(method.output_type).FromString
    started = time.perf_counter()
    embedded: list[str] = []
    code = "OK"
    try:
        if method.server_streaming:
            if method.client_streaming:
                stream = channel.stream_stream(path, None, decode)(iter(probe.bodies), timeout=UNARY_TIMEOUT)
                limit = 0  # a bidi stream ends when its requests are answered
            else:
                stream = channel.unary_stream(path, None, decode)(probe.bodies[0], timeout=STREAM_DEADLINE)
                limit = STREAM_EVENTS
            for read, answer in enumerate(stream, start=1):
                embedded.extend(_embedded_codes(answer))
                if limit and read >= limit:
                    stream.cancel()
                    code = "OPEN"
                    break
        elif method.client_streaming:
            channel.stream_unary(path, None, decode)(iter(probe.bodies), timeout=UNARY_TIMEOUT)
        else:
            channel.unary_unary(path, None, decode)(probe.bodies[0], timeout=UNARY_TIMEOUT)
    except grpc.RpcError as exc:
        code, details = exc.code().name, exc.details() or ""
        return Outcome(code, time.perf_counter() - started, details, embedded)
    return Outcome(code, time.perf_counter() - started, "", embedded)


@dataclass
class Tally:
    """Status codes per RPC, the slowest answer per RPC, and the offending calls."""

    codes: dict[str, Counter] = field(default_factory=dict)
    embedded: dict[str, Counter] = field(default_factory=dict)
    slowest: dict[str, float] = field(default_factory=dict)
    # A few distinct messages per RPC and code: what the refusals said, for a reader to judge.
    samples: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    offenders: list[dict[str, Any]] = field(default_factory=list)
    # Refusals whose status message was too big for the client to receive: it saw
    # RESOURCE_EXHAUSTED in place of the code the server meant. Reported, not an offence.
    undelivered: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, probe: Probe, outcome: Outcome) -> None:
        rpc = rpc_name(probe.method)
        with self.lock:
            self.codes.setdefault(rpc, Counter())[outcome.code] += 1
            for code in outcome.embedded:
                self.embedded.setdefault(rpc, Counter())[code] += 1
            self.slowest[rpc] = max(self.slowest.get(rpc, 0.0), outcome.seconds)
            said = self.samples.setdefault(rpc, {}).setdefault(outcome.code, [])
            if outcome.details and len(said) < SAMPLES and outcome.details[:300] not in said:
                said.append(outcome.details[:300])
            offences = [c for c in [outcome.code, *outcome.embedded] if c in OFFENCES]
            if offences:
                self.offenders.append(_offender(rpc, probe, outcome, offences))
            if outcome.code == "RESOURCE_EXHAUSTED" and UNDELIVERED in outcome.details:
                self.undelivered.append(_offender(rpc, probe, outcome, [outcome.code], whole=False))

    def calls(self) -> int:
        return sum(sum(c.values()) for c in self.codes.values())


def _offender(
    rpc: str, probe: Probe, outcome: Outcome, offences: list[str], whole: bool = True
) -> dict[str, Any]:
    """The call as a person can send it again: the request in text format and, when small
    enough (or `whole`), its bytes."""
    size = sum(len(b) for b in probe.bodies) if whole else SHOWN_BODY_LIMIT + 1
    return {
        "rpc": rpc,
        "codes": offences,
        "details": outcome.details,
        "request": probe.shown if whole else probe.shown[:SHOWN_TEXT_LIMIT],
        "bodies_base64": [base64.b64encode(b).decode() for b in probe.bodies]
        if size <= SHOWN_BODY_LIMIT
        else None,
    }


def fuzz(
    addresses: dict[str, str], ids: IdPool, seed: int, count: int, raw_count: int, workers: int = 8
) -> Tally:
    """Every method of the services in `addresses` (full service name -> host:port), `count`
    random requests and `raw_count` raw bodies each, `workers` calls at a time."""
    tally = Tally()
    channels = {name: grpc.insecure_channel(address) for name, address in addresses.items()}
    try:
        probes = [
            probe
            for method in methods()
            if method.containing_service.full_name in channels
            for probe in probes_for(method, ids, seed, count, raw_count)
        ]
        random.Random(seed).shuffle(probes)  # RPCs interleaved, as independent clients would be

        def run(probe: Probe) -> None:
            tally.add(probe, call(channels[probe.method.containing_service.full_name], probe))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(run, probes):
                pass
    finally:
        for channel in channels.values():
            channel.close()
    return tally


def render_table(tally: Tally) -> str:
    rows = [("RPC", "calls", "slowest ms", "status codes (count)")]
    for method in methods():
        rpc = rpc_name(method)
        codes = tally.codes.get(rpc)
        if codes is None:
            continue
        shown = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        inner = tally.embedded.get(rpc)
        if inner:
            shown += "; in-stream: " + ", ".join(f"{code} {n}" for code, n in inner.most_common())
        rows.append((rpc, str(sum(codes.values())), f"{tally.slowest[rpc] * 1000:.0f}", shown))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}" for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
