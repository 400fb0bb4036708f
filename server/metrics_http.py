"""The Prometheus /metrics endpoint: HTTP, or HTTPS with client certificates (mutual TLS).

One server for both. Each connection gets a thread of its own, and with TLS the handshake runs
on that thread: prometheus_client's own TLS server (``start_http_server(certfile=...)``)
handshakes in its accepting thread, so one peer that connects and sends nothing stops every
scrape. Every connection has a timeout, so idle ones do not pile up either.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, make_wsgi_app

from server.config import LOOPBACK_HOSTS, Config, ConfigError
from server.tls import read_pem

_log = logging.getLogger(__name__)

# A scrape is one short request; a connection idle this long (handshake included) is closed.
CONNECTION_TIMEOUT_SECONDS = 10.0


def metrics_tls_context(config: Config) -> ssl.SSLContext | None:
    """The endpoint's TLS per ``config`` (None: plain HTTP); ConfigError naming the setting of a bad file."""
    if not config.metrics_tls_cert_file:
        return None
    read_pem(config.metrics_tls_cert_file, "metrics_tls_cert_file", "CERTIFICATE")
    read_pem(config.metrics_tls_key_file, "metrics_tls_key_file", "PRIVATE KEY")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.metrics_tls_cert_file, config.metrics_tls_key_file)
    except ssl.SSLError as error:
        raise ConfigError(
            f"metrics_tls_cert_file and metrics_tls_key_file are not a certificate chain and its key: {error}"
        ) from None
    if config.metrics_tls_client_ca_file:
        read_pem(config.metrics_tls_client_ca_file, "metrics_tls_client_ca_file", "CERTIFICATE")
        try:
            context.load_verify_locations(cafile=config.metrics_tls_client_ca_file)
        except ssl.SSLError as error:
            raise ConfigError(f"metrics_tls_client_ca_file {config.metrics_tls_client_ca_file}: {error}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one line per scrape would flood the log
        pass


class _MetricsServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None) -> None:
        family, _, _, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        self.address_family = family  # read when the base class makes the socket: IPv4 or IPv6
        self.tls = tls
        super().__init__((str(address[0]), port), _QuietHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        connection.settimeout(CONNECTION_TIMEOUT_SECONDS)
        return connection, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # On this connection's thread: a slow or silent peer holds only its own thread.
        wrapped = self.tls.wrap_socket(request, server_side=True)
        try:
            super().finish_request(wrapped, client_address)
        finally:
            self.shutdown_request(wrapped)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A plain-HTTP probe of the TLS port, a peer without a certificate, a timeout: the peer's
        # problem, said once at DEBUG instead of a traceback on stderr.
        _log.debug("metrics connection failed", exc_info=True, extra={"peer": str(client_address)})


@dataclass
class MetricsEndpoint:
    """A running /metrics server."""

    port: int
    _httpd: _MetricsServer
    _thread: threading.Thread

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def serve_metrics(config: Config, registry: CollectorRegistry, tls: ssl.SSLContext | None) -> MetricsEndpoint | None:
    """Serve ``registry`` on ``metrics_host:metrics_port`` (``tls``: HTTPS); None when the port is 0."""
    if config.metrics_port == 0:
        return None
    _warn_if_exposed(config)
    httpd = _MetricsServer(config.metrics_host, config.metrics_port, tls)
    httpd.set_app(make_wsgi_app(registry))
    thread = threading.Thread(target=httpd.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return MetricsEndpoint(httpd.server_port, httpd, thread)


def _warn_if_exposed(config: Config) -> None:
    """Beyond loopback, anyone who reaches the port reads the metrics unless client certificates
    are asked: a warning, not a refusal (docs/configuration.md, "Metrics")."""
    if config.metrics_host in LOOPBACK_HOSTS:
        return
    if not config.metrics_tls_cert_file:
        _log.warning(
            "metrics over plaintext HTTP beyond loopback: anyone who reaches the port reads them"
            " (metrics_tls_cert_file, metrics_tls_client_ca_file)",
            extra={"metrics_host": config.metrics_host},
        )
    elif not config.metrics_tls_client_ca_file:
        _log.warning(
            "metrics over TLS without client certificates: anyone who reaches the port reads them"
            " (metrics_tls_client_ca_file)",
            extra={"metrics_host": config.metrics_host},
        )
