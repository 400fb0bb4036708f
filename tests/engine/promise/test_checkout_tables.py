"""engine.promise.checkout_tables against the general functions it must equal, to the last bit.

Differential: random networks (2-12 nodes in four time zones, some not shipping, three services,
one with Alaska and Hawaii zones and a dimensional divisor, random cut-offs and processing),
random carts of 1-3 lines (short lines and split carts included), random ship-tos (repeated, so
the tables are read back; residential, remote ZIP3s, Alaska), and a walk of instants through a
fortnight with a weekend, a holiday, cut-offs to the second and both DST changes, all answered by
one ``CheckoutTables`` kept across the walk, with the stock changing between calls. Then a new
network version, and the tables' memory bound under many distinct ship-tos.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

import engine.promise.checkout_tables as checkout_tables_module
from engine.model import GeoPoint, Node, NodeType
from engine.network import NetworkSnapshot
from engine.promise.calculator import epoch_seconds
from engine.promise.checkout import CartLine, PromiseNetwork, cart_options, product_dates
from engine.promise.checkout_tables import (
    CheckoutTables,
    cart_options_by_lookup,
    checkout_tables,
    product_dates_by_lookup,
)
from engine.promise.model import (
    MONDAY_TO_FRIDAY,
    MONDAY_TO_SATURDAY,
    CarrierService,
    Cutoff,
    NodeSchedule,
    ShipTo,
    ZoneRate,
)

SERVICES = {
    "GROUND": CarrierService(
        "GROUND",
        "Northstar",
        "STANDARD",
        (
            ZoneRate("1", 1, 5.0, 0.5, 300.0),
            ZoneRate("2", 3, 7.0, 0.75, 1000.0),
            ZoneRate("3", 5, 9.0, 1.0),
            ZoneRate("AK", 7, 30.0, 2.0),
            ZoneRate("HI", 6, 28.0, 2.0),
        ),
        holidays=frozenset({date(2026, 12, 25), date(2026, 3, 9)}),
        remote_area_zip3=frozenset({"995", "967"}),
        remote_area_surcharge=4.0,
        non_contiguous_surcharge=6.5,
    ),
    "AIR": CarrierService(
        "AIR",
        "Skyline",
        "NEXT_DAY",
        (ZoneRate("1", 1, 20.0, 2.0, 800.0), ZoneRate("2", 2, 26.0, 2.5)),
        residential_surcharge=3.5,
        dim_divisor=139.0,
    ),
    "TWO_DAY": CarrierService("TWO_DAY", "Skyline", "TWO_DAY", (ZoneRate("1", 2, 12.0, 1.0),)),
}
ZONES = ("America/Chicago", "America/New_York", "America/Los_Angeles", "America/Phoenix")
# Ship-tos: (lat, lon, region, postal code); repeated across calls, so tables are read back.
SHIP_TOS = (
    (41.88, -87.63, "US-CONTIGUOUS", "60601"),
    (34.05, -118.24, "US-CONTIGUOUS", "90012"),
    (40.71, -74.0, "US-CONTIGUOUS", "10001"),
    (61.22, -149.9, "US-AK", "99501"),
    (21.31, -157.86, "US-HI", "96813"),
    (35.0, -100.0, "", ""),
)
# Walks of instants: around Christmas (a weekend, the holiday), and both 2026 DST changes.
WALKS = (
    datetime(2026, 12, 17, 6, 0, tzinfo=UTC),
    datetime(2026, 3, 6, 6, 0, tzinfo=UTC),
    datetime(2026, 10, 30, 6, 0, tzinfo=UTC),
)


def _network(rng: random.Random) -> PromiseNetwork:
    nodes, schedules = [], []
    for i in range(rng.randint(2, 12)):
        node = Node(
            f"N{i:02d}",
            rng.choice([NodeType.DC, NodeType.STORE]),
            GeoPoint(rng.uniform(26, 48), rng.uniform(-122, -70)),
            pick_pack_cost=rng.choice([1.0, 2.5, 2.5]),
            unit_handling_cost=rng.choice([0.1, 0.3]),
            is_open=rng.random() < 0.9,
        )
        cutoffs = [Cutoff("GROUND", rng.choice([600, 900, 1020, 1439]))]
        for sid in ("AIR", "TWO_DAY"):
            if rng.random() < 0.6:
                cutoffs.append(Cutoff(sid, rng.choice([0, 720, 840])))
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
    return PromiseNetwork(nodes, schedules, SERVICES)


def _stock(rng: random.Random, nodes: int, skus: list[str]) -> dict[str, dict[int, int]]:
    stock: dict[str, dict[int, int]] = {}
    for sku in skus:
        held = {i: rng.randint(1, 5) for i in range(nodes) if rng.random() < 0.5}
        if held:
            stock[sku] = held
    return stock


def _instants(rng: random.Random, network: PromiseNetwork, start: datetime) -> list[int]:
    """Instants in time order: random ones over a fortnight, and each node's cut-offs to the second."""
    first = epoch_seconds(start)
    out = {first + rng.randint(0, 14 * 86_400) for _ in range(12)}
    calc = network.calculator
    for node_id in network.node_ids[:3]:
        for sid in SERVICES:
            shipped = calc.ship(node_id, sid, first + rng.randint(0, 5 * 86_400))
            if shipped is not None:
                out |= {shipped[1] - 1, shipped[1], shipped[1] + 1}
    return sorted(out)


