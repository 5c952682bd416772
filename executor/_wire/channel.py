"""The engine's channel to the orchestrator: keepalives, message sizes, TLS and the API token."""

from __future__ import annotations

import grpc

from cadenza import transport
from executor import settings

_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def open_channel(address: str) -> grpc.aio.Channel:
    """Call on the loop that will use the channel: a grpc.aio channel belongs to one loop."""
    return transport.aio_channel(address, options=_CHANNEL_OPTIONS)


def call_metadata() -> tuple | None:
    token = settings.api_token()
    return (("authorization", f"Bearer {token}"),) if token else None
