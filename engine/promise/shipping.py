"""Promise-aware sourcing: by which carrier service a shipment from a node goes, and when it arrives.

An order may name a carrier service (``Order.carrier_service``) and a promised delivery date
(``Order.promised_date``). For each node holding stock, ``ShipOptions`` finds the options a shipment
from it may take: among the services the node ships with (only the named one when the order names
one), those delivering by the promised date (or, where a rule allows lateness, at its penalty). A
node with none is *late*: the decision leaves it out and says why, with dates ("would deliver Wed 9
Dec, after the promised Tue 8 Dec"). The decision's instant comes from the caller (the server's
clock), never from here.

Each shipment goes by the option cheapest for what it holds (``rates``, ``cheapest_option``):
checkout's price for the box (engine.promise.pricing.carrier_charge: surcharges, dimensional
weight); a rule's lateness penalty is the order's, once, by its latest shipment, so with late
options the plan's services are chosen together (``choose_options``); the search sees each
node's options (docs/promise.md, "Sourcing by promise"). Lines promised differently still get
one option per node (``_per_line``).

An order with neither field is decided as before (its level's rate table, every shipping node);
its shipments are still dated, by the fastest service of its level the node ships with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.directives import Exclusion
from engine.geo import FloatArray
from engine.network import BoolArray, NetworkSnapshot
from engine.promise.calculator import NOT_OFFERED, PromiseCalculator
from engine.promise.checkout import promise_network
from engine.promise.model import CarrierService, ShipTo
from engine.promise.option_table import OptionTable, option_table
from engine.promise.pricing import CarrierCharge, carrier_charge
from engine.promise.time_rules import TimeRules, day_words, ruled_ship_day
from engine.rates import RateTable


@dataclass(frozen=True, slots=True)
class ShipOption:
    """A shipment from one node: its carrier service, the service's rates and its dates (ordinals)."""

    carrier_service: str
    table: RateTable
    ship_day: int
    delivery_day: int
    # Days it arrives after the promised date (a rule allowing lateness: docs/promise.md); the
    # penalty is the order's, once, by its latest shipment (``choose_options``), not this box's.
    late_days: int = 0
    carries: frozenset[int] | None = None  # per-line promises: the line positions it keeps; None: all
    service: CarrierService | None = None  # what prices its shipments (engine.promise.pricing.carrier_charge)


