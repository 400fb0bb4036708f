"""Signed webhooks on both stores, against a real local HTTP receiver (port 0): every event once
per event id on the receiver's side, in order per order, signed; through failures, timeouts, a
slow receiver and one that is down for a while; dead letters after the retry budget, later
events of the order parked behind them, listed and replayed by the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from server.metrics import WebhookMetrics
from server.relay.webhooks import WebhookDispatcher, relay_name, signature
from server.store.base import Store
from server.webhook_config import WebhookSubscriber, parse_subscribers, subject_matches
from tests.server.relay.helpers import ROOT, committed_events, new_order, note, outbox, wait_for, write_round_robin
from tests.server.relay.webhook_receiver import Receiver

SECRET = "s3cret-for-tests-0123456789"


def _subscriber(receiver: Receiver, **fields: object) -> WebhookSubscriber:
    values: dict[str, object] = {
        "name": "crm",
        "url": receiver.url,
        "secret": SECRET,
        "timeout_seconds": 0.4,
        "max_attempts": 8,
        "backoff_min_seconds": 0.05,
        "backoff_max_seconds": 0.4,
        "from_beginning": True,
    }
    values.update(fields)
    return WebhookSubscriber(**values)  # type: ignore[arg-type]


class Running:
    def __init__(self, store: Store, subscriber: WebhookSubscriber) -> None:
        self.stop = threading.Event()
        self.registry = CollectorRegistry()
        metrics = WebhookMetrics(self.registry)
        self.dispatcher = WebhookDispatcher(outbox(store), subscriber, metrics, poll_seconds=0.02)
        self.thread = threading.Thread(target=self.dispatcher.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def metric(self, name: str) -> float:
        return self.registry.get_sample_value(name, {"subscriber": "crm"}) or 0.0

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET).start()
    yield r
    r.stop()


def _in_order_per_order(receiver: Receiver) -> None:
    per_order: dict[str, list[int]] = {}
    for r in receiver.accepted:
        per_order.setdefault(r.order_id, []).append(r.order_seq)
        assert r.body["event_id"] == r.event_id
    for order_id, seqs in per_order.items():
        assert seqs == list(range(1, len(seqs) + 1)), f"{order_id} out of order or with a gap: {seqs}"


def test_events_arrive_signed_once_in_order_through_failures_timeouts_and_slowness(
    store: Store, receiver: Receiver
) -> None:
    write_round_robin(store, ["O-1", "O-2", "O-3"], rounds=3)

    def misbehave(n: int, headers: dict[str, str]) -> tuple[int, float]:
        if n in (1, 2, 7):
            return 500, 0.0  # fails
        if n == 4:
            return 200, 0.7  # answers after the sender's 0.4 s timeout: accepted late, sent again
        if n in (5, 9):
            return 200, 0.2  # slow but in time
        return 200, 0.0

    receiver.behaviour = misbehave
    running = Running(store, _subscriber(receiver))
    try:
        expected = [event_id for event_id, _ in committed_events(store)]
        wait_for(lambda: sorted(receiver.accepted_ids()) == expected, "every event accepted", 20)
        wait_for(lambda: outbox(store).relay_state(relay_name("crm"))[0] == len(expected), "position stored", 10)  # type: ignore[index]
    finally:
        running.close()
    assert receiver.bad_signatures == 0
    assert receiver.duplicates >= 1  # the timed-out delivery was accepted late, and again
    assert running.metric("oms_sourcing_webhook_delivered_total") == len(expected)
    assert running.metric("oms_sourcing_webhook_retries_total") == 4  # three failures and a timeout
    assert running.metric("oms_sourcing_webhook_lag_seconds_count") == len(expected)
    _in_order_per_order(receiver)
    assert outbox(store).dead_letters("crm") == []
    assert outbox(store).relay_state(relay_name("crm"))[2] == 0  # type: ignore[index]  # lease given up on stop


def _receiver_down(
    store: Store, receiver: Receiver, subscriber: WebhookSubscriber, down_s: float, back_s: float
) -> None:
    """The receiver goes down after the first wanted event and stays down ``down_s`` while six more
    commit; once it is back, all of them arrive within ``back_s``: signed, once each, in order per
    order, nothing dead, and only the events the subscriber's filter asks for."""
    running = Running(store, subscriber)
    try:
        write_round_robin(store, ["O-1", "O-2"], rounds=1)  # ALLOCATED-like first events: not wanted
        note(store, "O-1", 1)
        wait_for(lambda: len(receiver.accepted) == 1, "the first NOTED delivered", 10)
        receiver.stop()  # down
        for n in range(2, 5):
            note(store, "O-1", n)
            note(store, "O-2", n)
        time.sleep(down_s)  # retrying against a closed port, backing off
        assert len(receiver.accepted) == 1
        receiver.start()  # back, on the same port
        wait_for(lambda: len(receiver.accepted) == 7, "everything delivered after the outage", back_s)
    finally:
        running.close()
        receiver.stop()
    assert {r.body["type"] for r in receiver.accepted} == {"NOTED"}
    assert [r.body["data"]["n"] for r in receiver.accepted if r.order_id == "O-1"] == [1, 2, 3, 4]
    assert [r.body["data"]["n"] for r in receiver.accepted if r.order_id == "O-2"] == [2, 3, 4]
    assert receiver.bad_signatures == 0 and outbox(store).dead_letters("crm") == []


def test_a_receiver_down_for_a_while_gets_everything_after_and_the_filter_holds(
    store: Store, receiver: Receiver
) -> None:
    # Two seconds with a fast back-off keep make test short; the minute-long outage is below.
    _receiver_down(store, receiver, _subscriber(receiver, event_types=("NOTED",), max_attempts=20), 2.0, 15)


