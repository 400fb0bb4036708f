"""OrderService over real gRPC on both stores: lifecycle, exactly-once, expiry, conservation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2

from server.api.proto import network_pb2, orders_pb2
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import detail_of, violations
from tests.integration.orders_helpers import Client, allocate, order, payload_of, serve_orders, state

STOCK = [("NEAR", "A", 3), ("FAR", "A", 10), ("NEAR", "B", 2), ("MID", "B", 5), ("FAR", "C", 4)]


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = serve_orders(start_server, store, STOCK)
    yield client
    client.channel.close()


def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    return raised.value.code()  # type: ignore[no-any-return]


def _return_one(client: Client, key: str, line_id: str, disposition: orders_pb2.Disposition) -> orders_pb2.OrderView:
    """One unit of O-1's line back, received where the service decides."""
    request = orders_pb2.ReturnRequest(
        request_key=key,
        order_id="O-1",
        lines=[orders_pb2.LineUnits(line_id=line_id, qty=1)],
        disposition=disposition,
    )
    return client.orders.Return(request).order


def test_allocate_reserves_and_get_order_shows_everything(client: Client) -> None:
    response = client.orders.Allocate(allocate(order("O-1", ("A", 2), ("B", 1))))
    assert state(response.order) == "ALLOCATED"
    assert [(r.line_id, r.node_id, r.qty, r.state) for r in response.order.reservations] == [
        ("L0", "NEAR", 2, "HELD"),
        ("L1", "NEAR", 1, "HELD"),
    ]
    assert response.decision.decision_id and response.order.events[0].type == "ALLOCATED"
    assert client.available("A", "NEAR") == 1 and client.available("B", "NEAR") == 1
    got = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert got == response.order
    assert client.conservation() == []


def test_partial_allocation_and_backorder(client: Client) -> None:
    partial = client.orders.Allocate(allocate(order("O-1", ("A", 20)))).order
    assert state(partial) == "PARTIALLY_ALLOCATED" and partial.lines[0].backordered == 7
    none = client.orders.Allocate(allocate(order("O-2", ("A", 1)))).order
    assert state(none) == "BACKORDERED" and not none.reservations
    assert client.conservation() == []


