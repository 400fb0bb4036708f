"""The production store: PostgreSQL through psycopg 3 and a connection pool.

The SQL stays in the subset CockroachDB and YugabyteDB also run, and a write
transaction is retried whole on serialization failures and deadlocks, which those
databases (and PostgreSQL under contention) report instead of blocking forever.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from server.deadline import check_deadline
from server.errors import StoreError
from server.store.bulk_import import COUNT_COLUMNS, COUNT_UPSERT_FROM
from server.store.common import SqlStore
from server.store.sql import Key, Tx

T = TypeVar("T")

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 8
POOL_TIMEOUT_S = 10.0
WRITE_ATTEMPTS = 5
# Any constant both migrators agree on; derived from the name so it reads as ours in pg_locks.
MIGRATION_LOCK_KEY = int.from_bytes(b"oms-migr", "big") & 0x7FFF_FFFF_FFFF_FFFF
_RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)


def _placeholders(sql: str) -> str:
    # Shared SQL uses '?'; psycopg wants '%s' and a literal '%' doubled.
    return sql.replace("%", "%%").replace("?", "%s")


def _open_pool(
    conninfo: str,
    name: str,
    min_size: int,
    max_size: int,
    timeout: float,
    configure: Callable[[psycopg.Connection[Any]], None] | None = None,
) -> ConnectionPool[psycopg.Connection[Any]]:
    # autocommit: single-statement reads cost one round trip; writes open transactions explicitly.
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        kwargs={"autocommit": True},
        configure=configure,
        name=name,
        open=False,
    )
    try:
        pool.open(wait=True, timeout=timeout)  # an unreachable database fails here, not later
    except PoolTimeout as error:
        pool.close()  # or it keeps reconnecting in the background
        raise StoreError(f"cannot connect to PostgreSQL within {timeout:g} s: {_why(conninfo)}") from error
    return pool


def _generic_plans(connection: psycopg.Connection[Any]) -> None:
    # A compatible database without this setting (it is PostgreSQL 12+) simply plans as it does.
    with suppress(errors.UndefinedObject):
        connection.execute("SET plan_cache_mode = force_generic_plan")


def _staging(tx: Tx, name: str, like: str) -> str:
    """An empty temporary table shaped as ``like``'s result, dropped at commit."""
    tx.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DROP AS {like} WITH NO DATA")
    tx.execute(f"TRUNCATE {name}")
    return name


def _why(conninfo: str) -> str:
    """libpq's own reason (refused, bad password, no such database): the pool only says "timeout"."""
    try:
        psycopg.connect(conninfo, connect_timeout=3).close()
    except psycopg.Error as error:
        return str(error).strip()
    return "the pool did not fill in time"


class _PostgresTx:
    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]], pipeline: psycopg.Pipeline | None = None) -> None:
        self._cursor = cursor
        self._pipeline = pipeline

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if params:
            self._cursor.execute(_placeholders(sql), params)
        else:
            # Without parameters psycopg sends the text as is: several statements are allowed.
            self._cursor.execute(sql)
        if self._pipeline is not None:  # wait for the result: until then it has no description
            self._pipeline.sync()
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(_placeholders(sql), params)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """COPY ``rows`` into ``table``: the fastest way rows get into PostgreSQL (bulk imports)."""
        with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def defer(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], list[tuple[Any, ...]]]:
        if self._pipeline is None:
            rows = self.execute(sql, params)
            return lambda: rows
        # A cursor of its own keeps this statement's result apart from those sent after it.
        cursor = self._cursor.connection.cursor()
        cursor.execute(_placeholders(sql), params)
        return cursor.fetchall  # waits for the results sent so far (one round trip for all)


