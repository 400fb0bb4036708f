"""ReoptimizePending over real gRPC on both stores: pending orders re-planned jointly, holds moved
only when the total drops, released orders untouched, races skipped, keys idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest

from server.api.proto import network_pb2_grpc, orders_pb2, orders_pb2_grpc, sourcing_pb2
from server.api.services import ServiceDeps
from server.store.base import Store
from tests.integration.conftest import ServerFactory, make_config
from tests.integration.helpers import T0, violations
from tests.integration.orders_helpers import Client, FakeClock, allocate, load_network, order, payload_of, state

# NEAR holds the only B and one A; MID one more A.
STOCK = [("NEAR", "A", 1), ("NEAR", "B", 1), ("MID", "A", 1)]
REASONS = orders_pb2.ReoptimizeSkipReason


@pytest.fixture
def deps(store: Store) -> ServiceDeps:
    return ServiceDeps.build(make_config(), store, clock=FakeClock())


@pytest.fixture
def client(start_server: ServerFactory, store: Store, deps: ServiceDeps) -> Iterator[Client]:
    running = start_server(store, deps.config, deps=deps)
    channel = grpc.insecure_channel(running.target)
    load_network(channel, STOCK)
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    yield Client(
        running, channel, orders_pb2_grpc.OrderServiceStub(channel), network_pb2_grpc.NetworkServiceStub(channel), clock
    )
    channel.close()


def one_by_one(client: Client) -> None:
    """X arrives first and takes NEAR's A (its nearest); a minute later Y, one box only for A and B,
    can have NEAR's B alone: its A waits. Jointly X would ship from MID and Y complete from NEAR."""
    client.orders.Allocate(allocate(order("X", ("A", 1))))
    client.clock.advance(minutes=1)
    client.orders.Allocate(allocate(order("Y", ("A", 1), ("B", 1), max_shipments=1)))


def get(client: Client, order_id: str) -> orders_pb2.OrderView:
    return client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id)).order


def holds(view: orders_pb2.OrderView) -> dict[tuple[str, str], int]:
    return {(r.line_id, r.node_id): r.qty for r in view.reservations}


def reoptimize(client: Client, key: str = "reopt-1", **fields: Any) -> orders_pb2.ReoptimizePendingResponse:
    return client.orders.ReoptimizePending(orders_pb2.ReoptimizePendingRequest(request_key=key, **fields))


def events(view: orders_pb2.OrderView, kind: str) -> list[dict[str, Any]]:
    return [payload_of(e) for e in view.events if e.type == kind]


def test_orders_allocated_one_by_one_move_to_a_cheaper_joint_plan(client: Client) -> None:
    one_by_one(client)
    x, y = get(client, "X"), get(client, "Y")
    assert holds(x) == {("L0", "NEAR"): 1} and holds(y) == {("L1", "NEAR"): 1}
    assert state(y) == "PARTIALLY_ALLOCATED"
    expiry = {v.order_id: {r.expires_at.ToDatetime() for r in v.reservations} for v in (x, y)}
    client.clock.advance(minutes=1)

    response = reoptimize(client)

    assert response.orders_considered == 2 and not response.more_pending
    assert list(response.skipped) == []
    assert [c.order_id for c in response.changed] == ["X", "Y"]
    moved_x, moved_y = response.changed
    assert {(a.line_id, a.node_id, a.qty) for a in moved_x.after} == {("L0", "MID", 1)}
    assert {(a.line_id, a.node_id, a.qty) for a in moved_y.after} == {("L0", "NEAR", 1), ("L1", "NEAR", 1)}
    assert moved_x.cost_after.amount_micros > moved_x.cost_before.amount_micros  # X pays a little
    assert moved_y.cost_after.amount_micros < moved_y.cost_before.amount_micros  # Y saves its backorder
    assert response.total_cost_after.amount_micros < response.total_cost_before.amount_micros
    assert (
        response.total_cost_after.amount_micros == moved_x.cost_after.amount_micros + moved_y.cost_after.amount_micros
    )
    assert response.status == sourcing_pb2.SOLVE_STATUS_OPTIMAL
    assert response.bound.amount_micros <= response.total_cost_after.amount_micros

    x, y = get(client, "X"), get(client, "Y")
    assert holds(x) == {("L0", "MID"): 1}
    assert holds(y) == {("L0", "NEAR"): 1, ("L1", "NEAR"): 1}
    assert state(x) == state(y) == "ALLOCATED"
    assert (x.version, y.version) == (moved_x.version, moved_y.version)
    # Holds keep their instants: X's moved hold expires when X's did, Y's new one when Y's did.
    for view in (x, y):
        assert {r.expires_at.ToDatetime() for r in view.reservations} == expiry[view.order_id]
    (event,) = events(y, "REOPTIMIZED")
    assert event["before"] == [["L1", "NEAR", 1]] and event["to"] == "ALLOCATED"
    assert event["cost_after_micros"] < event["cost_before_micros"]
    assert [client.available(s, n) for s, n in [("A", "NEAR"), ("B", "NEAR"), ("A", "MID")]] == [0, 0, 0]
    assert client.conservation() == []

    again = reoptimize(client, key="reopt-2")  # already the cheapest: nothing moves
    assert list(again.changed) == [] and again.orders_considered == 2


