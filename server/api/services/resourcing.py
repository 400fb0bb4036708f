"""Sourcing an order's waiting units again: ReleaseHold, Reallocate of backorders, and healing.

What is re-sourced is the units an order still waits for (all of them for a HELD order); how is
the one way every allocation is persisted (server/api/services/allocations.py): read the order,
decide just those units on fresh availability, reserve them with a compare-and-set on the order's
version, and decide again if the race was lost (bounded).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.orders import changes, lifecycle
from engine.orders.lifecycle import Action
from engine.orders.records import OrderRecord
from server.api.services.allocations import DEFAULT_HOLD_MS, Allocator, Resourcing, line_exclusions
from server.api.services.deps import ServiceDeps
from server.deadline import without_deadline
from server.errors import AllocationAborted
from server.store.base import OrderStore, RequestKey, order_store

# Healing runs inside the UpdateInventory call that brought the stock: bounded so that call stays
# fast. Orders beyond it heal on the next update of their SKUs (or by Reallocate). It looks past
# waiting orders the new stock cannot serve (all-or-nothing ones it cannot fill, lines barred
# from its node), so those do not keep the orders behind them waiting: up to HEAL_MAX_EXAMINED
# orders, each a decision of a millisecond or two.
HEAL_MAX_ORDERS = 20
HEAL_MAX_EXAMINED = 100
HEAL_TIME_LIMIT_MS = 200
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resource:
    """What a re-source is for: the transition, the event it records, and what else it says."""

    action: Action
    event: str
    details: dict[str, Any]
    clear_holds: bool = False  # a person released a HELD order: rules' holds no longer apply
    hold_ms: int = 0  # 0: the order's own hold time
    skip_empty: bool = False  # record nothing when no unit could be sourced (healing)


class Resourcer:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._store: OrderStore = order_store(deps.store)
        self._allocator = Allocator(deps)

    def resource(
        self, order_id: str, key_for: Callable[[OrderRecord], RequestKey], what: Resource, time_limit_ms: int
    ) -> bytes | None:
        """The stored answer (an AllocateResponse's), or None when ``what.skip_empty`` and nothing
        could be sourced."""

        def prepare(record: OrderRecord) -> Resourcing:
            lifecycle.require(order_id, record.state, what.action)
            return Resourcing(
                action=what.action,
                units=changes.waiting_units(record),
                # Never back to a node that rejected units of the line (Reallocate naming it).
                exclusions=line_exclusions(record),
                plan=lambda sourced: functools.partial(
                    changes.resource,
                    action=what.action,
                    event=what.event,
                    details=what.details,
                    sourced=sourced,
                    clear_holds=what.clear_holds,
                ),
                hold_ms=what.hold_ms or record.hold_ms or DEFAULT_HOLD_MS,
                skip_empty=what.skip_empty,
            )

        return self._allocator.existing_order(order_id, key_for, prepare, lambda: time_limit_ms, time.perf_counter())

    def heal_after_commit(self, skus: Iterable[str]) -> None:
        """``heal`` for a caller whose own change is already durable: a failure is logged, not
        raised, so the caller does not retry (and repeat) a change that succeeded. The caller's
        deadline does not bound it: the orders it heals are the service's own work, and an order
        left waiting now would wait for the next update of its SKUs."""
        try:
            with without_deadline():
                self.heal(skus)
        except Exception:
            _log.exception("healing backorders failed")

    def heal(self, skus: Iterable[str]) -> list[str]:
        """Source again the orders waiting for ``skus``, highest priority then oldest first (at most
        HEAL_MAX_ORDERS healed, HEAL_MAX_EXAMINED looked at); the ids healed.

        The request key is the order's id and version: two processes healing the same order
        version record one effect, and a later version may heal again.
        """
        healed: list[str] = []
        for order_id in self._store.backordered_orders(sorted(set(skus)), HEAL_MAX_EXAMINED):
            if len(healed) == HEAL_MAX_ORDERS:
                break
            what = Resource(Action.RESOURCE, "RESOURCED", {"cause": "stock arrived"}, skip_empty=True)
            try:
                done = self.resource(
                    order_id,
                    lambda r: RequestKey(f"heal:{r.order_id}:{r.version}", "Heal", _HEAL_HASH),
                    what,
                    min(HEAL_TIME_LIMIT_MS, self._deps.config.solver_time_limit_ms),
                )
            except (AllocationAborted, lifecycle.TransitionError) as error:
                # Busy or moved on meanwhile (cancelled, shipped...): the next update tries again.
                _log.info("backorder not healed", extra={"order_id": order_id, "error": str(error)})
                continue
            if done is not None:
                healed.append(order_id)
        return healed


_HEAL_HASH = json.dumps("heal")
