"""WatchEvents on both stores: replay, follow, resume without gaps, cancellation, shutdown;
the background sweeper; and the cursor's safety against events committing out of id order."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from server.api.proto import orders_pb2
from server.store.base import Store
from server.store.postgres import PostgresStore
from tests.integration.conftest import ServerFactory
from tests.integration.orders_helpers import Client, allocate, order, serve_orders, state

STOCK = [("NEAR", "A", 10), ("FAR", "A", 10)]


def _client(start_server: ServerFactory, store: Store, **config: Any) -> Client:
    return serve_orders(start_server, store, STOCK, **config)


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = _client(start_server, store)
    yield client
    client.channel.close()


class Watcher:
    """Collects a stream in a thread, so the test can act while it follows."""

    def __init__(self, client: Client, after: int = 0) -> None:
        self.call = client.orders.WatchEvents(orders_pb2.WatchEventsRequest(after_cursor=after))
        self.seen: list[orders_pb2.WatchedEvent] = []
        self.ended: grpc.StatusCode | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.call:
                self.seen.append(event)
            self.ended = grpc.StatusCode.OK
        except grpc.RpcError as error:
            self.ended = error.code()
        finally:
            self.done.set()

    def wait_for(self, check: Callable[[list[orders_pb2.WatchedEvent]], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not check(self.seen):
            assert time.monotonic() < deadline, f"stream did not deliver: {[e.event.type for e in self.seen]}"
            time.sleep(0.02)

    def of(self, order_id: str) -> list[str]:
        return [e.event.type for e in self.seen if e.order_id == order_id]


def test_a_watcher_sees_allocate_cancel_ship_in_order_and_resumes_without_gaps(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-0", ("A", 1))))  # history from before the watch
    watcher = Watcher(client)
    watcher.wait_for(lambda seen: any(e.order_id == "O-0" for e in seen))
    client.orders.Allocate(allocate(order("O-1", ("A", 3))))
    cancel = orders_pb2.CancelRequest(
        request_key="c", order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L0", qty=1)]
    )
    client.orders.Cancel(cancel)
    client.orders.ConfirmShipment(orders_pb2.ConfirmShipmentRequest(request_key="s", order_id="O-1", node_id="NEAR"))
    watcher.wait_for(lambda seen: len([e for e in seen if e.order_id == "O-1"]) == 3)
    assert watcher.of("O-1") == ["ALLOCATED", "CANCELLED", "SHIPPED"]
    cursors = [e.cursor for e in watcher.seen]
    # Commit-ordered from the start; the numbers between are events about no order (the network
    # loaded, for the relay), which WatchEvents leaves out.
    assert cursors == sorted(set(cursors)) and cursors[0] >= 1
    watcher.call.cancel()  # the client's cancellation ends the stream
    assert watcher.done.wait(2.0) and watcher.ended == grpc.StatusCode.CANCELLED

    # Resume from the cursor of the ALLOCATED event: exactly what followed it, then new events.
    allocated = next(e for e in watcher.seen if e.order_id == "O-1")
    resumed = Watcher(client, after=allocated.cursor)
    client.orders.Cancel(orders_pb2.CancelRequest(request_key="c2", order_id="O-0"))
    resumed.wait_for(lambda seen: "CANCELLED" in [e.event.type for e in seen if e.order_id == "O-0"])
    resumed_cursors = [e.cursor for e in resumed.seen]
    assert resumed_cursors == sorted(set(resumed_cursors)) and resumed_cursors[0] > allocated.cursor
    assert [(e.order_id, e.event.type) for e in resumed.seen] == [
        ("O-1", "CANCELLED"),
        ("O-1", "SHIPPED"),
        ("O-0", "CANCELLED"),
    ]
    got = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert resumed.seen[0].event == got.events[1]  # the same event as the order's history shows
    resumed.call.cancel()


def test_watchers_never_take_the_handler_threads_and_beyond_max_streams_are_refused(
    start_server: ServerFactory, store: Store
) -> None:
    # As many watchers as handler threads: each on a stream thread, so calls still get decided.
    client = _client(start_server, store, threads=2, max_streams=2)
    watchers = [Watcher(client), Watcher(client)]
    stream_pool = client.running.stream_pool
    assert stream_pool is not None
    deadline = time.monotonic() + 5.0
    while stream_pool.pending < 2:
        assert time.monotonic() < deadline, "the streams never started"
        time.sleep(0.02)
    client.orders.Allocate(allocate(order("O-1", ("A", 1))), timeout=5)
    for watcher in watchers:
        watcher.wait_for(lambda seen: any(e.order_id == "O-1" for e in seen))
    third = Watcher(client)
    assert third.done.wait(5.0) and third.ended == grpc.StatusCode.RESOURCE_EXHAUSTED
    watchers[0].call.cancel()
    assert watchers[0].done.wait(2.0)
    while stream_pool.pending > 1:  # the cancelled stream gives its thread back
        assert time.monotonic() < deadline + 5.0, "a cancelled stream kept its thread"
        time.sleep(0.02)
    again = Watcher(client)
    again.wait_for(lambda seen: any(e.order_id == "O-1" for e in seen))
    for watcher in (watchers[1], again):
        watcher.call.cancel()
    client.channel.close()


def test_server_shutdown_ends_streams_without_waiting_out_the_grace(start_server: ServerFactory, store: Store) -> None:
    client = _client(start_server, store, grace_seconds=30.0)
    watcher = Watcher(client)
    time.sleep(0.3)
    started = time.monotonic()
    client.running.stop(grace=30.0)
    assert time.monotonic() - started < 5.0
    assert watcher.done.wait(2.0)
    client.channel.close()


def test_background_sweeper_records_expiry(start_server: ServerFactory, store: Store) -> None:
    client = _client(start_server, store, sweep_interval_seconds=0.05)
    client.orders.Allocate(allocate(order("O-1", ("A", 2)), hold_ms=1000))
    client.clock.advance(seconds=2)
    deadline = time.monotonic() + 5.0
    while True:
        got = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
        if [e.type for e in got.events] == ["ALLOCATED", "EXPIRED"]:
            break
        assert time.monotonic() < deadline, "the sweeper never recorded the expiry"
        time.sleep(0.05)
    assert state(got) == "BACKORDERED" and client.conservation() == []
    client.running.stop(grace=0)
    client.channel.close()


@pytest.mark.postgres
def test_an_event_committing_after_a_later_id_is_still_delivered(store: Store) -> None:
    """PostgreSQL hands out ids at INSERT: id N may commit after N+1. A cursor on ids would skip N."""
    if not isinstance(store, PostgresStore):
        pytest.skip("SQLite has one writer: ids are in commit order")
    inserted, release = threading.Event(), threading.Event()
    insert = "INSERT INTO events (order_id, type, payload, created_at) VALUES (?, ?, '{}', now()) RETURNING id"

    def slow(tx: Any) -> int:
        (event_id,) = tx.execute(insert, ("X", "SLOW"))[0]
        inserted.set()
        release.wait(5.0)
        return int(event_id)

    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(store._write(slow)))  # type: ignore[attr-defined]
    thread.start()
    assert inserted.wait(5.0)
    fast_id = store._write(lambda tx: int(tx.execute(insert, ("X", "FAST"))[0][0]))  # type: ignore[attr-defined]
    store.sequence_events()  # type: ignore[attr-defined]
    first = store.events_after(0, 100)  # type: ignore[attr-defined]
    assert [e.type for e in first] == ["FAST"]
    release.set()
    thread.join(5.0)
    assert result[0] < fast_id  # the slow event has the smaller id, yet committed last
    store.sequence_events()  # type: ignore[attr-defined]
    after = store.events_after(first[-1].seq, 100)  # type: ignore[attr-defined]
    assert [(e.type, e.id) for e in after] == [("SLOW", result[0])]


def test_event_payloads_are_structured_and_the_same_in_get_order_and_the_feed(client: Client) -> None:
    placed = client.orders.Allocate(allocate(order("O-1", ("A", 2))))
    cancel = orders_pb2.CancelRequest(request_key="c", order_id="O-1", reason="customer asked")
    client.orders.Cancel(cancel)
    view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    allocated, cancelled = view.events
    assert allocated.payload["to"] == "ALLOCATED" and allocated.payload["decision_id"] == placed.decision.decision_id
    assert cancelled.payload["reason"] == "customer asked" and cancelled.payload["lines"][0][1] == 2
    # In JSON (what oms-sourcing call prints) the payload is an object, not a string of JSON.
    as_json = json.loads(json_format.MessageToJson(view))
    assert as_json["events"][1]["payload"]["lines"] == [["L0", 2]]
    watcher = Watcher(client)
    watcher.wait_for(lambda seen: len(seen) == 2)
    assert [e.event for e in watcher.seen] == list(view.events)
    watcher.call.cancel()
