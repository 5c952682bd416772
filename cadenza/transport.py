"""Plaintext or TLS, from the environment, for every server and channel Cadenza opens.

Servers: CADENZA_TLS_CERT and CADENZA_TLS_KEY (PEM paths) turn TLS on.
Clients: CADENZA_TLS_CA (PEM path of the CA or the server's own certificate) turns TLS on;
with only CADENZA_TLS_CERT set (a self-signed server cert), clients trust that file.
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc


class TLSConfigError(ValueError):
    pass


def _read(var: str) -> bytes | None:
    path = os.environ.get(var, "")
    if not path:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise TLSConfigError(f"{var}={path!r} cannot be read: {exc.strerror}") from None


def server_credentials() -> grpc.ServerCredentials | None:
    cert, key = _read("CADENZA_TLS_CERT"), _read("CADENZA_TLS_KEY")
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TLSConfigError("TLS needs both CADENZA_TLS_CERT and CADENZA_TLS_KEY")
    return grpc.ssl_server_credentials([(key, cert)])


def add_port(server, address: str) -> int:
    creds = server_credentials()
    return server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)


def _client_credentials() -> grpc.ChannelCredentials | None:
    ca = _read("CADENZA_TLS_CA") or _read("CADENZA_TLS_CERT")
    return grpc.ssl_channel_credentials(root_certificates=ca) if ca else None


def aio_channel(address: str, options=None) -> grpc.aio.Channel:
    creds = _client_credentials()
    if creds is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(address, creds, options=options)


def channel(address: str, options=None) -> grpc.Channel:
    creds = _client_credentials()
    if creds is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, creds, options=options)
