"""Plaintext or TLS, from the environment, for every server and channel Cadenza opens.

Servers: CADENZA_TLS_CERT and CADENZA_TLS_KEY (PEM paths) turn TLS on.
Clients: CADENZA_TLS_CA (PEM path of the CA or the server's own certificate) turns TLS on;
with only CADENZA_TLS_CERT set (a self-signed server cert), clients trust that file.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path

import grpc

from .settings import CadenzaSettings, SettingsError, load, variable

log = logging.getLogger("cadenza.transport")


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


def _resolved(part: str) -> tuple[str, list[tuple[int, str]]]:
    """(host, [(family, "ip:port"), ...]) of one host:port."""
    host, _, port = part.rpartition(":")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except OSError as exc:
        log.warning("orchestrator replica %s cannot be resolved (%s); leaving it out", part, exc)
        return host, []
    found: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        ip = sockaddr[0]
        found.append((int(family), f"[{ip}]:{port}" if family == socket.AF_INET6 else f"{ip}:{port}"))
    return host, found


def replica_target(address: str) -> tuple[str, list[tuple[str, str]]]:
    """(gRPC target, extra channel options) for an address. Several host:port replicas become
    one target whose channel connects to the first that answers and moves on to the next when
    it goes away (gRPC's pick_first over an address list), so every caller fails over without
    code of its own. gRPC lists only IP addresses: host names are resolved here, once, and TLS
    checks the certificate against the first host's name."""
    parts = address.split(",")
    if len(parts) == 1:
        return address, []
    hosts: list[str] = []
    v4: list[str] = []
    v6: list[str] = []
    for part in parts:
        host, found = _resolved(part)
        hosts.append(host)
        for family, ip_port in found:
            bucket = v6 if family == socket.AF_INET6 else v4
            if ip_port not in bucket:
                bucket.append(ip_port)
    if not v4 and not v6:
        return parts[0], []  # nothing resolves: calls fail naming the first replica
    target = f"ipv4:{','.join(v4)}" if v4 else f"ipv6:{','.join(v6)}"
    options: list[tuple[str, str]] = []
    if not _is_ip(hosts[0]):
        options = [("grpc.ssl_target_name_override", hosts[0]), ("grpc.default_authority", hosts[0])]
    return target, options


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def aio_channel(address: str, options=None) -> grpc.aio.Channel:
    return aio_channel_trusting(address, client_root_certificates(), options)


def aio_channel_trusting(address: str, root_certificates: bytes | None, options=None) -> grpc.aio.Channel:
    """A channel over TLS trusting these PEM roots, or a plaintext one for None (a process that
    was handed them, such as a Dask worker, rather than reading its own environment)."""
    target, extra = replica_target(address)
    options = [*(options or []), *extra]
    if root_certificates is None:
        return grpc.aio.insecure_channel(target, options=options)
    creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
    return grpc.aio.secure_channel(target, creds, options=options)


def channel(address: str, options=None) -> grpc.Channel:
    target, extra = replica_target(address)
    options = [*(options or []), *extra]
    creds = _client_credentials()
    if creds is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, creds, options=options)
