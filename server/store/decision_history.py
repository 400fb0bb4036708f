"""Reads of the decisions the service made: what ``oms-sourcing report --since`` measures.

Read-only. Each order row keeps the caller's request and the summary of the decision Allocate
made (``orders.decision``: allocations, unfilled lines, rule-set version, fired rules and holds,
objective); ``orders.created_at`` is when it was allocated. Shipments confirmed since are
counted beside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from server.store.sql import Tx

T = TypeVar("T")

_ALLOCATED = (
    "SELECT order_id, created_at, request, rule_set_version, decision, state FROM orders "
    "WHERE created_at >= ? AND created_at < ? ORDER BY created_at, order_id"
)
# When each confirmed shipment left: as ConfirmShipment gave it, else when it was recorded.
_CONFIRMED = (
    "SELECT s.order_id, s.node_id, COALESCE(s.shipped_at, s.created_at) FROM shipments s "
    "JOIN orders o ON o.order_id = s.order_id WHERE o.created_at >= ? AND o.created_at < ? "
    "ORDER BY s.order_id, s.created_at, s.shipment_id"
)


@dataclass(frozen=True, slots=True)
class AllocatedOrder:
    order_id: str
    allocated_at: datetime
    request: str  # the order as the caller sent it, JSON (common_pb2.Order)
    rule_set_version: str
    decision: str  # the stored decision summary, JSON ('' when none was stored)
    state: str
    confirmed_shipments: int  # ConfirmShipment calls recorded for it so far
    shipped: tuple[tuple[str, datetime], ...] = ()  # each of them: (node id, when it left)


class DecisionHistoryStoreMixin(ABC):
    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _ts_in(self, value: datetime | None) -> Any: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime | None: ...

    def allocated_between(self, since: datetime, until: datetime) -> list[AllocatedOrder]:
        """Orders allocated in ``[since, until)``, oldest first (ties by order id); one read transaction."""
        window = (self._ts_in(since), self._ts_in(until))

        def work(tx: Tx) -> tuple[list[Any], list[Any]]:
            return tx.execute(_ALLOCATED, window), tx.execute(_CONFIRMED, window)

        found, confirmed = self._read(work)
        shipped: dict[str, list[tuple[str, datetime]]] = {}
        for order_id, node_id, shipped_at in confirmed:
            left = self._ts_out(shipped_at)
            assert left is not None
            shipped.setdefault(str(order_id), []).append((str(node_id), left))
        out = []
        for order_id, created_at, request, version, decision, state in found:
            at = self._ts_out(created_at)
            assert at is not None
            its = tuple(shipped.get(str(order_id), ()))
            found_order = AllocatedOrder(
                str(order_id), at, str(request), str(version or ""), str(decision or ""), str(state), len(its), its
            )
            out.append(found_order)
        return out