def test_cancel_units_then_whole_order_releases_stock(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 3), ("B", 2))))
    assert client.available("A", "NEAR") == 0
    part = client.orders.Cancel(
        orders_pb2.CancelRequest(request_key="c1", order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L0", qty=2)])
    ).order
    assert state(part) == "ALLOCATED" and part.lines[0].cancelled == 2 and part.lines[0].reserved == 1
    assert client.available("A", "NEAR") == 2
    whole = client.orders.Cancel(orders_pb2.CancelRequest(request_key="c2", order_id="O-1")).order
    assert state(whole) == "CANCELLED" and not whole.reservations
    assert client.available("A", "NEAR") == 3 and client.available("B", "NEAR") == 2
    assert [e.type for e in whole.events] == ["ALLOCATED", "CANCELLED", "CANCELLED"]
    assert client.conservation() == []


def _feed_until(client: Client, after: int, order_id: str) -> list[orders_pb2.WatchedEvent]:
    """WatchEvents after ``after`` up to and including the first event of ``order_id``."""
    stream = client.orders.WatchEvents(orders_pb2.WatchEventsRequest(after_cursor=after), timeout=20)
    seen = []
    for watched in stream:
        seen.append(watched)
        if watched.order_id == order_id:
            break
    stream.cancel()
    return seen


def test_cancelling_a_line_with_nothing_left_is_refused_and_changes_nothing(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 1), ("B", 1))))
    line = [orders_pb2.LineUnits(line_id="L0")]
    client.orders.Cancel(orders_pb2.CancelRequest(request_key="c1", order_id="O-1", lines=line))
    cursor = _feed_until(client, 0, "O-1")[-1].cursor
    cursor = _feed_until(client, cursor, "O-1")[-1].cursor  # the first cancel's event
    before = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    for key, units in (("c2", 0), ("c3", 1)):  # all its units, or one: there are none left
        again = orders_pb2.CancelRequest(
            request_key=key, order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L0", qty=units)]
        )
        with pytest.raises(grpc.RpcError) as raised:
            client.orders.Cancel(again)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violations(raised.value) == {"lines[0].qty": "line 'L0' has no open units left to cancel"}
    after = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert after == before and [e.type for e in after.events] == ["ALLOCATED", "CANCELLED"]
    # Nothing was published: the next event on the feed is the next thing that happened.
    client.orders.Allocate(allocate(order("O-2", ("A", 1))))
    assert [(e.order_id, e.event.type) for e in _feed_until(client, cursor, "O-2")] == [("O-2", "ALLOCATED")]
    # The other line still cancels; a refused call kept nothing, not even its request key.
    rest = client.orders.Cancel(
        orders_pb2.CancelRequest(request_key="c2", order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L1")])
    ).order
    assert state(rest) == "CANCELLED" and payload_of(rest.events[-1])["lines"] == [["L1", 1]]
    assert client.conservation() == []


def test_a_shipment_is_returned_once_every_unit_it_carried_came_back(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("B", 2), ("C", 1))))  # FAR has no B: two parcels
    for node_id in ("NEAR", "FAR"):
        client.orders.ConfirmShipment(
            orders_pb2.ConfirmShipmentRequest(request_key=f"s-{node_id}", order_id="O-1", node_id=node_id)
        )

    def give_back(key: str, line_id: str) -> orders_pb2.OrderView:
        return _return_one(client, key, line_id, orders_pb2.DISPOSITION_DISPOSE)

    def shipments(view: orders_pb2.OrderView) -> dict[str, str]:
        return {s.node_id: s.state for s in view.shipments}

    half = give_back("r1", "L0")
    assert shipments(half) == {"NEAR": "SHIPPED", "FAR": "SHIPPED"} and state(half) == "SHIPPED"
    near_back = give_back("r2", "L0")
    assert shipments(near_back) == {"NEAR": "RETURNED", "FAR": "SHIPPED"}
    (near,) = [s.shipment_id for s in near_back.shipments if s.node_id == "NEAR"]
    assert payload_of(near_back.events[-1])["shipments_returned"] == [near]
    everything = give_back("r3", "L1")
    assert shipments(everything) == {"NEAR": "RETURNED", "FAR": "RETURNED"} and state(everything) == "RETURNED"
    assert client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order == everything


def test_release_ship_return(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 2))))
    released = client.orders.Release(orders_pb2.ReleaseRequest(request_key="r", order_id="O-1")).order
    assert state(released) == "RELEASED" and released.reservations[0].state == "RELEASED"
    shipped = client.orders.ConfirmShipment(
        orders_pb2.ConfirmShipmentRequest(request_key="s", order_id="O-1", node_id="NEAR")
    ).order
    assert state(shipped) == "SHIPPED" and not shipped.reservations
    assert [(x.line_id, x.qty) for x in shipped.shipments[0].lines] == [("L0", 2)]
    position = client.network.GetAvailability(
        network_pb2.GetAvailabilityRequest(skus=["A"], node_ids=["NEAR"])
    ).positions[0]
    assert (position.on_hand, position.reserved) == (1, 0)
    returned = client.orders.Return(
        orders_pb2.ReturnRequest(
            request_key="ret",
            order_id="O-1",
            lines=[orders_pb2.LineUnits(line_id="L0", qty=2)],
            disposition=orders_pb2.DISPOSITION_RESTOCK,
        )
    ).order
    assert state(returned) == "RETURNED" and returned.lines[0].returned == 2
    assert client.available("A", "NEAR") == 3
    assert client.conservation() == []


