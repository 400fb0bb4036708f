"""On-time ship in ``oms-sourcing report``, on both stores: each shipment ConfirmShipment recorded
(over real gRPC, with its shipped_at) against the ship date the stored decision planned for its
node, read as the node's local date.

The network is test_promise_api.py's, NEAR's calendar moved to Chicago time; orders come in on
Tuesday 1 December 2026 at 10:00 UTC (04:00 in Chicago), before every cut-off, so both nodes plan
to ship that Tuesday.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.api.proto import common_pb2, network_pb2, orders_pb2, orders_pb2_grpc, sourcing_pb2_grpc
from server.cli.main import main
from server.simulation.outputs import EXIT_GATE_FAILED
from tests.integration.conftest import Api
from tests.integration.orders_helpers import FakeClock
from tests.integration.test_promise_api import HOME, checkout, cutoffs  # noqa: F401 (the network fixture)
from tests.integration.test_promise_sourcing_api import api, clock, shipments  # noqa: F401


def allocate(orders: orders_pb2_grpc.OrderServiceStub, order_id: str, promised_date: str = "") -> list[tuple]:
    lines = [common_pb2.OrderLine(line_id="L0", sku="A", qty=2)]
    order = common_pb2.Order(order_id=order_id, ship_to=HOME, lines=lines, promised_date=promised_date)
    request = orders_pb2.AllocateRequest(request_key=f"k-{order_id}", order=order, hold_ms=3 * 24 * 3600 * 1000)
    placed = orders.Allocate(request)
    return shipments(placed.decision)


def confirm(orders: orders_pb2_grpc.OrderServiceStub, order_id: str, node_id: str, left: datetime) -> None:
    request = orders_pb2.ConfirmShipmentRequest(request_key=f"ship-{order_id}", order_id=order_id, node_id=node_id)
    request.shipped_at.FromDatetime(left)
    orders.ConfirmShipment(request)


def test_the_report_counts_shipments_that_left_by_their_planned_ship_date(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
    clock: FakeClock,  # noqa: F811
    store_url: str,
    tmp_path: Path,
) -> None:
    api.network.UpsertNodeSchedules(
        network_pb2.UpsertNodeSchedulesRequest(
            schedules=[
                network_pb2.NodeSchedule(
                    node_id="NEAR", time_zone="America/Chicago", cutoffs=cutoffs(("GROUND", "15:00"))
                )
            ]
        )
    )
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    assert allocate(orders, "O-1") == [("NEAR", "GROUND", "2026-12-01", "2026-12-03")]
    assert allocate(orders, "O-2", "2026-12-02") == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert allocate(orders, "O-3") == [("NEAR", "GROUND", "2026-12-01", "2026-12-03")]
    clock.advance(days=1)
    # 03:00 UTC on Wednesday is 21:00 on Tuesday in Chicago: on time.
    confirm(orders, "O-1", "NEAR", datetime(2026, 12, 2, 3, 0, tzinfo=UTC))
    # FAR keeps UTC: Wednesday 09:00 is a day after its planned Tuesday.
    confirm(orders, "O-2", "FAR", datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    # O-3 is not confirmed yet: not counted.

    out = tmp_path / "report"
    args = ["report", "--since", "2026-12-01", "--until", "2026-12-04", "--database", store_url, "--out", str(out)]
    assert main(args) == 0
    promise = json.loads((out / "kpis.json").read_text())["sides"]["live"]["promise"]
    assert (promise["confirmed_shipments"], promise["shipped_on_time"], promise["on_time_ship_rate"]) == (2, 1, 0.5)
    assert (promise["shipped_orders"], promise["shipped_on_time_orders"]) == (2, 1)
    html = (out / "report.html").read_text()
    assert "shipped on time (by the planned ship date)" in html and "<td>50.0%</td>" in html

    # The same KPIs gate a CI run (--fail-if): one shipment of two left late, O-2 arrives as promised.
    gated = [*args, "--out", str(tmp_path / "gated")]
    assert main([*gated, "--fail-if", "on_time_ship_rate<0.5", "--fail-if", "on_time_rate<1"]) == 0
    assert main([*gated, "--fail-if", "on_time_ship_rate<0.9"]) == EXIT_GATE_FAILED
    assert main([*gated, "--fail-if", "late_orders>0"]) == 0


def _money(m: common_pb2.Money) -> float:
    return m.amount_micros / 1_000_000


def test_the_report_charges_a_promise_order_what_its_carrier_service_cost_the_decision(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
    clock: FakeClock,  # noqa: F811
    store_url: str,
    tmp_path: Path,
) -> None:
    """O-2, promised Wed 2 Dec, ships from FAR by NEXT_DAY: the report's cost of it is the decision's
    (the next-day chart's charge for the box: 29.75 in all), not its level's (STANDARD, ground's chart
    in zone 2: 12.75)."""
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    plain = orders_pb2.AllocateRequest(
        request_key="k-O-1",
        order=common_pb2.Order(
            order_id="O-1", ship_to=HOME, lines=[common_pb2.OrderLine(line_id="L0", sku="A", qty=2)]
        ),
    )
    promised = orders_pb2.AllocateRequest(
        request_key="k-O-2",
        order=common_pb2.Order(
            order_id="O-2",
            ship_to=HOME,
            lines=[common_pb2.OrderLine(line_id="L0", sku="A", qty=2)],
            promised_date="2026-12-02",
        ),
    )
    costs = {}
    for request in (plain, promised):
        decision = orders.Allocate(request).decision
        costs[request.order.order_id] = sum(
            _money(s.pick_pack) + _money(s.carrier_base) + _money(s.carrier_weight) + _money(s.handling)
            for s in decision.cost.shipments
        )
        if request.order.order_id == "O-2":
            assert shipments(decision) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    out = tmp_path / "report"
    args = ["report", "--since", "2026-12-01", "--until", "2026-12-04", "--database", store_url, "--out", str(out)]
    assert main(args) == 0
    with (out / "orders.csv").open(encoding="utf-8") as handle:
        reported = {row["order_id"]: float(row["live_cost"]) for row in csv.DictReader(handle)}
    assert reported["O-1"] == pytest.approx(costs["O-1"], abs=1e-4)
    assert reported["O-2"] == pytest.approx(costs["O-2"], abs=1e-4)
