"""A seeded random walk over the lifecycle on the real store, over real gRPC.

After every step: conservation holds; the stored state is the one the quantities imply
(engine.orders.lifecycle.derive_state); a refused call changed nothing; and stock is accounted for
(on hand = initial - shipped + restocked, per SKU). Conservation includes that a released order
holds nothing that can expire.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest

from engine.orders.lifecycle import LineQuantities, derive_state
from server.api.proto import network_pb2, orders_pb2
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.orders_helpers import Client, allocate, order, serve_orders, state

STOCK = [("NEAR", "A", 4), ("MID", "A", 3), ("FAR", "A", 2), ("NEAR", "B", 3), ("FAR", "B", 3)]
STEPS = 120
NODES = ("NEAR", "MID", "FAR")


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = serve_orders(start_server, store, STOCK)
    yield client
    client.channel.close()


def _implied(view: orders_pb2.OrderView) -> str:
    lines = [LineQuantities(x.qty, x.reserved, x.shipped, x.cancelled, x.returned) for x in view.lines]
    return derive_state(lines, view.HasField("released_at")).value


def test_random_walk_keeps_every_invariant(client: Client) -> None:
    rng = random.Random(7)
    initial = Counter({sku: 0 for _, sku, _ in STOCK})
    for _, sku, qty in STOCK:
        initial[sku] += qty
    shipped: Counter[str] = Counter()
    restocked: Counter[str] = Counter()
    order_ids: list[str] = []
    refused = Counter[str]()
    for step in range(STEPS):
        key = f"step-{step}"
        if not order_ids or rng.random() < 0.2:
            oid = f"O-{step}"
            lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(["A", "B"], rng.randint(1, 2))]
            client.orders.Allocate(allocate(order(oid, *lines), key=key, hold_ms=rng.choice([500, 5_000, 60_000])))
            order_ids.append(oid)
            continue
        oid = rng.choice(order_ids)
        before = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=oid)).order
        line = rng.choice(before.lines)
        units = rng.randint(0, 2)
        action = rng.choice(["cancel", "release", "ship", "reallocate", "return", "tick", "sweep"])
        request: object
        if action == "cancel":
            lines_arg = [] if rng.random() < 0.3 else [orders_pb2.LineUnits(line_id=line.line_id, qty=units)]
            call, request = (
                client.orders.Cancel,
                orders_pb2.CancelRequest(request_key=key, order_id=oid, lines=lines_arg),
            )
        elif action == "release":
            call, request = client.orders.Release, orders_pb2.ReleaseRequest(request_key=key, order_id=oid)
        elif action == "ship":
            node_id = before.reservations[0].node_id if before.reservations else rng.choice(NODES)
            request = orders_pb2.ConfirmShipmentRequest(request_key=key, order_id=oid, node_id=node_id)
            call = client.orders.ConfirmShipment
        elif action == "reallocate":
            node_id = before.reservations[0].node_id if before.reservations else rng.choice(NODES)
            request = orders_pb2.ReallocateRequest(request_key=key, order_id=oid, node_id=node_id)
            call = client.orders.Reallocate
        elif action == "return":
            disposition = rng.choice([orders_pb2.DISPOSITION_RESTOCK, orders_pb2.DISPOSITION_DISPOSE])
            request = orders_pb2.ReturnRequest(
                request_key=key,
                order_id=oid,
                lines=[orders_pb2.LineUnits(line_id=line.line_id, qty=units)],
                disposition=disposition,
            )
            call = client.orders.Return
        elif action == "tick":
            client.clock.advance(milliseconds=rng.choice([1, 400, 2_000]))
            continue
        else:
            client.orders.SweepExpired(orders_pb2.SweepExpiredRequest())
            continue
        try:
            response = call(request)
        except grpc.RpcError as error:
            assert error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT), error
            refused[action] += 1
            after = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=oid)).order
            assert after == before, f"step {step}: a refused {action} changed the order"
        else:
            after = response.order
            for x, y in zip(before.lines, after.lines, strict=True):
                shipped[x.sku] += y.shipped - x.shipped
                if action == "return" and request.disposition == orders_pb2.DISPOSITION_RESTOCK:  # type: ignore[attr-defined]
                    restocked[x.sku] += y.returned - x.returned
        # Invariants after every step.
        assert client.conservation() == [], f"step {step} ({action})"
        for each in order_ids:
            view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=each)).order
            assert state(view) == _implied(view), f"step {step}: {each} stored {state(view)}"
        positions = client.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["A", "B"])).positions
        on_hand = Counter[str]()
        for p in positions:
            on_hand[p.sku] += p.on_hand
        for sku in ("A", "B"):
            assert on_hand[sku] == initial[sku] - shipped[sku] + restocked[sku], f"step {step}: {sku} not conserved"
    assert sum(refused.values()) > 0 and sum(shipped.values()) > 0  # the walk exercised both paths