@dataclass(frozen=True, slots=True)
class OptionRate:
    """An eligible option's price for any shipment from its node, as carrier_charge computes it:
    ``fixed`` (base and surcharges, per shipment) + ``per_lb`` x billed weight, billed =
    max(pounds, cubic inches / ``dim_divisor``) (pounds alone when None). Its lateness is not in
    the price: the order pays it once (``choose_options``)."""

    option: ShipOption
    zone: int
    fixed: float
    per_lb: float
    dim_divisor: float | None

    def price(self, pounds: float, volume_in3: float) -> float:
        billed = pounds if self.dim_divisor is None else max(pounds, volume_in3 / self.dim_divisor)
        return self.fixed + self.per_lb * billed

    @property
    def late_days(self) -> int:
        return self.option.late_days

    def dominates(self, other: OptionRate) -> bool:
        """Never dearer for any shipment, never later after the promise, and chosen over ``other``
        on every tie (cheapest_option's order)."""
        if self.per_lb > other.per_lb or self.fixed > other.fixed or self.late_days > other.late_days:
            return False
        if self.dim_divisor is not None and (other.dim_divisor is None or self.dim_divisor < other.dim_divisor):
            return False
        if self.fixed < other.fixed:
            return True  # strictly cheaper for every shipment
        mine, theirs = self.option, other.option
        return (mine.delivery_day, mine.carrier_service) < (theirs.delivery_day, theirs.carrier_service)


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
        ship_to: ShipTo,
        weight_lb: float,
        volume_in3: float,
        service_level: str,
        carrier_service: str = "",
        promised_day: int | None = None,
        deadline_is_promise: bool = True,
        late_penalty_per_day: float | None = None,
        rules: TimeRules | None = None,
        line_promises: Sequence[tuple[str, str, int | None]] = (),
        latest_day: int | None = None,
    ) -> None:
        self.at = at
        # A day every shipment must arrive by whatever a rule allows (the earliest-delivery
        # objective's trial day when lateness is allowed: late after the promise, never after it).
        self.latest_day = latest_day
        # Lines promised differently (docs/promise.md, "A promise per line"): per line position,
        # (line id, carrier service or "", day it must arrive by or None). Empty: the order's
        # carrier_service and promised_day hold for every line.
        self.line_promises = tuple(line_promises)
        self.per_line = bool(line_promises)
        self.held: Mapping[str, Sequence[int]] = {}  # per node, the line positions it holds (per-line only)
        # A re-plan's nodes the order already holds at (``keep``): never late for it.
        self.kept: frozenset[str] = frozenset()
        self.rules = rules
        # A rule allowing lateness: a late option costs this per day late instead of being ruled
        # out. Only against the order's own date, never a trial date of the earliest-delivery objective.
        self.late_penalty = late_penalty_per_day if deadline_is_promise else None
        self.penalty = self.late_penalty or 0.0  # per day the order is late (0: none allowed, or free)
        self.deadline_is_promise = deadline_is_promise
        self.ship_to = ship_to
        self.region = ship_to.region
        self.weight_lb = weight_lb
        self.volume_in3 = volume_in3
        self.carrier_service = carrier_service
        self.promised_day = promised_day
        constraining = rules is not None and rules.constraining
        self.constrained = (
            bool(carrier_service) or promised_day is not None or latest_day is not None or constraining or self.per_line
        )
        # Nodes may be ruled out (and explained) by the promise or by rules about time.
        self.restricted = self.constrained or (rules is not None and bool(rules.closures))
        if carrier_service:
            eligible = [services[carrier_service]]
        elif promised_day is not None or latest_day is not None or constraining or self.per_line:
            eligible = list(services.values())
        else:
            level = service_level.upper() or "STANDARD"
            eligible = [s for s in services.values() if s.service_level == level]
        self._calculator = calculator
        # Ship days from the calculator's board (every node's, per service, kept until the next
        # cut-off changes one): a node's options are then lookups, not calendar walks.
        self._board = calculator.board(at)
        self._index = calculator.board_index
        self._services = [
            (s.id, tables[s.id], s, self._board.ship_days[s.id]) for s in sorted(eligible, key=lambda s: s.id)
        ]
        self._chosen: dict[str, ShipOption | None] = {}
        self._eligible: dict[str, list[ShipOption]] = {}  # constrained: every option a shipment may take
        self._rates: dict[str, tuple[OptionRate, ...]] = {}
        self._earliest: dict[str, int | None] = {}
        self._ruled_out: dict[str, str] = {}  # words for a node the rules about time left no option
        self._deliveries: dict[str, list[tuple[str, int]]] = {}  # per-line: each option's (service, day)

    def hold(self, held: Mapping[str, Sequence[int]]) -> None:
        """Per-line promises: the line positions each node holds stock for (before any ``option``):
        a node's service is chosen for the lines it could ship."""
        self.held = held

    def keep(self, node_ids: frozenset[str]) -> None:
        """A re-plan (engine/reoptimize.py): the nodes the order already holds at, before any ``option``.
        Keeping its holds never makes the order later than it is, so such a node is never late for it:
        when no option of its keeps the promise any more, its shipments go by the services it ships
        with (``_kept_option``) that deliver earliest, each box by the cheapest of those for what it
        carries. A node shipping with none of the order's services (or one rules about time close)
        stays late."""
        self.kept = node_ids

    def option(self, node_id: str, distance_miles: float) -> ShipOption | None:
        """The option a shipment from ``node_id`` takes; None when the node cannot keep the promise
        (or, unconstrained, ships with no service of the order's level)."""
        if node_id in self._chosen:
            return self._chosen[node_id]
        earliest: int | None = None
        i = self._index[node_id]
        rules = self.rules
        ruled: list[tuple[int, str]] = []  # (precedence, words): why the rules left an option out
        offered: list[tuple[CarrierService, RateTable, int, int, float]] = []  # service, rates, ship, delivery, price
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
            price = 0.0
            if self.constrained:  # the whole order in one box: what ranks a node's options
                price = carrier_charge(service, distance_miles, self.ship_to, self.weight_lb, self.volume_in3).total
            offered.append((service, table, ship_day, delivery, price))
        found = self._per_line(node_id, offered) if self.per_line else self._by_order(node_id, offered)
        if found is None and offered and node_id in self.kept:
            found = self._kept_option(node_id, offered)
        self._chosen[node_id] = found
        self._earliest[node_id] = earliest
        if found is None and earliest is None and rules is not None:
            self._ruled_out[node_id] = self._rule_words(rules, ruled)
        return found

    def _by_order(
        self, node_id: str, offered: list[tuple[CarrierService, RateTable, int, int, float]]
    ) -> ShipOption | None:
        """Every option keeping the order's promise is eligible (``rates``: a shipment takes the
        cheapest for its own contents); returned, the cheapest for the whole order (earlier delivery,
        then id, on ties). Unconstrained, the earliest (the cost is the level's: only the dates are chosen)."""
        best: tuple[float, int, str] | None = None
        found: ShipOption | None = None
        eligible: list[ShipOption] = []
        for service, table, ship_day, delivery, price in offered:
            if self.latest_day is not None and delivery > self.latest_day:
                continue
            late_days = 0
            if self.promised_day is not None and delivery > self.promised_day:
                if self.late_penalty is None:
                    continue
                late_days = delivery - self.promised_day
            option = ShipOption(service.id, table, ship_day, delivery, late_days, service=service)
            eligible.append(option)
            key = (price + self.penalty * late_days, delivery, service.id)
            if best is None or key < best:
                best = key
                found = option
        self._eligible[node_id] = eligible
        return found

    def _kept_option(
        self, node_id: str, offered: list[tuple[CarrierService, RateTable, int, int, float]]
    ) -> ShipOption:
        """A held node none of whose options keeps the promise (``keep``): its options delivering
        earliest are the eligible ones (a shipment takes the cheapest for its contents), no lateness
        penalty (a rule allowing lateness leaves no node late); returned, the cheapest for the whole
        order, then the id. Lines promised differently: that one option, keeping no line's promise."""
        first = min(delivery for _, _, _, delivery, _ in offered)
        earliest = sorted((o for o in offered if o[3] == first), key=lambda o: (o[4], o[0].id))
        carries = frozenset[int]() if self.per_line else None
        options = [
            ShipOption(service.id, table, ship_day, delivery, 0, carries, service)
            for service, table, ship_day, delivery, _ in earliest
        ]
        self._eligible[node_id] = options
        return options[0]

    def rates(self, node_id: str, distance_miles: float) -> tuple[OptionRate, ...]:
        """Constrained: the options a shipment from ``node_id`` may take, each priced for any
        contents by carrier_charge, without those another is never dearer than (``dominates``);
        empty when the node is late. Per-line promises: the node's one option."""
        known = self._rates.get(node_id)
        if known is not None:
            return known
        chosen = self.option(node_id, distance_miles)
        options = self._eligible.get(node_id, []) if not self.per_line else [chosen] if chosen is not None else []
        priced = []
        for option in options:
            assert option.service is not None
            charge = carrier_charge(option.service, distance_miles, self.ship_to, 0.0, 0.0)
            per_lb = option.service.zone(charge.zone).per_lb
            priced.append(OptionRate(option, charge.zone, charge.total, per_lb, option.service.dim_divisor))
        kept = tuple(r for r in priced if not any(o is not r and o.dominates(r) for o in priced))
        self._rates[node_id] = kept
        return kept

    def _per_line(
        self, node_id: str, offered: list[tuple[CarrierService, RateTable, int, int, float]]
    ) -> ShipOption | None:
        """Lines promised differently: the option keeping the promises of the most lines the node
        holds, then the cheapest (earlier delivery, then id); the lines it does not keep are not
        sourced from the node (``why_line``). A late option counts a line when a rule allows
        lateness, at the penalty of its latest line."""
        self._deliveries[node_id] = [(service.id, delivery) for service, _, _, delivery, _ in offered]
        lines = self.held.get(node_id, range(len(self.line_promises)))
        best: tuple[int, float, int, str] | None = None
        found: ShipOption | None = None
        for service, table, ship_day, delivery, price in offered:
            if self.latest_day is not None and delivery > self.latest_day:
                continue
            service_id = service.id
            carried: list[int] = []
            late_days = 0
            for k in lines:
                _, named, day = self.line_promises[k]
                if named and named != service_id:
                    continue
                if day is not None and delivery > day:
                    if self.late_penalty is None:
                        continue
                    late_days = max(late_days, delivery - day)
                carried.append(k)
            if not carried:
                continue
            key = (-len(carried), price + self.penalty * late_days, delivery, service_id)
            if best is None or key < best:
                best = key
                found = ShipOption(service_id, table, ship_day, delivery, late_days, frozenset(carried), service)
        return found

    def why_line(self, node_id: str, distance_miles: float, k: int) -> str:
        """Why line position ``k`` is not sourced from ``node_id`` (per-line promises), after the node
        id: 'would deliver Thu 3 Dec, after line L1's promised Wed 2 Dec'."""
        chosen = self.option(node_id, distance_miles)
        line_id, named, day = self.line_promises[k]
        arrivals = [d for sid, d in self._deliveries.get(node_id, ()) if not named or sid == named]
        if not arrivals:
            if named:
                return f"does not ship line {line_id} by {named}"
            return self.why_late(node_id, distance_miles)
        if self.latest_day is not None and min(arrivals) > self.latest_day:
            earliest = day_words(self.latest_day)
            return f"would deliver {day_words(min(arrivals))}, after {earliest} (the order's earliest)"
        if day is not None and min(arrivals) > day:
            promised = (
                f"line {line_id}'s promised {day_words(day)}"
                if self.deadline_is_promise
                else f"{day_words(day)} (the order's earliest, line {line_id})"
            )
            return f"would deliver {day_words(min(arrivals))}, after {promised}"
        by = chosen.carrier_service if chosen is not None else "another service"
        return f"ships its other lines by {by}, which does not keep line {line_id}'s promise"

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

    def table(self, node_ids: Sequence[str], distances: FloatArray) -> OptionTable:
        """Constrained, one promise for every line: the options of every node of ``node_ids`` at once,
        the answers ``option`` and ``rates`` give node by node (engine/promise/option_table.py)."""
        assert self.constrained and not self.per_line
        index = self._index
        positions = np.fromiter((index[node_id] for node_id in node_ids), dtype=np.int64, count=len(node_ids))
        return option_table(
            self._calculator,
            self._services,
            positions,
            distances,
            ship_to=self.ship_to,
            promised_day=self.promised_day,
            late_penalty=self.late_penalty,
            latest_day=self.latest_day,
            rules=self.rules,
            node_ids=node_ids,
            kept=self.kept,
        )

    def late_among(self, node_ids: Sequence[str], distances: FloatArray, table: OptionTable | None = None) -> BoolArray:
        """[M] ``late`` for each of ``node_ids``, ``distances`` miles away: from their ``table``
        (built here when not given) where it applies; only the nodes a rule about time names are
        asked one by one."""
        size = len(node_ids)
        miles: list[float] = distances.tolist()
        if not self.restricted:
            return np.zeros(size, dtype=bool)
        if self.per_line:
            return np.fromiter((self.late(n, d) for n, d in zip(node_ids, miles, strict=True)), dtype=bool, count=size)
        if not self.constrained:  # only a closure rules a node out: the nodes rules name
            touched = self.rules.touched if self.rules is not None else frozenset()
            return np.fromiter(
                (n in touched and self.late(n, d) for n, d in zip(node_ids, miles, strict=True)), dtype=bool, count=size
            )
        if table is None:
            table = self.table(node_ids, distances)
        late: BoolArray = np.logical_not(table.eligible.any(axis=0))
        for j in np.flatnonzero(table.by_node).tolist():
            late[j] = self.late(node_ids[j], miles[j])
        return late

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
        if self.per_line and earliest is not None:  # its most pressing line's words
            lines = self.held.get(node_id, range(len(self.line_promises)))
            first = min(lines, key=lambda k: (self.line_promises[k][2] is None, self.line_promises[k][2] or 0, k))
            return self.why_line(node_id, distance_miles, first)
        if earliest is None:
            if self.carrier_service:
                return f"does not ship by {self.carrier_service}"
            return "ships with no carrier service"
        by = f" by {self.carrier_service}" if self.carrier_service else ""
        if self.latest_day is not None and earliest > self.latest_day:
            return f"would deliver {day_words(earliest)}{by}, after {day_words(self.latest_day)} (the order's earliest)"
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
    ship_to: ShipTo,
    weight_lb: float,
    volume_in3: float,
    service_level: str,
    carrier_service: str = "",
    promised_day: int | None = None,
    deadline_is_promise: bool = True,
    late_penalty_per_day: float | None = None,
    rules: TimeRules | None = None,
    line_promises: Sequence[tuple[str, str, int | None]] = (),
    latest_day: int | None = None,
) -> ShipOptions:
    """``ShipOptions`` over the snapshot's calendars and carrier services (built once per snapshot)."""
    network = promise_network(snapshot)
    tables = snapshot.derived("promise.rate_tables", lambda: {sid: s.rate_table for sid, s in network.services.items()})
    return ShipOptions(
        network.calculator,
        network.services,
        tables,
        at=at,
        ship_to=ship_to,
        weight_lb=weight_lb,
        volume_in3=volume_in3,
        service_level=service_level,
        carrier_service=carrier_service,
        promised_day=promised_day,
        deadline_is_promise=deadline_is_promise,
        late_penalty_per_day=late_penalty_per_day,
        rules=rules,
        line_promises=line_promises,
        latest_day=latest_day,
    )