class PostgresStore(SqlStore):
    MIGRATIONS = "postgres"
    TIMESTAMP_TYPE = "TIMESTAMPTZ"
    ROW_LOCK = " FOR UPDATE"
    FEED_LOCK = "SELECT pg_advisory_xact_lock(5005)"  # serializes event numbering (event_feed.py)

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = POOL_MIN_SIZE,
        max_size: int = POOL_MAX_SIZE,
        timeout: float = POOL_TIMEOUT_S,
    ) -> None:
        """``timeout`` bounds both the first connection and every wait for a free pooled one."""
        self.conninfo = conninfo
        self._pool = _open_pool(conninfo, "oms-store", min_size, max_size, timeout)
        try:
            # The stock read gets connections of its own that keep one generic plan. Its array
            # parameters make that plan look dearer than a custom one, so with the default setting
            # PostgreSQL plans it again on every call: ~170 µs of database CPU per decision, on the
            # cores the service shares (docs/profiling.md). Every other query keeps the default.
            self._stock_pool = _open_pool(conninfo, "oms-stock-reads", min_size, max_size, timeout, _generic_plans)
        except BaseException:
            self._pool.close()
            raise

    @property
    def dialect(self) -> str:
        return "postgresql"

    # --- transactions ---------------------------------------------------------------------

    def _read(self, work: Callable[[_PostgresTx], T]) -> T:
        with self._pool.connection() as connection, connection.cursor() as cursor:
            return work(_PostgresTx(cursor))

    def _read_stock(self, work: Callable[[_PostgresTx], T]) -> T:
        # Binary results: dozens of integers a call, taken as they are rather than parsed from text.
        with self._stock_pool.connection() as connection, connection.cursor(binary=True) as cursor:
            return work(_PostgresTx(cursor))

    def stock_generation(self) -> int | None:
        # Bumped at commit by every transaction writing inventory or reservations (migration 018).
        with self._stock_pool.connection() as connection:
            found = connection.execute("SELECT n FROM stock_generation WHERE id = 1").fetchone()
        return int(found[0]) if found is not None else 0

    def _write(self, work: Callable[[_PostgresTx], T]) -> T:
        return self._retrying(work, self._transaction)

    def _write_pipelined(self, work: Callable[[_PostgresTx], T]) -> T:
        """``_write`` in pipeline mode: statements sent with ``Tx.defer`` share round trips.

        BEGIN goes out with the first statements, and the first result looked at waits for all
        of them; COMMIT is one more. psycopg's own transaction block would add three syncs (a
        round trip each). PostgreSQL itself already shares WAL flushes among concurrent commits.
        """
        return self._retrying(work, self._pipelined_transaction)

    def _retrying(self, work: Callable[[_PostgresTx], T], run: Callable[[Callable[[_PostgresTx], T]], T]) -> T:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return run(work)
            except _RETRYABLE:
                if attempt == WRITE_ATTEMPTS:
                    raise
                # Jittered backoff so the transactions that collided do not collide again.
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    def _transaction(self, work: Callable[[_PostgresTx], T]) -> T:
        with self._pool.connection() as connection:
            check_deadline("BEGIN")  # after waiting for a pooled connection, which may have taken long
            with connection.transaction(), connection.cursor() as cursor:
                result = work(_PostgresTx(cursor))
                check_deadline("COMMIT")  # raising here rolls the transaction back
                return result

    def _pipelined_transaction(self, work: Callable[[_PostgresTx], T]) -> T:
        with self._pool.connection() as connection:
            check_deadline("BEGIN")
            try:
                with connection.pipeline() as pipeline, connection.cursor() as cursor:
                    cursor.execute("BEGIN")
                    result = work(_PostgresTx(cursor, pipeline))
                    check_deadline("COMMIT")  # raising here rolls the transaction back (below)
                    cursor.execute("COMMIT")
                # Leaving the pipeline waited for COMMIT's answer: nobody hears of the result
                # before its commit is durable.
                if cursor.statusmessage != "COMMIT":  # a failed statement turned it into a ROLLBACK
                    raise StoreError(f"the transaction was rolled back ({cursor.statusmessage})")
            except BaseException:
                if connection.info.transaction_status != TransactionStatus.IDLE:
                    with suppress(psycopg.Error):  # a broken connection: the pool discards it
                        connection.rollback()  # the pool wants idle connections back
                raise
            return result

    def _migration_tx(self, work: Callable[[_PostgresTx], T]) -> T:
        def locked(tx: _PostgresTx) -> T:
            # Released at commit or rollback; concurrent migrators queue here, then see the new version.
            tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))
            return work(tx)

        return self._write(locked)

    def close(self) -> None:
        self._stock_pool.close()
        self._pool.close()

    # --- bulk imports: COPY into a temporary table, then one upsert from it ---------------------

    def _bulk_write(
        self, tx: Tx, table: str, columns: Sequence[str], key: str, params: Sequence[Sequence[Any]]
    ) -> None:
        if not params:
            return
        staging = _staging(tx, f"import_{table}", f"SELECT {', '.join(columns)}, updated_at FROM {table}")
        cast(_PostgresTx, tx).copy_rows(staging, [*columns, "updated_at"], params)
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*columns, "updated_at") if c != key)
        tx.execute(
            f"INSERT INTO {table} ({', '.join(columns)}, updated_at) SELECT * FROM {staging}"
            f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )

    def _write_counts(self, tx: Tx, counts: Sequence[tuple[Any, ...]], now: datetime) -> set[Key]:
        if not counts:
            return set()
        staging = _staging(tx, "import_counts", f"SELECT {', '.join(COUNT_COLUMNS)} FROM inventory")
        cast(_PostgresTx, tx).copy_rows(staging, COUNT_COLUMNS, counts)
        written = {(r[0], r[1]) for r in tx.execute(COUNT_UPSERT_FROM.format(source=staging), (now,))}
        return {(c[0], c[1]) for c in counts} - written

    # --- dialect fragments ----------------------------------------------------------------

    def _script_statements(self, script: str) -> list[str]:
        return [script]  # PostgreSQL runs a parameterless multi-statement script in one call

    def _in_list(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def _in_keys(self, keys: Sequence[Key]) -> tuple[str, list[Any]]:
        return (
            "(sku, node_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))",
            [[k[0] for k in keys], [k[1] for k in keys]],
        )

    def _has_tag(self) -> str:
        return "tags::jsonb @> jsonb_build_array(?::text)"

    def _table_exists_sql(self) -> str:
        return "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"

    def _ts_in(self, value: datetime | None) -> datetime | None:
        return value

    def _ts_out(self, value: Any) -> datetime | None:
        # psycopg returns the session's time zone; callers get UTC whatever the server's TimeZone.
        return None if value is None else value.astimezone(UTC)

    def _key_taken(self, error: Exception) -> bool:
        return isinstance(error, errors.UniqueViolation) and error.diag.constraint_name == "idempotency_keys_pkey"

    # --- durability ---------------------------------------------------------------------------

    def check_durability(self) -> list[str]:
        def settings(tx: _PostgresTx) -> dict[str, str]:
            found = tx.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(?)",
                (["fsync", "synchronous_commit", "full_page_writes"],),
            )
            return {str(name): str(value) for name, value in found}

        current = self._read(settings)
        # A setting a compatible database does not have (CockroachDB has no fsync) is not a problem;
        # every synchronous_commit value but 'off' flushes the local WAL before acknowledging.
        problems = []
        if current.get("synchronous_commit") == "off":
            problems.append("synchronous_commit is off: acknowledged commits can be lost")
        if current.get("fsync", "on") != "on":
            problems.append("fsync is off: a crash can corrupt the database")
        if current.get("full_page_writes", "on") != "on":
            problems.append("full_page_writes is off: a crash can leave torn pages")
        return problems
