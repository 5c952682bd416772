"""Random requests made by walking a request message's descriptor, so a field or an RPC added
to the contract is fuzzed without a change here.

Each field is left unset or given a value picked from its type's edge cases: empty, huge and
negative integers, NaN, infinities and -0.0, timestamps outside what protobuf and datetime can
hold, long and unicode strings, deeply nested JSON for `*_json` fields, unknown enum values,
repeated fields with none to thousands of items; or a plausible value (a small number, a time
near now, a short name, `{}`), and ids of real runs (an `IdPool`). Each request has its own
wildness, the chance that a field gets an edge case: a request whose every field is wild is
refused at the first check, so some requests are mostly plausible and get past the checks and
lookups into the code behind them. Everything comes from one seeded `random.Random`: the same
seed makes the same requests.
"""

from __future__ import annotations

import math
import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

INT32 = [0, 1, -1, 2, 7, 2**31 - 1, -(2**31)]
INT64 = [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63)]
UINT32 = [0, 1, 2, 2**31, 2**32 - 1]
UINT64 = [0, 1, 2**32, 2**63, 2**64 - 1]
DOUBLE = [0.0, -0.0, 1.0, -1.0, 0.5, 1e12, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf]
FLOAT = [0.0, -0.0, 1.0, -1.0, 3.4e38, -3.4e38, 1e-45, math.nan, math.inf, -math.inf]
# Seconds outside 0001-01-01..9999-12-31 (what Timestamp and datetime allow) and around it.
TIMESTAMP_SECONDS = [
    0,
    -1,
    -62135596801,
    -62135596800,
    253402300799,
    253402300800,
    10**12,
    2**63 - 1,
    -(2**63),
]
NANOS = [0, 999_999_999, 1_000_000_000, -1, 2**31 - 1]
DURATION_SECONDS = [0, -1, 1, 315_576_000_000, 315_576_000_001, 2**63 - 1, -(2**63)]
UNICODE = ["ünïcödé", "名前", "🚀✓", "\u202eevil", "a\x00b", "\ufeff", "𝔘𝔫𝔦", "\u0301"]
ODD = ["", " ", "\n", "../../etc/passwd", "a:b", "x.y:z", "%s%n", "' OR 1=1 --", "null", "-1", "NaN", "*"]
NESTED_ARRAYS = "[" * 5000 + "]" * 5000
NESTED_OBJECTS = '{"a":' * 2000 + "1" + "}" * 2000
JSON_DOCS = [
    "{}",
    '{"x": 1}',
    '{"x": "' + "y" * 20_000 + '"}',
    "[]",
    "null",
    "1e999",
    "NaN",
    "Infinity",
    '{"x": NaN}',
    '{"n": 123456789012345678901234567890}',
    '{"a": 1, "a": 2}',
    '"\\ud800"',
    "{",
    "not json",
    "\x00",
    NESTED_ARRAYS,
    NESTED_OBJECTS,
    '{"x": ' + "[" * 200 + "]" * 200 + "}",
]
REPEAT_COUNTS = [0, 0, 1, 1, 2, 3, 5, 20, 200, 2000]
WILDNESS = [0.0, 0.05, 0.15, 0.4, 1.0]
PLAIN_JSON = ["{}", '{"x": 1}', '{"x": [1, 2], "y": "z"}']
LONG_LENGTHS = [300, 5_000, 70_000, 300_000]
# Characters of any size kept per request: many long strings in one request would only test
# the transport's size limit, which one raw body does (raw_bodies.py) more cheaply.
CHAR_BUDGET = 400_000


@dataclass
class IdPool:
    """Real identifiers by kind: flow_run, task_run, state, deployment_id, deployment_name,
    tag, worker, entrypoint, page_token."""

    by_kind: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, value: str) -> None:
        if value:
            self.by_kind.setdefault(kind, []).append(value)

    def everything(self) -> list[str]:
        return [v for values in self.by_kind.values() for v in values]

    def for_field(self, name: str) -> list[str]:
        """The ids a field of this name takes; every id for a name that says nothing."""
        kinds = _KINDS_BY_NAME.get(name)
        if kinds is None:
            kinds = [kind for hint, kind in _KIND_HINTS if hint in name]
        found = [v for kind in kinds for v in self.by_kind.get(kind, [])]
        return found or self.everything()