def _compare(tables: CheckoutTables, rng: random.Random, at: int, stock: dict[str, dict[int, int]]) -> None:
    network = tables.network
    lat, lon, region, postal = rng.choice(SHIP_TOS)
    ship_to = ShipTo(region, postal, residential=rng.random() < 0.5)
    skus = [*sorted(stock), "NONE"]
    lines = [
        CartLine(f"L{k}", sku, rng.choice([1, 1, 2, 4, 9]), rng.choice([0.5, 2.0, 30.0]))
        for k, sku in enumerate(rng.sample(skus, rng.randint(1, min(3, len(skus)))))
    ]
    general = cart_options(network, lines, stock, lat, lon, ship_to, at)
    assert cart_options_by_lookup(tables, lines, stock, lat, lon, ship_to, at) == general
    page = rng.sample(skus, min(len(skus), rng.randint(1, 6)))
    assert product_dates_by_lookup(tables, page, stock, lat, lon, ship_to, at) == product_dates(
        network, page, stock, lat, lon, ship_to, at
    )


@pytest.mark.parametrize("seed", range(60))
def test_the_tables_answer_as_the_general_functions_across_instants_ship_tos_and_stock(seed: int) -> None:
    rng = random.Random(seed)
    network = _network(rng)
    tables = CheckoutTables(network)
    skus = [f"S{k}" for k in range(4)]
    stock = _stock(rng, len(network.node_ids), skus)
    for at in _instants(rng, network, WALKS[seed % len(WALKS)]):
        for _ in range(3):
            _compare(tables, rng, at, stock)
        if rng.random() < 0.3:  # a stock write: the next call passes other units, the tables keep none
            stock = _stock(rng, len(network.node_ids), skus)


