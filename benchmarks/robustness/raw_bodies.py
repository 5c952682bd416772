"""Request bodies written byte by byte, most of which no protobuf parser accepts: random bytes,
bad tags, truncated messages, lengths past the end, invalid UTF-8 in a string field, field
number 0, an 11-byte varint, a stray end-group, nesting past the parser's recursion limit, and
one body over the transport's 4 MiB limit. Sent with an identity serializer, they reach the
server's deserializer as they are."""

from __future__ import annotations

import random

from google.protobuf.descriptor import Descriptor, FieldDescriptor

OVERSIZED_BYTES = 5 * 1024 * 1024  # gRPC's default receive limit is 4 MiB
NESTING_DEPTH = 300  # protobuf refuses more than 100 levels


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(field_number: int, wire_type: int) -> bytes:
    return varint(field_number << 3 | wire_type)


def _first_string_field(descriptor: Descriptor) -> int:
    for fd in descriptor.fields:
        if fd.type == FieldDescriptor.TYPE_STRING:
            return fd.number
    return 1


def _self_nested(descriptor: Descriptor) -> bytes | None:
    """The message nested in itself NESTING_DEPTH times, if it has a field of its own type."""
    for fd in descriptor.fields:
        if fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type is descriptor:
            body = b""
            for _ in range(NESTING_DEPTH):
                body = key(fd.number, 2) + varint(len(body)) + body
            return body
    return None


def raw_bodies(
    descriptor: Descriptor, valid: bytes, rng: random.Random, count: int
) -> list[tuple[str, bytes]]:
    """`count` bodies for a method taking `descriptor` (`valid` is one well-formed request of
    it), as (kind, bytes); every kind comes once before any comes twice."""
    text_field = _first_string_field(descriptor)
    makers = {
        "empty": lambda: b"",
        "random-bytes": lambda: rng.randbytes(rng.randint(1, 64)),
        "bad-tag": lambda: b"\xff" * rng.randint(1, 12),
        "truncated": lambda: valid[: rng.randrange(len(valid))] if len(valid) > 1 else b"\x0a\x05ab",
        "length-past-end": lambda: key(text_field, 2) + varint(1000) + b"x",
        "bad-utf8": lambda: key(text_field, 2) + varint(2) + b"\xc3\x28",
        "field-zero": lambda: key(0, 0) + b"\x01",
        "varint-overflow": lambda: key(text_field, 0) + b"\xff" * 10 + b"\x7f",
        "stray-end-group": lambda: key(text_field, 4),
        "valid-then-garbage": lambda: valid + b"\xff\xff",
    }
    nested = _self_nested(descriptor)
    if nested is not None:
        makers["nested-too-deep"] = lambda: nested
    makers["oversized"] = lambda: key(1000, 2) + varint(OVERSIZED_BYTES) + b"a" * OVERSIZED_BYTES
    kinds = list(makers)
    bodies = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "oversized" and i >= len(kinds):
            kind = "random-bytes"  # one oversized body per method is enough, and cheap
        bodies.append((kind, makers[kind]()))
    return bodies