def line_exclusions(options: ShipOptions, distances: Mapping[str, float]) -> tuple[Exclusion, ...]:
    """Per-line promises: for each node holding stock (``options.held``, at ``distances``), the
    lines its option does not keep, each left out there with why (an exclusion of no rule)."""
    out: list[Exclusion] = []
    for node_id, lines in options.held.items():
        distance = distances[node_id]
        option = options.option(node_id, distance)
        if option is None or option.carries is None:
            continue  # late for every line: the node is left out whole (``late``)
        for k in lines:
            if k not in option.carries:
                line_id = options.line_promises[k][0]
                words = options.why_line(node_id, distance, k)
                out.append(Exclusion("", frozenset({node_id}), frozenset({line_id}), words))
    return tuple(out)


def table_rates(table: OptionTable, kept: BoolArray) -> list[tuple[OptionRate, ...]]:
    """Per node of ``table``, ``rates``' answer from its ``kept`` options. A kept option's price
    follows from its service, zone and delivery day (lateness), so nodes with the same kept
    options, days and zones share one tuple: a few dozen are built for 2,000 nodes."""
    columns: list[list[int]] = []
    for s in range(kept.shape[0]):
        for column in (kept[s], table.ship_day[s], table.delivery[s], table.zone[s]):
            columns.append(np.where(kept[s], column, 0).tolist())
    shared: dict[tuple[int, ...], tuple[OptionRate, ...]] = {}
    out = []
    for j, key in enumerate(zip(*columns, strict=True)):
        found = shared.get(key)
        if found is None:
            found = shared[key] = _rates_at(table, kept, j)
        out.append(found)
    return out