def test_a_new_network_version_has_new_tables() -> None:
    rng = random.Random(7)
    nodes = [
        Node("A", NodeType.DC, GeoPoint(41.0, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.1),
        Node("B", NodeType.DC, GeoPoint(45.0, -80.0), pick_pack_cost=1.0, unit_handling_cost=0.1),
    ]
    schedule = NodeSchedule("A", cutoffs=(Cutoff("GROUND", 900),))
    before = NetworkSnapshot(tuple(nodes), version="v1", node_schedules=(schedule,), carrier_services=SERVICES)
    moved = Node("A", NodeType.DC, GeoPoint(30.0, -120.0), pick_pack_cost=1.0, unit_handling_cost=0.1)
    later = NodeSchedule("A", cutoffs=(Cutoff("GROUND", 600), Cutoff("AIR", 600)))
    after = NetworkSnapshot((moved, nodes[1]), version="v2", node_schedules=(later,), carrier_services=SERVICES)
    stock = {"S0": {0: 3, 1: 1}, "S1": {0: 2}}
    at = epoch_seconds(datetime(2026, 12, 1, 15, 30, tzinfo=UTC))
    assert checkout_tables(before) is checkout_tables(before)
    for snapshot in (before, after, before):
        tables = checkout_tables(snapshot)
        for _ in range(20):
            _compare(tables, rng, at, stock)
    lines = [CartLine("L0", "S0", 1, 1.0)]
    first = cart_options_by_lookup(checkout_tables(before), lines, stock, 40.0, -95.0, ShipTo(), at)
    second = cart_options_by_lookup(checkout_tables(after), lines, stock, 40.0, -95.0, ShipTo(), at)
    assert first != second  # the moved node and its new cut-offs are seen at once


def test_many_distinct_ship_tos_keep_the_tables_within_their_bound() -> None:
    rng = random.Random(3)
    network = _network(rng)
    tables = CheckoutTables(network, max_cells=200)
    stock = {"S0": dict.fromkeys(range(len(network.node_ids)), 2)}
    lines = [CartLine("L0", "S0", 1, 1.0)]
    at = epoch_seconds(datetime(2026, 12, 1, 15, 30, tzinfo=UTC))
    for k in range(500):  # a caller sending a new ship-to every time
        lat, lon = 30.0 + k * 0.01, -100.0 + k * 0.013
        general = cart_options(network, lines, stock, lat, lon, ShipTo(), at)
        assert cart_options_by_lookup(tables, lines, stock, lat, lon, ShipTo(), at) == general
        assert tables.cells <= 200 + len(network.node_ids)
    assert tables.cells >= 100  # the newer half is kept, not everything thrown away


def test_a_lookup_keyed_without_the_region_would_answer_wrongly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The differential check above notices a key missing what the answer depends on: tables keyed
    by coordinates alone answer an Alaska ship-to (its own zone) as the contiguous one before it."""
    rng = random.Random(11)
    network = _network(rng)
    stock = {"S0": dict.fromkeys(range(len(network.node_ids)), 2)}
    lines = [CartLine("L0", "S0", 1, 1.0)]
    at = epoch_seconds(datetime(2026, 12, 1, 15, 30, tzinfo=UTC))
    original = CheckoutTables.reach

    def keyed_by_coordinates(
        self: CheckoutTables, board: object, lat: float, lon: float, region: str, nodes: set[int]
    ) -> object:
        return original(self, board, lat, lon, "", nodes)  # type: ignore[arg-type]

    monkeypatch.setattr(checkout_tables_module.CheckoutTables, "reach", keyed_by_coordinates)
    tables = CheckoutTables(network)
    contiguous = cart_options_by_lookup(tables, lines, stock, 61.22, -149.9, ShipTo(""), at)
    assert contiguous == cart_options(network, lines, stock, 61.22, -149.9, ShipTo(""), at)
    alaska = ShipTo("US-AK", "99501")
    assert cart_options_by_lookup(tables, lines, stock, 61.22, -149.9, alaska, at) != cart_options(
        network, lines, stock, 61.22, -149.9, alaska, at
    )


def test_an_alaska_ship_to_without_its_own_zone_is_zoned_by_distance() -> None:
    """The general path's delivery days read the zone as its price does: a chart without an AK
    zone zones Alaska by distance (it had read zone 1, a one-day transit, from Chicago)."""
    ground = CarrierService("GROUND", "X", "STANDARD", (ZoneRate("1", 1, 5.0, 0.5, 300.0), ZoneRate("2", 5, 9.0, 1.0)))
    node = Node("N0", NodeType.DC, GeoPoint(41.9, -87.6), pick_pack_cost=1.0, unit_handling_cost=0.1)
    network = PromiseNetwork([node], [], {"GROUND": ground})
    at = epoch_seconds(datetime(2026, 12, 15, 12, 0, tzinfo=UTC))
    option = cart_options(network, [CartLine("L", "S", 1, 1.0)], {"S": {0: 3}}, 61.2, -149.9, ShipTo("US-AK"), at)[0]
    promise = network.calculator.promise("N0", "GROUND", at, 2800.0, "US-AK")
    assert promise is not None and promise.zone == 2
    assert option.delivery_day == promise.delivery_day
    assert option.shipments[0].ship_day == promise.ship_day
    assert timedelta(days=option.delivery_day - promise.ship_day) == timedelta(days=7)  # 5 business days
