"""The /metrics endpoint: loopback by default, HTTPS and mutual TLS when configured, in one
process and in multi-worker mode (the parent serves), and what a scrape shows.

Scrapes are real HTTP(S) requests on real sockets; certificates come from tests/integration/certs.py.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest

from server.api.app import RunningServer, StartupError, create_server
from server.api.proto import orders_pb2_grpc
from server.config import Config, ConfigError, load_config
from server.store.base import Store
from tests.integration.certs import Certs, make_certs
from tests.integration.conftest import ServerFactory, make_config
from tests.integration.helpers import REPO, ServerProcess, free_port, run_cli
from tests.integration.orders_helpers import allocate, load_network, order

# What a failed scrape looks like to the scraper: refused handshake, reset, closed or garbled.
SCRAPE_FAILED = (OSError, http.client.HTTPException)  # ssl.SSLError, URLError, resets are OSErrors


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("metrics-certs"))


def tls_config(certs: Certs, client_ca: bool, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "metrics_port": free_port(),
        "metrics_tls_cert_file": str(certs.server_cert),
        "metrics_tls_key_file": str(certs.server_key),
        "metrics_tls_client_ca_file": str(certs.ca) if client_ca else "",
    }
    values.update(overrides)
    return make_config(**values)


def scrape(url: str, ca: Path | None = None, cert: tuple[Path, Path] | None = None, timeout: float = 5) -> str:
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=str(ca))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
        return str(response.read().decode())


def _url(scheme: str, running: RunningServer) -> str:
    assert running.metrics_endpoint is not None
    return f"{scheme}://127.0.0.1:{running.metrics_endpoint.port}/metrics"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) of the sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":
                found.add(address)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_the_endpoint_binds_loopback_by_default_and_in_production(
    start_server: ServerFactory, sqlite_store: Store
) -> None:
    assert Config().metrics_host == "127.0.0.1"
    assert load_config({}, {}, REPO / "config" / "production.toml").metrics_host == "127.0.0.1"
    port = free_port()
    start_server(sqlite_store, make_config(metrics_port=port))
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, not 0.0.0.0 (00000000)


def test_with_tls_only_an_https_scrape_that_trusts_the_ca_succeeds(
    start_server: ServerFactory, sqlite_store: Store, certs: Certs
) -> None:
    running = start_server(sqlite_store, tls_config(certs, client_ca=False))
    assert "grpc_server_started_total" in scrape(_url("https", running), ca=certs.ca)
    with pytest.raises(SCRAPE_FAILED):
        scrape(_url("http", running))
    with pytest.raises(urllib.error.URLError) as caught:
        scrape(_url("https", running), ca=certs.other_ca)
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)


def test_with_mutual_tls_a_scrape_needs_a_client_certificate_the_ca_signed(
    start_server: ServerFactory, sqlite_store: Store, certs: Certs
) -> None:
    running = start_server(sqlite_store, tls_config(certs, client_ca=True))
    url = _url("https", running)
    assert "grpc_server_started_total" in scrape(url, ca=certs.ca, cert=(certs.client_cert, certs.client_key))
    with pytest.raises(SCRAPE_FAILED):
        scrape(url, ca=certs.ca)  # no client certificate: the handshake fails
    with pytest.raises(SCRAPE_FAILED):
        scrape(url, ca=certs.ca, cert=(certs.other_client_cert, certs.other_client_key))
    with pytest.raises(SCRAPE_FAILED):
        scrape(_url("http", running))
    assert "grpc_server_started_total" in scrape(url, ca=certs.ca, cert=(certs.client_cert, certs.client_key))


def test_a_silent_peer_does_not_hold_up_tls_scrapes(
    start_server: ServerFactory, sqlite_store: Store, certs: Certs
) -> None:
    """A connection that never starts its handshake holds its own thread, not the accepting one."""
    running = start_server(sqlite_store, tls_config(certs, client_ca=True))
    assert running.metrics_endpoint is not None
    with socket.create_connection(("127.0.0.1", running.metrics_endpoint.port)):
        text = scrape(_url("https", running), ca=certs.ca, cert=(certs.client_cert, certs.client_key), timeout=5)
    assert "grpc_server_started_total" in text


def test_the_parent_of_several_workers_serves_mutual_tls(tmp_path: Path, certs: Certs) -> None:
    metrics_port = free_port()
    server = ServerProcess(
        [
            "--workers", "2", "--port", "0", "--metrics-port", str(metrics_port),
            "--metrics-tls-cert-file", str(certs.server_cert), "--metrics-tls-key-file", str(certs.server_key),
            "--metrics-tls-client-ca-file", str(certs.ca),
            "--database", f"sqlite:///{tmp_path / 'w.db'}", "--load-sample-if-empty",
        ],
        timeout=60,
    )  # fmt: skip
    try:
        url = f"https://127.0.0.1:{metrics_port}/metrics"
        # The workers' values, aggregated (a family shows once some worker wrote a value).
        text = scrape(url, ca=certs.ca, cert=(certs.client_cert, certs.client_key))
        assert "oms_sourcing_inflight_requests 0.0" in text
        with pytest.raises(SCRAPE_FAILED):
            scrape(url, ca=certs.ca)
        with pytest.raises(SCRAPE_FAILED):
            scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        assert server.stop() == 0, server.logs


def test_a_taken_metrics_port_stops_a_group_before_any_worker_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        result = run_cli(
            "serve", "--workers", "2", "--port", "0", "--metrics-port", str(taken),
            "--database", f"sqlite:///{tmp_path / 'w.db'}",
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "cannot serve metrics" in result.stderr and "Address already in use" in result.stderr
    assert "msg=serving" not in result.stderr and "serving on" not in result.stdout  # no worker started


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"metrics_tls_cert_file": "missing.crt"}, "metrics_tls_cert_file missing.crt: No such file"),
        ({"metrics_tls_client_ca_file": "KEY"}, r"metrics_tls_client_ca_file .*not a PEM file holding a CERTIFICATE"),
        ({"metrics_tls_key_file": "OTHER_KEY"}, "not a certificate chain and its key"),
    ],
)
def test_a_bad_metrics_tls_file_stops_the_start_naming_the_setting(
    sqlite_store: Store, certs: Certs, overrides: dict[str, str], message: str
) -> None:
    files = {"KEY": str(certs.server_key), "OTHER_KEY": str(certs.client_key)}
    config = tls_config(certs, client_ca=True, **{k: files.get(v, v) for k, v in overrides.items()})
    with pytest.raises(StartupError, match=message):
        create_server(config, sqlite_store)


def test_metrics_tls_settings_go_together(certs: Certs) -> None:
    with pytest.raises(ConfigError, match="metrics_tls_key_file and metrics_tls_cert_file go together"):
        make_config(metrics_tls_cert_file=str(certs.server_cert))
    with pytest.raises(ConfigError, match="metrics_tls_client_ca_file needs metrics_tls_cert_file"):
        make_config(metrics_tls_client_ca_file=str(certs.ca))


@pytest.mark.parametrize(
    ("tls", "warned"),
    [
        ("none", "metrics over plaintext HTTP beyond loopback"),
        ("server-only", "metrics over TLS without client certificates"),
        ("mutual", ""),
    ],
)
def test_beyond_loopback_an_endpoint_anyone_can_read_is_warned_about(
    start_server: ServerFactory,
    sqlite_store: Store,
    certs: Certs,
    caplog: pytest.LogCaptureFixture,
    tls: str,
    warned: str,
) -> None:
    if tls == "none":
        config = make_config(metrics_host="0.0.0.0", metrics_port=free_port())
    else:
        config = tls_config(certs, client_ca=tls == "mutual", metrics_host="0.0.0.0")
    with caplog.at_level(logging.WARNING, logger="server.metrics_http"):
        start_server(sqlite_store, config)
    warnings = [r.getMessage() for r in caplog.records if r.name == "server.metrics_http"]
    if warned:
        assert any(w.startswith(warned) for w in warnings), warnings
    else:
        assert warnings == []


def _documented_families() -> set[str]:
    text = (REPO / "docs" / "configuration.md").read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))


def test_a_scrape_shows_the_documented_families_and_no_order_data(
    start_server: ServerFactory, sqlite_store: Store
) -> None:
    running = start_server(sqlite_store, make_config(metrics_port=free_port()))
    with grpc.insecure_channel(running.target) as channel:
        load_network(channel, [("NEAR", "A", 5)])
        orders = orders_pb2_grpc.OrderServiceStub(channel)  # type: ignore[no-untyped-call]
        orders.Allocate(allocate(order("order-secret-7731", ("A", 2)), key="key-secret-7731"), timeout=10)
    text = scrape(_url("http", running))
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    # prometheus_client adds NAME_created (when the series began) to each counter and histogram.
    assert {f for f in families if not f.endswith("_created")} == _documented_families()
    for private in ("order-secret-7731", "key-secret-7731", "NEAR"):  # order, request key, node
        assert private not in text
