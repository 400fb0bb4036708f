"""The server's TLS credentials, from PEM files (the clients': server/cli/client.py).

Files are read once, at start: a renewed certificate is served after a restart.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from server.config import Config, ConfigError


def read_pem(path: str, setting: str, marker: str) -> bytes:
    """The file's bytes; ``marker`` (``CERTIFICATE``, ``PRIVATE KEY``) must appear in a PEM header,
    so that a wrong file is named at start, not found by a failing handshake."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{setting} {path}: {error.strerror}") from None
    if b"-----BEGIN " not in data or marker.encode() not in data:
        raise ConfigError(f"{setting} {path}: not a PEM file holding a {marker}")
    return data


def server_credentials(config: Config) -> grpc.ServerCredentials | None:
    """TLS (and mutual TLS when ``tls_client_ca_file`` is set) per ``config``; None: plaintext."""
    if not config.tls_cert_file:
        return None
    chain = read_pem(config.tls_cert_file, "tls_cert_file", "CERTIFICATE")
    key = read_pem(config.tls_key_file, "tls_key_file", "PRIVATE KEY")
    client_ca = (
        read_pem(config.tls_client_ca_file, "tls_client_ca_file", "CERTIFICATE") if config.tls_client_ca_file else None
    )
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca, require_client_auth=bool(client_ca))


def tls_mode(config: Config) -> str:
    """What the server asks of a connection, for the start-up log line."""
    if not config.tls_cert_file:
        return "plaintext"
    return "mutual-tls" if config.tls_client_ca_file else "tls"
