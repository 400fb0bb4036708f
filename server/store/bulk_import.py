"""Bulk imports (``oms-sourcing import``, docs/onboarding.md): a whole file's batches in one
transaction, each batch compared with what is stored so that only rows that change are written.

Speed: a batch costs one keyed SELECT and one bulk write (executemany on SQLite, COPY into a
temporary table and one INSERT ... SELECT on PostgreSQL), not a statement per row. Stock counts
at positions that hold reservations take ``update_inventory``'s own path (holds give way to a
count below them); the rest cannot break ``reserved <= on_hand`` and are written directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from server.errors import UnknownNodeError
from server.store import rows
from server.store.base import ImportedCounts, InventoryUpdate, InventoryUpdateResult, UpdateKind, UpdateOutcome
from server.store.sql import Key, Tx

T = TypeVar("T")

_NETWORK_VERSION_BUMP = "UPDATE network_version SET version = version + 1 WHERE id = 1"
_CATALOGUE_VERSION_BUMP = "UPDATE catalogue_version SET version = version + 1 WHERE id = 1"
_COUNT_COLUMNS = ("sku", "node_id", "on_hand", "as_of")


def _upsert(table: str, columns: Sequence[str], key: str, source: str) -> str:
    """INSERT ... ON CONFLICT DO UPDATE of ``columns`` and updated_at from VALUES or a SELECT."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*columns, "updated_at") if c != key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}, updated_at) {source} ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def _values(count: int) -> str:
    return f"VALUES ({', '.join('?' for _ in range(count))})"