def test_rules_for_returns_choose_the_receiving_node_and_the_event_says_which(client: Client) -> None:
    from server.api.proto import rules_pb2, rules_pb2_grpc

    rules = """rules:
  - {id: ship-near, then: {prefer: {node: {id: NEAR}, per_unit: 5}}}
  - {id: returns-to-far, applies_to: returns, when: {line: {sku: A}}, then: {require: {node: {id: FAR}}}}
"""
    activated = rules_pb2_grpc.RulesServiceStub(client.channel).ActivateRules(
        rules_pb2.ActivateRulesRequest(files=[rules_pb2.RuleFile(name="r.yaml", content=rules)], activated_by="t")
    )
    allocated = client.orders.Allocate(allocate(order("O-1", ("A", 2), ("B", 1))))
    assert list(allocated.decision.fired_rules) == ["ship-near"], "the rule for returns does not shape sourcing"
    client.orders.ConfirmShipment(orders_pb2.ConfirmShipmentRequest(request_key="s", order_id="O-1", node_id="NEAR"))
    far_before, near_before = client.available("A", "FAR"), client.available("B", "NEAR")

    def give_back(key: str, line_id: str) -> orders_pb2.OrderView:
        return _return_one(client, key, line_id, orders_pb2.DISPOSITION_RESTOCK)

    after_a = give_back("ret-a", "L0")
    assert client.available("A", "FAR") == far_before + 1, "received where the rule for returns requires"
    routed = payload_of(after_a.events[-1])
    assert routed["lines"] == [["L0", 1, "FAR"]] and routed["rules"] == ["returns-to-far"]
    assert routed["rule_set_version"] == activated.version
    after_b = give_back("ret-b", "L1")  # no rule for B: the nearest node takes it
    assert client.available("B", "NEAR") == near_before + 1
    plain = payload_of(after_b.events[-1])
    assert plain["lines"] == [["L1", 1, "NEAR"]] and "rules" not in plain
    assert client.conservation() == []


def test_reallocate_moves_units_away_from_a_node_and_keeps_the_rest(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 2), ("B", 1))))
    moved = client.orders.Reallocate(
        orders_pb2.ReallocateRequest(
            request_key="re", order_id="O-1", node_id="NEAR", lines=[orders_pb2.LineUnits(line_id="L0")]
        )
    )
    holds = sorted((r.line_id, r.node_id, r.qty) for r in moved.order.reservations)
    assert holds == [("L0", "FAR", 2), ("L1", "NEAR", 1)]
    assert all(a.node_id != "NEAR" for a in moved.decision.allocations)
    assert client.available("A", "NEAR") == 3 and client.available("A", "FAR") == 8
    event = payload_of(moved.order.events[-1])
    assert moved.order.events[-1].type == "REALLOCATED" and event["excluded_node"] == "NEAR"
    assert client.conservation() == []


def test_forbidden_transitions_are_failed_precondition_and_change_nothing(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    client.orders.Cancel(orders_pb2.CancelRequest(request_key="c", order_id="O-1"))
    before = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    forbidden = [
        lambda: client.orders.Release(orders_pb2.ReleaseRequest(request_key="x1", order_id="O-1")),
        lambda: client.orders.ConfirmShipment(
            orders_pb2.ConfirmShipmentRequest(request_key="x2", order_id="O-1", node_id="NEAR")
        ),
        lambda: client.orders.Cancel(orders_pb2.CancelRequest(request_key="x3", order_id="O-1")),
        lambda: client.orders.Reallocate(
            orders_pb2.ReallocateRequest(request_key="x4", order_id="O-1", node_id="NEAR")
        ),
        lambda: client.orders.Return(
            orders_pb2.ReturnRequest(
                request_key="x5",
                order_id="O-1",
                lines=[orders_pb2.LineUnits(line_id="L0")],
                disposition=orders_pb2.DISPOSITION_DISPOSE,
            )
        ),
    ]
    for call in forbidden:
        with pytest.raises(grpc.RpcError) as raised:
            call()
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert detail_of(raised.value, error_details_pb2.PreconditionFailure).violations[0].type == "ORDER_STATE"
    assert client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order == before
    # Shipped orders cannot be cancelled either.
    client.orders.Allocate(allocate(order("O-2", ("C", 1))))
    client.orders.ConfirmShipment(orders_pb2.ConfirmShipmentRequest(request_key="s2", order_id="O-2", node_id="FAR"))
    assert (
        code_of(lambda: client.orders.Cancel(orders_pb2.CancelRequest(request_key="x6", order_id="O-2")))
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    assert client.conservation() == []


def test_unknown_order_and_duplicate_order_id(client: Client) -> None:
    assert (
        code_of(lambda: client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="nope")))
        == grpc.StatusCode.NOT_FOUND
    )
    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    assert code_of(lambda: client.orders.Allocate(allocate(order("O-1", ("A", 1)), key="other"))) == (
        grpc.StatusCode.ALREADY_EXISTS
    )


