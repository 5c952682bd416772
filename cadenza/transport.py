"""Plaintext or TLS, from the environment, for every server and channel Cadenza opens.

Servers: CADENZA_TLS_CERT and CADENZA_TLS_KEY (PEM paths) turn TLS on.
Clients: CADENZA_TLS_CA (PEM path of the CA or the server's own certificate) turns TLS on;
with only CADENZA_TLS_CERT set (a self-signed server cert), clients trust that file.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from .settings import CadenzaSettings, SettingsError, load, variable


class TLSConfigError(SettingsError):
    pass


def _read(name: str) -> bytes | None:
    path: Path | None = getattr(load(CadenzaSettings), name)
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:  # it was there when the settings were read
        raise TLSConfigError(f"{variable(name)}={str(path)!r} cannot be read: {exc.strerror}") from None


def server_credentials() -> grpc.ServerCredentials | None:
    cert, key = _read("tls_cert"), _read("tls_key")
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TLSConfigError("TLS needs both CADENZA_TLS_CERT and CADENZA_TLS_KEY")
    return grpc.ssl_server_credentials([(key, cert)])


def add_port(server, address: str) -> int:
    creds = server_credentials()
    return server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)


def client_root_certificates() -> bytes | None:
    """The PEM a client trusts (CADENZA_TLS_CA, else CADENZA_TLS_CERT); None: plaintext."""
    return _read("tls_ca") or _read("tls_cert")


def _client_credentials() -> grpc.ChannelCredentials | None:
    ca = client_root_certificates()
    return grpc.ssl_channel_credentials(root_certificates=ca) if ca else None


def aio_channel(address: str, options=None) -> grpc.aio.Channel:
    return aio_channel_trusting(address, client_root_certificates(), options)


def aio_channel_trusting(address: str, root_certificates: bytes | None, options=None) -> grpc.aio.Channel:
    """A channel over TLS trusting these PEM roots, or a plaintext one for None (a process that
    was handed them, such as a Dask worker, rather than reading its own environment)."""
    if root_certificates is None:
        return grpc.aio.insecure_channel(address, options=options)
    creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
    return grpc.aio.secure_channel(address, creds, options=options)


def channel(address: str, options=None) -> grpc.Channel:
    creds = _client_credentials()
    if creds is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, creds, options=options)
