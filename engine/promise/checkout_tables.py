"""Checkout's answers by lookup: what ``cart_options`` and ``product_dates`` work out per candidate
node on every call, kept in tables between calls, so a call is a few lookups over the nodes
holding its SKUs (issue 19's "calendars pre-expanded, transit looked up not computed").

Per node, an answer depends on the call's stock and cart, and otherwise only on:

- the node's ship day and order-by instant per carrier service: the network version and the
  instant, through the calculator's ``ShipBoard``, which holds from one instant until the first
  cut-off that would change any node's (at most a day);
- its distance and zone per service from the ship-to: the network version and the ship-to's exact
  coordinates and region;
- its delivery day per service: both (the board's ship day, the zone's transit).

So two tables, both kept with one network version (``checkout_tables(snapshot)``, a new snapshot
starts them over) and both keyed by the board (a call under another board starts them over):

- per board, per node (filled the first time a call reads the node): per service, its ship day,
  order-by and delivery day by zone, or nothing where it does not ship with the service;
- per ship-to (coordinates and region), per node: per service, the delivery day and zone, the
  distance, and the node's earliest (day, service). Bounded: past ``MAX_SHIP_TO_CELLS`` node
  entries in all, the older half of the ship-tos is dropped, so a caller sending many distinct
  ZIP codes costs at most that much memory and each new ship-to pays each node's distance once.

Nothing depending on stock is kept: each call passes the units available. What the tables do not
answer by lookup goes to the general functions, whose rules they follow (the differential test,
tests/engine/promise/test_checkout_tables.py, holds them to the same options): rules about time in
force, a line no candidate can fill (short), and a cart no single node delivers whole by its date
(a plan of several shipments, for that service only).
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Mapping, Sequence

from engine.network import NetworkSnapshot
from engine.promise.calculator import NOT_OFFERED, ShipBoard
from engine.promise.checkout import (
    CartLine,
    DeliveryOption,
    PlannedShipment,
    ProductDate,
    PromiseNetwork,
    Stock,
    _cart_option,
    _shipment_cost,
    _weight_and_volume,
    cart_options,
    fewest_boxes,
    product_dates,
    promise_network,
)
from engine.promise.model import ShipTo
from engine.promise.pricing import charges_by_zone
from engine.promise.time_rules import TimeRules

NEVER = 1 << 40  # a delivery day after any: the node does not deliver by that service
MAX_SHIP_TO_CELLS = 131_072  # (ship-to, node) entries kept in all: ~25 MB at most
_EMPTY: dict[int, int] = {}

# A node's row under one board: per service (the network's order), (ship day, order-by, delivery
# day by 1-based zone), or None where the node does not ship with the service.
Row = tuple[tuple[int, int, tuple[int, ...]] | None, ...]


class _BoardRows:
    __slots__ = ("board", "rows")

    def __init__(self, board: ShipBoard) -> None:
        self.board = board
        self.rows: dict[int, Row] = {}


class Reach:
    """One ship-to under one board, per node filled so far: per service, its delivery day
    (``NEVER`` where it does not deliver) and zone; its distance; and its earliest delivery over
    every service as one number, ``day x services x nodes + service x nodes + node``, whose
    smallest over a SKU's nodes is the product page's answer (ties: the service, then the node,
    first by id)."""

    __slots__ = ("board", "days", "first", "miles", "ranking", "rows", "zones")

    def __init__(self, rows: _BoardRows, services: int) -> None:
        self.board = rows.board
        self.rows = rows.rows  # the board's rows: every node filled here has one
        self.days: tuple[dict[int, int], ...] = tuple({} for _ in range(services))
        self.zones: tuple[dict[int, int], ...] = tuple({} for _ in range(services))
        self.miles: dict[int, float] = {}
        self.first: dict[int, int] = {}
        # Per service, the nodes filled so far by delivery day (then id), sorted again when more come.
        self.ranking: list[list[int]] = [[] for _ in range(services)]

    def ranked(self, k: int) -> list[int]:
        ranking = self.ranking[k]
        if len(ranking) != len(self.miles):
            days = self.days[k]
            ranking = self.ranking[k] = sorted(sorted(self.miles), key=days.__getitem__)
        return ranking


class CheckoutTables:
    """The tables of one network version (module docstring). Threads may share it: a board's or a
    ship-to's tables are replaced whole, never cleared under a reader, and entries are only added."""

    def __init__(self, network: PromiseNetwork, max_cells: int = MAX_SHIP_TO_CELLS) -> None:
        self.network = network
        self.service_ids = tuple(network.services)
        self.service_list = tuple(network.services.values())
        self._max_cells = max_cells
        self._rows = _BoardRows(ShipBoard(0, 0, (), {}))
        self._reach: dict[tuple[float, float, str], Reach] = {}
        self._cells = 0
        self._evicting = threading.Lock()

    @property
    def cells(self) -> int:
        """(ship-to, node) entries held now."""
        return sum(len(reach.miles) for reach in list(self._reach.values()))

    def _board_rows(self, board: ShipBoard) -> _BoardRows:
        rows = self._rows
        if rows.board is not board:
            rows = self._rows = _BoardRows(board)
        return rows

    def _row(self, rows: _BoardRows, i: int) -> Row:
        """Node ``i``'s row under ``rows.board``: worked out the first time a call reads it."""
        board = rows.board
        row = rows.rows.get(i)
        if row is not None:
            return row
        network = self.network
        calc, node_id = network.calculator, network.node_ids[i]
        out: list[tuple[int, int, tuple[int, ...]] | None] = []
        for sid, service in zip(self.service_ids, self.service_list, strict=True):
            ship_day = board.ship_days[sid][i]
            if ship_day == NOT_OFFERED or not network.ships[i]:
                out.append(None)
                continue
            # Every order in while the board holds ships as one in at its start: the board ends at
            # the first cut-off that would change any ship day, and an order-by is such a cut-off.
            shipped = calc.ship(node_id, sid, board.valid_from)
            assert shipped is not None and shipped[0] == ship_day
            days = tuple(calc.delivery_day(sid, ship_day, z) for z in range(1, len(service.zones) + 1))
            out.append((ship_day, shipped[1], (NEVER, *days)))
        row = rows.rows[i] = tuple(out)
        return row

    def reach(self, board: ShipBoard, lat: float, lon: float, region: str, nodes: set[int]) -> Reach:
        """The ship-to's entries under ``board``, holding at least ``nodes``."""
        key = (lat, lon, region)
        reach = self._reach.get(key)
        if reach is None or reach.board is not board:
            reach = self._reach[key] = Reach(self._board_rows(board), len(self.service_list))
        missing = nodes - reach.miles.keys()
        if missing:
            self._fill(reach, lat, lon, region, missing)
        return reach

    def _fill(self, reach: Reach, lat: float, lon: float, region: str, missing: set[int]) -> None:
        width = len(self.service_list)
        span = len(self.network.node_ids)
        rows = self._board_rows(reach.board)
        for i, distance in self.network.miles(lat, lon, missing).items():
            row = self._row(rows, i)
            reach.rows[i] = row  # the same dict unless another board came meanwhile
            first = NEVER * width * span + i
            for k, service in enumerate(self.service_list):
                zone = service.zone_of(distance, region)
                found = row[k]
                day = NEVER if found is None else found[2][zone]
                first = min(first, (day * width + k) * span + i)
                reach.zones[k][i] = zone
                reach.days[k][i] = day
            reach.first[i] = first
            reach.miles[i] = distance  # last: a node is known once its distance is
        self._cells += len(missing)
        if self._cells > self._max_cells:
            self._evict()

    def _evict(self) -> None:
        """Drop the older half of the ship-tos (in the order they came), and recount."""
        with self._evicting:
            entries = list(self._reach.items())
            kept = dict(entries[len(entries) // 2 :])
            self._reach = kept
            self._cells = sum(len(reach.miles) for reach in kept.values())


def checkout_tables(snapshot: NetworkSnapshot) -> CheckoutTables:
    """The snapshot's CheckoutTables, built on first use and kept with it (one network version)."""
    return snapshot.derived("checkout-tables", lambda: CheckoutTables(promise_network(snapshot)))


def cart_options_by_lookup(
    tables: CheckoutTables,
    lines: Sequence[CartLine],
    stock: Stock,
    lat: float,
    lon: float,
    ship_to: ShipTo,
    at: int,
    rules: TimeRules | None = None,
) -> list[DeliveryOption]:
    """``cart_options``'s answer (per carrier service in force, by id), read from the tables.
    ``stock`` holds units > 0 only (``Stock``)."""
    network = tables.network
    if rules is not None:
        return cart_options(network, lines, stock, lat, lon, ship_to, at, rules)
    board = network.calculator.board(at)
    helds = [stock.get(line.sku) or _EMPTY for line in lines]
    holding: set[int] = set().union(*helds)
    reach = tables.reach(board, lat, lon, ship_to.region, holding)
    # Per line, what reads its nodes' values from a table by node (in ``held``'s order) in one call,
    # and the nodes holding every line whole, once for all services.
    readers = [_reader(held) for held in helds]
    full: set[int] | None = None
    for line, held in zip(lines, helds, strict=True):
        qty = line.qty
        if full is None:
            full = set(held) if qty == 1 else {i for i, units in held.items() if units >= qty}
        elif qty > 1:
            full = {i for i in full if held.get(i, 0) >= qty}
        else:
            full = full.intersection(held)
    assert full is not None
    quantities = {k: line.qty for k, line in enumerate(lines)}
    pounds, volume = _weight_and_volume(lines, quantities)
    count = sum(quantities.values())
    carried = tuple((line.line_id, line.qty) for line in lines)
    pick_pack, handling, node_ids = network.pick_pack, network.handling, network.node_ids
    base = {i: pick_pack[i] + handling[i] * count for i in full}  # a box's cost before its carrier's
    known = len(reach.miles)
    options: list[DeliveryOption] = []
    for k, service in enumerate(tables.service_list):
        days = reach.days[k]
        # Each line's earliest day: the first by which the nodes delivering then hold its quantity.
        date = 0
        for line, held, read in zip(lines, helds, readers, strict=True):
            qty = line.qty
            day = NEVER
            if qty == 1:
                if len(held) ** 2 > known:  # the first holding node by day is a few steps in
                    for i in reach.ranked(k):
                        if i in held:
                            day = days[i]
                            break
                elif held:
                    day = min(read(days))
            else:
                total = 0
                for found, units in sorted(zip(read(days), held.values(), strict=False)):  # one key: read twice
                    total += units
                    if total >= qty:
                        day = found
                        break
            if day > date:
                date = day
        if date >= NEVER:  # a line short, or no node holding it offers the service: the general rules
            option = _general_option(tables, k, board, lines, stock, holding, reach, ship_to, at, full)
            if option is not None:
                options.append(option)
            continue
        # The cheapest node delivering the whole cart by then (one box: its charge is its zone's);
        # ties: the first by id.
        best, best_cost, charge = -1, 0.0, 0.0
        zones = reach.zones[k]
        charges = charges_by_zone(service, ship_to, pounds, volume)
        for i, before in base.items():
            if days[i] <= date:
                zone_charge = charges[zones[i]]
                cost = before + zone_charge
                if best < 0 or cost < best_cost or (cost == best_cost and i < best):
                    best, best_cost, charge = i, cost, zone_charge
        if best < 0:
            options.append(_shipments_option(tables, k, board, lines, helds, holding, reach, ship_to, date))
            continue
        found_row = reach.rows[best][k]
        assert found_row is not None
        day = days[best]
        shipment = PlannedShipment(node_ids[best], carried, found_row[0], day, best_cost, charge)
        options.append(
            DeliveryOption(
                service.id,
                service.carrier,
                service.service_level,
                day,
                found_row[1],
                best_cost,
                charge,
                True,
                (shipment,),
                (),
            )
        )
    return options


def _reader(held: Mapping[int, int]) -> Callable[[Mapping[int, int]], tuple[int, ...]]:
    """A function reading a table by node at ``held``'s nodes, in its order, in one C call
    (``itemgetter`` of one key returns the value alone: the key twice then, which ``min`` and a
    ``zip`` with ``held``'s values read alike)."""
    if len(held) > 1:
        return operator.itemgetter(*held)
    if held:
        return operator.itemgetter(*held, *held)
    return _nothing


def _nothing(table: Mapping[int, int]) -> tuple[int, ...]:
    return ()


def _shipments_option(
    tables: CheckoutTables,
    k: int,
    board: ShipBoard,
    lines: Sequence[CartLine],
    helds: Sequence[Mapping[int, int]],
    holding: set[int],
    reach: Reach,
    ship_to: ShipTo,
    date: int,
) -> DeliveryOption:
    """Service ``k``'s option when every line is filled by ``date`` but no one node holds the
    whole cart: ``cart_options``'s plan, the node taking most of what is left again and again (the
    nearer on ties, then the later by id), each shipment priced alone."""
    network, service = tables.network, tables.service_list[k]
    days, miles = reach.days[k], reach.miles
    in_time = sorted([i for i in holding if days[i] <= date])
    need = {k_: line.qty for k_, line in enumerate(lines)}
    plan = fewest_boxes(in_time, need, helds, {i: miles[i] for i in in_time}, network.node_ids)
    shipments = []
    order_by = 0
    for i in sorted(plan):
        row = reach.rows[i][k]
        assert row is not None
        cost, charge = _shipment_cost(network, service, i, lines, plan[i], miles, ship_to)
        carried = tuple((lines[line_k].line_id, qty) for line_k, qty in sorted(plan[i].items()))
        shipments.append(PlannedShipment(network.node_ids[i], carried, row[0], days[i], cost, charge))
        order_by = row[1] if not order_by else min(order_by, row[1])
    return DeliveryOption(
        service.id,
        service.carrier,
        service.service_level,
        max(s.delivery_day for s in shipments),
        order_by,
        sum(s.cost for s in shipments),
        sum(s.carrier_charge for s in shipments),
        len(shipments) == 1,
        tuple(shipments),
        (),
    )


def _general_option(
    tables: CheckoutTables,
    k: int,
    board: ShipBoard,
    lines: Sequence[CartLine],
    stock: Stock,
    holding: set[int],
    reach: Reach,
    ship_to: ShipTo,
    at: int,
    full: set[int],
) -> DeliveryOption | None:
    """Service ``k``'s option by ``cart_options``'s own rules, from the tables' days and distances;
    None when no node holding the cart delivers by the service."""
    days = reach.days[k]
    arrive = {i: days[i] for i in sorted(holding) if days[i] < NEVER}
    if not arrive:
        return None
    service = tables.service_list[k]
    miles = {i: reach.miles[i] for i in holding}
    ship_days = board.ship_days[service.id]
    return _cart_option(tables.network, service, lines, stock, arrive, miles, ship_to, ship_days, at, full, None)


def product_dates_by_lookup(
    tables: CheckoutTables,
    skus: Sequence[str],
    stock: Stock,
    lat: float,
    lon: float,
    ship_to: ShipTo,
    at: int,
    rules: TimeRules | None = None,
) -> list[ProductDate]:
    """``product_dates``'s answer (per SKU in the order given), read from the tables."""
    network = tables.network
    if rules is not None:
        return product_dates(network, skus, stock, lat, lon, ship_to, at, rules)
    board = network.calculator.board(at)
    helds = [stock.get(sku) or _EMPTY for sku in skus]
    reach = tables.reach(board, lat, lon, ship_to.region, set().union(*helds))
    get_first = reach.first.__getitem__
    span = len(network.node_ids)
    per_day = span * len(tables.service_list)
    node_ids, service_ids = network.node_ids, tables.service_ids
    out: list[ProductDate] = []
    for sku, held in zip(skus, helds, strict=True):
        first = min(map(get_first, held)) if held else NEVER * per_day
        day, rest = divmod(first, per_day)
        if day >= NEVER:
            out.append(ProductDate(sku, 0, "", "", at))
            continue
        k, i = divmod(rest, span)
        row = reach.rows[i][k]
        assert row is not None
        out.append(ProductDate(sku, day, service_ids[k], node_ids[i], row[1]))
    return out
