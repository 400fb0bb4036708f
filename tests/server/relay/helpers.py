"""What the relay's tests share: order events written through the store's own transactions, a
JetStream consumer that reads a stream back, relays run as processes, waits with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import nats
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from engine.orders.changes import OrderChange
from engine.orders.lifecycle import Action
from engine.orders.records import NewOrder, OrderRecord
from server.relay.messages import Destination
from server.store.base import OrderStore, RequestKey, Store, order_store
from server.store.outbox import OutboxStoreMixin

ROOT = Path(__file__).resolve().parents[3]
HOLD_MS = 3_600_000


def orders(store: Store) -> OrderStore:
    return order_store(store)


def outbox(store: Store) -> OutboxStoreMixin:
    return cast(OutboxStoreMixin, store)


def new_order(store: Store, order_id: str) -> None:
    """An order nothing is reserved for (BACKORDERED): its first event."""
    new = NewOrder(order_id, "{}", (("L1", "A", 1),), HOLD_MS, "rs", "{}", f"d-{order_id}")
    orders(store).allocate_order(RequestKey(f"k-{order_id}", "Allocate", "h"), new, [], datetime.now(UTC), b"")


def note(store: Store, order_id: str, n: int, fail: bool = False) -> None:
    """One more event on the order, written by the store's mutate_order in its own transaction;
    ``fail``: the call fails after the event was written, so its transaction rolls back."""

    def plan(record: OrderRecord) -> OrderChange:
        return OrderChange("NOTED", {"n": n})

    sql: Any = store  # the SQL store's step that stores the answer, last before COMMIT
    if fail:
        finish = sql._finish

        def failing(*args: Any) -> Any:
            finish(*args)
            raise RuntimeError("the call failed after writing its event")

        sql._finish = failing  # shadows the method for this call only
    try:
        orders(store).mutate_order(
            RequestKey(f"k-{order_id}-{n}-{uuid.uuid4().hex[:6]}", "Note", "h"),
            order_id,
            Action.RESOURCE,
            datetime.now(UTC),
            plan,
        )
    finally:
        if fail:
            del sql._finish


def write_round_robin(store: Store, order_ids: list[str], rounds: int, first_round: int = 0) -> None:
    """``rounds`` rounds, each one event on every order in turn (the first round creates them)."""
    for r in range(first_round, first_round + rounds):
        for order_id in order_ids:
            if r == 0:
                new_order(store, order_id)
            else:
                note(store, order_id, r)


def committed_events(store: Store) -> list[tuple[int, str]]:
    """(event id, order id) of every committed event, in id order."""

    def read(tx: Any) -> list[tuple[int, str]]:
        return [(int(r[0]), str(r[1] or "")) for r in tx.execute("SELECT id, order_id FROM events ORDER BY id")]

    return cast(list[tuple[int, str]], store._read(read))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Received:
    msg_id: str
    subject: str
    headers: dict[str, str]
    body: dict[str, Any]
    stream_seq: int


def read_stream(
    nats_url: str, destination: Destination, fulfillment: bool = False, operations: bool = False
) -> list[Received]:
    """Every message of the orders stream (or the fulfillment or operations stream), in stream
    order, through a JetStream pull consumer."""
    stream = destination.fulfillment_stream if fulfillment else destination.orders_stream
    subjects = destination.fulfillment_subjects if fulfillment else destination.orders_subjects
    if operations:
        stream, subjects = destination.operations_stream, ""

    async def read() -> list[Received]:
        nc = await nats.connect(nats_url, connect_timeout=5)
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(stream)
            except NotFoundError:
                return []
            expected = info.state.messages
            if subjects:
                sub = await js.pull_subscribe(
                    subjects,
                    stream=stream,
                    config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
                )
            else:  # every subject of the stream: a consumer without a filter
                durable = f"read-{uuid.uuid4().hex[:8]}"
                await js.add_consumer(stream, ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT))
                sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
            out: list[Received] = []
            while len(out) < expected:
                for msg in await sub.fetch(min(500, expected - len(out)), timeout=5):
                    await msg.ack()
                    assert msg.metadata is not None
                    out.append(
                        Received(
                            msg_id=(msg.headers or {}).get("Nats-Msg-Id", ""),
                            subject=msg.subject,
                            headers=dict(msg.headers or {}),
                            body=json.loads(msg.data),
                            stream_seq=msg.metadata.sequence.stream,
                        )
                    )
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def delete_streams(nats_url: str, destination: Destination) -> None:
    async def delete() -> None:
        nc = await nats.connect(nats_url, connect_timeout=5)
        try:
            streams = (destination.orders_stream, destination.fulfillment_stream, destination.shipments_stream)
            for stream in (*streams, destination.operations_stream):
                with contextlib.suppress(NotFoundError):
                    await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()

    asyncio.run(delete())


def assert_exactly_once_in_order(received: list[Received], committed: list[tuple[int, str]]) -> None:
    """Every committed event once (by message id), and each order's events in id order."""
    ids = [int(r.msg_id) for r in received]
    assert len(ids) == len(set(ids)), "a message id came twice"
    assert sorted(ids) == [event_id for event_id, _ in committed]
    per_order: dict[str, list[int]] = {}
    for r in received:
        per_order.setdefault(r.headers["Oms-Order-Id"], []).append(int(r.msg_id))
        assert r.body["event_id"] == int(r.msg_id)
    for order_id, event_ids in per_order.items():
        assert event_ids == sorted(event_ids), f"order {order_id} out of order"
        seqs = [r.body["order_seq"] for r in received if r.headers["Oms-Order-Id"] == order_id]
        assert seqs == list(range(1, len(seqs) + 1))


def all_published(store: Store, name: str = "nats") -> bool:
    """Whether relay ``name`` has published every event committed so far."""
    return (outbox(store).relay_state(name) or (0,))[0] == outbox(store).outbox_head()


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.02)


def start_relay(database_url: str, nats_url: str, prefix: str, *extra: str, log: Path) -> subprocess.Popen[bytes]:
    """``oms-sourcing relay`` as a process of its own (its output to ``log``)."""
    command = [sys.executable, "-m", "server.cli.main", "relay", "--database", database_url, "--nats", nats_url]
    command += ["--prefix", prefix, *extra]
    env = {**os.environ, "OMS_SOURCING_LOG_LEVEL": "INFO"}
    handle = open(log, "ab")  # noqa: SIM115 - the child holds it
    return subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=env)


def kill_9(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)
