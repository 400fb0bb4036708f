"""Stored decisions as simulation outcomes (server.simulation.live): costed like the simulator's own."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from engine.cost import plan_cost
from engine.decision import AllocationLine
from engine.directives import NO_DIRECTIVES
from engine.simulation.replay import OutcomeStatus
from engine.terms import resolve_terms
from server.api import convert
from server.api.proto import common_pb2
from server.errors import UsageError
from server.simulation.files import load_network
from server.simulation.live import live_outcomes, parse_instant
from server.store.decision_history import AllocatedOrder

AT = datetime(2026, 11, 24, 6, tzinfo=UTC)
REQUEST = json.dumps(
    {"orderId": "W1", "shipTo": {"lat": 41.88, "lon": -87.63},
     "lines": [{"lineId": "L1", "sku": "ACC-00001", "qty": 2}, {"lineId": "L2", "sku": "ACC-00002", "qty": 1}]}
)  # fmt: skip


def _stored(order_id: str, allocations: list[list[object]], **extra: object) -> AllocatedOrder:
    summary = {"allocations": allocations, "total_micros": 12_340_000, "fired_rules": ["r1"], **extra}
    return AllocatedOrder(order_id, AT, REQUEST.replace("W1", order_id), "v3", json.dumps(summary), "ALLOCATED", 0)


def test_a_stored_allocation_is_costed_with_plan_cost_under_the_orders_own_terms() -> None:
    network = load_network("data/sample-network.json")
    rows = [["L1", "DC-01", "ACC-00001", 2], ["L2", "DC-02", "ACC-00002", 1]]
    (outcome,) = live_outcomes([_stored("W1", rows)], network.snapshot, network.catalogue, "USD")
    order = convert.order_from_proto(_parse(), network.catalogue, "USD", network=network.snapshot)
    allocations = tuple(AllocationLine(str(a), str(b), str(c), int(str(d))) for a, b, c, d in rows)
    expected = plan_cost(order, allocations, network.snapshot, resolve_terms(order, NO_DIRECTIVES, network.snapshot))
    assert outcome.status is OutcomeStatus.DECIDED
    assert [s.node_id for s in outcome.shipments] == ["DC-01", "DC-02"]
    money = sum(s.pick_pack + s.carrier_base + s.carrier_weight + s.handling for s in expected.shipments)
    assert outcome.cost == pytest.approx(money)
    assert outcome.objective == pytest.approx(12.34) and outcome.fired_rules == ("r1",)
    assert outcome.units == 3 and outcome.allocated == 3 and outcome.backordered == 0


def _parse() -> common_pb2.Order:
    from google.protobuf import json_format

    return json_format.Parse(REQUEST, common_pb2.Order())


def test_held_unknown_node_and_missing_decisions_are_not_costed() -> None:
    network = load_network("data/sample-network.json")
    records = [
        _stored("H1", [], holds=[["fraud", "score 91"]]),
        _stored("U1", [["L1", "GONE-99", "ACC-00001", 2]]),
        AllocatedOrder("N1", AT, REQUEST, "", "", "ALLOCATED", 0),
        _stored("B1", [["L1", "DC-01", "ACC-00001", 1]]),
    ]
    held, unknown, missing, partial = live_outcomes(records, network.snapshot, network.catalogue, "USD")
    assert held.status is OutcomeStatus.HELD and held.detail == "fraud: score 91" and held.fired_rules == ("r1",)
    assert unknown.status is OutcomeStatus.FAILED and "GONE-99" in unknown.detail
    assert missing.status is OutcomeStatus.FAILED and missing.detail == "no decision stored"
    assert partial.status is OutcomeStatus.DECIDED and partial.backordered == 2


def test_instants_default_to_utc() -> None:
    assert parse_instant("2026-11-24", "--since") == datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_instant("2026-11-24T08:00:00+02:00", "--since") == AT
    with pytest.raises(UsageError):
        parse_instant("last tuesday", "--since")
