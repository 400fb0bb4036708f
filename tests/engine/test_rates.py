"""Rate tables are data: their checks, and decisions priced by the table the order's service level names."""

from __future__ import annotations

import math

import pytest

from engine.availability import Availability
from engine.decision import Decision
from engine.errors import InvalidInputError
from engine.model import GeoPoint, InventoryPosition, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rates import DEFAULT_RATE_TABLES, EXPRESS_RATES, STANDARD_RATES, RateTable, rate_tables_in_force
from engine.sourcing import decide

HOME = GeoPoint(40.0, -95.0)
# Two carrier tables a deployment might load: its own STANDARD and a TWO_DAY level the defaults lack.
STANDARD = RateTable("STANDARD", (100.0, 400.0), (4.00, 5.25, 7.50), (0.25, 0.40, 0.75))
TWO_DAY = RateTable("TWO_DAY", (250.0,), (12.00, 16.50), (0.90, 1.35))


def fields(error: pytest.ExceptionInfo[InvalidInputError]) -> dict[str, str]:
    return {v.field: v.description for v in error.value.violations}


def test_the_default_tables_pass_their_own_checks() -> None:
    assert set(DEFAULT_RATE_TABLES) == {"STANDARD", "EXPRESS"}
    assert rate_tables_in_force([]) == {"STANDARD": STANDARD_RATES, "EXPRESS": EXPRESS_RATES}


def test_stored_tables_replace_the_defaults_whole() -> None:
    assert rate_tables_in_force([TWO_DAY, STANDARD]) == {"STANDARD": STANDARD, "TWO_DAY": TWO_DAY}


def test_a_table_names_every_bad_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        RateTable("two day", (50.0, 50.0, math.inf), (1.0, 2.0), (1.0, 2.0, 3.0, -1.0))
    assert fields(caught) == {
        "service_level": "must be capital letters, digits, '_' or '-' (such as 'TWO_DAY'), not 'two day'",
        "zone_limits_miles[1]": "must be greater than the limit before it (50)",
        "zone_limits_miles[2]": "must be greater than 0 and at most 12500",
        "base": "needs 4 entries, one per zone (one more than zone_limits_miles), not 2",
        "per_lb[3]": "must be between 0 and 1000000",
    }


def test_at_most_32_zones() -> None:
    limits = tuple(float(10 * (i + 1)) for i in range(32))
    with pytest.raises(InvalidInputError) as caught:
        RateTable("WIDE", limits, (1.0,) * 33, (1.0,) * 33)
    assert fields(caught) == {"zone_limits_miles": "has 32 limits (33 zones); at most 32 zones are allowed"}
    assert len(RateTable("WIDE", limits[:31], (1.0,) * 32, (1.0,) * 32).base) == 32


def _decide(service_level: str) -> Decision:
    # DC is 5 degrees of latitude north of the ship-to: about 345.5 miles.
    dc = Node("DC", NodeType.DC, GeoPoint(45.0, -95.0), pick_pack_cost=1.5, unit_handling_cost=0.3)
    snapshot = NetworkSnapshot((dc,), rate_tables=rate_tables_in_force([STANDARD, TWO_DAY]))
    availability = Availability.from_positions(snapshot, ["S"], [InventoryPosition("DC", "S", on_hand=10)])
    order = Order("O1", HOME, (OrderLine("L1", "S", 2, 1.5),), service_level=service_level)
    return decide(order, snapshot, availability)


def test_an_order_is_priced_by_the_loaded_table_its_service_level_names() -> None:
    decision = _decide("two_day")  # any case, as callers send it

    (shipment,) = decision.cost.shipments
    assert shipment.zone == 2  # 345.5 miles: past TWO_DAY's 250-mile limit
    assert shipment.carrier_base == 16.50
    assert shipment.carrier_weight == pytest.approx(1.35 * 3.0)
    assert shipment.total == pytest.approx(1.5 + 16.50 + 1.35 * 3.0 + 0.3 * 2)


def test_an_unknown_service_level_names_the_order_field_and_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as caught:
        _decide("EXPRESS")  # a default level, but this network loaded its own tables without it
    assert fields(caught) == {"order.service_level": "names unknown service level 'EXPRESS'; known: STANDARD, TWO_DAY"}
