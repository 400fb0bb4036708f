"""The terms a decision is made under: an order's own settings combined with rule directives.

Conflict policy (docs/rules.md): limits take the strictest, penalties add, a rule's
objective or penalty override beats the network default but not the caller's explicit
override, which is the most specific statement of what this order needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.directives import Directives, Penalty
from engine.errors import FieldViolation, InvalidInputError
from engine.model import DeliveryMethod, ObjectiveMode, Order
from engine.network import NetworkSnapshot
from engine.rates import DEFAULT_BACKORDER_PENALTY, DEFAULT_SPLIT_PENALTY, RateTable


@dataclass(frozen=True, slots=True)
class Terms:
    split_penalty: float
    backorder_penalty: float
    max_shipments: int | None
    all_or_nothing: bool
    objective: ObjectiveMode
    rate_table: RateTable
    pickup_node_id: str | None  # set for PICKUP orders: one node, no carrier rate
    penalties: tuple[Penalty, ...]


def resolve_terms(order: Order, directives: Directives, snapshot: NetworkSnapshot) -> Terms:
    rate_table = snapshot.rate_table(order.service_level)
    if rate_table is None:
        # The known levels are the network's own (its rate tables), so the caller can correct the order.
        known = ", ".join(sorted(snapshot.rate_tables))
        level = order.service_level.upper()[:40]
        raise InvalidInputError(
            FieldViolation("service_level", f"names unknown service level {level!r}; known: {known}")
        )
    limits = [m for m in (order.max_shipments, directives.max_shipments) if m is not None]
    pickup = order.pickup_node_id if order.delivery_method is DeliveryMethod.PICKUP else None
    if pickup is not None:
        if pickup not in snapshot.index:
            raise InvalidInputError(FieldViolation("pickup_node_id", f"unknown node {pickup!r}"))
        limits.append(1)
    return Terms(
        split_penalty=_first(order.split_penalty, directives.split_penalty, DEFAULT_SPLIT_PENALTY),
        backorder_penalty=_first(order.backorder_penalty, directives.backorder_penalty, DEFAULT_BACKORDER_PENALTY),
        max_shipments=min(limits) if limits else None,
        all_or_nothing=order.all_or_nothing or directives.all_or_nothing,
        objective=(
            order.objective
            if order.objective is not ObjectiveMode.COST
            else (directives.objective or ObjectiveMode.COST)
        ),
        rate_table=rate_table,
        pickup_node_id=pickup,
        penalties=directives.penalties,
    )


def _first(*values: float | None) -> float:
    for value in values:
        if value is not None:
            return value
    raise AssertionError("the last value is a default and never None")
