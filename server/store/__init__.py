"""Persistence: ``open_store(url)`` picks the adapter; both satisfy ``server.store.base.Store``.

URL forms:
    sqlite:///relative/path.db       relative to the working directory
    sqlite:////absolute/path.db      (four slashes: the path itself starts with '/')
    postgresql://user@host:5432/db   also postgres://; any libpq URI query options pass through
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from server.errors import (
    InvalidRequestError,
    MissingStandardRateError,
    NegativeStockError,
    StoreError,
    UnknownNodeError,
)
from server.store.base import (
    InventoryUpdate,
    InventoryUpdateResult,
    NodePage,
    OrderStore,
    Store,
    UpdateKind,
    UpdateOutcome,
)

__all__ = [
    "InvalidRequestError",
    "InventoryUpdate",
    "InventoryUpdateResult",
    "MissingStandardRateError",
    "NegativeStockError",
    "NodePage",
    "OrderStore",
    "Store",
    "StoreError",
    "UnknownNodeError",
    "UpdateKind",
    "UpdateOutcome",
    "open_store",
]

_SQLITE_PREFIX = "sqlite:///"


def open_store(url: str, create: bool = True) -> Store:
    """Open (not migrate) the store at ``url``; call ``migrate()`` before first use. A reader passes
    ``create=False``: a SQLite file that does not exist is then an error, not a new empty store."""
    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite":
        path = url[len(_SQLITE_PREFIX) :] if url.startswith(_SQLITE_PREFIX) else ""
        if not path or path == ":memory:":
            raise ValueError(
                f"bad SQLite URL {url!r}: expected sqlite:///relative/path.db or sqlite:////absolute/path.db "
                "(in-memory databases are not supported: every connection would see its own)"
            )
        # Imported here so a PostgreSQL deployment never loads sqlite3, and vice versa for psycopg.
        from server.store.sqlite import SqliteStore

        if not create and not os.path.exists(path):
            raise ValueError(f"no SQLite database at {path}")
        return SqliteStore(path)
    if scheme in ("postgresql", "postgres"):
        from server.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(
        f"unsupported store URL scheme {scheme!r} in {_redact(url)!r}: "
        "use sqlite:///path.db or postgresql://user@host:port/dbname"
    )


def _redact(url: str) -> str:
    # Never echo a password into logs or error messages.
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}:***@{tail}" if ":" in credentials else url


if TYPE_CHECKING:
    from server.store.memory import MemoryOrderStore
    from server.store.memory_store import MemoryStore
    from server.store.postgres import PostgresStore
    from server.store.sqlite import SqliteStore

    def _adapters_implement_the_ports(
        sqlite: SqliteStore, postgres: PostgresStore, memory_orders: MemoryOrderStore, memory: MemoryStore
    ) -> tuple[Store, OrderStore, Store, OrderStore, OrderStore, Store, OrderStore]:
        """Checked by mypy: an adapter that drifts from a port fails the type check."""
        return sqlite, sqlite, postgres, postgres, memory_orders, memory, memory