def test_list_orders_by_state_with_pages(client: Client) -> None:
    for i in range(5):
        client.orders.Allocate(allocate(order(f"O-{i}", ("B", 1))))
    client.orders.Cancel(orders_pb2.CancelRequest(request_key="c", order_id="O-0"))
    page = client.orders.ListOrders(orders_pb2.ListOrdersRequest(page_size=2))
    assert [o.order_id for o in page.orders] == ["O-0", "O-1"] and page.next_page_token
    rest = client.orders.ListOrders(orders_pb2.ListOrdersRequest(page_size=10, page_token=page.next_page_token))
    assert [o.order_id for o in rest.orders] == ["O-2", "O-3", "O-4"] and not rest.next_page_token
    cancelled = client.orders.ListOrders(orders_pb2.ListOrdersRequest(states=[orders_pb2.ORDER_STATE_CANCELLED]))
    assert [o.order_id for o in cancelled.orders] == ["O-0"]


def _listed(client: Client, **fields: object) -> list[str]:
    """Every order id ListOrders returns for ``fields``, page after page (2 a page)."""
    ids: list[str] = []
    token = ""
    while True:
        page = client.orders.ListOrders(orders_pb2.ListOrdersRequest(page_size=2, page_token=token, **fields))
        ids += [o.order_id for o in page.orders]
        if not page.next_page_token:
            return ids
        token = page.next_page_token


def test_list_orders_by_node_counts_holds_and_shipments_not_released_units(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-near", ("A", 1))))  # held at NEAR
    client.orders.Allocate(allocate(order("O-far", ("C", 1))))  # only FAR has C
    both = client.orders.Allocate(allocate(order("O-both", ("B", 1), ("C", 1)))).order  # FAR has no B
    assert sorted(r.node_id for r in both.reservations) == ["FAR", "NEAR"]
    client.orders.Allocate(allocate(order("O-shipped", ("C", 1))))
    client.orders.ConfirmShipment(
        orders_pb2.ConfirmShipmentRequest(request_key="ship", order_id="O-shipped", node_id="FAR")
    )
    client.orders.Allocate(allocate(order("O-gone", ("C", 1))))
    client.orders.Cancel(orders_pb2.CancelRequest(request_key="cancel", order_id="O-gone"))
    assert _listed(client, node_ids=["FAR"]) == ["O-both", "O-far", "O-shipped"]
    assert _listed(client, node_ids=["NEAR"]) == ["O-both", "O-near"]
    assert _listed(client, node_ids=["MID", "NEAR", "NEAR"]) == ["O-both", "O-near"]
    assert _listed(client, node_ids=["MID"]) == []
    assert _listed(client, node_ids=["FAR"], states=[orders_pb2.ORDER_STATE_SHIPPED]) == ["O-shipped"]
    assert _listed(client) == ["O-both", "O-far", "O-gone", "O-near", "O-shipped"]


def test_list_orders_by_creation_and_change_time(client: Client) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    def at(moment: datetime) -> Timestamp:
        stamp = Timestamp()
        stamp.FromDatetime(moment)
        return stamp

    first = client.clock()
    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    second = client.clock.advance(minutes=1)
    client.orders.Allocate(allocate(order("O-2", ("A", 1))))
    third = client.clock.advance(minutes=1)
    client.orders.Allocate(allocate(order("O-3", ("C", 1))))
    later = client.clock.advance(minutes=1)
    client.orders.Cancel(orders_pb2.CancelRequest(request_key="c1", order_id="O-1"))  # changes O-1 now

    created = orders_pb2.TimeWindow
    assert _listed(client, created=created(start=at(second))) == ["O-2", "O-3"]
    assert _listed(client, created=created(end=at(third))) == ["O-1", "O-2"]  # the end is excluded
    assert _listed(client, created=created(start=at(second), end=at(third))) == ["O-2"]
    assert _listed(client, updated=created(start=at(later))) == ["O-1"], "cancelled after the others were made"
    assert _listed(client, updated=created(end=at(later))) == ["O-2", "O-3"]
    assert _listed(client, created=created(start=at(first)), node_ids=["FAR"]) == ["O-3"]
    summary = client.orders.ListOrders(orders_pb2.ListOrdersRequest(states=[orders_pb2.ORDER_STATE_CANCELLED]))
    (o1,) = summary.orders
    assert o1.created_at.ToDatetime(tzinfo=UTC) == first and o1.updated_at.ToDatetime(tzinfo=UTC) == later


def test_list_orders_refuses_bad_filters_naming_each_field(client: Client) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    window = orders_pb2.TimeWindow
    bad = orders_pb2.ListOrdersRequest(
        node_ids=["NEAR", " ", "x" * 129],
        created=window(start=Timestamp(seconds=200), end=Timestamp(seconds=100)),
        updated=window(start=Timestamp(seconds=0, nanos=-1)),
    )
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.ListOrders(bad)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(raised.value)) == {"node_ids[1]", "node_ids[2]", "created.end", "updated.start"}
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.ListOrders(orders_pb2.ListOrdersRequest(node_ids=[f"N{i}" for i in range(101)]))
    assert set(violations(raised.value)) == {"node_ids"}
    same = Timestamp(seconds=100)
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.ListOrders(orders_pb2.ListOrdersRequest(updated=window(start=same, end=same)))
    assert violations(raised.value) == {"updated.end": "must be after updated.start"}


