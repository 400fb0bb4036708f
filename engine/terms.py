"""The terms a decision is made under: an order's own settings combined with rule directives.

Conflict policy (docs/rules.md): limits take the strictest, penalties add, a rule's
objective or penalty override beats the network default but not the caller's explicit
override, which is the most specific statement of what this order needs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from engine.directives import Directives, Penalty
from engine.errors import FieldViolation, InvalidInputError
from engine.model import DeliveryMethod, ObjectiveMode, Order
from engine.network import NetworkSnapshot
from engine.promise.model import ShipTo
from engine.promise.shipping import OptionRate, ShipOption, ShipOptions, choose_options, ship_options, shipment_charge
from engine.promise.time_rules import time_rules
from engine.rates import DEFAULT_BACKORDER_PENALTY, DEFAULT_SPLIT_PENALTY, RateTable

# A shipment's carrier charge by part and its option (service and dates; None: undated): zone, base
# (per shipment, surcharges included), per pound x billed weight, option. A plain tuple: every
# decision's cost builds one.
ShipmentPrice = tuple[int, float, float, ShipOption | None]


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
    # The carrier service and dates per node (engine/promise/shipping.py); None when the decision
    # has no instant (batches, replays) or the order is a pickup.
    ship_options: ShipOptions | None = None

    @property
    def promised(self) -> bool:
        """The order's promise decides which nodes may ship and by which service's rates."""
        return self.ship_options is not None and self.ship_options.constrained

    @property
    def restricted(self) -> bool:
        """The order's promise or rules about time may rule nodes out (``late``)."""
        return self.ship_options is not None and self.ship_options.restricted

    def late(self, node_id: str, distance_miles: float) -> bool:
        """The order's promise rules out shipping from ``node_id``."""
        return self.ship_options is not None and self.ship_options.late(node_id, distance_miles)

    def option_rates(self, node_id: str, distance_miles: float) -> tuple[OptionRate, ...]:
        """With a promise (``promised``): the options a shipment from ``node_id`` may take, priced."""
        assert self.ship_options is not None
        return self.ship_options.rates(node_id, distance_miles)

    @property
    def late_penalty_per_day(self) -> float:
        """What each day the order is late costs (a rule allowing lateness; 0 otherwise)."""
        return self.ship_options.penalty if self.ship_options is not None else 0.0

    def shipments(self, boxes: Sequence[tuple[str, float, float, float]]) -> tuple[list[ShipmentPrice], int]:
        """What each shipment of a plan ((node id, miles, pounds, cubic inches) each) pays the
        carrier and by which option it goes, and the days the order is late. With a promise, each
        its node's eligible option cheapest for its contents, with the order's lateness penalty
        counted once, by its latest shipment (choose_options: carrier_charge, dimensional weight,
        surcharges); otherwise the order's level's rate table, dated by the node's option, if any."""
        options = self.ship_options
        if options is not None and options.constrained:
            rates = [(options.rates(node_id, miles), pounds, volume) for node_id, miles, pounds, volume in boxes]
            chosen, late_days, _ = choose_options(rates, options.penalty)
            prices: list[ShipmentPrice] = []
            for rate, (_, miles, pounds, volume) in zip(chosen, boxes, strict=True):
                charge = shipment_charge(rate, miles, options.ship_to, pounds, volume)
                base = charge.base + charge.residential + charge.non_contiguous + charge.remote_area
                prices.append((charge.zone, base, charge.weight, rate.option))
            return prices, late_days
        table = self.rate_table
        out: list[ShipmentPrice] = []
        for node_id, miles, pounds, _ in boxes:
            zone = bisect_left(table.zone_limits_miles, miles) + 1
            option = options.option(node_id, miles) if options is not None else None
            out.append((zone, table.base[zone - 1], table.per_lb[zone - 1] * pounds, option))
        return out, 0


def resolve_terms(
    order: Order,
    directives: Directives,
    snapshot: NetworkSnapshot,
    at: int | None = None,
    region: str = "",
    arrive_by: int | None = None,
) -> Terms:
    """``at``: the decision's instant (epoch seconds, the server's clock), which dates shipments
    and lets the order's promise choose carrier services; None decides by cost alone, as before
    promises. ``region``: the ship-to's (``US-AK``...), for carriers zoning Alaska and Hawaii apart.
    ``arrive_by``: a day ordinal every shipment must also arrive by (the earliest-delivery
    objective's trial dates, engine.sourcing), named in explanations as such, not as a promise."""
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
    named = [("carrier_service", order.carrier_service)]
    named += [(f"lines[{i}].carrier_service", line.carrier_service) for i, line in enumerate(order.lines)]
    unknown = [(field, service) for field, service in named if service and service not in snapshot.carrier_services]
    if unknown:
        known = ", ".join(sorted(snapshot.carrier_services))
        raise InvalidInputError(
            [FieldViolation(field, f"names unknown carrier service {s[:40]!r}; known: {known}") for field, s in unknown]
        )
    options = None
    if at is not None and pickup is None:
        # One promise for every line: the order's (or the lines' own, all alike); else per line.
        own = any(line.carrier_service or line.promised_date is not None for line in order.lines)
        promises = set(order.line_promises()) if own else {(order.carrier_service, order.promised_date)}
        carrier_service, promised = next(iter(promises)) if len(promises) == 1 else (order.carrier_service, None)
        # A rule allowing lateness: a trial day of the earliest-delivery objective is a day every
        # shipment must arrive by, and a shipment after the promise still pays the order's lateness
        # against the promise itself. Otherwise the trial day is one more deadline, the earlier.
        lenient = arrive_by is not None and directives.late_penalty_per_day is not None

        def by(day: int | None) -> int | None:
            return day if lenient else _earliest(day, arrive_by)

        per_line = (
            [
                (line.line_id, service, by(day.toordinal() if day else None))
                for line, (service, day) in zip(order.lines, order.line_promises(), strict=True)
            ]
            if len(promises) > 1
            else []
        )
        options = ship_options(
            snapshot,
            at=at,
            ship_to=ShipTo(region=region, postal_code=order.postal_code, residential=order.residential),
            weight_lb=sum(line.unit_weight_lb * line.qty for line in order.lines),
            volume_in3=sum(line.unit_volume_in3 * line.qty for line in order.lines),
            service_level=order.service_level,
            carrier_service="" if per_line else carrier_service,
            promised_day=None if per_line else by(promised.toordinal() if promised else None),
            deadline_is_promise=arrive_by is None or lenient,
            late_penalty_per_day=directives.late_penalty_per_day,
            rules=time_rules(directives),
            line_promises=per_line,
            latest_day=arrive_by if lenient else None,
        )
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
        ship_options=options,
    )


def _earliest(promised: int | None, arrive_by: int | None) -> int | None:
    days = [d for d in (promised, arrive_by) if d is not None]
    return min(days) if days else None


def _first(*values: float | None) -> float:
    for value in values:
        if value is not None:
            return value
    raise AssertionError("the last value is a default and never None")