@pytest.mark.slow
def test_a_receiver_down_for_a_minute_with_the_shipped_retry_settings_gets_everything_after(
    store: Store, receiver: Receiver
) -> None:
    """Issue #21's fault as stated: a receiver down for a minute, with the shipped back-off (0.5 s
    doubling to 60 s, each wait jittered between half and all of it) and attempt budget (10), which
    outlast a minute however the jitter falls (the 10th attempt comes 78-183 s after the first).
    `make faults-long` runs it (about 2-3 minutes a store); not in make test."""
    subscriber = WebhookSubscriber(
        name="crm", url=receiver.url, secret=SECRET, event_types=("NOTED",), from_beginning=True
    )
    assert (subscriber.backoff_min_seconds, subscriber.backoff_max_seconds, subscriber.max_attempts) == (0.5, 60, 10)
    _receiver_down(store, receiver, subscriber, 60.0, 90)


def test_out_of_attempts_an_event_is_dead_its_order_waits_and_the_cli_replays_in_order(
    store: Store, store_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    refuse_o1 = True

    def behaviour(n: int, headers: dict[str, str]) -> tuple[int, float]:
        return (503, 0.0) if refuse_o1 and headers.get("Oms-Order-Id") == "O-1" else (200, 0.0)

    receiver.behaviour = behaviour
    running = Running(store, _subscriber(receiver, max_attempts=3))
    try:
        new_order(store, "O-1")
        new_order(store, "O-2")
        note(store, "O-1", 1)
        note(store, "O-2", 1)
        ids = [event_id for event_id, _ in committed_events(store)]
        wait_for(lambda: len(outbox(store).dead_letters("crm")) == 2, "O-1's events dead or parked", 10)
        wait_for(lambda: len(receiver.accepted) == 2, "O-2's events delivered", 10)
    finally:
        running.close()
    dead = outbox(store).dead_letters("crm")
    assert [(d.event_id, d.order_id, d.attempts) for d in dead] == [(ids[0], "O-1", 3), (ids[2], "O-1", 0)]
    assert "503" in dead[0].last_error and "parked" in dead[1].last_error
    assert running.metric("oms_sourcing_webhook_dead_lettered_total") == 2

    config = tmp_path / "oms.toml"
    config.write_text(
        f'database_url = "{store_url}"\n\n[[webhooks]]\nname = "crm"\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n'
    )
    listed = _cli("webhooks", "dead-letters", "--config", str(config), "--json")
    assert [json.loads(line)["event_id"] for line in listed.stdout.splitlines()] == [ids[0], ids[2]]
    # Replaying only the later event would overtake the earlier one: it is kept.
    kept = _cli("webhooks", "replay", "--config", str(config), "--subscriber", "crm", "--event", str(ids[2]), ok=1)
    assert "kept" in kept.stdout and len(outbox(store).dead_letters("crm")) == 2
    still_down = _cli("webhooks", "replay", "--config", str(config), "--subscriber", "crm", ok=1)
    assert "0 delivered, 2 still dead" in still_down.stdout
    refuse_o1 = False
    replayed = _cli("webhooks", "replay", "--config", str(config), "--subscriber", "crm")
    assert "2 delivered, 0 still dead" in replayed.stdout
    assert [r.event_id for r in receiver.accepted if r.order_id == "O-1"] == [ids[0], ids[2]]
    assert outbox(store).dead_letters("crm") == []
    assert [d.event_id for d in outbox(store).dead_letters("crm", include_replayed=True)] == [ids[0], ids[2]]
    assert receiver.bad_signatures == 0


def _cli(*args: str, ok: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "server.cli.main", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == ok, done.stdout + done.stderr
    return done


def test_a_new_subscriber_starts_at_the_head_unless_told_to_start_from_the_beginning(
    store: Store, receiver: Receiver
) -> None:
    new_order(store, "O-1")
    running = Running(store, _subscriber(receiver, from_beginning=False))
    try:
        wait_for(lambda: outbox(store).relay_state(relay_name("crm")) is not None, "the subscriber's row made", 10)
        note(store, "O-1", 1)
        wait_for(lambda: len(receiver.accepted) == 1, "the new event delivered", 10)
    finally:
        running.close()
    assert [r.body["type"] for r in receiver.accepted] == ["NOTED"]


def test_signature_subjects_and_config() -> None:
    assert signature("k" * 16, "1700000000", b"{}") == signature("k" * 16, "1700000000", b"{}")
    assert signature("k" * 16, "1700000000", b"{}") != signature("k" * 16, "1700000001", b"{}")
    assert subject_matches("oms.v1.orders.>", "oms.v1.orders.shipped")
    assert subject_matches("oms.v1.orders.*", "oms.v1.orders.shipped")
    assert not subject_matches("oms.v1.orders.*", "oms.v1.fulfillment.DC1")
    assert not subject_matches("oms.v1.orders.shipped.>", "oms.v1.orders.shipped")
    table = {"name": "crm", "url": "https://crm.example/h", "secret_env": "CRM_SECRET", "subjects": ["oms.v1.orders.>"]}
    (parsed,) = parse_subscribers([table], {"CRM_SECRET": "x" * 20})
    assert parsed.secret == "x" * 20 and parsed.wants("SHIPPED", "oms.v1.orders.shipped")
    for bad, message in (
        ({**table, "url": "ftp://x"}, "url"),
        ({**table, "secret": "y" * 20}, "one of them"),
        ({**table, "subjects": ["oms.>.x"]}, "subject pattern"),
        ({**table, "retries": 3}, "unknown key"),
        ({**table, "secret_env": "UNSET"}, "at least 16"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_subscribers([bad], {"CRM_SECRET": "x" * 20})
