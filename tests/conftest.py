"""Fixtures shared by the whole suite: stores over both adapters and fresh PostgreSQL databases.

- ``store``: a migrated, empty store, parametrized "sqlite" / "postgresql" (the latter marked
  ``postgres``); ``store_url`` is the URL it was opened from; ``raw_sql`` runs SQL beside it.
- ``postgres_dsn``: (session) a URL to a fresh database of its own, dropped at the end.
- ``postgres_databases``: (session) ``.create()`` makes another fresh database, any time.
- ``make_sqlite_store(path)`` / ``sqlite_store``: a migrated SQLite store in a temporary file.
- ``default_ports_held``: (session, automatic) the service's default ports are held for the whole
  run, so a test that binds one fails instead of colliding with a running ``make run``.

PostgreSQL comes from ``OMS_TEST_POSTGRES_DSN`` (default postgresql://postgres@127.0.0.1:5432/postgres).
When it is unreachable its tests skip, except when ``CI`` is set: there they fail.

- ``nats_url``: (session) a NATS server with JetStream, from ``OMS_TEST_NATS_URL`` (default
  nats://127.0.0.1:4222); skipped when unreachable, failed instead when ``CI`` is set. Tests keep
  apart on the one server by a prefix of their own (``relay_prefix``) and delete their streams.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from server.store import Store, open_store
from server.store.postgres import PostgresStore
from server.store.sqlite import SqliteStore

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
# `make run`'s gRPC and metrics ports: tests bind port 0, never these.
DEFAULT_SERVICE_PORTS = (50051, 9464)

RawSql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture(scope="session", autouse=True)
def default_ports_held() -> Iterator[None]:
    """Hold the default ports (without SO_REUSEPORT, so no server can bind beside the holder).

    A port already taken is held by someone else (a running ``make run``), which has the same
    effect for a server that does not share ports; the suite then runs beside it.
    """
    held: list[socket.socket] = []
    for port in DEFAULT_SERVICE_PORTS:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("0.0.0.0", port))
            sock.listen(1)
            held.append(sock)
        except OSError:
            sock.close()
    yield
    for sock in held:
        sock.close()


def _redacted(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


class PostgresDatabases:
    """Creates uniquely named databases on the test server and drops them all at the end."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self._names: list[str] = []

    def create(self) -> str:
        """A URL to a new, empty database."""
        name = f"oms_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"'.encode())
        self._names.append(name)
        return urlunsplit(urlsplit(self.admin_dsn)._replace(path=f"/{name}"))

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            # FORCE: a test that failed half-way may have left a pool connected.
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        if name in self._names:
            self._names.remove(name)

    def drop_all(self) -> None:
        for name in list(self._names):
            self.drop(f"/{name}")


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    admin_dsn = os.environ.get("OMS_TEST_POSTGRES_DSN") or DEFAULT_POSTGRES_DSN
    if not admin_dsn.startswith(("postgresql://", "postgres://")):
        pytest.fail(f"OMS_TEST_POSTGRES_DSN must be a postgresql:// URL, got {_redacted(admin_dsn)!r}")
    try:
        with psycopg.connect(admin_dsn, connect_timeout=3) as probe:
            probe.execute("SELECT 1")
    except psycopg.OperationalError as error:
        reason = f"PostgreSQL unreachable at {_redacted(admin_dsn)} ({str(error).strip()})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so PostgreSQL tests must run", pytrace=False)
        pytest.skip(f"{reason}; set OMS_TEST_POSTGRES_DSN or start PostgreSQL to run these tests")
    databases = PostgresDatabases(admin_dsn)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_databases: PostgresDatabases) -> str:
    """A postgresql:// URL to a fresh database for this session (not migrated)."""
    return postgres_databases.create()


def make_sqlite_store(path: Path) -> SqliteStore:
    """A migrated SQLite store in ``path`` (a file that need not exist yet)."""
    store = SqliteStore(path)
    store.migrate()
    return store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = make_sqlite_store(tmp_path / "store.db")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database (a new file, or a new PostgreSQL database) for one test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    databases.drop(url)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store over each adapter."""
    opened = open_store(store_url)
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def raw_sql(store: Store) -> RawSql:
    """Run one statement (``?`` placeholders) on the store's database over a separate connection."""

    def run(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if isinstance(store, SqliteStore):
            lite = sqlite3.connect(store.path, isolation_level=None)
            try:
                lite.execute("PRAGMA foreign_keys = ON")
                return lite.execute(sql, params).fetchall()
            finally:
                lite.close()
        assert isinstance(store, PostgresStore)
        with psycopg.connect(store.conninfo, autocommit=True) as connection:
            cursor = connection.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description is not None else []

    return run


def _jetstream_reachable(url: str) -> str:
    """Empty when a NATS server with JetStream answers at ``url``; else why not."""
    import asyncio

    import nats

    async def probe() -> None:
        nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
        try:
            await nc.jetstream().account_info()
        finally:
            await nc.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 10))
    except Exception as error:
        return f"{type(error).__name__}: {error}".strip()
    return ""


@pytest.fixture(scope="session")
def nats_url() -> str:
    url = os.environ.get("OMS_TEST_NATS_URL") or DEFAULT_NATS_URL
    problem = _jetstream_reachable(url)
    if problem:
        reason = f"NATS JetStream unreachable at {url} ({problem})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so the relay's tests must run", pytrace=False)
        pytest.skip(f"{reason}; start nats-server -js or set OMS_TEST_NATS_URL to run these tests")
    return url
