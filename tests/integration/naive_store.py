"""A deliberately broken reservation adapter: the negative control of the race tests.

It does what the oversell bugs in Saleor, Medusa, Vendure and Magento did: read what is free,
then write ``reserved = what was read + q``. Two buyers reading before either writes both win.
The race test must catch it; if it ever stops catching it, the test has lost its teeth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.decision import AllocationLine
from engine.orders.records import NewOrder, summed
from server.errors import ReservationConflict
from server.store.base import RequestKey
from server.store.postgres import PostgresStore
from server.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from server.store.common import SqlStore
    from server.store.sql import Key, Tx

    _Base = SqlStore
else:
    _Base = object

_seen = threading.local()
READ_TO_WRITE_S = 0.003  # the time an application spends between its read and its write


class NaiveReservations(_Base):
    def allocate_order(
        self, key: RequestKey, new: NewOrder, allocations: Sequence[AllocationLine], now: datetime, attachment: bytes
    ) -> bytes:
        wanted = summed(allocations)
        skus = sorted({sku for (sku, _), _ in wanted})
        _seen.positions = {(p.sku, p.node_id): p for p in self.get_availability(skus, now=now)}
        time.sleep(READ_TO_WRITE_S)
        return super().allocate_order(key, new, allocations, now, attachment)

    def _reserve(
        self,
        tx: Tx,
        order_id: str,
        wanted: Sequence[tuple[Key, int]],
        allocations: Sequence[AllocationLine],
        now: datetime,
        hold_ms: int,
        fresh: bool = False,
    ) -> None:
        positions: dict[Any, Any] = getattr(_seen, "positions", {})
        for (sku, node_id), qty in wanted:
            seen = positions.get((sku, node_id))
            if seen is None or seen.available < qty:
                raise ReservationConflict("not enough (as read earlier)")
            tx.execute(
                "UPDATE inventory SET reserved = ? WHERE sku = ? AND node_id = ?", (seen.reserved + qty, sku, node_id)
            )
        self._insert_holds(tx, order_id, allocations, now, hold_ms, fresh)


class NaiveSqliteStore(NaiveReservations, SqliteStore):
    pass


class NaivePostgresStore(NaiveReservations, PostgresStore):
    pass


def naive_twin(store: Any) -> SqliteStore | PostgresStore:
    """A naive store over the same database as ``store``."""
    if isinstance(store, SqliteStore):
        return NaiveSqliteStore(store.path)
    assert isinstance(store, PostgresStore)
    return NaivePostgresStore(store.conninfo)
