"""One way to persist an allocation: decide, reserve and store in one transaction, decide again
when the reservation race is lost.

Every caller that turns a decision into reservations goes through ``Allocator``: Allocate and
AllocateBatch for a new order (``new_order``), Reallocate, ReleaseHold, re-sourcing of
backorders and healing for an existing one (``existing_order``). Both share ``with_retries``,
the one loop over lost races (ReservationConflict: another call took the stock, or changed the
order, between the decision and the write), and ``sub_order``, the one conversion of an order's
stored request into the units still to source. The store keeps the answer (the order after the
write, and the decision attached as bytes); ``allocate_response`` builds the gRPC response from
it, on the first call (from the answer and decision still in memory, parsing nothing back) and on
every replay alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from engine.decision import AllocationLine
from engine.directives import Exclusion
from engine.model import Order
from engine.orders import answers
from engine.orders.changes import Sourced
from engine.orders.lifecycle import Action
from engine.orders.records import NewOrder, OrderRecord
from server.api.decider import Outcome
from server.api.order_proto import order_view
from server.api.proto import orders_pb2, sourcing_pb2
from server.api.services.deps import ServiceDeps
from server.api.services.late_orders import keep_or_hold_late, order_to_resource
from server.errors import AllocationAborted, ReservationConflict
from server.store.base import OrderStore, Plan, RequestKey, order_store

MAX_HOLD_MS = 30 * 24 * 3600 * 1000  # a hold longer than 30 days is a mistake, not a reservation
DEFAULT_HOLD_MS = 15 * 60 * 1000
# A lost race means another order took the stock between reading and reserving: decide again
# on fresh availability. Each attempt costs a decision; past this many the caller retries.
MAX_ATTEMPTS = 5
# The rule id a node that rejected units carries in decisions (explanations, fired rules).
REALLOCATE_RULE = "reallocate"

T = TypeVar("T")


def with_retries(order_id: str, attempt: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    """``attempt()`` until it does not lose a race; AllocationAborted after ``attempts`` losses."""
    for _ in range(attempts):
        try:
            return attempt()
        except ReservationConflict:
            continue
    raise AllocationAborted(order_id, MAX_ATTEMPTS)


def decision_summary(decision: sourcing_pb2.Decision, by_carrier_services: bool = False) -> str:
    """What orders.decision keeps: the essentials, not the explanations (MessageToJson of a whole
    decision cost ~0.3 ms a call, a tenth of an Allocate's CPU). ``by_carrier_services``: its
    shipments were priced by their carrier services (a promise), whose charges are kept too."""
    carriers = (
        {
            # Each shipment's carrier charge as the decision priced it, by its carrier service: the
            # live report charges it (a level's rate table would not).
            "carrier_micros": [
                [s.node_id, s.carrier_base.amount_micros + s.carrier_weight.amount_micros]
                for s in decision.cost.shipments
            ]
        }
        if by_carrier_services
        else {}
    )
    return json.dumps(
        {
            **carriers,
            "decision_id": decision.decision_id,
            "status": sourcing_pb2.SolveStatus.Name(decision.status),
            "path": sourcing_pb2.DecisionPath.Name(decision.path),
            "total_micros": decision.cost.total.amount_micros,
            "allocations": [[a.line_id, a.node_id, a.sku, a.qty] for a in decision.allocations],
            "unfilled": [[u.line_id, u.sku, u.qty, u.reason] for u in decision.unfilled],
            "rule_set_version": decision.rule_set_version,
            "network_version": decision.network_version,
            # What `oms-sourcing report` counts (rules fired, held orders); not in the response bytes.
            "fired_rules": list(decision.fired_rules),
            "holds": [[h.rule_id, h.reason] for h in decision.holds],
            # The promise kept or not (simulation and live report KPIs): YYYY-MM-DD, "" when none.
            "delivery_date": decision.delivery_date,
            # Each dated shipment's planned ship date (the node's local date): on-time ship against
            # the shipments ConfirmShipment records.
            "ship_dates": [[s.node_id, s.ship_date] for s in decision.cost.shipments if s.ship_date],
        },
        sort_keys=True,
    )


def order_response(stored: bytes) -> orders_pb2.OrderResponse:
    """The OrderResponse of an answer the store kept (engine.orders.answers), first call or replay."""
    answer = answers.unpack(stored)
    if answer is None:  # stored whole by an earlier release
        return orders_pb2.OrderResponse.FromString(stored)
    return orders_pb2.OrderResponse(order=order_view(answer.record))


def allocate_response(
    stored: bytes, attached: tuple[bytes, sourcing_pb2.Decision] | None = None
) -> orders_pb2.AllocateResponse:
    """The AllocateResponse of an answer the store kept: the order, and the decision attached.
    ``attached``: the decision's bytes and message as the caller made them; when the answer
    attaches those very bytes (this call stored it), the message is used rather than parsed back."""
    answer = answers.unpack(stored)
    if answer is None:  # stored whole by an earlier release
        return orders_pb2.AllocateResponse.FromString(stored)
    if attached is not None and answer.attachment is attached[0]:
        decision = attached[1]
    else:
        decision = sourcing_pb2.Decision.FromString(answer.attachment)
    return orders_pb2.AllocateResponse(order=order_view(answer.record), decision=decision)


def decision_bytes(decision: sourcing_pb2.Decision) -> bytes:
    """What an allocation attaches to its stored answer."""
    return decision.SerializeToString(deterministic=True)


def sub_order(original: Order, units: Mapping[str, int]) -> Order:
    """``original`` (an order's stored request) cut to ``units`` per line: what is still to source.
    ``units`` must name a line of it (an order has at least one line)."""
    lines = tuple(replace(x, qty=units[x.line_id]) for x in original.lines if x.line_id in units)
    return replace(original, lines=lines)


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


@dataclass(frozen=True, slots=True)
class Resourcing:
    """What sourcing part of an existing order is for, as read from the order (``prepare``)."""

    action: Action  # the transition checked against the order's state
    units: Mapping[str, int]  # line id to the units to source; none: nothing is decided
    exclusions: list[Exclusion]  # nodes the decision may not use
    plan: Callable[[Sourced], Plan]  # the order's change, once the decision is known
    hold_ms: int
    skip_empty: bool = False  # healing: store nothing when nothing (or only a rule hold) came back


class Allocator:
    """Decides, reserves and stores allocations for the order services (see the module)."""

    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._store: OrderStore = order_store(deps.store)

    def new_order(
        self,
        key: RequestKey,
        order: Order,
        request_json: str,
        hold_ms: int,
        time_limit_ms: Callable[[], int],
        started: float,
        first: tuple[Outcome, datetime] | None = None,
    ) -> orders_pb2.AllocateResponse:
        """Decide ``order`` and store it with its reservations; the response (this call's, or the
        first call's for a replay). ``first``: a
        decision made already (AllocateBatch's joint one) for the first attempt; a lost race then
        decides alone, as Allocate does, up to MAX_ATTEMPTS times."""
        # The joint decision keeps the order's promise and objective as Allocate does (engine/batch.py).
        tried: list[tuple[Outcome, datetime]] = [first] if first is not None else []

        def attempt() -> tuple[bytes, tuple[bytes, sourcing_pb2.Decision]]:
            if tried:
                outcome, now = tried.pop()
            else:
                now = self._deps.clock()
                outcome = self._deps.decider.decide(order, time_limit_ms=time_limit_ms(), now=now)
            outcome = keep_or_hold_late(self._deps.decider, order, outcome, now, time_limit_ms())
            decision = outcome.to_proto(self._deps.config.currency, started)
            # A rule hold stops automatic allocation: the order waits, HELD, for a person.
            holds = tuple((h.rule_id, h.reason) for h in outcome.decision.holds)
            new = NewOrder(
                order_id=order.order_id,
                request=request_json,
                lines=tuple((line.line_id, line.sku, line.qty) for line in order.lines),
                hold_ms=hold_ms,
                rule_set_version=outcome.decision.rule_set_version,
                decision=decision_summary(decision, outcome.decision.cost.by_carrier_services),
                decision_id=decision.decision_id,
                holds=holds,
                priority=order.priority,
            )
            allocations = () if holds else outcome.decision.allocations
            attached = decision_bytes(decision)
            return self._store.allocate_order(key, new, allocations, now, attached), (attached, decision)

        stored, attached = with_retries(order.order_id, attempt, MAX_ATTEMPTS + len(tried))
        return allocate_response(stored, attached)

    def existing_order(
        self,
        order_id: str,
        key_for: Callable[[OrderRecord], RequestKey],
        prepare: Callable[[OrderRecord], Resourcing],
        time_limit_ms: Callable[[], int],
        started: float,
    ) -> bytes | None:
        """Source part of a stored order again and reserve it with a compare-and-set on the order's
        version; the stored answer, or None when ``skip_empty`` and nothing could be sourced.

        Each attempt reads the order afresh: its key (healing keys by version), a replay, then
        ``prepare`` (which checks the request against the order and raises when it cannot apply).
        """

        def attempt() -> bytes | None:
            now = self._deps.clock()
            record = self._store.get_order(order_id, now)
            key = key_for(record)
            stored = self._store.replay(key)
            if stored is not None:
                return stored
            what = prepare(record)
            allocations: tuple[AllocationLine, ...] = ()
            decision = sourcing_pb2.Decision(decision_id=str(uuid.uuid4()))
            if what.units:
                original = order_to_resource(self._deps.decider.stored_order(record.request), record, what.action, now)
                outcome = self._deps.decider.decide(
                    sub_order(original, what.units),
                    time_limit_ms=time_limit_ms(),
                    now=now,
                    extra_exclusions=what.exclusions,
                )
                # Healing is automatic: a rule that now holds the order keeps it for a person.
                if what.skip_empty and outcome.decision.holds:
                    return None
                allocations = tuple(outcome.decision.allocations)
                if what.skip_empty and not any(a.qty > 0 for a in allocations):
                    return None
                decision = outcome.to_proto(self._deps.config.currency, started)
            elif what.skip_empty:
                return None
            sourced = Sourced(allocations, what.hold_ms, decision.decision_id, decision.rule_set_version)
            stored, _ = self._store.mutate_order(
                key,
                order_id,
                what.action,
                now,
                what.plan(sourced),
                decision_bytes(decision),
                expected_version=record.version,
            )
            return stored

        return with_retries(order_id, attempt)
