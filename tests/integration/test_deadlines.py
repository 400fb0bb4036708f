"""A call past its deadline writes nothing (server/deadline.py), over real gRPC on both stores.

The server's deadline is the client's, counted from when the request arrived: a little later than
the client's own. So the client nearly always gives up first and sees a DEADLINE_EXCEEDED of its
own making, whatever the server did next. These tests tell the two apart by what the server
counted (grpc_server_handled_total, by code) and by what the database holds, row by row.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import grpc
import psycopg
import pytest

from server.api.app import RunningServer
from server.api.proto import network_pb2, orders_pb2, rules_pb2, rules_pb2_grpc
from server.api.services.resourcing import Resourcer
from server.deadline import deadline_after
from server.store.base import InventoryUpdate, Store, UpdateKind
from server.store.postgres import PostgresStore
from server.store.sqlite import SqliteStore
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import T0, count, delta, item, node, usd
from tests.integration.orders_helpers import Client, allocate, order, serve_orders, state

STOCK = [("NEAR", "A", 1000), ("MID", "A", 1000), ("NEAR", "B", 1000), ("FAR", "C", 1000)]
HOLD_RULE = (
    "rules:\n  - id: fraud-hold\n    when: {order: {attributes: {fraud_score: {gte: 80}}}}\n"
    "    then: {hold: {reason: fraud score of 80 or more}}\n"
)
DEADLINE_S = 1.0  # each call's: long enough to reach its handler on a loaded machine; the lock is held longer
LOCK_HELD_S = 2.5
Call = tuple[str, Callable[..., Any], Any]  # (method name, stub method, request)


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    # Enough handler threads that every call of a test runs at once, none queued past its deadline.
    client = serve_orders(start_server, store, STOCK, threads=32)
    yield client
    client.channel.close()


@contextmanager
def write_lock_held(store: Store) -> Iterator[None]:
    """Another connection holds the database's write lock: every write transaction waits."""
    if isinstance(store, SqliteStore):
        lite = sqlite3.connect(store.path, isolation_level=None)
        lite.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lite.execute("ROLLBACK")
            lite.close()
        return
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.conninfo) as connection:  # a transaction until rollback
        tables = [r[0] for r in connection.execute(_TABLES_SQL["postgresql"])]
        connection.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")  # reads go on
        try:
            yield
        finally:
            connection.rollback()


_TABLES_SQL = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    "postgresql": "SELECT table_name FROM information_schema.tables"
    " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
}


