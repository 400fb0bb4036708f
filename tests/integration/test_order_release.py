"""Released orders over real gRPC on both stores: what a released order re-sources or heals is
handed over too (it never expires), partial orders can be released, and a node that rejected
units of a line is never used for that line again, across restarts."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2

from server.api.proto import network_pb2, orders_pb2
from server.store import open_store
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import delta, detail_of
from tests.integration.orders_helpers import Client, FakeClock, allocate, order, payload_of, serve_orders, state
from tests.integration.test_orders_api import code_of

STOCK = [("NEAR", "A", 3), ("FAR", "A", 10), ("NEAR", "B", 2), ("MID", "B", 5), ("FAR", "C", 4)]


def _client(start_server: ServerFactory, store: Store, clock: FakeClock, load: bool = True) -> Client:
    return serve_orders(start_server, store, STOCK if load else None, clock)


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = _client(start_server, store, FakeClock())
    yield client
    client.channel.close()


def _get(client: Client, order_id: str) -> orders_pb2.OrderView:
    return client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id)).order


def _release(client: Client, order_id: str, key: str) -> orders_pb2.OrderView:
    return client.orders.Release(orders_pb2.ReleaseRequest(request_key=key, order_id=order_id)).order


def _reallocate(client: Client, order_id: str, node_id: str, key: str, *lines: str) -> orders_pb2.AllocateResponse:
    return client.orders.Reallocate(
        orders_pb2.ReallocateRequest(
            request_key=key, order_id=order_id, node_id=node_id, lines=[orders_pb2.LineUnits(line_id=x) for x in lines]
        )
    )


def _holds(view: orders_pb2.OrderView) -> list[tuple[str, str, int, str]]:
    return sorted((r.line_id, r.node_id, r.qty, r.state) for r in view.reservations)


def _sweep_finds_nothing(client: Client) -> bool:
    return client.orders.SweepExpired(orders_pb2.SweepExpiredRequest()).expired_reservations == 0


# --- 1. reallocating a released order ---------------------------------------------------------


def test_units_reallocated_on_a_released_order_are_handed_over_and_never_expire(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 2)), hold_ms=4_000))
    _release(client, "O-1", "rel")
    moved = _reallocate(client, "O-1", "NEAR", "re").order
    assert state(moved) == "RELEASED" and _holds(moved) == [("L0", "FAR", 2, "RELEASED")]
    event = payload_of(moved.events[-1])
    assert moved.events[-1].type == "REALLOCATED"
    assert (event["from"], event["to"], event["hold_state"]) == ("RELEASED", "RELEASED", "RELEASED")
    assert event["allocations"] == [["L0", "FAR", 2]] and event["excluded_nodes"] == {"L0": ["NEAR"]}

    client.clock.advance(seconds=6)  # past the 4 s the holds were allocated for
    assert _sweep_finds_nothing(client)
    after = _get(client, "O-1")
    assert state(after) == "RELEASED" and _holds(after) == [("L0", "FAR", 2, "RELEASED")]
    assert [e.type for e in after.events] == ["ALLOCATED", "RELEASED", "REALLOCATED"]
    assert client.available("A", "FAR") == 8 and client.available("A", "NEAR") == 3
    # The warehouse ships what it was handed.
    shipped = client.orders.ConfirmShipment(
        orders_pb2.ConfirmShipmentRequest(request_key="ship", order_id="O-1", node_id="FAR")
    ).order
    assert state(shipped) == "SHIPPED" and client.conservation() == []


def test_a_released_order_that_loses_its_units_waits_and_heals_into_released_holds(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("C", 3)), hold_ms=4_000))  # only FAR has C
    _release(client, "O-1", "rel")
    lost = _reallocate(client, "O-1", "FAR", "re").order
    # Nothing else has C: the units wait, in the exception queue, and the order stays released.
    assert state(lost) == "BACKORDERED" and not lost.reservations and lost.HasField("released_at")
    queue = client.orders.ListExceptions(orders_pb2.ListExceptionsRequest())
    assert [x.order_id for x in queue.orders] == ["O-1"]
    # Two units arrive at MID: they heal the order and are handed over at once.
    client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("MID", "C", 2)]))
    healed = _get(client, "O-1")
    assert state(healed) == "PARTIALLY_ALLOCATED" and _holds(healed) == [("L0", "MID", 2, "RELEASED")]
    resourced = payload_of(healed.events[-1])
    assert healed.events[-1].type == "RESOURCED" and resourced["hold_state"] == "RELEASED"
    # Released: only the unit still waiting may be cancelled; the two with the warehouse may not.
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.Cancel(
            orders_pb2.CancelRequest(
                request_key="c0", order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L0", qty=2)]
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _get(client, "O-1") == healed
    rest = client.orders.Cancel(orders_pb2.CancelRequest(request_key="c1", order_id="O-1")).order
    assert state(rest) == "RELEASED" and rest.lines[0].cancelled == 1
    assert _holds(rest) == [("L0", "MID", 2, "RELEASED")]
    client.clock.advance(days=1)
    assert _sweep_finds_nothing(client) and state(_get(client, "O-1")) == "RELEASED"
    assert client.conservation() == []


# --- 2. nodes that rejected a line stay excluded ------------------------------------------


def test_a_node_that_rejected_a_line_is_never_used_for_it_again_even_after_a_restart(
    start_server: ServerFactory, store: Store, store_url: str
) -> None:
    clock = FakeClock()
    first = _client(start_server, store, clock)
    first.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("FAR", "B", 5)]))
    placed = first.orders.Allocate(allocate(order("O-1", ("B", 2), ("A", 1)))).order
    assert _holds(placed) == [("L0", "NEAR", 2, "HELD"), ("L1", "NEAR", 1, "HELD")]
    to_mid = _reallocate(first, "O-1", "NEAR", "re-1", "L0").order
    assert _holds(to_mid) == [("L0", "MID", 2, "HELD"), ("L1", "NEAR", 1, "HELD")]
    # MID rejects too: NEAR is cheapest again and has the units free, but it rejected this line.
    to_far = _reallocate(first, "O-1", "MID", "re-2").order
    assert _holds(to_far) == [("L0", "FAR", 2, "HELD"), ("L1", "NEAR", 1, "HELD")]
    assert [list(x.excluded_node_ids) for x in to_far.lines] == [["MID", "NEAR"], []]
    first.running.stop(grace=0)
    first.channel.close()

    # A new server over a new connection to the same database remembers.
    reopened = open_store(store_url)
    try:
        second = _client(start_server, reopened, clock, load=False)
        assert [list(x.excluded_node_ids) for x in _get(second, "O-1").lines] == [["MID", "NEAR"], []]
        stranded = _reallocate(second, "O-1", "FAR", "re-3", "L0")
        assert state(stranded.order) == "PARTIALLY_ALLOCATED" and stranded.order.lines[0].backordered == 2
        assert not stranded.decision.allocations
        # Stock arriving at a node that rejected the line does not heal it from there.
        second.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("NEAR", "B", 5)]))
        waiting = _get(second, "O-1")
        assert state(waiting) == "PARTIALLY_ALLOCATED" and waiting.events[-1].type == "REALLOCATED"
        assert [list(x.excluded_node_ids) for x in waiting.lines] == [["FAR", "MID", "NEAR"], []]
        # Another node is fine: stock at a node the line never used heals it.
        second.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[_node_like_far("FAR-2")]))
        second.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("FAR-2", "B", 2)]))
        healed = _get(second, "O-1")
        assert _holds(healed) == [("L0", "FAR-2", 2, "HELD"), ("L1", "NEAR", 1, "HELD")]
        assert second.conservation() == []
        second.channel.close()
    finally:
        reopened.close()


def _node_like_far(node_id: str) -> object:
    from server.api.proto import common_pb2
    from tests.integration.helpers import node

    return node(node_id, location=common_pb2.GeoPoint(lat=30.5, lon=-95.0))


# --- 3. releasing partial orders ------------------------------------------------------------


def test_a_partially_allocated_order_is_released_and_its_backorder_heals_released(client: Client) -> None:
    partial = client.orders.Allocate(allocate(order("O-1", ("C", 6)), hold_ms=4_000)).order
    assert state(partial) == "PARTIALLY_ALLOCATED" and partial.lines[0].backordered == 2
    released = _release(client, "O-1", "rel")
    assert state(released) == "PARTIALLY_ALLOCATED" and released.HasField("released_at")
    assert _holds(released) == [("L0", "FAR", 4, "RELEASED")]
    payload = payload_of(released.events[-1])
    assert payload["holds"] == [["L0", "FAR", 4]] and payload["waiting"] == [["L0", 2]]
    # Released already: nothing is left to hand over.
    with pytest.raises(grpc.RpcError) as raised:
        _release(client, "O-1", "rel-again")
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert detail_of(raised.value, error_details_pb2.PreconditionFailure).violations[0].type == "ORDER_STATE"
    assert _get(client, "O-1") == released
    client.clock.advance(seconds=6)
    assert _sweep_finds_nothing(client)
    client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("MID", "C", 5)]))
    healed = _get(client, "O-1")
    assert state(healed) == "RELEASED"
    assert _holds(healed) == [("L0", "FAR", 4, "RELEASED"), ("L0", "MID", 2, "RELEASED")]
    client.clock.advance(days=1)
    assert _sweep_finds_nothing(client) and client.conservation() == []


def test_a_partially_shipped_order_releases_what_it_holds_and_its_remainder_heals(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("B", 2), ("C", 1)), hold_ms=4_000))  # FAR has no B
    client.orders.ConfirmShipment(orders_pb2.ConfirmShipmentRequest(request_key="s", order_id="O-1", node_id="FAR"))
    released = _release(client, "O-1", "rel")
    assert state(released) == "PARTIALLY_SHIPPED" and _holds(released) == [("L0", "NEAR", 2, "RELEASED")]
    client.clock.advance(seconds=6)
    assert _sweep_finds_nothing(client) and state(_get(client, "O-1")) == "PARTIALLY_SHIPPED"

    # Shipped in part, the rest waiting for stock and nothing reserved: nothing to release.
    client.orders.Allocate(allocate(order("O-2", ("C", 5))))  # FAR has 3 C left
    client.orders.ConfirmShipment(orders_pb2.ConfirmShipmentRequest(request_key="s2", order_id="O-2", node_id="FAR"))
    before = _get(client, "O-2")
    assert state(before) == "PARTIALLY_SHIPPED" and before.lines[0].backordered == 2
    assert code_of(lambda: _release(client, "O-2", "rel-2")) == grpc.StatusCode.FAILED_PRECONDITION
    assert _get(client, "O-2") == before
    # Its remainder heals when stock arrives (never released: an expiring hold, as any other).
    client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("MID", "C", 2)]))
    healed = _get(client, "O-2")
    assert state(healed) == "PARTIALLY_SHIPPED" and _holds(healed) == [("L0", "MID", 2, "HELD")]
    assert healed.events[-1].type == "RESOURCED" and client.conservation() == []


def test_release_with_nothing_reserved_is_refused_and_changes_nothing(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("C", 4))))
    client.orders.Allocate(allocate(order("O-2", ("C", 1))))  # nothing left: BACKORDERED
    before = _get(client, "O-2")
    assert state(before) == "BACKORDERED"
    assert code_of(lambda: _release(client, "O-2", "rel")) == grpc.StatusCode.FAILED_PRECONDITION
    assert _get(client, "O-2") == before
