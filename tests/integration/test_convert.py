"""Proto to engine conversions: every violation collected, each under its full request path."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import timestamp_pb2

from engine.errors import InvalidInputError
from engine.model import DeliveryMethod, Item, NodeType, ObjectiveMode, id_problem, text_problem
from engine.network import NetworkSnapshot
from server.api import convert
from server.api.proto import common_pb2
from tests.integration.helpers import node, usd

CATALOGUE = {"HEAVY": Item(sku="HEAVY", unit_weight_lb=40.0, hazmat=True)}
NETWORK = NetworkSnapshot(())  # no pickup nodes: these orders ship


def fields_of(error: pytest.ExceptionInfo[InvalidInputError]) -> set[str]:
    return {v.field for v in error.value.violations}


def line(line_id: str, sku: str = "HEAVY", qty: int = 1, **extra: object) -> common_pb2.OrderLine:
    return common_pb2.OrderLine(line_id=line_id, sku=sku, qty=qty, **extra)  # type: ignore[arg-type]


def order(**overrides: object) -> common_pb2.Order:
    values: dict[str, object] = {
        "order_id": "O-1",
        "ship_to": common_pb2.GeoPoint(lat=40.7, lon=-74.0),
        "lines": [line("1")],
    }
    values.update(overrides)
    return common_pb2.Order(**values)  # type: ignore[arg-type]


def test_money_is_exact_in_micros_both_ways() -> None:
    assert convert.units_to_micros(0.1 + 0.2) == 300_000
    assert convert.micros_to_units(1_250_000) == 1.25
    c = convert.Collector()
    assert convert.money_from_proto(c, "m", usd(2.57), "USD") == 2.57
    assert convert.money_to_proto(2.57, "USD") == usd(2.57)
    assert convert.money_from_proto(c, "m", common_pb2.Money(amount_micros=5), "USD") == 5e-6  # empty = service's
    assert not c.items


def test_timestamps_are_aware_utc_and_bounded() -> None:
    moment = datetime(2026, 11, 24, 12, 30, 15, 123456, tzinfo=UTC)
    c = convert.Collector()
    assert convert.timestamp_from_proto(c, "t", convert.timestamp_to_proto(moment)) == moment
    convert.timestamp_from_proto(c, "bad", timestamp_pb2.Timestamp(seconds=10**12))
    convert.timestamp_from_proto(c, "late", convert.timestamp_to_proto(moment), not_after=moment - timedelta(1))
    assert [v.field for v in c.items] == ["bad", "late"]


def test_node_round_trip() -> None:
    [converted] = convert.nodes_from_proto([node("DC-9", max_units=7)], "USD")
    assert converted.type is NodeType.DC and converted.max_units == 7 and converted.pick_pack_cost == 1.25
    assert convert.node_to_proto(converted, "USD") == node(
        "DC-9", max_units=7, can_ship=True, can_pickup=False, is_open=True
    )


def test_order_lines_take_missing_weight_and_hazmat_from_the_catalogue() -> None:
    msg = order(
        lines=[line("1"), line("2", sku="OTHER", unit_weight_lb=2.0), line("3", hazmat=False)],
        delivery_method=common_pb2.DELIVERY_METHOD_UNSPECIFIED,
        objective=common_pb2.OBJECTIVE_MODE_FEWEST_SHIPMENTS,
        split_penalty=usd(3.5),
        max_shipments=2,
    )
    converted = convert.order_from_proto(msg, CATALOGUE, "USD", network=NETWORK)
    first, second, third = converted.lines
    assert (first.unit_weight_lb, first.hazmat) == (40.0, True)
    assert (second.unit_weight_lb, second.hazmat) == (2.0, False)
    assert (third.unit_weight_lb, third.hazmat) == (40.0, False)  # an explicit false wins
    assert converted.delivery_method is DeliveryMethod.SHIP and converted.objective is ObjectiveMode.FEWEST_SHIPMENTS
    assert (converted.split_penalty, converted.backorder_penalty, converted.max_shipments) == (3.5, None, 2)
    assert converted.service_level == "STANDARD"


def test_every_order_violation_is_collected_with_its_path() -> None:
    msg = order(
        order_id="",
        ship_to=common_pb2.GeoPoint(lat=math.nan, lon=0),
        lines=[
            line("1", qty=0),
            line("2", sku="UNKNOWN"),
            line("1", unit_price=common_pb2.Money(currency_code="EUR", amount_micros=1)),
        ],
        delivery_method=common_pb2.DELIVERY_METHOD_PICKUP,
        backorder_penalty=usd(-1),
        ship_to_address=common_pb2.PostalAddress(address_lines=["x"] * 6),
        attributes={"k" * 200: "v"},
    )
    with pytest.raises(InvalidInputError) as caught:
        convert.order_from_proto(msg, CATALOGUE, "USD", network=NETWORK, path="orders[0]")
    assert fields_of(caught) == {
        "orders[0].order_id",
        "orders[0].ship_to.lat",
        "orders[0].lines[0].qty",
        "orders[0].lines[1].sku",  # not in the catalogue, and no weight sent to stand in for it
        "orders[0].lines[2].line_id",  # a duplicate of lines[0]
        "orders[0].lines[2].unit_price.currency_code",
        "orders[0].pickup_node_id",
        "orders[0].backorder_penalty.amount_micros",
        "orders[0].ship_to_address.address_lines",
        f"orders[0].attributes[{('k' * 40)!r}]",
    }


def test_an_unknown_sku_is_named_on_the_sku_and_only_without_a_weight() -> None:
    with pytest.raises(InvalidInputError) as caught:
        convert.order_from_proto(
            order(lines=[line("1", sku="NOPE"), line("2", sku="")]), CATALOGUE, "USD", network=NETWORK
        )
    found = {v.field: v.description for v in caught.value.violations}
    assert set(found) == {"order.lines[0].sku", "order.lines[1].sku"}
    assert "not in the catalogue" in found["order.lines[0].sku"] and "UpsertItems" in found["order.lines[0].sku"]
    assert found["order.lines[1].sku"] == "is required"  # said once, not also "not in the catalogue"
    # With its weight sent, a SKU the catalogue does not know is fine.
    known = convert.order_from_proto(
        order(lines=[line("1", sku="NOPE", unit_weight_lb=1.0)]), CATALOGUE, "USD", network=NETWORK
    )
    assert known.lines[0].sku == "NOPE"


def test_ids_refuse_every_control_character_and_free_text_all_but_tabs_and_line_breaks() -> None:
    for bad in ("\x00", "\t", "\n", "\x1b", "\x7f", "\x9f"):
        assert "control characters" in (id_problem(f"A{bad}B") or ""), repr(bad)
    for fine in ("A-1", "Straße 1", "A\u2060B", "x" * 128):
        assert id_problem(fine) is None, fine
    assert id_problem("") == "is required" and id_problem("", required=False) is None
    assert id_problem("x" * 129) == "is longer than 128 characters"
    assert text_problem("two\nlines\r\n\tindented") is None
    for bad in ("\x00", "\x07", "\x1b", "\x85"):
        assert "control characters" in (text_problem(f"note{bad}") or ""), repr(bad)
    with pytest.raises(InvalidInputError) as caught:
        convert.order_from_proto(
            order(order_id="O\x00", channel="W\x00", pickup_node_id="N\x00", lines=[line("1\x00", sku="HEAVY")]),
            CATALOGUE,
            "USD",
            network=NETWORK,
        )
    assert fields_of(caught) == {"order.order_id", "order.channel", "order.pickup_node_id", "order.lines[0].line_id"}


def test_an_order_needs_lines_and_a_destination() -> None:
    with pytest.raises(InvalidInputError) as caught:
        convert.order_from_proto(common_pb2.Order(order_id="O"), {}, "USD", network=NETWORK)
    assert fields_of(caught) == {"order.ship_to", "order.lines"}
    too_many = order(lines=[line(str(i)) for i in range(201)])
    with pytest.raises(InvalidInputError) as caught:
        convert.order_from_proto(too_many, CATALOGUE, "USD", network=NETWORK)
    assert fields_of(caught) == {"order.lines"}
