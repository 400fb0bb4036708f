"""engine.promise.checkout against a reference built from the calculator's single promises:
random small networks (2-6 nodes in three time zones, two services, random cut-offs and stock),
random carts of 1-3 lines, random instants over a fortnight with a weekend and a holiday."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from engine.geo import EARTH_RADIUS_MILES
from engine.model import GeoPoint, Node, NodeType
from engine.promise.calculator import epoch_seconds
from engine.promise.checkout import CartLine, PromiseNetwork, cart_options, fewest_boxes, product_dates
from engine.promise.model import (
    MONDAY_TO_FRIDAY,
    MONDAY_TO_SATURDAY,
    CarrierService,
    Cutoff,
    NodeSchedule,
    ShipTo,
    ZoneRate,
)
from engine.promise.pricing import carrier_charge

SERVICES = {
    "GROUND": CarrierService(
        "GROUND",
        "Northstar",
        "STANDARD",
        (ZoneRate("1", 1, 5.0, 0.5, 300.0), ZoneRate("2", 3, 7.0, 0.75, 1000.0), ZoneRate("3", 5, 9.0, 1.0)),
        holidays=frozenset({date(2026, 12, 25)}),
    ),
    "AIR": CarrierService("AIR", "Skyline", "NEXT_DAY", (ZoneRate("1", 1, 20.0, 2.0),), residential_surcharge=3.5),
}
ZONES = ("America/Chicago", "America/New_York", "America/Los_Angeles")
START = datetime(2026, 12, 17, 6, 0, tzinfo=UTC)  # a Thursday: the weekend and Christmas follow


def _miles(a: GeoPoint, lat: float, lon: float) -> float:
    import math

    p1, p2 = math.radians(lat), math.radians(a.lat)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(a.lon - lon) / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(min(h, 1.0)))


def _case(rng: random.Random) -> tuple[list[Node], list[NodeSchedule], list[CartLine], dict[str, dict[int, int]]]:
    nodes, schedules = [], []
    for i in range(rng.randint(2, 6)):
        node = Node(
            f"N{i}",
            NodeType.DC,
            GeoPoint(rng.uniform(30, 47), rng.uniform(-120, -75)),
            pick_pack_cost=rng.choice([1.0, 2.5]),
            unit_handling_cost=rng.choice([0.1, 0.3]),
        )
        cutoffs = [Cutoff("GROUND", rng.choice([600, 900, 1020]))]
        if rng.random() < 0.6:
            cutoffs.append(Cutoff("AIR", rng.choice([720, 840])))
        schedules.append(
            NodeSchedule(
                node.id,
                time_zone=rng.choice(ZONES),
                working_days=rng.choice([MONDAY_TO_FRIDAY, MONDAY_TO_SATURDAY]),
                processing_days=rng.choice([0, 0, 1]),
                cutoffs=tuple(cutoffs),
            )
        )
        nodes.append(node)
    lines = [CartLine(f"L{k}", f"S{k}", rng.randint(1, 4), rng.choice([0.5, 2.0])) for k in range(rng.randint(1, 3))]
    stock: dict[str, dict[int, int]] = {}
    for line in lines:
        for i in range(len(nodes)):
            if rng.random() < 0.6:
                stock.setdefault(line.sku, {})[i] = rng.randint(1, 5)
    return nodes, schedules, lines, stock


def _enough(
    day: int, lines: list[CartLine], stock: dict[str, dict[int, int]], arrive: dict[int, int], wanted: dict[str, int]
) -> bool:
    """Whether the nodes delivering by ``day`` hold every line's wanted units."""
    return all(
        sum(u for i, u in stock.get(line.sku, {}).items() if arrive.get(i, day + 1) <= day) >= wanted[line.line_id]
        for line in lines
    )


def _cost(
    node: Node,
    service: CarrierService,
    lines: list[CartLine],
    wanted: dict[str, int],
    lat: float,
    lon: float,
    ship_to: ShipTo,
) -> float:
    """One box of the whole cart from ``node``, priced from its parts."""
    pounds = sum(wanted[line.line_id] * line.unit_weight_lb for line in lines)
    charge = carrier_charge(service, _miles(node.location, lat, lon), ship_to, pounds, 0.0).total
    return node.pick_pack_cost + node.unit_handling_cost * sum(wanted.values()) + charge


