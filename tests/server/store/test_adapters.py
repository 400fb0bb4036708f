"""What is particular to one adapter, or to opening one: URLs, migration files, settings, retries."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from psycopg import errors

from engine.model import GeoPoint, Node, NodeType
from server.store import InventoryUpdate, StoreError, UpdateKind, open_store
from server.store.migrate import load_migrations, split_sqlite_script
from server.store.page_tokens import decode_page_token, encode_page_token
from server.store.postgres import PostgresStore
from server.store.sqlite import SqliteStore

# --- URLs -----------------------------------------------------------------------------------


def test_unknown_scheme_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="unsupported store URL scheme 'mysql'") as raised:
        open_store("mysql://app:s3cret@db/oms")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://relative.db", "sqlite:///"])
def test_unusable_sqlite_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="SQLite URL"):
        open_store(url)


def test_sqlite_relative_url_creates_parent_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///var/deep/oms.db")
    try:
        assert store.dialect == "sqlite"
        assert (tmp_path / "var" / "deep" / "oms.db").is_file()
    finally:
        store.close()


def test_sqlite_absolute_url_uses_four_slashes(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "oms.db"
    store = open_store(f"sqlite:///{target}")  # target starts with '/', so four slashes in all
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == target
        assert target.is_file()
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_scheme_alias(postgres_dsn: str) -> None:
    store = open_store(postgres_dsn.replace("postgresql://", "postgres://", 1))
    try:
        assert store.dialect == "postgresql"
    finally:
        store.close()


# --- migrations and tokens -------------------------------------------------------------------------


def test_both_dialects_carry_the_same_numbered_migrations() -> None:
    sqlite_steps = [(m.version, m.name) for m in load_migrations("sqlite")]
    postgres_steps = [(m.version, m.name) for m in load_migrations("postgres")]
    assert sqlite_steps == postgres_steps
    assert sqlite_steps[:2] == [(1, "network"), (2, "orders")]


def test_sqlite_script_splitting_respects_literals_and_trigger_bodies() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (a TEXT DEFAULT 'x;y');
    CREATE TRIGGER t_no_delete BEFORE DELETE ON t BEGIN
        SELECT RAISE(ABORT, 'append-only; no deletes');
    END;
    INSERT INTO t VALUES ('1');
    """
    statements = split_sqlite_script(script)
    assert len(statements) == 3
    assert statements[1].endswith("END;")
    with pytest.raises(ValueError, match="incomplete"):
        split_sqlite_script("CREATE TABLE t (a TEXT);\nCREATE TABLE u (")


def test_page_tokens_are_opaque_and_round_trip() -> None:
    token = encode_page_token("DC-07")
    assert "DC-07" not in token
    assert decode_page_token(token) == "DC-07"


def test_schema_version_counts_applied_migrations(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "v.db")
    try:
        assert store.schema_version() == 0
        assert store.migrate() == store.schema_version() == load_migrations("sqlite")[-1].version
    finally:
        store.close()


# --- SQLite particulars ---------------------------------------------------------------------------------


def test_sqlite_durability_check_reports_a_weakened_connection(sqlite_store: SqliteStore) -> None:
    # The store keeps one idle connection after migrate; weaken it, and the check must see it.
    with sqlite_store._connection() as connection:
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = OFF")
    problems = sqlite_store.check_durability()
    assert any("synchronous" in p for p in problems)
    assert any("foreign_keys" in p for p in problems)


def _node(node_id: str) -> Node:
    return Node(id=node_id, type=NodeType.DC, location=GeoPoint(0, 0), pick_pack_cost=1, unit_handling_cost=0)


def test_sqlite_waits_for_another_process_holding_the_write_lock(sqlite_store: SqliteStore) -> None:
    other = sqlite3.connect(sqlite_store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    try:
        sqlite_store.upsert_nodes([_node("N")])
    finally:
        release.join()
        other.close()
    assert time.monotonic() - started >= 0.25  # it waited instead of failing with "database is locked"
    assert [n.id for n in sqlite_store.all_nodes()] == ["N"]


def test_sqlite_closed_store_refuses_work_and_closes_twice(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.all_nodes()


def test_sqlite_store_file_is_in_wal_mode(sqlite_store: SqliteStore) -> None:
    probe = sqlite3.connect(sqlite_store.path)
    try:
        assert probe.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        probe.close()


# --- PostgreSQL particulars ---------------------------------------------------------------------------------


def _with_options(url: str, options: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(options)}"


@pytest.mark.postgres
def test_postgres_unreachable_database_fails_at_open_with_the_reason(postgres_dsn: str) -> None:
    missing = postgres_dsn.rsplit("/", 1)[0] + "/oms_no_such_database"
    with pytest.raises(StoreError, match="oms_no_such_database"):
        PostgresStore(missing, timeout=0.5)


@pytest.mark.postgres
def test_postgres_durability_check_reports_synchronous_commit_off(postgres_dsn: str) -> None:
    store = PostgresStore(_with_options(postgres_dsn, "-c synchronous_commit=off"))
    try:
        assert store.check_durability() == ["synchronous_commit is off: acknowledged commits can be lost"]
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_returns_utc_whatever_the_session_time_zone(postgres_databases: Any) -> None:
    url = postgres_databases.create()
    store = PostgresStore(_with_options(url, "-c TimeZone=America/New_York"))
    try:
        store.migrate()
        store.upsert_nodes([_node("N")])
        as_of = datetime(2025, 6, 1, 3, 0, 0, 1, tzinfo=UTC)
        store.update_inventory([InventoryUpdate("N", "A", UpdateKind.ABSOLUTE, 1, as_of)])
        [position] = store.get_availability(["A"])
        assert position.as_of == as_of
        assert position.as_of is not None and position.as_of.utcoffset() == timedelta(0)
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_retries_a_serialization_failure(postgres_dsn: str) -> None:
    store = PostgresStore(postgres_dsn)
    attempts: list[int] = []

    def flaky(tx: object) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise errors.SerializationFailure("could not serialize access")
        return "done"

    def hopeless(tx: object) -> str:
        raise errors.DeadlockDetected("deadlock detected")

    try:
        assert store._write(flaky) == "done"
        assert len(attempts) == 3
        with pytest.raises(errors.DeadlockDetected):
            store._write(hopeless)
    finally:
        store.close()