def test_nothing_cheaper_changes_nothing(client: Client) -> None:
    client.orders.Allocate(allocate(order("X", ("A", 1))))
    client.orders.Allocate(allocate(order("Z", ("B", 1))))
    before = {o: get(client, o) for o in ("X", "Z")}
    response = reoptimize(client)
    assert list(response.changed) == [] and list(response.skipped) == []
    assert response.orders_considered == 2
    assert response.total_cost_after == response.total_cost_before
    for order_id, view in before.items():
        after = get(client, order_id)
        assert after.version == view.version and holds(after) == holds(view)
        assert events(after, "REOPTIMIZED") == []
    assert client.conservation() == []


def test_released_orders_are_never_touched(client: Client) -> None:
    one_by_one(client)
    client.orders.Release(orders_pb2.ReleaseRequest(request_key="rel-X", order_id="X"))
    x = get(client, "X")
    response = reoptimize(client)
    assert response.orders_considered == 1  # Y alone; X's unit is the warehouse's, not Y's to take
    assert list(response.changed) == []
    after = get(client, "X")
    assert after.version == x.version and holds(after) == holds(x)
    assert client.conservation() == []


def test_orders_outside_the_filters_or_the_limit_are_not_considered(client: Client) -> None:
    one_by_one(client)
    response = reoptimize(client, max_orders=1)
    assert response.orders_considered == 1 and response.more_pending  # X, the oldest, alone: no gain
    assert list(response.changed) == []
    assert reoptimize(client, key="k2", skus=["C"]).orders_considered == 0
    assert reoptimize(client, key="k3", node_ids=["MID"]).orders_considered == 0
    both = reoptimize(client, key="k4", skus=["B", "A"], node_ids=["NEAR"])
    assert both.orders_considered == 2 and len(both.changed) == 2


def test_expired_holds_are_not_pending(client: Client) -> None:
    one_by_one(client)
    client.clock.advance(minutes=20)  # both orders' holds expired, not swept yet
    response = reoptimize(client)
    assert response.orders_considered == 0 and not response.more_pending
    assert response.status == sourcing_pb2.SOLVE_STATUS_OPTIMAL and response.HasField("total_cost_after")


def test_an_order_that_changes_meanwhile_is_skipped_with_its_group(client: Client, deps: ServiceDeps) -> None:
    one_by_one(client)
    decide = deps.decider.reoptimize

    def then_cancel(*args: Any, **kwargs: Any) -> Any:
        found = decide(*args, **kwargs)
        # Y's waiting A is cancelled between the decision and the write: Y has a new version.
        client.orders.Cancel(
            orders_pb2.CancelRequest(request_key="cancel-Y", order_id="Y", lines=[orders_pb2.LineUnits(line_id="L0")])
        )
        return found

    deps.decider.reoptimize = then_cancel  # type: ignore[method-assign]
    x = get(client, "X")
    response = reoptimize(client)
    assert list(response.changed) == []
    assert {(s.order_id, s.reason) for s in response.skipped} == {
        ("Y", REASONS.REOPTIMIZE_SKIP_REASON_CHANGED),
        ("X", REASONS.REOPTIMIZE_SKIP_REASON_GROUP_SKIPPED),
    }
    after = get(client, "X")
    assert after.version == x.version and holds(after) == {("L0", "NEAR"): 1}
    assert events(after, "REOPTIMIZED") == []
    assert client.conservation() == []


def test_the_same_key_replays_and_another_request_under_it_is_refused(client: Client) -> None:
    one_by_one(client)
    first = reoptimize(client)
    assert len(first.changed) == 2
    assert reoptimize(client) == first  # replayed: nothing moved twice
    assert get(client, "X").version == first.changed[0].version
    with pytest.raises(grpc.RpcError) as raised:
        reoptimize(client, max_orders=5)
    assert raised.value.code() is grpc.StatusCode.ALREADY_EXISTS


def test_bad_input_names_every_field(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.ReoptimizePending(
            orders_pb2.ReoptimizePendingRequest(
                max_orders=10_001, skus=[""], node_ids=[f"N{i}" for i in range(101)], solver_time_limit_ms=-1
            )
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(raised.value)) == {
        "request_key",
        "max_orders",
        "skus[0]",
        "node_ids",
        "solver_time_limit_ms",
    }


def test_the_clock_used_is_the_services(client: Client) -> None:
    """A hold judged at the services' clock: one expiring a second after the call is still pending."""
    client.orders.Allocate(allocate(order("X", ("A", 1)), hold_ms=60_000))
    client.clock.advance(seconds=59)
    assert reoptimize(client).orders_considered == 1
    assert T0 + timedelta(seconds=59) == client.clock()


def test_a_dry_run_reports_what_would_change_and_changes_nothing(client: Client) -> None:
    one_by_one(client)
    before = {order_id: get(client, order_id) for order_id in ("X", "Y")}
    request = orders_pb2.ReoptimizePendingRequest(dry_run=True)  # no request key needed

    preview = client.orders.ReoptimizePending(request)

    assert [c.order_id for c in preview.changed] == ["X", "Y"]
    assert [c.version for c in preview.changed] == [before["X"].version, before["Y"].version]
    assert preview.total_cost_after.amount_micros < preview.total_cost_before.amount_micros
    assert {order_id: get(client, order_id) for order_id in ("X", "Y")} == before  # nothing moved
    assert client.orders.ReoptimizePending(request) == preview  # and nothing was stored
    applied = reoptimize(client)
    assert [(c.order_id, list(c.after)) for c in applied.changed] == [
        (c.order_id, list(c.after)) for c in preview.changed
    ]
    assert applied.total_cost_after == preview.total_cost_after