def _rates_at(table: OptionTable, kept: BoolArray, j: int) -> tuple[OptionRate, ...]:
    rates = []
    for s, (service_id, rate_table, service) in enumerate(table.services):
        if kept[s, j]:
            ship_day, delivery = int(table.ship_day[s, j]), int(table.delivery[s, j])
            option = ShipOption(service_id, rate_table, ship_day, delivery, int(table.late_days[s, j]), None, service)
            fixed, per_lb = float(table.fixed[s, j]), float(table.per_lb[s, j])
            rates.append(OptionRate(option, int(table.zone[s, j]), fixed, per_lb, service.dim_divisor))
    return tuple(rates)


def cheapest_option(rates: Sequence[OptionRate], pounds: float, volume_in3: float) -> OptionRate:
    """The option a shipment of ``pounds`` and ``volume_in3`` takes when lateness costs nothing
    more: the cheapest, then the earlier delivery, then the id."""
    return min(rates, key=lambda r: (r.price(pounds, volume_in3), r.option.delivery_day, r.option.carrier_service))


def choose_options(
    shipments: Sequence[tuple[Sequence[OptionRate], float, float]], penalty_per_day: float
) -> tuple[list[OptionRate], int, float]:
    """The option of each shipment of a plan ((rates, pounds, cubic inches) each), the days the
    order is late and the carrier's total with the lateness penalty.

    The order is late by its latest shipment (docs/promise.md, "Lateness allowed by a rule"), so
    the penalty is ``penalty_per_day`` x the most days any chosen option is late, once: for each
    number of days T an option is late, every shipment takes its cheapest option late by at most
    T, and the least of Σ prices + penalty x T wins (the fewer days on ties). Exact: the plan's
    best choice is late by some such T, which prices it no higher than it pays."""
    levels = sorted({r.late_days for rates, _, _ in shipments for r in rates})
    if len(levels) <= 1:
        chosen = [cheapest_option(rates, w, v) for rates, w, v in shipments]
        late = levels[0] if levels and chosen else 0
        return (
            chosen,
            late,
            sum(r.price(w, v) for r, (_, w, v) in zip(chosen, shipments, strict=True)) + (penalty_per_day * late),
        )
    best: tuple[list[OptionRate], int, float] | None = None
    for late in levels:
        chosen = []
        for rates, w, v in shipments:
            kept = [r for r in rates if r.late_days <= late]
            if not kept:
                break
            chosen.append(cheapest_option(kept, w, v))
        else:
            total = sum(r.price(w, v) for r, (_, w, v) in zip(chosen, shipments, strict=True)) + penalty_per_day * late
            if best is None or total < best[2] - 1e-9:
                best = (chosen, late, total)
    assert best is not None  # at the largest T every option is kept
    return best


