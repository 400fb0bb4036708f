"""UpdateInventory below what is reserved, over real gRPC on both stores: the floor's count is
applied, the holds it no longer covers give way (reported per update), their orders record
SHORTED and are re-sourced elsewhere like any backorder, and stock conservation holds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc
import pytest
from google.rpc import error_details_pb2

from server.api.proto import network_pb2, orders_pb2
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import count, delta, detail_of
from tests.integration.orders_helpers import Client, allocate, order, payload_of, serve_orders, state

STOCK = [("NEAR", "A", 3), ("FAR", "A", 10), ("NEAR", "B", 2), ("MID", "B", 5)]


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = serve_orders(start_server, store, STOCK)
    yield client
    client.channel.close()


def _get(client: Client, order_id: str) -> orders_pb2.OrderView:
    return client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id)).order


def _update(client: Client, *updates: network_pb2.InventoryUpdate) -> network_pb2.UpdateInventoryResponse:
    return client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=list(updates)))


def _holds(view: orders_pb2.OrderView) -> list[tuple[str, int]]:
    return sorted((r.node_id, r.qty) for r in view.reservations)


def _counted(client: Client, node_id: str, sku: str, units: int) -> network_pb2.InventoryUpdate:
    """A count made now (later than the network's)."""
    client.clock.advance(seconds=1)
    return count(node_id, sku, units, client.clock())


def test_a_count_below_reserved_is_applied_and_the_order_is_re_sourced_elsewhere(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 3))))
    assert _holds(_get(client, "O-1")) == [("NEAR", 3)]

    (result,) = _update(client, _counted(client, "NEAR", "A", 1)).results
    assert result.outcome == network_pb2.UPDATE_OUTCOME_APPLIED
    assert (result.position.on_hand, result.position.reserved, result.position.available) == (1, 1, 0)
    assert result.shorted_units == 2
    assert [(s.order_id, s.line_id, s.qty) for s in result.shorted] == [("O-1", "L0", 2)]

    view = _get(client, "O-1")
    assert [e.type for e in view.events] == ["ALLOCATED", "SHORTED", "RESOURCED"]
    shorted = payload_of(view.events[1])
    assert (shorted["from"], shorted["to"], shorted["holds"]) == (
        "ALLOCATED",
        "PARTIALLY_ALLOCATED",
        [["L0", "NEAR", 2]],
    )
    # Healing ran after the count committed: the two units now come from FAR.
    assert state(view) == "ALLOCATED" and _holds(view) == [("FAR", 2), ("NEAR", 1)]
    assert client.conservation() == []


def test_a_wms_sync_with_one_shrink_is_applied_whole(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 3))))
    now = client.clock.advance(seconds=1)  # one count time for all: the hold must stay live
    sync = [count("FAR", f"SKU-{i:04d}", i % 7, now) for i in range(1_000)]
    sync.insert(500, count("NEAR", "A", 0, now))
    reply = client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=sync), timeout=60)
    assert [r.outcome for r in reply.results] == [network_pb2.UPDATE_OUTCOME_APPLIED] * 1_001
    assert [i for i, r in enumerate(reply.results) if r.shorted_units] == [500]
    assert reply.results[500].shorted_units == 3 and reply.results[999].position.on_hand == 998 % 7
    assert _holds(_get(client, "O-1")) == [("FAR", 3)]
    assert client.conservation() == []


def test_holds_not_yet_released_give_way_before_released_ones(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 2))))  # older: it would give way last otherwise
    client.orders.Release(orders_pb2.ReleaseRequest(request_key="r-1", order_id="O-1"))
    client.orders.Allocate(allocate(order("O-2", ("A", 1))))
    (result,) = _update(client, _counted(client, "NEAR", "A", 2)).results
    assert [(s.order_id, s.qty) for s in result.shorted] == [("O-2", 1)]
    assert state(_get(client, "O-1")) == "RELEASED" and _holds(_get(client, "O-1")) == [("NEAR", 2)]
    assert _holds(_get(client, "O-2")) == [("FAR", 1)]
    # The warehouse counts again: nothing left, and the released order gives way too.
    (result,) = _update(client, _counted(client, "NEAR", "A", 0)).results
    assert [(s.order_id, s.qty) for s in result.shorted] == [("O-1", 2)]
    assert _holds(_get(client, "O-1")) == [("FAR", 2)]
    # Re-sourced for a released order, the new holds are handed over too: nothing to expire.
    healed = _get(client, "O-1")
    assert state(healed) == "RELEASED" and [r.state for r in healed.reservations] == ["RELEASED"]
    assert client.conservation() == []


