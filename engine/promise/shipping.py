"""Promise-aware sourcing: by which carrier service a shipment from a node goes, and when it arrives.

An order may name a carrier service (``Order.carrier_service``) and a promised delivery date
(``Order.promised_date``). For each node holding stock, ``ShipOptions`` picks the carrier service
a shipment from it goes by: among the services the node ships with (only the named one when the
order names one), those delivering by the promised date, the cheapest by the service's rates for
the order's weight (earlier delivery, then id, breaking ties). A node with none is *late*: the
decision leaves it out and says why, with dates ("would deliver Wed 9 Dec, after the promised
Tue 8 Dec"). The decision's instant comes from the caller (the server's clock), never from here.

An order with neither field is decided as before (its level's rate table, every shipping node);
its shipments are still dated, by the fastest service of its level the node ships with.

One service per node is chosen before the search, by the order's whole weight: exact whenever
a service cheaper per shipment in a zone is not dearer per pound there (faster services cost
more on both counts on every rate card we know); otherwise a shipment lighter than the order
could have gone cheaper by the other service (docs/promise.md, "Sourcing by promise").
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass

from engine.network import NetworkSnapshot
from engine.promise.calculator import NOT_OFFERED, PromiseCalculator
from engine.promise.checkout import promise_network
from engine.promise.model import CarrierService
from engine.promise.time_rules import TimeRules, day_words, ruled_ship_day
from engine.rates import RateTable


@dataclass(frozen=True, slots=True)
class ShipOption:
    """A shipment from one node: its carrier service, the service's rates and its dates (ordinals)."""

    carrier_service: str
    table: RateTable
    ship_day: int
    delivery_day: int
    late_cost: float = 0.0  # days after the promised date x the rules' penalty per day late


