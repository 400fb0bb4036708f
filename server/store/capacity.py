"""Shipments each node has taken on today: what rules' daily capacity caps are checked against.

A node takes on a shipment when an order reserves there (a held reservation) or ships
from there; an order counts once per node however many lines it has there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from server.store.sql import Tx

T = TypeVar("T")

_SHIPMENTS_SINCE = """
SELECT node_id, COUNT(*) FROM (
    SELECT DISTINCT order_id, node_id FROM reservations WHERE created_at >= ?
    UNION
    SELECT DISTINCT order_id, node_id FROM shipments WHERE created_at >= ?
) AS taken
GROUP BY node_id
"""


class CapacityStoreMixin(ABC):
    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _ts_in(self, value: datetime | None) -> Any: ...

    def shipments_since(self, since: datetime) -> dict[str, int]:
        """Per node, the orders it has reserved for or shipped since ``since``."""
        at = self._ts_in(since)
        found = self._read(lambda tx: tx.execute(_SHIPMENTS_SINCE, (at, at)))
        return {str(node): int(count) for node, count in found}