def test_a_delta_below_zero_is_refused_naming_the_delta_and_changes_nothing(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 3))))
    before = (_get(client, "O-1"), client.available("A", "FAR"))
    with pytest.raises(grpc.RpcError) as raised:
        _update(client, _counted(client, "FAR", "A", 5), delta("NEAR", "A", -4), _counted(client, "NEAR", "A", 0))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.details() == "not enough stock for updates[1].delta"
    failure = detail_of(raised.value, error_details_pb2.PreconditionFailure)
    assert [(v.subject, v.description) for v in failure.violations] == [
        ("updates[1].delta", "would take on hand below zero")
    ]
    assert (_get(client, "O-1"), client.available("A", "FAR")) == before
    # Above zero, a negative delta (units found damaged) is applied like a count.
    (result,) = _update(client, delta("NEAR", "A", -3)).results
    assert (result.position.on_hand, result.shorted_units) == (0, 3)
    assert client.conservation() == []


def test_a_stale_count_takes_nothing_back(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 3))))
    _update(client, _counted(client, "NEAR", "A", 3))
    (stale,) = _update(client, count("NEAR", "A", 0, client.clock() - timedelta(hours=1))).results
    assert stale.outcome == network_pb2.UPDATE_OUTCOME_STALE_IGNORED and stale.shorted_units == 0
    assert _holds(_get(client, "O-1")) == [("NEAR", 3)]


def test_a_partially_shipped_order_records_the_shortage_and_is_sourced_again(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 3), ("B", 2))))
    client.orders.ConfirmShipment(
        orders_pb2.ConfirmShipmentRequest(
            request_key="ship-b", order_id="O-1", node_id="NEAR", lines=[orders_pb2.LineUnits(line_id="L1")]
        )
    )
    (result,) = _update(client, _counted(client, "NEAR", "A", 1)).results
    assert result.shorted_units == 2
    view = _get(client, "O-1")
    # Healing re-sources a partly shipped order's waiting units too: the two A come from FAR.
    assert state(view) == "PARTIALLY_SHIPPED" and [e.type for e in view.events[-2:]] == ["SHORTED", "RESOURCED"]
    assert [(x.line_id, x.reserved, x.backordered) for x in view.lines] == [("L0", 3, 0), ("L1", 0, 0)]
    assert sorted((r.node_id, r.qty) for r in view.reservations) == [("FAR", 2), ("NEAR", 1)]
    assert client.conservation() == []


def test_counts_racing_cancels_and_shipments_keep_stock_conserved(client: Client) -> None:
    """The count locks the orders whose holds give way, so a lifecycle call on one of them sees the
    holds either before or after, never half (on PostgreSQL a deadlock between the two is retried)."""
    _update(client, _counted(client, "NEAR", "A", 40))
    for i in range(20):
        client.orders.Allocate(allocate(order(f"O-{i}", ("A", 2))))
    assert client.available("A", "NEAR") == 0
    counts = [_counted(client, "NEAR", "A", units) for units in (30, 24, 16, 9, 3, 0)]
    start = threading.Barrier(3)
    refused: list[grpc.StatusCode] = []

    def counter() -> None:
        start.wait()
        for update in counts:
            _update(client, update)

    def lifecycle(calls: list[Callable[[], object]]) -> None:
        start.wait()
        for call in calls:
            try:
                call()
            except grpc.RpcError as error:  # its holds moved away from NEAR meanwhile, say
                refused.append(error.code())

    cancels = [
        lambda i=i: client.orders.Cancel(orders_pb2.CancelRequest(request_key=f"c-{i}", order_id=f"O-{i}"))
        for i in range(0, 20, 2)
    ]
    ships = [
        lambda i=i: client.orders.ConfirmShipment(
            orders_pb2.ConfirmShipmentRequest(request_key=f"s-{i}", order_id=f"O-{i}", node_id="NEAR")
        )
        for i in range(1, 20, 2)
    ]
    with ThreadPoolExecutor(3) as pool:
        for done in [pool.submit(counter), pool.submit(lifecycle, cancels), pool.submit(lifecycle, ships)]:
            done.result(timeout=120)
    assert set(refused) <= {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION}
    assert client.conservation() == []
    near = client.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["A"], node_ids=["NEAR"]))
    assert near.positions[0].reserved <= near.positions[0].on_hand


def test_a_retried_shrink_with_its_key_replays_what_gave_way_and_takes_nothing_more(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 3))))
    request = network_pb2.UpdateInventoryRequest(
        request_key="cycle-count-7", updates=[_counted(client, "NEAR", "A", 1)]
    )
    first = client.network.UpdateInventory(request)
    assert [(s.order_id, s.qty) for s in first.results[0].shorted] == [("O-1", 2)]
    events = [e.type for e in _get(client, "O-1").events]
    _update(client, delta("NEAR", "A", 2))
    o2 = client.orders.Allocate(allocate(order("O-2", ("A", 2)))).order
    assert _holds(o2) == [("NEAR", 2)]  # a second application of the count would take these back
    client.clock.advance(seconds=1)
    assert client.network.UpdateInventory(request).SerializeToString() == first.SerializeToString()
    assert [e.type for e in _get(client, "O-1").events] == events == ["ALLOCATED", "SHORTED", "RESOURCED"]
    assert [e.type for e in _get(client, "O-2").events] == ["ALLOCATED"] and client.available("A", "NEAR") == 0
    assert client.conservation() == []