class ShipOptions:
    """Per node, the ship option a decision uses (``option``) or why there is none (``why_late``).

    ``constrained``: the order names a service or a date, so options decide which nodes may ship
    and at what rates; otherwise they only date the shipments. Answers are remembered per node:
    the problem build, the cost and the explanations of one decision all read the same ones.
    """

    def __init__(
        self,
        calculator: PromiseCalculator,
        services: Mapping[str, CarrierService],
        tables: Mapping[str, RateTable],
        *,
        at: int,
        region: str,
        weight_lb: float,
        service_level: str,
        carrier_service: str = "",
        promised_day: int | None = None,
        deadline_is_promise: bool = True,
        late_penalty_per_day: float | None = None,
        rules: TimeRules | None = None,
    ) -> None:
        self.at = at
        self.rules = rules
        # A rule allowing lateness: a late option costs this per day late instead of being ruled
        # out. Only against the order's own date, never a trial date of the earliest-delivery objective.
        self.late_penalty = late_penalty_per_day if deadline_is_promise else None
        self.deadline_is_promise = deadline_is_promise
        self.region = region
        self.weight_lb = weight_lb
        self.carrier_service = carrier_service
        self.promised_day = promised_day
        constraining = rules is not None and rules.constraining
        self.constrained = bool(carrier_service) or promised_day is not None or constraining
        # Nodes may be ruled out (and explained) by the promise or by rules about time.
        self.restricted = self.constrained or (rules is not None and bool(rules.closures))
        if carrier_service:
            eligible = [services[carrier_service]]
        elif promised_day is not None or constraining:
            eligible = list(services.values())
        else:
            level = service_level.upper() or "STANDARD"
            eligible = [s for s in services.values() if s.service_level == level]
        self._calculator = calculator
        # Ship days from the calculator's board (every node's, per service, kept until the next
        # cut-off changes one): a node's options are then lookups, not calendar walks.
        self._board = calculator.board(at)
        self._index = {node_id: i for i, node_id in enumerate(self._board.node_ids)}
        self._services = [
            (s.id, tables[s.id], s, self._board.ship_days[s.id]) for s in sorted(eligible, key=lambda s: s.id)
        ]
        self._chosen: dict[str, ShipOption | None] = {}
        self._earliest: dict[str, int | None] = {}
        self._ruled_out: dict[str, str] = {}  # words for a node the rules about time left no option

    def option(self, node_id: str, distance_miles: float) -> ShipOption | None:
        """The option a shipment from ``node_id`` takes; None when the node cannot keep the promise
        (or, unconstrained, ships with no service of the order's level)."""
        if node_id in self._chosen:
            return self._chosen[node_id]
        best: tuple[float, int, str] | None = None
        found: ShipOption | None = None
        earliest: int | None = None
        i = self._index[node_id]
        rules = self.rules
        ruled: list[tuple[int, str]] = []  # (precedence, words): why the rules left an option out
        for service_id, table, service, ship_days in self._services:
            ship_day = ship_days[i]
            if ship_day == NOT_OFFERED:
                continue
            zone = service.zone_of(distance_miles, self.region)
            if rules is not None:
                ship_day, why = ruled_ship_day(rules, self._calculator, node_id, service_id, self.at, ship_day, zone)
                if why:
                    ruled.append(why)
                    continue
            delivery = self._calculator.delivery_day(service_id, ship_day, zone)
            earliest = delivery if earliest is None else min(earliest, delivery)
            late_cost = 0.0
            if self.promised_day is not None and delivery > self.promised_day:
                if self.late_penalty is None:
                    continue
                late_cost = self.late_penalty * (delivery - self.promised_day)
            if self.constrained:
                z = bisect.bisect_left(table.zone_limits_miles, distance_miles)
                key = (table.base[z] + table.per_lb[z] * self.weight_lb + late_cost, delivery, service_id)
            else:  # the cost is the level's; only the dates are chosen
                key = (0.0, delivery, service_id)
            if best is None or key < best:
                best = key
                found = ShipOption(service_id, table, ship_day, delivery, late_cost)
        self._chosen[node_id] = found
        self._earliest[node_id] = earliest
        if found is None and earliest is None and rules is not None:
            self._ruled_out[node_id] = self._rule_words(rules, ruled)
        return found

    def _rule_words(self, rules: TimeRules, ruled: list[tuple[int, str]]) -> str:
        """Why no option of a node is left, the closure first, then transit, then the services."""
        if not ruled:
            if rules.services is not None:
                return f"does not ship by {' or '.join(sorted(rules.services)) or 'the service'} ({rules.services_by})"
            return ""
        precedence, words = min(ruled)
        if precedence == 1:
            return f"{words}, more than the {rules.max_transit_days} {rules.transit_by} allows"
        if precedence == 2:
            allowed = " or ".join(sorted(rules.services or ())) or "any service"
            return f"does not ship by {allowed} ({rules.services_by})"
        return words

    def late(self, node_id: str, distance_miles: float) -> bool:
        """The node holds stock the order may not take because of its promise or rules about time."""
        if not self.restricted or self.option(node_id, distance_miles) is not None:
            return False
        # Unconstrained (rates are the level's), only a closure rules a node out: one shipping
        # with no service of the order's level is dated by none, as before rules about time.
        return self.constrained or bool(self._ruled_out.get(node_id))

    def why_late(self, node_id: str, distance_miles: float) -> str:
        """Words for a late node, after the node id: 'would deliver Wed 9 Dec, after the promised Tue 8 Dec'."""
        self.option(node_id, distance_miles)
        earliest = self._earliest.get(node_id)
        if earliest is None and self._ruled_out.get(node_id):
            return self._ruled_out[node_id]
        if earliest is None:
            if self.carrier_service:
                return f"does not ship by {self.carrier_service}"
            return "ships with no carrier service"
        by = f" by {self.carrier_service}" if self.carrier_service else ""
        promised = ""
        if self.promised_day is not None:
            day = day_words(self.promised_day)
            promised = (
                f", after the promised {day}" if self.deadline_is_promise else f", after {day} (the order's earliest)"
            )
        return f"would deliver {day_words(earliest)}{by}{promised}"


def many(words: str) -> str:
    """``why_late``'s words for several nodes ("ST-003 and ST-004 do not ship by NEXT_DAY")."""
    return (
        words.replace("does not", "do not")
        .replace("ships with", "ship with")
        .replace("is closed", "are closed")
        .replace("needs ", "need ", 1)
    )


def ship_options(
    snapshot: NetworkSnapshot,
    *,
    at: int,
    region: str,
    weight_lb: float,
    service_level: str,
    carrier_service: str = "",
    promised_day: int | None = None,
    deadline_is_promise: bool = True,
    late_penalty_per_day: float | None = None,
    rules: TimeRules | None = None,
) -> ShipOptions:
    """``ShipOptions`` over the snapshot's calendars and carrier services (built once per snapshot)."""
    network = promise_network(snapshot)
    tables = snapshot.derived("promise.rate_tables", lambda: {sid: s.rate_table for sid, s in network.services.items()})
    return ShipOptions(
        network.calculator,
        network.services,
        tables,
        at=at,
        region=region,
        weight_lb=weight_lb,
        service_level=service_level,
        carrier_service=carrier_service,
        promised_day=promised_day,
        deadline_is_promise=deadline_is_promise,
        late_penalty_per_day=late_penalty_per_day,
        rules=rules,
    )
