"""How the project's clients connect: TLS from PEM files and a bearer token.

``oms-sourcing call``, ``health``, ``load-network``, ``rules activate|rollback|status`` and the
locust users open their channels here, so a server with TLS, mutual TLS or tokens is reached the
same way by each. Every setting comes from a flag or, without one, the environment:

- ``--ca-file`` / ``OMS_SOURCING_CA_FILE``: the CA bundle that signed the server's certificate;
  given, the channel is TLS (a public CA: pass the system bundle);
- ``--cert-file``, ``--key-file`` / ``OMS_SOURCING_CERT_FILE``, ``OMS_SOURCING_KEY_FILE``: the
  client's certificate and key, for a server that asks for mutual TLS;
- ``--token-file`` / ``OMS_SOURCING_TOKEN``: a file holding the bearer token, or the token itself
  in the environment. Never a flag: command lines show in ``ps`` and shell history.
"""

from __future__ import annotations

import argparse
import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from server.api.auth import TOKEN_PATTERN
from server.config import ConfigError
from server.tls import read_pem

CA_FILE_ENV = "OMS_SOURCING_CA_FILE"
CERT_FILE_ENV = "OMS_SOURCING_CERT_FILE"
KEY_FILE_ENV = "OMS_SOURCING_KEY_FILE"
TOKEN_ENV = "OMS_SOURCING_TOKEN"


@dataclass(frozen=True, slots=True)
class ClientSecurity:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    token: str = field(default="", repr=False)  # a secret: kept out of reprs, logs and errors

    def __post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            raise ConfigError("--cert-file and --key-file go together (mutual TLS)")
        if self.cert_file and not self.ca_file:
            raise ConfigError("--cert-file needs --ca-file: a client certificate is only sent over TLS")
        if self.token and not TOKEN_PATTERN.fullmatch(self.token):
            raise ConfigError("the bearer token is malformed (expected base64 characters, no spaces)")

    def credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials, or None for plaintext."""
        if not self.ca_file:
            return None
        roots = read_pem(self.ca_file, "--ca-file", "CERTIFICATE")
        if not self.cert_file:
            return grpc.ssl_channel_credentials(root_certificates=roots)
        chain = read_pem(self.cert_file, "--cert-file", "CERTIFICATE")
        key = read_pem(self.key_file, "--key-file", "PRIVATE KEY")
        return grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=chain)


def read_token(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(f"--token-file {path}: {reason}") from None
    if not token:
        raise ConfigError(f"--token-file {path}: empty")
    return token


def client_security(
    env: Mapping[str, str],
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    token_file: str | None = None,
) -> ClientSecurity:
    """Flags given (not None) win over the environment."""
    return ClientSecurity(
        ca_file=env.get(CA_FILE_ENV, "") if ca_file is None else ca_file,
        cert_file=env.get(CERT_FILE_ENV, "") if cert_file is None else cert_file,
        key_file=env.get(KEY_FILE_ENV, "") if key_file is None else key_file,
        token=read_token(token_file) if token_file else env.get(TOKEN_ENV, "").strip(),
    )


def add_client_security_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection security (flags > environment)")
    group.add_argument(
        "--ca-file", metavar="FILE", help=f"PEM CA bundle to verify the server by: TLS (env {CA_FILE_ENV})"
    )
    group.add_argument(
        "--cert-file", metavar="FILE", help=f"PEM client certificate, for mutual TLS (env {CERT_FILE_ENV})"
    )
    group.add_argument("--key-file", metavar="FILE", help=f"PEM private key of --cert-file (env {KEY_FILE_ENV})")
    group.add_argument(
        "--token-file", metavar="FILE", help=f"file holding the bearer token (or the token itself in env {TOKEN_ENV})"
    )


def security_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> ClientSecurity:
    return client_security(env, args.ca_file, args.cert_file, args.key_file, args.token_file)


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]
):
    pass


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]  # reflection is a bidi stream
):
    """Adds ``authorization: Bearer <token>`` to every call. An interceptor rather than gRPC's
    call credentials, which gRPC refuses on plaintext channels: behind a TLS-terminating proxy
    or sidecar the hop to this server is plaintext."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> _CallDetails:
        metadata = [*(details.metadata or ()), self._header]
        return _CallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression
        )

    def _call(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)

    intercept_unary_unary = intercept_unary_stream = _call
    intercept_stream_unary = intercept_stream_stream = _call  # the request iterator goes on as it came


def open_channel(target: str, security: ClientSecurity, options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    credentials = security.credentials()
    if credentials is None:
        channel = grpc.insecure_channel(target, options=list(options))
    else:
        channel = grpc.secure_channel(target, credentials, options=list(options))
    return grpc.intercept_channel(channel, _BearerToken(security.token)) if security.token else channel
