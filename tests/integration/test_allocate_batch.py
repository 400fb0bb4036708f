"""AllocateBatch over real gRPC on both stores: joint decisions, per-order results and keys."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import code_pb2

from server.api.proto import orders_pb2, sourcing_pb2
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import violations
from tests.integration.orders_helpers import Client, allocate, order, serve_orders, state

# NEAR holds the only B and one A; MID one more A.
STOCK = [("NEAR", "A", 1), ("NEAR", "B", 1), ("MID", "A", 1)]


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = serve_orders(start_server, store, STOCK)
    yield client
    client.channel.close()


def batch() -> orders_pb2.AllocateBatchRequest:
    """X (first) wants one A and would take NEAR's; Y ships complete, A and B, so only NEAR can serve it."""
    return orders_pb2.AllocateBatchRequest(
        orders=[allocate(order("X", ("A", 1))), allocate(order("Y", ("A", 1), ("B", 1), max_shipments=1))]
    )


def nodes_of(result: orders_pb2.AllocateBatchResult) -> set[str]:
    return {r.node_id for r in result.response.order.reservations}


def test_the_batch_gives_the_contested_unit_to_the_order_that_needs_it(client: Client) -> None:
    response = client.orders.AllocateBatch(batch())
    x, y = response.results
    assert nodes_of(x) == {"MID"} and nodes_of(y) == {"NEAR"}
    assert state(x.response.order) == state(y.response.order) == "ALLOCATED"
    assert response.status == sourcing_pb2.SOLVE_STATUS_OPTIMAL
    assert response.total_cost.amount_micros < response.sequential_total_cost.amount_micros
    assert response.bound.amount_micros == response.total_cost.amount_micros
    assert client.available("A", "NEAR") == client.available("A", "MID") == 0
    assert client.conservation() == []


def test_a_retried_batch_replays_every_order_and_changes_nothing(client: Client) -> None:
    first = client.orders.AllocateBatch(batch())
    again = client.orders.AllocateBatch(batch())
    assert [r.response for r in again.results] == [r.response for r in first.results]
    assert client.available("B", "NEAR") == 0 and client.conservation() == []


def test_an_order_stored_by_an_earlier_call_is_replayed_and_the_rest_allocated(client: Client) -> None:
    """What a crash between two orders leaves: the first order stored under its key, the second not."""
    stored = client.orders.Allocate(batch().orders[0])
    response = client.orders.AllocateBatch(batch())
    assert response.results[0].response == stored
    assert client.conservation() == []
    assert len(client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="Y")).order.lines) == 2


def test_a_bad_order_gets_its_own_error_and_the_others_are_allocated(client: Client) -> None:
    request = batch()
    request.orders.append(allocate(order("Z", ("A", 0))))
    response = client.orders.AllocateBatch(request)
    x, y, bad = response.results
    assert x.HasField("response") and y.HasField("response")
    assert bad.error.code == code_pb2.INVALID_ARGUMENT
    assert [v.field for v in bad.error.field_violations] == ["orders[2].order.lines[0].qty"]
    assert client.orders.AllocateBatch(request).results == response.results  # the same on a retry


def nothing_stored(client: Client) -> bool:
    for order_id in ("X", "Y"):
        with pytest.raises(grpc.RpcError) as raised:
            client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id))
        assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    stock = {(n, s): client.available(s, n) for n, s, _ in STOCK}
    return stock == {(n, s): q for n, s, q in STOCK} and client.conservation() == []


def refused_batch(client: Client, request: orders_pb2.AllocateBatchRequest) -> dict[str, str]:
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.AllocateBatch(request)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    return violations(raised.value)


def test_two_orders_sharing_a_request_key_refuse_the_batch_and_store_nothing(client: Client) -> None:
    """The first order used to be stored, ALLOCATED with its units reserved, under an answer of
    ALREADY_EXISTS; the same batch sent again then answered OK with one result and one error."""
    request = batch()
    request.orders[1].request_key = request.orders[0].request_key
    for _ in range(2):  # and the same again
        assert refused_batch(client, request) == {
            "orders[1].request_key": "is orders[0]'s too: each order needs a key of its own"
        }
        assert nothing_stored(client)


def test_an_order_twice_in_a_batch_refuses_the_batch_and_stores_nothing(client: Client) -> None:
    request = batch()
    request.orders.append(allocate(order("X", ("B", 1)), key="another-key"))
    for _ in range(2):
        assert list(refused_batch(client, request)) == ["orders[2].order.order_id"]
        assert nothing_stored(client)


def test_an_order_stored_under_another_key_is_that_orders_error_alone(client: Client) -> None:
    """Its ALREADY_EXISTS used to fail the whole call after the orders before it were stored."""
    earlier = client.orders.Allocate(allocate(order("Y", ("B", 1)), key="elsewhere"))
    first = client.orders.AllocateBatch(batch())
    x, y = first.results
    assert state(x.response.order) == "ALLOCATED"
    assert y.error.code == code_pb2.ALREADY_EXISTS and "Y" in y.error.message
    again = client.orders.AllocateBatch(batch())
    assert again.results == first.results  # the stored answer, and the same error
    assert client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="Y")).order == earlier.order
    assert client.conservation() == []


def test_the_same_key_with_another_order_is_refused_for_that_order_alone(client: Client) -> None:
    client.orders.Allocate(allocate(order("W", ("A", 1)), key="k-X"))
    response = client.orders.AllocateBatch(batch())
    assert response.results[0].error.code == code_pb2.ALREADY_EXISTS
    assert response.results[1].HasField("response")


def test_an_empty_batch_is_invalid(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.AllocateBatch(orders_pb2.AllocateBatchRequest())
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
