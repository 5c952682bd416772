"""The engine's channel to the orchestrator: keepalives, message sizes, TLS and the API token."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Connection:
    """Everything needed to reach the orchestrator, as values: another process (a Dask worker)
    given one connects as this process does, whatever its own environment says."""

    address: str
    api_token: str | None = None
    root_certificates: bytes | None = None  # PEM trusted for TLS; None: plaintext

    @classmethod
    def from_settings(cls, address: str) -> Connection:
        """The token and TLS roots this process's settings give (CADENZA_API_TOKEN, CADENZA_TLS_*)."""
        return cls(address, settings.api_token(), transport.client_root_certificates())

    def __repr__(self) -> str:  # never the token
        tls = "TLS" if self.root_certificates else "plaintext"
        return f"Connection({self.address!r}, {tls}, token={'set' if self.api_token else 'unset'})"


def open_channel(connection: Connection) -> grpc.aio.Channel:
    """Call on the loop that will use the channel: a grpc.aio channel belongs to one loop."""
    return transport.aio_channel_trusting(
        connection.address, connection.root_certificates, options=_CHANNEL_OPTIONS
    )


def call_metadata(connection: Connection) -> tuple | None:
    token = connection.api_token
    return (("authorization", f"Bearer {token}"),) if token else None