class BulkImportStoreMixin(ABC):
    """``ImportStore`` for the SQL stores (server/store/base.py)."""

    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _write(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _in_list(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]: ...

    @abstractmethod
    def _in_keys(self, keys: Sequence[Key]) -> tuple[str, list[Any]]: ...

    @abstractmethod
    def _ts_in(self, value: datetime | None) -> Any: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime | None: ...

    @abstractmethod
    def _apply_updates(
        self, tx: Tx, updates: Sequence[InventoryUpdate], as_ofs: Sequence[datetime | None], now: datetime
    ) -> list[InventoryUpdateResult]: ...

    def _bulk_write(
        self, tx: Tx, table: str, columns: Sequence[str], key: str, params: Sequence[Sequence[Any]]
    ) -> None:
        """Upsert ``params`` (``columns`` then updated_at) into ``table``; a dialect may do it faster."""
        tx.executemany(_upsert(table, columns, key, _values(len(columns) + 1)), params)

    def known_ids(self, kind: str, ids: Sequence[str]) -> set[str]:
        column = {"nodes": "id", "items": "sku"}[kind]
        if not ids:
            return set()
        predicate, params = self._in_list(column, sorted(set(ids)))
        return {
            r[0] for r in self._read(lambda tx: tx.execute(f"SELECT {column} FROM {kind} WHERE {predicate}", params))
        }

    # --- nodes and items ---------------------------------------------------------------------

    def import_nodes(self, batches: Callable[[], Iterable[Sequence[Any]]]) -> ImportedCounts:
        return self._import_rows(batches, "nodes", rows.NODE_COLUMNS, rows.node_to_row, _NETWORK_VERSION_BUMP)

    def import_items(self, batches: Callable[[], Iterable[Sequence[Any]]]) -> ImportedCounts:
        return self._import_rows(batches, "items", rows.ITEM_COLUMNS, rows.item_to_row, _CATALOGUE_VERSION_BUMP)

    def _import_rows(
        self,
        batches: Callable[[], Iterable[Sequence[Any]]],
        table: str,
        columns: Sequence[str],
        to_row: Callable[[Any], tuple[Any, ...]],
        bump: str,
    ) -> ImportedCounts:
        key = columns[0]

        def work(tx: Tx) -> ImportedCounts:
            total = ImportedCounts()
            bumped = False
            for batch in batches():
                new = {row[0]: row for row in map(to_row, batch)}
                predicate, params = self._in_list(key, sorted(new))
                stored = {
                    r[0]: tuple(r)
                    for r in tx.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {predicate}", params)
                }
                changed = [row for ident, row in new.items() if stored.get(ident) != row]
                if changed and not bumped:
                    tx.execute(bump)  # the caches' version moves once, and only when something changed
                    bumped = True
                now = self._ts_in(rows.utc_now())
                self._bulk_write(tx, table, columns, key, [(*row, now) for row in changed])
                total = total + ImportedCounts(written=len(changed), unchanged=len(new) - len(changed))
            return total

        return self._write(work)

    # --- stock counts -------------------------------------------------------------------------

    def import_counts(
        self, batches: Callable[[], Iterable[Sequence[InventoryUpdate]]], now: datetime
    ) -> ImportedCounts:
        def work(tx: Tx) -> ImportedCounts:
            total = ImportedCounts()
            for batch in batches():
                total = total + self._import_count_batch(tx, batch, now)
            return total

        return self._write(work)

    def _import_count_batch(self, tx: Tx, batch: Sequence[InventoryUpdate], now: datetime) -> ImportedCounts:
        if not batch:
            return ImportedCounts()
        self._check_nodes(tx, batch)
        # Read without locking: most rows of a re-run do not change, and a row lock is a write.
        # The write below is guarded against what may change meanwhile (_write_counts).
        keys = sorted({(u.sku, u.node_id) for u in batch})
        predicate, params = self._in_keys(keys)
        found = tx.execute(f"SELECT sku, node_id, on_hand, reserved, as_of FROM inventory WHERE {predicate}", params)
        # A file's counts mostly share one as_of: each distinct time is converted once, not per row.
        times_out: dict[Any, datetime | None] = {}
        times_in: dict[datetime, Any] = {}
        stored: dict[Key, tuple[int, int, datetime | None]] = {}
        for sku, node_id, on_hand, reserved, as_of in found:
            if as_of not in times_out:
                times_out[as_of] = self._ts_out(as_of)
            stored[(sku, node_id)] = (int(on_hand), int(reserved), times_out[as_of])
        direct: list[tuple[Any, ...]] = []
        held: list[InventoryUpdate] = []
        unchanged = stale = 0
        for update in sorted(batch, key=lambda u: (u.sku, u.node_id)):
            assert update.kind is UpdateKind.ABSOLUTE and update.as_of is not None  # the importer's counts
            position = stored.get((update.sku, update.node_id))
            if position is not None:
                on_hand, reserved, as_of = position
                if as_of is not None and as_of > update.as_of:
                    stale += 1
                    continue
                if on_hand == update.quantity and as_of == update.as_of:
                    unchanged += 1
                    continue
                if reserved > update.quantity:
                    held.append(update)  # holds must give way: the one path that knows how
                    continue
            if update.as_of not in times_in:
                times_in[update.as_of] = self._ts_in(update.as_of)
            direct.append((update.sku, update.node_id, update.quantity, times_in[update.as_of]))
        missed = self._write_counts(tx, direct, now)
        if missed:  # reserved or counted anew since the read: judged again, under lock
            held.extend(u for u in batch if (u.sku, u.node_id) in missed)
        applied = 0
        if held:
            results = self._apply_updates(tx, held, [u.as_of for u in held], now)
            applied = sum(1 for r in results if r.outcome is UpdateOutcome.APPLIED)
            stale += len(held) - applied
        return ImportedCounts(written=len(direct) - len(missed) + applied, unchanged=unchanged, stale=stale)

    def _check_nodes(self, tx: Tx, batch: Sequence[InventoryUpdate]) -> None:
        wanted = sorted({u.node_id for u in batch})
        predicate, params = self._in_list("id", wanted)
        known = {r[0] for r in tx.execute(f"SELECT id FROM nodes WHERE {predicate}", params)}
        unknown = [(i, u.node_id) for i, u in enumerate(batch) if u.node_id not in known]
        if unknown:
            raise UnknownNodeError([i for i, _ in unknown], [n for _, n in unknown])

    def _write_counts(self, tx: Tx, counts: Sequence[tuple[Any, ...]], now: datetime) -> set[Key]:
        """Set (sku, node_id, on_hand, as_of), sorted by key, at positions read holding no
        reservation above on_hand; the keys NOT written because that changed since the read.
        SQLite: none (the write transaction began with the file's only write lock)."""
        if counts:
            stamp = self._ts_in(now)
            tx.executemany(_COUNT_UPSERT, [(*c, stamp) for c in counts])
        return set()


# A new position starts at version 1 (created and counted); a changed one moves its version on.
_COUNT_UPSERT = (
    "INSERT INTO inventory (sku, node_id, on_hand, as_of, updated_at, reserved, protected, version)"
    " VALUES (?, ?, ?, ?, ?, 0, 0, 1) ON CONFLICT (sku, node_id) DO UPDATE SET on_hand = excluded.on_hand,"
    " as_of = excluded.as_of, updated_at = excluded.updated_at, version = inventory.version + 1"
)
# Guarded: a position reserved above the count, or counted later, since it was read is left alone
# and not RETURNed; rows are taken in key order, the order reservations lock them in.
COUNT_UPSERT_FROM = (
    "INSERT INTO inventory (sku, node_id, on_hand, as_of, updated_at, reserved, protected, version)"
    " SELECT sku, node_id, on_hand, as_of, ?, 0, 0, 1 FROM {source} ORDER BY sku, node_id"
    " ON CONFLICT (sku, node_id) DO UPDATE SET"
    " on_hand = excluded.on_hand, as_of = excluded.as_of, updated_at = excluded.updated_at,"
    " version = inventory.version + 1"
    " WHERE inventory.reserved <= excluded.on_hand AND (inventory.as_of IS NULL OR inventory.as_of <= excluded.as_of)"
    " RETURNING sku, node_id"
)
COUNT_COLUMNS = _COUNT_COLUMNS
