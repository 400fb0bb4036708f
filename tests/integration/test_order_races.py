"""The last unit: many clients over real gRPC race for one unit; exactly one may win.

Run on both stores, and on a deliberately naive read-then-write adapter that the same check
must catch overselling (the negative control that proves the test has teeth).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import pytest

from server.api.proto import network_pb2, network_pb2_grpc, orders_pb2, orders_pb2_grpc
from server.store.base import Store
from tests.integration.conftest import ServerFactory, make_config
from tests.integration.helpers import count, item, node
from tests.integration.naive_store import naive_twin
from tests.integration.orders_helpers import allocate, order

TRIALS = 120
RACERS = 8


@dataclass
class RaceResult:
    trials: int
    winners: list[int] = field(default_factory=list)  # per trial
    oversold: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    conservation: list[str] = field(default_factory=list)


def load_race_stock(channel: grpc.Channel, trials: int, tag: str, units: int = 1) -> list[str]:
    """``trials`` SKUs with ``units`` each at one node."""
    network = network_pb2_grpc.NetworkServiceStub(channel)
    network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("N1")]))
    skus = [f"{tag}-{t}" for t in range(trials)]
    network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item(s) for s in skus]))
    network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("N1", s, units) for s in skus]))
    return skus


def run_last_unit_race(
    channel: grpc.Channel, trials: int, racers: int, tag: str, others: Sequence[grpc.Channel] = ()
) -> RaceResult:
    """Per SKU, ``racers`` clients allocate its one unit at once (spread over ``others`` too)."""
    skus = load_race_stock(channel, trials, tag)
    return race_for(skus, [channel, *others], racers)


def race_for(skus: Sequence[str], channels: Sequence[grpc.Channel], racers: int) -> RaceResult:
    network = network_pb2_grpc.NetworkServiceStub(channels[0])
    stubs = [orders_pb2_grpc.OrderServiceStub(c) for c in channels]
    orders = stubs[0]
    trials = len(skus)
    result = RaceResult(trials)
    with ThreadPoolExecutor(racers) as pool:
        for sku in skus:
            start = threading.Barrier(racers)

            def race(i: int, sku: str = sku, start: threading.Barrier = start) -> int:
                start.wait()
                try:
                    stub = stubs[i % len(stubs)]
                    response = stub.Allocate(allocate(order(f"{sku}-o{i}", (sku, 1))), timeout=30)
                except grpc.RpcError as error:
                    result.errors.append(f"{sku}: {error.code().name}: {error.details()}")
                    return 0
                return sum(r.qty for r in response.order.reservations)

            won = sum(pool.map(race, range(racers)))
            result.winners.append(won)
            position = network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=[sku])).positions[0]
            if won > position.on_hand or position.reserved > position.on_hand:
                result.oversold.append(f"{sku}: {won} winners for {position.on_hand} units")
    result.conservation = list(orders.CheckConservation(orders_pb2.CheckConservationRequest()).problems)
    return result


def assert_never_oversold(result: RaceResult, units: int = 1) -> None:
    assert result.errors == [], result.errors[:5]  # no "database is locked", no ABORTED
    assert result.oversold == [], f"{len(result.oversold)} of {result.trials} trials oversold: {result.oversold[:3]}"
    assert result.conservation == [], result.conservation[:5]
    assert result.winners == [units] * result.trials  # and never undersold: each unit has a winner


@pytest.fixture
def serve(start_server: ServerFactory) -> Iterator[Callable[[Store], grpc.Channel]]:
    channels: list[grpc.Channel] = []

    def start(store: Store) -> grpc.Channel:
        running = start_server(store, make_config(threads=RACERS, max_concurrent_rpcs=64))
        channels.append(grpc.insecure_channel(running.target))
        return channels[-1]

    yield start
    for channel in channels:
        channel.close()


def test_last_unit_has_exactly_one_winner(serve: Callable[[Store], grpc.Channel], store: Store) -> None:
    result = run_last_unit_race(serve(store), TRIALS, RACERS, "real")
    assert_never_oversold(result)


def test_negative_control_the_race_test_catches_a_naive_adapter(
    serve: Callable[[Store], grpc.Channel], store: Store
) -> None:
    naive = naive_twin(store)
    try:
        result = run_last_unit_race(serve(naive), 20, RACERS, "naive")
    finally:
        naive.close()
    with pytest.raises(AssertionError):
        assert_never_oversold(result)
    assert result.oversold, "the naive adapter never oversold: the race test has no teeth"


# Separate server processes (two groups of workers, as two machines) on one PostgreSQL:
# tests/integration/test_two_deployments.py.