def every_row(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read over a connection of the test's own."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as lite:
            tables = [r[0] for r in lite.execute(_TABLES_SQL["sqlite"])]
            return {t: sorted(lite.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.conninfo) as connection:
        tables = [r[0] for r in connection.execute(_TABLES_SQL["postgresql"])]
        return {t: sorted(connection.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def handled(running: RunningServer, method: str) -> Counter[str]:
    """The server's count of finished calls of ``method``, by status code."""
    found: Counter[str] = Counter()
    for metric in running.metrics_registry.collect():
        for sample in metric.samples:
            if sample.name == "grpc_server_handled_total" and sample.labels["grpc_method"] == method:
                found[sample.labels["grpc_code"]] += int(sample.value)
    return found


def wait_until_handled(running: RunningServer, expected: dict[str, int], timeout: float = 30.0) -> None:
    """Until the server has finished ``expected[method]`` calls of each method."""
    give_up = time.monotonic() + timeout
    while any(sum(handled(running, m).values()) < n for m, n in expected.items()):
        assert time.monotonic() < give_up, {m: handled(running, m) for m in expected}
        time.sleep(0.02)


def call(stub_method: Callable[..., Any], request: Any, timeout: float) -> grpc.StatusCode:
    try:
        stub_method(request, timeout=timeout)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _prepare(client: Client) -> list[Call]:
    """Orders in every state a mutating call needs, and one such call of each kind."""
    rules = rules_pb2_grpc.RulesServiceStub(client.channel)  # type: ignore[no-untyped-call]
    for content in (HOLD_RULE, HOLD_RULE + "# v2\n"):  # two versions: one to roll back to
        rules.ActivateRules(
            rules_pb2.ActivateRulesRequest(files=[rules_pb2.RuleFile(name="r.yaml", content=content)], activated_by="t")
        )
    orders = client.orders
    at: dict[str, str] = {}
    for order_id in ("C1", "R1", "S1", "RA1", "RT1"):
        placed = orders.Allocate(allocate(order(order_id, ("A", 2)))).order
        at[order_id] = placed.reservations[0].node_id
    orders.ConfirmShipment(orders_pb2.ConfirmShipmentRequest(request_key="ship", order_id="RT1", node_id=at["RT1"]))
    held = orders.Allocate(allocate(order("H1", ("A", 1), attributes={"fraud_score": "95"})))
    assert state(held.order) == "HELD"
    network = client.network
    return [
        ("Allocate", orders.Allocate, allocate(order("N1", ("A", 1)))),
        (
            "AllocateBatch",
            orders.AllocateBatch,
            orders_pb2.AllocateBatchRequest(orders=[allocate(order("N2", ("A", 1))), allocate(order("N3", ("B", 1)))]),
        ),
        ("Cancel", orders.Cancel, orders_pb2.CancelRequest(request_key="c", order_id="C1")),
        ("Release", orders.Release, orders_pb2.ReleaseRequest(request_key="r", order_id="R1")),
        (
            "ConfirmShipment",
            orders.ConfirmShipment,
            orders_pb2.ConfirmShipmentRequest(request_key="s", order_id="S1", node_id=at["S1"]),
        ),
        (
            "Reallocate",
            orders.Reallocate,
            orders_pb2.ReallocateRequest(request_key="ra", order_id="RA1", node_id=at["RA1"]),
        ),
        (
            "Return",
            orders.Return,
            orders_pb2.ReturnRequest(
                request_key="rt",
                order_id="RT1",
                lines=[orders_pb2.LineUnits(line_id="L0", qty=1)],
                disposition=orders_pb2.DISPOSITION_RESTOCK,
            ),
        ),
        (
            "ReleaseHold",
            orders.ReleaseHold,
            orders_pb2.ReleaseHoldRequest(request_key="rh", order_id="H1", approved_by="ann"),
        ),
        ("ReoptimizePending", orders.ReoptimizePending, orders_pb2.ReoptimizePendingRequest(request_key="ro")),
        (
            "UpdateInventory",
            network.UpdateInventory,
            network_pb2.UpdateInventoryRequest(request_key="ui", updates=[delta("FAR", "C", 5)]),
        ),
        ("UpsertNodes", network.UpsertNodes, network_pb2.UpsertNodesRequest(nodes=[node("NEW")])),
        ("UpsertItems", network.UpsertItems, network_pb2.UpsertItemsRequest(items=[item("NEW-SKU")])),
        (
            "UpsertRateTables",
            network.UpsertRateTables,
            network_pb2.UpsertRateTablesRequest(
                rate_tables=[
                    network_pb2.RateTable(
                        service_level="STANDARD",
                        zone_limits_miles=[500],
                        base=[usd(5), usd(9)],
                        per_lb=[usd(1), usd(2)],
                    )
                ]
            ),
        ),
        (
            "ActivateRules",
            rules.ActivateRules,
            rules_pb2.ActivateRulesRequest(
                files=[rules_pb2.RuleFile(name="r.yaml", content=HOLD_RULE + "# v3\n")], activated_by="t"
            ),
        ),
        ("RollbackRules", rules.RollbackRules, rules_pb2.RollbackRulesRequest(activated_by="t")),
    ]


def test_no_mutating_call_past_its_deadline_writes_anything(client: Client, store: Store) -> None:
    """Each waits for the write lock past its deadline; when the lock goes, the server refuses to
    commit (before BEGIN or before COMMIT: SQLite's group commit queues some, others wait inside
    their transaction). Before the fix every one of them committed once the lock was released."""
    calls = _prepare(client)
    before_rows = every_row(store)
    before = {name: sum(handled(client.running, name).values()) for name, _, _ in calls}
    with ThreadPoolExecutor(len(calls)) as pool:
        with write_lock_held(store):
            answers = [pool.submit(call, method, request, DEADLINE_S) for _, method, request in calls]
            time.sleep(LOCK_HELD_S)
        client_codes = [a.result() for a in answers]
    assert set(client_codes) == {grpc.StatusCode.DEADLINE_EXCEEDED}
    wait_until_handled(client.running, {name: n + 1 for name, n in before.items()})
    server_codes = {name: handled(client.running, name) for name, _, _ in calls}
    assert all(codes["DEADLINE_EXCEEDED"] == 1 for codes in server_codes.values()), server_codes
    assert every_row(store) == before_rows
    # The cure for a call that timed out: the same call again, with the same request key.
    for name, method, request in calls:
        assert call(method, request, 30) == grpc.StatusCode.OK, name
    assert client.conservation() == []


def test_many_allocates_with_tiny_deadlines_store_only_what_the_server_answered_ok(client: Client) -> None:
    """200 Allocates with 1-20 ms deadlines used to store an order for nearly every call, every one
    of them answered DEADLINE_EXCEEDED. Now a call the server refuses stores nothing; one it
    commits in time may still reach the client too late (answer lost), and its retry with the same
    request key returns the stored order, never a second one."""
    total = 200
    requests = [allocate(order(f"T{i:03d}", ("A", 1))) for i in range(total)]
    before = handled(client.running, "Allocate")

    def tiny(i: int) -> grpc.StatusCode:
        return call(client.orders.Allocate, requests[i], (1 + i % 20) / 1000)

    with ThreadPoolExecutor(8) as pool:
        client_codes = list(pool.map(tiny, range(total)))
    # A client that gives up at once sends its next call while the server still works on the last:
    # past max_concurrent_rpcs the server refuses (RESOURCE_EXHAUSTED), before any handler runs.
    answers = {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert set(client_codes) <= answers
    # Calls whose deadline passed while queued never reach the handler; the rest finish soon.
    settled, last = 0, None
    while settled < 10:
        now = handled(client.running, "Allocate")
        settled, last = (settled + 1 if now == last else 0), now
        time.sleep(0.05)
    server = handled(client.running, "Allocate") - before
    assert set(server) <= {code.name for code in answers}, server
    assert server["DEADLINE_EXCEEDED"] > 0, "the server never refused a late call"

    listed = client.orders.ListOrders(orders_pb2.ListOrdersRequest(page_size=1000)).orders
    stored = {o.order_id for o in listed if o.order_id.startswith("T")}
    assert len(stored) == server["OK"]  # one order per call answered OK, none for a refused one
    assert {f"T{i:03d}" for i, c in enumerate(client_codes) if c == grpc.StatusCode.OK} <= stored
    assert client.conservation() == []

    for i, code in enumerate(client_codes):
        if code != grpc.StatusCode.OK:
            retried = client.orders.Allocate(requests[i], timeout=30).order
            assert [e.type for e in retried.events] == ["ALLOCATED"]
    listed = client.orders.ListOrders(orders_pb2.ListOrdersRequest(page_size=1000)).orders
    assert len([o for o in listed if o.order_id.startswith("T")]) == total
    assert client.available("A", "NEAR") + client.available("A", "MID") == 2000 - total
    assert client.conservation() == []


def test_healing_after_the_callers_commit_is_not_bounded_by_its_deadline(client: Client, store: Store) -> None:
    """Healing runs after the call's own change committed, on the call's thread: were it bound by
    the caller's deadline, an UpdateInventory answered just in time would leave the orders its
    stock should heal waiting for the next update of their SKUs."""
    later = T0 + timedelta(minutes=1)
    client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("FAR", "C", 0, later)]))
    assert state(client.orders.Allocate(allocate(order("W", ("C", 1)))).order) == "BACKORDERED"
    store.update_inventory([InventoryUpdate("FAR", "C", UpdateKind.DELTA, 1)])  # stock, not yet healed
    with deadline_after(0.0):  # the call that brought it is past its deadline by now
        Resourcer(client.running.deps).heal_after_commit(["C"])
    healed = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="W")).order
    assert state(healed) == "ALLOCATED" and healed.events[-1].type == "RESOURCED"
