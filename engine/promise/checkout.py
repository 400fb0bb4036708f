"""Checkout's questions: *when will it arrive, and what does it cost?* (pure, no I/O).

- ``cart_options``: for a cart and one ship-to, per carrier service, the earliest delivery date,
  what it costs, whether one shipment carries it all, and from which nodes;
- ``product_dates``: for many SKUs (one unit each) to one ship-to, each SKU's earliest "get it
  by" date and the service that brings it then.

Both read a ``PromiseNetwork`` built once per network snapshot (the calculator, node coordinates
and costs as plain lists) and the stock the store reports as available (on hand less live
holds and protections). They reserve nothing; of the planner's rules they read those about time
(``TimeRules``: required services, transit maxima, closures, peak cut-offs) exactly as a decision
does (``engine.promise.time_rules``), so a closed node or a peak cut-off changes the dates shown
as it changes the decision. An estimate of what ``Source`` would find, fast enough to ask on
every page view. Inputs are a handful of lines and
a few dozen candidate nodes, so everything is plain Python: no numpy (docs/promise.md, "Speed").

The rules, in ``cart_options``, for each carrier service:

1. the candidate nodes are those that ship (open, shipping), offer the service and hold some
   unit of the cart; each has a delivery day (the calculator's ship day, the zone's transit);
2. a line's earliest day is the first day by which the candidates delivering by then hold its
   quantity (units may come from several nodes); the cart's date is its lines' latest;
3. the plan: the cheapest single node delivering by that date with the whole cart, when there is
   one (``ships_complete``); else, among nodes delivering by then, the one taking most of what is
   left, again and again (fewest shipments first, cost breaking ties);
4. the cost is each shipment's pick and pack, per-unit handling and carrier charge (zone rate on
   billed weight, and the surcharges that apply), as the cost model prices them.

A line no candidate can fill is short (``short``); the date and plan cover the rest.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from engine.model import Item, Node
from engine.network import NetworkSnapshot
from engine.promise.calculator import NOT_OFFERED, PromiseCalculator
from engine.promise.model import CarrierService, NodeSchedule, ShipTo
from engine.promise.pricing import carrier_charge
from engine.promise.time_rules import TimeRules, ruled_order_by, ruled_ship_day

_EARTH_RADIUS_MILES = 3958.8  # engine.geo's, so zones match the cost model's
_DIAMETER_MILES = 2.0 * _EARTH_RADIUS_MILES


def usable_schedule(schedule: NodeSchedule, services: Mapping[str, CarrierService]) -> NodeSchedule:
    """``schedule`` without cut-offs the services in force no longer allow (a service gone from
    the set, or one that picks up on none of the node's working days): the store checks cut-offs
    when they are written, but the set in force can change under them (rate tables replacing the
    defaults). A node without cut-off data offers every service that picks up on its days."""
    if schedule.cutoffs is None:
        return schedule
    kept = tuple(
        c
        for c in schedule.cutoffs
        if c.carrier_service in services and services[c.carrier_service].pickup_days & schedule.working_days
    )
    if len(kept) == len(schedule.cutoffs):
        return schedule
    return NodeSchedule(
        schedule.node_id,
        schedule.time_zone,
        schedule.working_days,
        schedule.opens,
        schedule.closes,
        schedule.holidays,
        schedule.processing_days,
        kept,
        schedule.pickup_ready_minutes,
    )


class PromiseNetwork:
    """What checkout reads, built once per network: the calculator over every node (its stored
    schedule, or the default one), and per node (in id order, as ``PromiseCalculator.board``
    lists them) its coordinates in radians, its costs and whether it ships."""

    def __init__(
        self, nodes: Sequence[Node], schedules: Iterable[NodeSchedule], services: Mapping[str, CarrierService]
    ) -> None:
        by_node = {s.node_id: s for s in schedules}
        ordered = sorted(nodes, key=lambda n: n.id)
        self.services = dict(sorted(services.items()))
        self.calculator = PromiseCalculator(
            (usable_schedule(by_node.get(n.id) or NodeSchedule(n.id), self.services) for n in ordered),
            self.services.values(),
        )
        self.node_ids = tuple(n.id for n in ordered)
        self.index = {node_id: i for i, node_id in enumerate(self.node_ids)}
        self.lat = [math.radians(n.location.lat) for n in ordered]
        self.lon = [math.radians(n.location.lon) for n in ordered]
        self.cos_lat = [math.cos(x) for x in self.lat]
        self.pick_pack = [n.pick_pack_cost for n in ordered]
        self.handling = [n.unit_handling_cost for n in ordered]
        self.ships = [n.can_fulfil for n in ordered]

    def miles(self, lat: float, lon: float, nodes: Iterable[int]) -> dict[int, float]:
        """Great-circle miles from (lat, lon) in degrees to each of ``nodes`` (engine.geo's formula)."""
        phi, lmb = math.radians(lat), math.radians(lon)
        cos_phi = math.cos(phi)
        lats, lons, cos_lats, sin, asin, sqrt = self.lat, self.lon, self.cos_lat, math.sin, math.asin, math.sqrt
        out: dict[int, float] = {}
        for i in nodes:  # names bound locally: this loop runs over every candidate of every call
            h = sin((lats[i] - phi) * 0.5) ** 2 + cos_phi * cos_lats[i] * sin((lons[i] - lmb) * 0.5) ** 2
            out[i] = _DIAMETER_MILES * asin(sqrt(h if h < 1.0 else 1.0))
        return out


def promise_network(snapshot: NetworkSnapshot) -> PromiseNetwork:
    """The snapshot's PromiseNetwork, built on first use and kept with it."""
    return snapshot.derived(
        "promise", lambda: PromiseNetwork(snapshot.nodes, snapshot.node_schedules, snapshot.carrier_services)
    )


@dataclass(frozen=True, slots=True)
class CartLine:
    line_id: str
    sku: str
    qty: int
    unit_weight_lb: float
    item: Item | None = None  # its dimensions bill dimensional weight


class PlannedShipment(NamedTuple):  # a NamedTuple, as the two below: checkout builds them on every call
    node_id: str
    units: tuple[tuple[str, int], ...]  # (line id, units)
    ship_day: int  # date.toordinal()
    delivery_day: int
    cost: float  # pick and pack + handling + carrier charge
    carrier_charge: float


class DeliveryOption(NamedTuple):
    """One carrier service's answer for a cart. ``delivery_day`` is 0 when nothing can ship."""

    carrier_service: str
    carrier: str
    service_level: str
    delivery_day: int
    order_by: int  # epoch seconds: the option holds for orders in before it
    cost: float
    carrier_charge: float
    ships_complete: bool
    shipments: tuple[PlannedShipment, ...]
    short: tuple[tuple[str, int], ...]  # (line id, units no candidate can ship)


class ProductDate(NamedTuple):
    """A SKU's earliest delivery (one unit), or ``delivery_day`` 0 when no node can ship it."""

    sku: str
    delivery_day: int
    carrier_service: str
    node_id: str
    order_by: int


Stock = Mapping[str, Mapping[int, int]]  # sku -> node index -> units available (> 0)


def _day_for(need: int, held: list[tuple[int, int]]) -> int:
    """The first delivery day by which ``held`` ((day, units), sorted) adds up to ``need``; 0 if never."""
    total = 0
    for day, units in held:
        total += units
        if total >= need:
            return day
    return 0


def cart_options(
    network: PromiseNetwork,
    lines: Sequence[CartLine],
    stock: Stock,
    lat: float,
    lon: float,
    ship_to: ShipTo,
    at: int,
    rules: TimeRules | None = None,
) -> list[DeliveryOption]:
    """Per carrier service in force (by id), its delivery option for ``lines`` (module docstring).
    A service no candidate node offers (or the rules about time leave none) has no option."""
    calc = network.calculator
    board = calc.board(at)
    ships = network.ships
    holding = sorted({i for line in lines for i in stock.get(line.sku, {}) if ships[i]})
    miles = network.miles(lat, lon, holding)
    # The nodes holding every line whole, once for all services.
    full = set(holding)
    for line in lines:
        at_nodes = stock.get(line.sku, {})
        full = {i for i in full if at_nodes.get(i, 0) >= line.qty}
    options: list[DeliveryOption] = []
    for sid, service in network.services.items():
        days = calc.deliveries(board, sid, holding, miles, ship_to.region)
        ship_days = board.ship_days[sid]
        if rules is not None:
            days, ship_days = _by_rules(network, rules, service, holding, days, ship_days, miles, ship_to.region, at)
        arrive = {i: d for i, d in zip(holding, days, strict=True) if d != NOT_OFFERED}
        if not arrive:
            continue
        option = _cart_option(network, service, lines, stock, arrive, miles, ship_to, ship_days, at, full, rules)
        options.append(option)
    return options


def _cart_option(
    network: PromiseNetwork,
    service: CarrierService,
    lines: Sequence[CartLine],
    stock: Stock,
    arrive: Mapping[int, int],
    miles: Mapping[int, float],
    ship_to: ShipTo,
    ship_days: Sequence[int],
    at: int,
    full: set[int],
    rules: TimeRules | None,
) -> DeliveryOption:
    short: list[tuple[str, int]] = []
    need: dict[int, int] = {}  # line position -> units to plan
    date = 0
    for k, line in enumerate(lines):
        at_nodes = stock.get(line.sku, {})
        held = sorted((arrive[i], u) for i, u in at_nodes.items() if i in arrive)
        day = _day_for(line.qty, held)
        if day == 0:
            have = sum(u for _, u in held)
            short.append((line.line_id, line.qty - have))
            if have:
                need[k] = have
                date = max(date, held[-1][0])
            continue
        need[k] = line.qty
        date = max(date, day)
    in_time = [i for i, d in arrive.items() if d <= date]
    plan: dict[int, dict[int, int]] = {}  # node -> line position -> units
    priced: dict[int, tuple[float, float]] = {}  # node -> (cost, carrier charge), when known already
    if short:  # the lines' units in reach, not their quantities, must come whole
        whole = [i for i in in_time if all(stock[lines[k].sku].get(i, 0) >= q for k, q in need.items())]
    else:
        whole = [i for i in in_time if i in full]
    if whole and need:
        # One box of the same weight from each: its charge depends on the zone alone.
        count = sum(need.values())
        pounds, volume = _weight_and_volume(lines, need)
        charges: dict[int, float] = {}
        costs: dict[int, float] = {}
        for i in whole:
            z = service.zone_of(miles[i], ship_to.region)
            charge = charges.get(z)
            if charge is None:
                charge = charges[z] = carrier_charge(service, miles[i], ship_to, pounds, volume).total
            costs[i] = network.pick_pack[i] + network.handling[i] * count + charge
        best = min(whole, key=lambda i: (costs[i], network.node_ids[i]))
        plan[best] = dict(need)
        priced = {best: (costs[best], charges[service.zone_of(miles[best], ship_to.region)])}
    elif need:
        plan = fewest_boxes(in_time, need, [stock.get(line.sku, {}) for line in lines], miles, network.node_ids)
    shipments = []
    for i in sorted(plan, key=lambda i: network.node_ids[i]):
        cost, charge = priced.get(i) or _shipment_cost(network, service, i, lines, plan[i], miles, ship_to)
        carried = tuple((lines[k].line_id, q) for k, q in sorted(plan[i].items()))
        shipments.append(PlannedShipment(network.node_ids[i], carried, ship_days[i], arrive[i], cost, charge))
    calc = network.calculator
    order_by = min((ruled_order_by(rules, calc, s.node_id, service.id, at) for s in shipments), default=at)
    return DeliveryOption(
        carrier_service=service.id,
        carrier=service.carrier,
        service_level=service.service_level,
        delivery_day=max((s.delivery_day for s in shipments), default=0),
        order_by=order_by,
        cost=sum(s.cost for s in shipments),
        carrier_charge=sum(s.carrier_charge for s in shipments),
        ships_complete=len(shipments) == 1 and not short,
        shipments=tuple(shipments),
        short=tuple(short),
    )


def fewest_boxes(
    nodes: Sequence[int],
    need: Mapping[int, int],
    held: Sequence[Mapping[int, int]],
    miles: Mapping[int, float],
    node_ids: Sequence[str],
) -> dict[int, dict[int, int]]:
    """Units of each line position in ``need`` (all held by ``nodes`` together; ``held[k]``: line
    k's units per node) planned box by box: the node taking most of what is left, the nearer on
    ties (a cheaper zone), then by id; node -> line position -> units.

    A node chosen takes all it can, so it is chosen once, and what a node could take only shrinks
    as others take: each node's last count is an upper bound, and the node on top of a heap of
    them is the greedy's choice once its count is taken again and still leads (lazy evaluation).
    So a cart of 100 lines over 2,000 nodes costs a few counts per box, not every node's count per
    box (minutes before this)."""
    left = dict(need)
    allowed = set(nodes)
    lines_at: dict[int, list[int]] = {}
    for k in need:
        for i in held[k]:
            if i in allowed:
                lines_at.setdefault(i, []).append(k)

    def units_of(i: int) -> int:
        return sum(min(left[k], held[k].get(i, 0)) for k in lines_at.get(i, ()) if k in left)

    # Max-heap by (units, nearer, id), as negated keys; ids are distinct, so no two keys tie.
    heap = [(-units_of(i), miles[i], _Descending(node_ids[i]), i) for i in lines_at]
    heapq.heapify(heap)
    plan: dict[int, dict[int, int]] = {}
    while left and heap:
        _, far, name, i = heapq.heappop(heap)
        key = (-units_of(i), far, name, i)
        if heap and key > heap[0]:  # another may lead now: count again later
            heapq.heappush(heap, key)
            continue
        if key[0] == 0:  # cannot happen while units are left: every one is held by some node
            break
        taken = plan[i] = {}
        for k in lines_at[i]:
            q = left.get(k)
            if q is None:
                continue
            units = min(q, held[k].get(i, 0))
            if units > 0:
                taken[k] = units
                if units == q:
                    del left[k]
                else:
                    left[k] = q - units
    return plan


@dataclass(frozen=True, slots=True)
class _Descending:
    """A node id ordered backwards: the heap's smallest key is the greedy's largest id on ties."""

    node_id: str

    def __lt__(self, other: _Descending) -> bool:
        return self.node_id > other.node_id


def _by_rules(
    network: PromiseNetwork,
    rules: TimeRules,
    service: CarrierService,
    holding: Sequence[int],
    days: Sequence[int],
    ship_days: Sequence[int],
    miles: Mapping[int, float],
    region: str,
    at: int,
) -> tuple[list[int], list[int]]:
    """``days`` (delivery per holding node) and ``ship_days`` (per node) under the rules about time:
    NOT_OFFERED where they rule the node's option out, later where a peak cut-off moves its ship day."""
    calc = network.calculator
    ruled_ships = list(ship_days)
    # Without a service or transit rule, only the nodes closures or cut-off changes name can change.
    every = rules.constraining
    touched, node_ids = rules.touched, network.node_ids
    out: list[int] = []
    for i, day in zip(holding, days, strict=True):
        if day != NOT_OFFERED and (every or node_ids[i] in touched):
            zone = service.zone_of(miles[i], region)
            ship_day, why = ruled_ship_day(rules, calc, node_ids[i], service.id, at, ship_days[i], zone)
            if why is not None:
                day = NOT_OFFERED
            elif ship_day != ship_days[i]:
                ruled_ships[i] = ship_day
                day = calc.delivery_day(service.id, ship_day, zone)
        out.append(day)
    return out, ruled_ships


def _shipment_cost(
    network: PromiseNetwork,
    service: CarrierService,
    node: int,
    lines: Sequence[CartLine],
    units: Mapping[int, int],
    miles: Mapping[int, float],
    ship_to: ShipTo,
) -> tuple[float, float]:
    """(total, carrier charge) of one shipment from ``node`` with ``units`` per line position."""
    pounds, volume = _weight_and_volume(lines, units)
    charge = carrier_charge(service, miles[node], ship_to, pounds, volume).total
    return network.pick_pack[node] + network.handling[node] * sum(units.values()) + charge, charge


def _weight_and_volume(lines: Sequence[CartLine], units: Mapping[int, int]) -> tuple[float, float]:
    pounds = volume = 0.0
    for k, q in units.items():
        line = lines[k]
        pounds += q * line.unit_weight_lb
        item = line.item
        if item is not None:
            volume += q * item.length_in * item.width_in * item.height_in
    return pounds, volume


def product_dates(
    network: PromiseNetwork,
    skus: Sequence[str],
    stock: Stock,
    lat: float,
    lon: float,
    ship_to: ShipTo,
    at: int,
    rules: TimeRules | None = None,
) -> list[ProductDate]:
    """Per SKU (in the order given), the earliest delivery of one unit over every service and every
    node holding it; the service and node that bring it then (ties: the service first by id, then
    the node first by id). ``rules``: about time, as ``cart_options`` reads them."""
    calc = network.calculator
    board = calc.board(at)
    ships = network.ships
    holding = sorted({i for sku in skus for i in stock.get(sku, {}) if ships[i]})
    miles = network.miles(lat, lon, holding)
    # Each holding node's earliest (day, service) over every service, once for all the SKUs.
    first: dict[int, tuple[int, str]] = {}
    for sid, service in network.services.items():
        days = calc.deliveries(board, sid, holding, miles, ship_to.region)
        if rules is not None:
            days = _by_rules(network, rules, service, holding, days, board.ship_days[sid], miles, ship_to.region, at)[0]
        for i, day in zip(holding, days, strict=True):
            if day != NOT_OFFERED and (i not in first or (day, sid) < first[i]):
                first[i] = (day, sid)
    out: list[ProductDate] = []
    for sku in skus:
        best: tuple[int, str, int] | None = None
        for i in stock.get(sku, {}):
            found = first.get(i)
            if found is not None and (best is None or (found[0], found[1], i) < best):
                best = (found[0], found[1], i)
        if best is None:
            out.append(ProductDate(sku, 0, "", "", at))
            continue
        day, sid, i = best
        out.append(
            ProductDate(sku, day, sid, network.node_ids[i], ruled_order_by(rules, calc, network.node_ids[i], sid, at))
        )
    return out
