"""Sourcing an order's waiting units again: ReleaseHold, Reallocate of backorders, and healing.

One routine for every caller that re-sources the units an order still waits for (all of them for
a HELD order): read the order, decide just those units on fresh availability, reserve them with a
compare-and-set on the order's version, and decide again if the race was lost (bounded).
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.decision import AllocationLine
from engine.directives import Exclusion
from engine.orders import changes, lifecycle
from engine.orders.lifecycle import Action
from engine.orders.records import OrderRecord
from server.api.proto import sourcing_pb2
from server.api.services.allocations import decision_bytes
from server.api.services.deps import ServiceDeps
from server.deadline import without_deadline
from server.errors import AllocationAborted, ReservationConflict
from server.store.base import OrderStore, RequestKey, order_store

DEFAULT_HOLD_MS = 15 * 60 * 1000
# A lost race means another order took the stock between reading and reserving: decide again
# on fresh availability. Each attempt costs a decision; past this many the caller retries.
MAX_ATTEMPTS = 5
# Healing runs inside the UpdateInventory call that brought the stock: bounded so that call stays
# fast. Orders beyond it heal on the next update of their SKUs (or by Reallocate). It looks past
# waiting orders the new stock cannot serve (all-or-nothing ones it cannot fill, lines barred
# from its node), so those do not keep the orders behind them waiting: up to HEAL_MAX_EXAMINED
# orders, each a decision of a millisecond or two.
HEAL_MAX_ORDERS = 20
HEAL_MAX_EXAMINED = 100
HEAL_TIME_LIMIT_MS = 200
# The rule id a node that rejected units carries in decisions (explanations, fired rules).
REALLOCATE_RULE = "reallocate"

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


def line_exclusions(record: OrderRecord, extra: Mapping[str, str] | None = None, reason: str = "") -> list[Exclusion]:
    """One exclusion per line: the nodes that rejected its units before, plus ``extra`` (line id
    to the node rejecting it now). A line is never sourced again from a node that rejected it."""
    extra = extra or {}
    found = []
    for line in record.lines:
        nodes = set(line.excluded_nodes)
        if line.line_id in extra:
            nodes.add(extra[line.line_id])
        if nodes:
            found.append(
                Exclusion(
                    rule_id=REALLOCATE_RULE,
                    node_ids=frozenset(nodes),
                    line_ids=frozenset({line.line_id}),
                    reason=reason or "rejected units of this line before",
                )
            )
    return found


class Resourcer:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._store: OrderStore = order_store(deps.store)

    def resource(
        self, order_id: str, key_for: Callable[[OrderRecord], RequestKey], what: Resource, time_limit_ms: int
    ) -> bytes | None:
        """The stored AllocateResponse, or None when ``what.skip_empty`` and nothing could be sourced."""
        started = time.perf_counter()
        for _ in range(MAX_ATTEMPTS):
            now = self._deps.clock()
            record = self._store.get_order(order_id, now)
            key = key_for(record)
            stored = self._store.replay(key)
            if stored is not None:
                return stored
            lifecycle.require(order_id, record.state, what.action)
            waiting = {x.line_id: x.quantities.backordered for x in record.lines if x.quantities.backordered > 0}
            original = self._deps.decider.stored_order(record.request)
            sub_order = replace(
                original,
                lines=tuple(replace(x, qty=waiting[x.line_id]) for x in original.lines if x.line_id in waiting),
            )
            if not sub_order.lines:
                allocations: Sequence[AllocationLine] = ()
                outcome = None
            else:
                # Never back to a node that rejected units of the line (Reallocate naming it).
                exclusions = line_exclusions(record)
                outcome = self._deps.decider.decide(
                    sub_order, time_limit_ms=time_limit_ms, now=now, extra_exclusions=exclusions
                )
                allocations = outcome.decision.allocations
                # Healing is automatic: a rule that now holds the order keeps it for a person.
                if what.skip_empty and outcome.decision.holds:
                    return None
            if what.skip_empty and not any(a.qty > 0 for a in allocations):
                return None
            decision = (
                outcome.to_proto(self._deps.config.currency, started)
                if outcome is not None
                else sourcing_pb2.Decision(decision_id=str(uuid.uuid4()))
            )
            hold_ms = what.hold_ms or record.hold_ms or DEFAULT_HOLD_MS

            sourced = changes.Sourced(tuple(allocations), hold_ms, decision.decision_id, decision.rule_set_version)
            plan = functools.partial(
                changes.resource,
                action=what.action,
                event=what.event,
                details=what.details,
                sourced=sourced,
                clear_holds=what.clear_holds,
            )
            try:
                stored, _ = self._store.mutate_order(
                    key,
                    order_id,
                    what.action,
                    now,
                    plan,
                    decision_bytes(decision),
                    expected_version=record.version,
                )
                return stored
            except ReservationConflict:
                continue
        raise AllocationAborted(order_id, MAX_ATTEMPTS)

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