@pytest.mark.parametrize("seed", range(200))
def test_cart_options_match_a_reference_from_single_promises(seed: int) -> None:
    rng = random.Random(seed)
    nodes, schedules, lines, stock = _case(rng)
    network = PromiseNetwork(nodes, schedules, SERVICES)
    lat, lon = rng.uniform(30, 47), rng.uniform(-120, -75)
    ship_to = ShipTo("US-CONTIGUOUS", residential=rng.random() < 0.5)
    at = epoch_seconds(START + timedelta(minutes=rng.randint(0, 14 * 24 * 60)))
    options = {o.carrier_service: o for o in cart_options(network, lines, stock, lat, lon, ship_to, at)}

    for sid, service in SERVICES.items():
        # The reference: each node's delivery day from the calculator's one-at-a-time promise.
        arrive: dict[int, int] = {}
        for i, node in enumerate(nodes):
            if i not in {n for line in lines for n in stock.get(line.sku, {})}:
                continue
            promise = network.calculator.promise(node.id, sid, at, _miles(node.location, lat, lon), ship_to.region)
            if promise is not None:
                arrive[i] = promise.delivery_day
        if not arrive:
            assert sid not in options
            continue
        option = options[sid]
        # What each line can get at all, and the earliest day by which every line gets it.
        reach = {line.line_id: sum(u for i, u in stock.get(line.sku, {}).items() if i in arrive) for line in lines}
        wanted = {line.line_id: min(line.qty, reach[line.line_id]) for line in lines}
        assert dict(option.short) == {
            k: line.qty - wanted[k] for line in lines if (k := line.line_id) and wanted[k] < line.qty
        }

        earliest = (
            min((d for d in set(arrive.values()) if _enough(d, lines, stock, arrive, wanted)), default=0)
            if any(wanted.values())
            else 0
        )
        assert option.delivery_day == earliest
        # The plan is real: within stock, every wanted unit once, no box later than the date.
        carried: dict[str, int] = {}
        for shipment in option.shipments:
            i = network.index[shipment.node_id]
            assert shipment.delivery_day == arrive[i] <= earliest
            for line_id, units in shipment.units:
                line = next(line for line in lines if line.line_id == line_id)
                assert 0 < units <= stock[line.sku][i]
                carried[line_id] = carried.get(line_id, 0) + units
        assert carried == {k: v for k, v in wanted.items() if v}
        # One box when a node holding everything delivers by then: the cheapest of them.
        whole = [
            i
            for i, day in arrive.items()
            if day <= earliest and all(stock.get(line.sku, {}).get(i, 0) >= wanted[line.line_id] for line in lines)
        ]
        if whole and not option.short:
            assert option.ships_complete

            costs = [_cost(nodes[i], service, lines, wanted, lat, lon, ship_to) for i in whole]
            assert option.cost == pytest.approx(min(costs))
        elif not whole:
            assert not option.ships_complete


@pytest.mark.parametrize("seed", range(100))
def test_product_dates_are_the_earliest_single_promise(seed: int) -> None:
    rng = random.Random(1000 + seed)
    nodes, schedules, lines, stock = _case(rng)
    network = PromiseNetwork(nodes, schedules, SERVICES)
    lat, lon = rng.uniform(30, 47), rng.uniform(-120, -75)
    at = epoch_seconds(START + timedelta(minutes=rng.randint(0, 14 * 24 * 60)))
    skus = [line.sku for line in lines] + ["NONE"]
    found = product_dates(network, skus, stock, lat, lon, ShipTo("US-CONTIGUOUS"), at)
    for product in found:
        days = [
            p.delivery_day
            for i in stock.get(product.sku, {})
            for sid in SERVICES
            if (p := network.calculator.promise(nodes[i].id, sid, at, _miles(nodes[i].location, lat, lon))) is not None
        ]
        assert product.delivery_day == min(days, default=0)


def _fewest_boxes_by_rescanning(
    nodes: list[int], need: dict[int, int], held: list[dict[int, int]], miles: dict[int, float], ids: list[str]
) -> dict[int, dict[int, int]]:
    """The greedy as first written: every node counted again for every box."""
    left: dict[int, int] = dict(need)
    plan: dict[int, dict[int, int]] = {}

    def spare(i: int, k: int) -> int:
        return held[k].get(i, 0) - plan.get(i, {}).get(k, 0)

    while left:
        best = max(nodes, key=lambda i: (sum(min(q, spare(i, k)) for k, q in left.items()), -miles[i], ids[i]))
        moved = {k: min(q, spare(best, k)) for k, q in left.items() if spare(best, k) > 0}
        if not moved:
            break
        taken = plan.setdefault(best, {})
        for k, units in moved.items():
            taken[k] = taken.get(k, 0) + units
            left[k] -= units
            if not left[k]:
                del left[k]
    return plan


@pytest.mark.parametrize("seed", range(300))
def test_fewest_boxes_chooses_as_the_rescanning_greedy(seed: int) -> None:
    """The lazy greedy picks the same boxes in the same order as counting every node again per box,
    ties (equal units, equal miles) included."""
    rng = random.Random(seed)
    n_nodes, n_lines = rng.randint(1, 60), rng.randint(1, 12)
    ids = [f"N{i:03d}" for i in range(n_nodes)]
    rng.shuffle(ids)
    miles = {i: float(rng.choice([10, 10, 50, 120, 800])) for i in range(n_nodes)}
    held = [{i: rng.randint(1, 9) for i in range(n_nodes) if rng.random() < 0.4} for _ in range(n_lines)]
    need = {k: rng.randint(1, max(1, sum(h.values()))) for k, h in enumerate(held) if h}
    nodes = [i for i in range(n_nodes) if rng.random() < 0.9]
    need = {k: min(q, sum(u for i, u in held[k].items() if i in nodes)) for k, q in need.items()}
    need = {k: q for k, q in need.items() if q > 0}
    expected = _fewest_boxes_by_rescanning(nodes, need, held, miles, ids)
    plan = fewest_boxes(nodes, need, held, miles, ids)
    assert list(plan) == list(expected)
    assert plan == expected