def shipment_charge(
    rate: OptionRate, distance_miles: float, ship_to: ShipTo, pounds: float, volume_in3: float
) -> CarrierCharge:
    """The carrier's charge for the shipment by ``rate``'s service (carrier_charge: the parts a
    decision reports, as checkout quotes them)."""
    assert rate.option.service is not None
    return carrier_charge(rate.option.service, distance_miles, ship_to, pounds, volume_in3)


def linear_rate(rates: Sequence[OptionRate], weights: Sequence[float], volumes: Sequence[float]) -> list[float] | None:
    """A node's price as per shipment + per unit of each line, [fixed, per unit of line 0, ...],
    when it is one: a single option whose billed weight is the actual weight for every mix of the
    lines (or the dimensional weight for every mix). None: the price of a shipment depends on its
    mix (options cross, or dimensional weight bills some lines and not others), or on the plan
    (a late option: the order pays its lateness once, by its latest shipment)."""
    if len(rates) != 1 or rates[0].late_days > 0:  # a late option: the order's penalty is not per node
        return None
    (rate,) = rates
    divisor = rate.dim_divisor
    if divisor is None or all(v / divisor <= w for w, v in zip(weights, volumes, strict=True)):
        return [rate.fixed, *(rate.per_lb * w for w in weights)]
    if all(v / divisor >= w for w, v in zip(weights, volumes, strict=True)):
        return [rate.fixed, *(rate.per_lb * (v / divisor) for v in volumes)]
    return None