_KINDS_BY_NAME = {
    "run_id": ["flow_run", "task_run"],
    "id": ["flow_run", "task_run", "state", "deployment_id"],
    "name": ["deployment_name", "tag"],
    "expected_state_id": ["state"],
}
_NAMES_OF_IDS = ("id", "ids", "entrypoint", "page_token", "tag", "tags")
_KIND_HINTS = [
    ("flow_run_id", "flow_run"),
    ("task_run_id", "task_run"),
    ("state_id", "state"),
    ("deployment_id", "deployment_id"),
    ("deployment_name", "deployment_name"),
    ("tag", "tag"),
    ("worker", "worker"),
    ("entrypoint", "entrypoint"),
    ("page_token", "page_token"),
]


def _enum_numbers(fd: FieldDescriptor) -> list[int]:
    assert fd.enum_type is not None, "an enum field has an enum type"
    return [v.number for v in fd.enum_type.values]


class RequestMaker:
    """Random messages of any type, from a seeded `rng` and the real ids in `ids`."""

    def __init__(self, rng: random.Random, ids: IdPool, max_depth: int = 3) -> None:
        self.rng = rng
        self.ids = ids
        self.max_depth = max_depth
        self._budget = CHAR_BUDGET
        self._wildness = 1.0

    def make(self, descriptor: Descriptor) -> Message:
        message = GetMessageClass(descriptor)()
        self._budget = CHAR_BUDGET
        self._wildness = self.rng.choice(WILDNESS)
        self._fill(message, 0)
        return message

    def _wild(self) -> bool:
        return self.rng.random() < self._wildness

    # -- messages ---------------------------------------------------------------------------
    def _fill(self, message: Message, depth: int) -> None:
        fields: list[Any] = list(message.DESCRIPTOR.fields)  # upb's descriptors, typed apart
        self.rng.shuffle(fields)  # the last member of a oneof set is the one that stays
        # Tame requests set most top-level fields (many are required) and few nested ones.
        tame_unset = 0.1 if depth == 0 else 0.4
        unset = 0.3 * self._wildness + tame_unset * (1 - self._wildness)
        for fd in fields:
            if self.rng.random() < unset:
                continue  # unset: the default every server must cope with
            try:
                self._set(message, fd, depth)
            except (ValueError, TypeError, OverflowError):
                pass  # a value the message itself refuses (e.g. 1e308 in a float): no request

    def _set(self, message: Message, fd: FieldDescriptor, depth: int) -> None:
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            self._fill_map(getattr(message, fd.name), fd, depth)
        elif fd.is_repeated:
            self._fill_repeated(getattr(message, fd.name), fd, depth)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < self.max_depth:
                self._fill_sub(getattr(message, fd.name), depth + 1)
        else:
            setattr(message, fd.name, self.scalar(fd))

    def _fill_sub(self, sub: Message, depth: int) -> None:
        full_name = sub.DESCRIPTOR.full_name
        if full_name == "google.protobuf.Timestamp":
            self._time(sub, TIMESTAMP_SECONDS)
        elif full_name == "google.protobuf.Duration":
            self._time(sub, DURATION_SECONDS)
        else:
            self._fill(sub, depth)
        sub.SetInParent()  # present even when empty: an empty sub-message is an edge case too

    def _time(self, sub: Message, edges: list[int]) -> None:
        if not self._wild():
            seconds, nanos = 1_700_000_000 + self.rng.randint(-(10**8), 10**8), self.rng.randint(0, 10**9 - 1)
        else:
            seconds, nanos = self.rng.choice(edges), self.rng.choice(NANOS)
        setattr(sub, "seconds", seconds)  # noqa: B010 (Timestamp and Duration alike)
        setattr(sub, "nanos", nanos)  # noqa: B010

    def _count(self, depth: int, of_messages: bool) -> int:
        count = self.rng.choice(REPEAT_COUNTS) if self._wild() else self.rng.randint(0, 3)
        return min(count, 20 if depth == 0 else 3) if of_messages else count

    def _fill_repeated(self, container, fd: FieldDescriptor, depth: int) -> None:
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= self.max_depth:
                return
            for _ in range(self._count(depth, True)):
                self._fill_sub(container.add(), depth + 1)
        else:
            for _ in range(self._count(depth, False)):
                container.append(self.scalar(fd))

    def _fill_map(self, container, fd: FieldDescriptor, depth: int) -> None:
        entry = fd.message_type
        assert entry is not None, "a map field's entry is a message"
        key_fd, value_fd = entry.fields_by_name["key"], entry.fields_by_name["value"]
        for _ in range(self._count(depth, value_fd.type == FieldDescriptor.TYPE_MESSAGE)):
            key = self.scalar(key_fd)
            if value_fd.type == FieldDescriptor.TYPE_MESSAGE:
                if depth < self.max_depth:
                    self._fill_sub(container[key], depth + 1)
            else:
                container[key] = self.scalar(value_fd)

    # -- scalars ----------------------------------------------------------------------------
    def scalar(self, fd: FieldDescriptor):
        t = fd.type
        rng = self.rng
        if t not in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BOOL) and not self._wild():
            return self._plausible(fd)
        if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
            return rng.choice(INT32) if rng.random() < 0.7 else rng.randint(-1000, 1000)
        if t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
            return rng.choice(INT64) if rng.random() < 0.7 else rng.randint(-(10**6), 10**6)
        if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
            return rng.choice(UINT32) if rng.random() < 0.7 else rng.randint(0, 1000)
        if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
            return rng.choice(UINT64) if rng.random() < 0.7 else rng.randint(0, 1000)
        if t == FieldDescriptor.TYPE_DOUBLE:
            return rng.choice(DOUBLE) if rng.random() < 0.7 else rng.uniform(-1000.0, 1000.0)
        if t == FieldDescriptor.TYPE_FLOAT:
            return rng.choice(FLOAT) if rng.random() < 0.7 else rng.uniform(-1000.0, 1000.0)
        if t == FieldDescriptor.TYPE_BOOL:
            return rng.random() < 0.5
        if t == FieldDescriptor.TYPE_ENUM:
            known = _enum_numbers(fd)
            unknown = [max(known) + 1, 99, -1, 2**31 - 1]
            return rng.choice(known) if rng.random() < 0.75 else rng.choice(unknown)
        if t == FieldDescriptor.TYPE_BYTES:
            return rng.randbytes(rng.choice([0, 1, 16, 1000]))
        return self.text(fd.name)

    def _plausible(self, fd: FieldDescriptor):
        if fd.type == FieldDescriptor.TYPE_ENUM:
            return self.rng.choice([n for n in _enum_numbers(fd) if n] or [0])
        if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return self.rng.choice([0.0, 0.5, 1.0, 2.0, 5.0])
        if fd.type == FieldDescriptor.TYPE_BYTES:
            return b"x"
        return self.rng.randint(0, 5)

    def text(self, name: str) -> str:
        rng = self.rng
        pool = self.ids.for_field(name)
        if not self._wild():
            if name.endswith("_json"):
                return rng.choice(PLAIN_JSON)
            if pool and (name.endswith(_NAMES_OF_IDS) or rng.random() < 0.5):
                return rng.choice(pool)
            return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(1, 10)))
        if name.endswith("_json") and rng.random() < 0.6:
            return self._spend(rng.choice(JSON_DOCS))
        roll = rng.random()
        if pool and roll < 0.35:
            return rng.choice(pool)
        if pool and roll < 0.4:
            return rng.choice(pool) + rng.choice(["x", " ", "\x00", "/../x"])  # almost real
        kind = rng.randrange(6)
        if kind == 0:
            return rng.choice(ODD)
        if kind == 1:
            return rng.choice(UNICODE) * rng.choice([1, 3, 100])
        if kind == 2:
            return str(uuid.UUID(int=rng.getrandbits(128)))
        if kind == 3:
            return self._spend(rng.choice(string.ascii_letters) * rng.choice(LONG_LENGTHS))
        return "".join(rng.choices(string.ascii_letters + string.digits + "-_.:", k=rng.randint(1, 24)))

    def _spend(self, text: str) -> str:
        if len(text) > self._budget:
            return text[:16]
        self._budget -= len(text)
        return text