def test_a_bad_list_orders_page_token_is_named_with_the_other_bad_fields(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    for token in ("garbage!", "bm90LW91cnM="):  # not base64; base64 of a token of no page ("not-ours")
        with pytest.raises(grpc.RpcError) as raised:
            client.orders.ListOrders(orders_pb2.ListOrdersRequest(page_token=token, page_size=-1))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(raised.value)) == {"page_token", "page_size"}, token
        assert "page_token" in (raised.value.details() or "")


# --- exactly once -------------------------------------------------------------------------


def test_a_hundred_retries_replay_identical_bytes_with_one_effect(client: Client) -> None:
    request = allocate(order("O-1", ("A", 2)), key="same")
    first = client.orders.Allocate(request).SerializeToString()
    for _ in range(99):
        client.clock.advance(milliseconds=1)
        assert client.orders.Allocate(request).SerializeToString() == first
    assert client.available("A", "NEAR") == 1
    cancel = orders_pb2.CancelRequest(
        request_key="cancel-once", order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L0", qty=1)]
    )
    once = client.orders.Cancel(cancel).SerializeToString()
    for _ in range(99):
        assert client.orders.Cancel(cancel).SerializeToString() == once
    view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert view.lines[0].cancelled == 1 and len(view.events) == 2
    assert client.available("A", "NEAR") == 2


def test_same_key_different_request_is_refused_and_changes_nothing(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 1)), key="k"))
    before = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.Allocate(allocate(order("O-2", ("A", 1)), key="k"))
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert code_of(lambda: client.orders.Cancel(orders_pb2.CancelRequest(request_key="k", order_id="O-1"))) == (
        grpc.StatusCode.ALREADY_EXISTS
    )
    assert client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order == before
    assert (
        code_of(lambda: client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-2"))) == grpc.StatusCode.NOT_FOUND
    )
    assert client.available("A", "NEAR") == 2


def test_sixteen_concurrent_callers_with_one_key_have_one_effect(client: Client) -> None:
    request = allocate(order("O-1", ("A", 1), ("B", 1)), key="racing-key")
    start = threading.Barrier(16)

    def call(_: int) -> bytes:
        start.wait()
        return client.orders.Allocate(request).SerializeToString()

    with ThreadPoolExecutor(16) as pool:
        answers = set(pool.map(call, range(16)))
    assert len(answers) == 1
    view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert len(view.events) == 1
    assert client.available("A", "NEAR") == 2 and client.available("B", "NEAR") == 1
    assert client.conservation() == []


# --- holds and expiry ---------------------------------------------------------------------


def test_holds_count_as_available_exactly_at_expiry_before_any_sweep(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 3)), hold_ms=60_000))
    assert client.available("A", "NEAR") == 0
    client.clock.advance(milliseconds=59_999)
    assert client.available("A", "NEAR") == 0
    assert state(client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order) == "ALLOCATED"
    client.clock.advance(milliseconds=1)
    assert client.available("A", "NEAR") == 3
    view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert state(view) == "BACKORDERED" and not view.reservations
    # Another order takes the units before any sweep ran; the expired hold is cleaned up in that write.
    taken = client.orders.Allocate(allocate(order("O-2", ("A", 3)))).order
    assert [(r.node_id, r.qty) for r in taken.reservations] == [("NEAR", 3)]
    expired = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert [e.type for e in expired.events] == ["ALLOCATED", "EXPIRED"]
    assert client.conservation() == []


