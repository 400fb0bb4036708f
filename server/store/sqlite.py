"""The embedded store: one SQLite file in WAL mode, durable (``synchronous=FULL``).

Connections come from a small free list (any thread may use any connection, one at a
time), so reads run concurrently under WAL. Writers are serialized by a process-wide
lock before they reach SQLite, and ``BEGIN IMMEDIATE`` plus ``busy_timeout`` order them
against other processes; "database is locked" therefore never reaches a caller unless
another process holds the write lock for longer than the retries wait.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from server.deadline import check_deadline
from server.store import rows
from server.store.common import SqlStore
from server.store.group_commit import GroupCommitter
from server.store.migrate import split_sqlite_script
from server.store.sql import Key

T = TypeVar("T")


def _json_strings(values: Sequence[str]) -> str:
    """``json.dumps(list(values))``, or text SQLite's JSON reads the same: ids with nothing to
    escape (printable, no quote or backslash) are written as they are, at a fraction of the cost."""
    joined = '","'.join(values)
    # The separators hold all the quotes when no value has one (an empty list goes to json.dumps).
    if joined.count('"') != 2 * (len(values) - 1) or "\\" in joined or not joined.isprintable():
        return json.dumps(list(values))
    return f'["{joined}"]'


BUSY_TIMEOUT_MS = 5_000
_BEGIN_ATTEMPTS = 3  # each waits up to BUSY_TIMEOUT_MS inside SQLite before giving up

# Applied to every new connection; all but journal_mode are per connection.
_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
)


class _SqliteTx:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._connection.execute(sql, params).fetchall()

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self._connection.executemany(sql, params)

    def defer(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], list[tuple[Any, ...]]]:
        rows = self.execute(sql, params)  # in process: nothing to gain by waiting
        return lambda: rows


class SqliteStore(SqlStore):
    MIGRATIONS = "sqlite"
    TIMESTAMP_TYPE = "TEXT"
    ROW_LOCK = ""  # BEGIN IMMEDIATE already holds the database's only write lock

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()  # guards _idle and _closed
        self._write_lock = threading.Lock()
        self._group = GroupCommitter(self._write_lock)
        self._closed = False
        self._release(self._connect())  # fail now, not on the first request, if the file is unusable
        # Never writes: its data_version then changes at every commit by any other connection, this
        # process's own writers included (a connection does not see its own commits there).
        self._watcher = self._connect()
        self._watcher_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return "sqlite"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    # --- connections and transactions ------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the module never opens transactions behind our back.
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        try:
            for pragma in _PRAGMAS:
                connection.execute(pragma)
        except BaseException:
            connection.close()
            raise
        return connection

    def _release(self, connection: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed and not connection.in_transaction:
                self._idle.append(connection)
                return
        connection.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
        try:
            yield connection
        finally:
            self._release(connection)

    def _read(self, work: Callable[[_SqliteTx], T]) -> T:
        with self._connection() as connection:
            return work(_SqliteTx(connection))

    def _fetch_stock(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        # The hottest read, without the context manager's generator and the Tx wrapper: the same
        # free list, taken and given back directly.
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            self._release(connection)

    def stock_generation(self) -> int | None:
        # Every commit to the file counts (orders and events too): coarser than stock alone, and free.
        with self._watcher_lock:
            return int(self._watcher.execute("PRAGMA data_version").fetchone()[0])

    def _write(self, work: Callable[[_SqliteTx], T]) -> T:
        with self._write_lock, self._connection() as connection:
            return _in_immediate_transaction(connection, work)

    def _write_grouped(self, work: Callable[[_SqliteTx], T]) -> T:
        """``_write``, sharing one transaction (one fsync) with writers queued meanwhile."""
        return self._group.run(work, self._connection, _begin_immediate, _SqliteTx)

    def _migration_tx(self, work: Callable[[_SqliteTx], T]) -> T:
        # BEGIN IMMEDIATE takes the file's write lock: migrators in other processes wait for it.
        return self._write(work)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        with self._watcher_lock:
            self._watcher.close()

    # --- dialect fragments -------------------------------------------------------------

    def _script_statements(self, script: str) -> list[str]:
        return split_sqlite_script(script)

    def _in_list(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        # One JSON parameter instead of one per value: no limit on the list's length.
        return f"{column} IN (SELECT value FROM json_each(?))", [_json_strings(values)]

    def _in_keys(self, keys: Sequence[Key]) -> tuple[str, list[Any]]:
        pairs = "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)"
        return f"(sku, node_id) IN ({pairs})", [json.dumps([list(k) for k in keys])]

    def _has_tag(self) -> str:
        return "EXISTS (SELECT 1 FROM json_each(nodes.tags) AS t WHERE t.value = ?)"

    def _table_exists_sql(self) -> str:
        return "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"

    def _ts_in(self, value: datetime | None) -> str | None:
        return None if value is None else rows.encode_text_timestamp(value)

    def _ts_now(self) -> str:
        # rows.encode_text_timestamp of the current instant; the date and time of day are written
        # once a second, the microseconds every call (a stock read asks on every decision).
        seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
        second = self._second
        if second[0] != seconds:
            second = self._second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
        return f"{second[1]}.{micros:06d}Z"

    _second: tuple[int, str] = (-1, "")

    def _ts_out(self, value: Any) -> datetime | None:
        return None if value is None else rows.decode_text_timestamp(value)

    def _key_taken(self, error: Exception) -> bool:
        return isinstance(error, sqlite3.IntegrityError) and "idempotency_keys.key" in str(error)

    # --- durability ----------------------------------------------------------------------

    def check_durability(self) -> list[str]:
        with self._connection() as connection:
            journal = str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            synchronous = int(connection.execute("PRAGMA synchronous").fetchone()[0])
            foreign_keys = int(connection.execute("PRAGMA foreign_keys").fetchone()[0])
        problems = []
        if journal != "wal":
            problems.append(f"journal_mode is {journal}, not wal")
        if synchronous < 2:  # 2 = FULL, 3 = EXTRA; NORMAL (1) can lose the last commits on power loss
            problems.append(f"synchronous is {synchronous}, not FULL (2) or EXTRA (3)")
        if foreign_keys != 1:
            problems.append("foreign_keys is off")
        return problems


def _in_immediate_transaction(connection: sqlite3.Connection, work: Callable[[_SqliteTx], T]) -> T:
    check_deadline("BEGIN")  # after waiting for the write lock, which may have taken long
    _begin_immediate(connection)
    try:
        result = work(_SqliteTx(connection))
        check_deadline("COMMIT")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return result


def _begin_immediate(connection: sqlite3.Connection) -> None:
    for attempt in range(1, _BEGIN_ATTEMPTS + 1):
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            # Nothing has run yet, so retrying BEGIN is always safe.
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if attempt == _BEGIN_ATTEMPTS:
                raise
            time.sleep(0.01 * attempt)
