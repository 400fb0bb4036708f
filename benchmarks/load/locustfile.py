"""Locust load test over gRPC: a realistic mix of sourcing calls against a running service.

Run by `make load` (benchmarks/load/run.py starts a server and drives this headless), or
against any deployment:

    .venv/bin/locust -f benchmarks/load/locustfile.py --headless -H grpc://HOST:PORT -u 50 -r 10 -t 2m

A deployment with TLS or tokens is reached as `oms-sourcing call` reaches it, from the
environment: OMS_SOURCING_CA_FILE (and OMS_SOURCING_CERT_FILE, OMS_SOURCING_KEY_FILE for mutual
TLS) and OMS_SOURCING_TOKEN, a caller's token (every call of the mix is a caller's).

The mix (weights 8:3:2:2): `Source` quotes for 1-5 line orders shipped to real US cities,
`Allocate` of such orders, `Cancel` of orders this user allocated (stock comes back), and
`GetAvailability` lookups. Orders draw SKUs from the service's own catalogue (read once
through `GetAvailability` of the sample network's SKU list).
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import LoadTestShape, User, between, events, task

from benchmarks.networks.sample_network import us_cities
from server.api.proto import (
    common_pb2,
    network_pb2,
    network_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    sourcing_pb2,
    sourcing_pb2_grpc,
)
from server.cli.client import client_security, open_channel

grpc_gevent.init_gevent()  # gRPC's blocking calls must yield to locust's greenlets

NETWORK_FILE = Path(os.environ.get("OMS_LOAD_NETWORK", "data/sample-network.json"))
CITIES = us_cities()[:300]
CITY_WEIGHTS = [c.population for c in CITIES]
SKUS = sorted({i["sku"] for i in json.loads(NETWORK_FILE.read_text())["items"]})


def _target(host: str) -> str:
    return host.removeprefix("grpc://") if host else "127.0.0.1:50051"


class SourcingUser(User):  # type: ignore[misc]
    """One caller: a channel of its own, and a think time between calls."""

    wait_time = between(0.0, 0.01)

    def on_start(self) -> None:
        # A connection of its own: the server's worker processes are balanced per connection. TLS
        # and the token come from the environment, as for oms-sourcing call (docs/configuration.md).
        self.channel = open_channel(
            _target(self.host or ""), client_security(os.environ), options=[("grpc.use_local_subchannel_pool", 1)]
        )
        self.sourcing = sourcing_pb2_grpc.SourcingServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.network = network_pb2_grpc.NetworkServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.orders = orders_pb2_grpc.OrderServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.rng = random.Random()
        self.allocated: list[str] = []  # this user's orders not yet cancelled

    def on_stop(self) -> None:
        self.channel.close()

    def _call(self, name: str, call: Callable[[], Any]) -> None:
        started = time.perf_counter()
        error: Exception | None = None
        try:
            call()
        except grpc.RpcError as rpc_error:
            error = rpc_error
        events.request.fire(  # type: ignore[no-untyped-call]
            request_type="grpc",
            name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=0,
            exception=error,
        )

    def _order(self) -> common_pb2.Order:
        city = self.rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
        skus = self.rng.sample(SKUS, k=self.rng.choice([1, 1, 2, 2, 3, 4, 5]))
        return common_pb2.Order(
            # 64 random bits: with 30 bits, two of ~5,000 Allocates shared an id about once a hundred runs.
            order_id=f"LOAD-{uuid.uuid4().hex[:16]}",
            ship_to=common_pb2.GeoPoint(lat=city.lat, lon=city.lon),
            lines=[
                common_pb2.OrderLine(line_id=str(i), sku=sku, qty=self.rng.choice([1, 1, 1, 2]))
                for i, sku in enumerate(skus)
            ],
        )

    @task(8)
    def source(self) -> None:
        request = sourcing_pb2.SourceRequest(order=self._order())
        self._call("Source", lambda: self.sourcing.Source(request, timeout=5))

    @task(3)
    def allocate(self) -> None:
        order = self._order()
        request = orders_pb2.AllocateRequest(request_key=f"alloc-{order.order_id}", order=order)

        def call() -> None:
            self.orders.Allocate(request, timeout=5)
            self.allocated.append(order.order_id)

        self._call("Allocate", call)

    @task(2)
    def cancel(self) -> None:
        # Cancelling what this user allocated gives the stock back, so a long run does not
        # drain the network into backorders; without one to cancel, the task is skipped.
        if not self.allocated:
            return
        order_id = self.allocated.pop(self.rng.randrange(len(self.allocated)))
        request = orders_pb2.CancelRequest(request_key=f"cancel-{order_id}", order_id=order_id, reason="load test")
        self._call("Cancel", lambda: self.orders.Cancel(request, timeout=5))

    @task(2)
    def availability(self) -> None:
        request = network_pb2.GetAvailabilityRequest(skus=self.rng.sample(SKUS, k=3))
        self._call("GetAvailability", lambda: self.network.GetAvailability(request, timeout=5))


class StepLoad(LoadTestShape):  # type: ignore[misc]
    """Steps of users (OMS_LOAD_STEPS, e.g. "8,16,32"), each held OMS_LOAD_STEP_SECONDS; then stop."""

    steps = tuple(int(s) for s in os.environ.get("OMS_LOAD_STEPS", "4,8,16,32").split(","))
    step_seconds = float(os.environ.get("OMS_LOAD_STEP_SECONDS", "10"))

    def tick(self) -> tuple[int, float] | None:
        step = int(self.get_run_time() // self.step_seconds)  # type: ignore[no-untyped-call]
        if step >= len(self.steps):
            return None
        return self.steps[step], float(self.steps[step])