def test_sweeper_records_expiry(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("B", 1)), hold_ms=1_000))
    client.orders.Allocate(allocate(order("O-2", ("B", 1)), hold_ms=5_000))
    client.clock.advance(seconds=1)
    swept = client.orders.SweepExpired(orders_pb2.SweepExpiredRequest())
    assert (swept.expired_reservations, list(swept.order_ids)) == (1, ["O-1"])
    assert client.orders.SweepExpired(orders_pb2.SweepExpiredRequest()).expired_reservations == 0
    view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert state(view) == "BACKORDERED" and view.events[-1].type == "EXPIRED"
    assert client.available("B", "NEAR") == 1
    assert client.conservation() == []


def test_a_released_order_never_expires(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 1)), hold_ms=1_000))
    client.orders.Release(orders_pb2.ReleaseRequest(request_key="r", order_id="O-1"))
    client.clock.advance(days=2)
    assert client.available("A", "NEAR") == 2
    assert client.orders.SweepExpired(orders_pb2.SweepExpiredRequest()).expired_reservations == 0


# --- control characters in ids --------------------------------------------------------------


@pytest.mark.parametrize("bad", ["A\x00B", "A\x1bB", "A\nB"], ids=["nul", "esc", "newline"])
def test_control_characters_in_ids_are_named_on_both_stores_and_nothing_is_stored(client: Client, bad: str) -> None:
    """PostgreSQL used to answer INTERNAL (psycopg.DataError) for a NUL that SQLite stored."""
    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    before = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    cases: list[tuple[object, str]] = [
        (lambda: client.orders.Allocate(allocate(order(bad, ("A", 1)), key="k-clean")), "order.order_id"),
        (lambda: client.orders.Allocate(allocate(order("O-2", ("A", 1)), key=bad)), "request_key"),
        (lambda: client.orders.Allocate(allocate(order("O-2", (bad, 1)), key="k-2")), "order.lines[0].sku"),
        (
            lambda: client.orders.Allocate(allocate(order("O-2", ("A", 1), customer_id=bad), key="k-2")),
            "order.customer_id",
        ),
        (lambda: client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=bad)), "order_id"),
        (
            lambda: client.orders.Cancel(
                orders_pb2.CancelRequest(request_key="c", order_id="O-1", lines=[orders_pb2.LineUnits(line_id=bad)])
            ),
            "lines[0].line_id",
        ),
        (lambda: client.orders.Release(orders_pb2.ReleaseRequest(request_key=bad, order_id="O-1")), "request_key"),
        (lambda: client.orders.ListOrders(orders_pb2.ListOrdersRequest(node_ids=[bad])), "node_ids[0]"),
        (lambda: client.orders.ListExceptions(orders_pb2.ListExceptionsRequest(rule_id=bad)), "rule_id"),
    ]
    for call, field in cases:
        with pytest.raises(grpc.RpcError) as raised:
            call()  # type: ignore[operator]
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, raised.value.details())
        found = violations(raised.value)
        assert "control characters" in found.get(field, ""), (field, found)
    listed = client.orders.ListOrders(orders_pb2.ListOrdersRequest())
    assert [o.order_id for o in listed.orders] == ["O-1"]
    assert client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order == before
    assert client.available("A", "NEAR") == 2 and client.conservation() == []


def test_a_forged_page_token_carrying_a_nul_is_named(client: Client) -> None:
    import base64

    def token(text: bytes) -> str:
        return base64.urlsafe_b64encode(b"n1:" + text).decode()

    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    orders = lambda t: client.orders.ListOrders(orders_pb2.ListOrdersRequest(page_token=t))  # noqa: E731
    queue = lambda t: client.orders.ListExceptions(orders_pb2.ListExceptionsRequest(page_token=t))  # noqa: E731
    for call, text in [
        (orders, token(b"O\x00")),
        (queue, token(b'["2026-01-01T00:00:00+00:00", "O\\u0000"]')),  # a NUL once the JSON is read
        (queue, token(b'["not a time", "O"]')),  # used to reach the store and fail there (INTERNAL)
        (queue, token(b'["2026-01-01T00:00:00", "O"]')),  # no time zone: the same
    ]:
        with pytest.raises(grpc.RpcError) as raised:
            call(text)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
        assert set(violations(raised.value)) == {"page_token"}
