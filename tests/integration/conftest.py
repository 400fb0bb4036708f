"""Servers for the integration tests: real gRPC over real sockets on ephemeral ports.

``api`` runs against every store the root conftest offers (SQLite always, PostgreSQL where it
is reachable), so the API's behaviour is proven on both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from server.api.app import RunningServer, create_server
from server.api.proto import network_pb2_grpc
from server.config import Config, load_config
from server.store.base import Store
from tests.integration.helpers import REPO

ServerFactory = Callable[..., RunningServer]


def make_config(**overrides: Any) -> Config:
    # No background sweeper unless a test asks: its EXPIRED events would race the tests' own.
    # Four handler threads (the production setting), so concurrent callers race inside the server.
    values: dict[str, Any] = {
        "port": 0,
        "metrics_port": 0,
        "grace_seconds": 1.0,
        "sweep_interval_seconds": 0.0,
        "threads": 4,
    }
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def start_server() -> Iterator[ServerFactory]:
    """Start servers (stopped at teardown): ``start_server(store, config=None, **create_kwargs)``."""
    started: list[RunningServer] = []

    def start(store: Store, config: Config | None = None, **kwargs: Any) -> RunningServer:
        running = create_server(config or make_config(), store, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop(grace=0)


@pytest.fixture
def config_file_server(start_server: ServerFactory, sqlite_store: Store) -> Callable[[str], RunningServer]:
    """A server configured by one of the repository's config/*.toml files (ports made ephemeral,
    and plaintext without tokens: production's certificate and tokens files exist only where it
    is deployed; tests/integration/test_security.py serves with such files)."""

    def start(name: str) -> RunningServer:
        unsecured = dict.fromkeys(("tls_cert_file", "tls_key_file", "tls_client_ca_file", "auth_tokens_file"), "")
        config = load_config({"port": 0, "metrics_port": 0, **unsecured}, {}, REPO / "config" / name)
        return start_server(sqlite_store, config)

    return start


class Api:
    def __init__(self, running: RunningServer, store: Store) -> None:
        self.running = running
        self.store = store
        self.channel = grpc.insecure_channel(running.target)
        self.network = network_pb2_grpc.NetworkServiceStub(self.channel)


@pytest.fixture
def api(start_server: ServerFactory, store: Store) -> Iterator[Api]:
    """A server over a migrated, empty store (SQLite, and PostgreSQL when available)."""
    client = Api(start_server(store), store)
    yield client
    client.channel.close()
