"""The relay against a real NATS JetStream, on both stores: every committed event arrives once on a
JetStream consumer, in order per order, through kill -9, a second relay and a broker outage.

The shared server (``nats_url``) is kept apart per test by a prefix of its own; the outage test
runs a private ``nats-server -js`` it can stop and start again on the same port and storage.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from server.metrics import RelayMetrics
from server.relay.messages import Destination
from server.relay.relay import Relay, RelaySettings, start_relay_thread
from server.store.base import Store
from tests.server.relay.helpers import (
    assert_exactly_once_in_order,
    committed_events,
    delete_streams,
    kill_9,
    note,
    outbox,
    read_stream,
    start_relay,
    stop,
    wait_for,
    write_round_robin,
)


@pytest.fixture
def prefix(nats_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    delete_streams(nats_url, Destination(name))


def _position(store: Store) -> int:
    state = outbox(store).relay_state("nats")
    return state[0] if state else 0


def _all_published(store: Store) -> bool:
    return _position(store) == len(committed_events(store))


def test_every_committed_event_is_published_once_in_order_and_nothing_else(
    store: Store, nats_url: str, prefix: str
) -> None:
    order_ids = [f"O-{i}" for i in range(20)]
    write_round_robin(store, order_ids, 3)
    with pytest.raises(RuntimeError):
        note(store, "O-0", 99, fail=True)  # written, then rolled back with its change
    registry = CollectorRegistry()
    relay = Relay(outbox(store), RelaySettings(nats_url, prefix=prefix), RelayMetrics(registry))
    halt = threading.Event()
    thread = start_relay_thread(relay, halt)
    try:
        wait_for(lambda: _all_published(store), "the first 60 events published")
        write_round_robin(store, order_ids, 2, first_round=3)  # while it runs
        wait_for(lambda: _all_published(store), "the next 40 published")
        assert relay.leading
        assert registry.get_sample_value("oms_sourcing_relay_broker_up") == 1
        assert registry.get_sample_value("oms_sourcing_relay_leader") == 1
    finally:
        halt.set()
        thread.join(timeout=30)
    committed = committed_events(store)
    assert len(committed) == 100
    received = read_stream(nats_url, Destination(prefix))
    assert_exactly_once_in_order(received, committed)
    assert all(r.body["data"].get("n") != 99 for r in received)
    first = received[0]
    assert first.subject == f"{prefix}.oms.v1.orders.allocated"
    assert first.body["schema_version"] == 1 and first.body["order_seq"] == 1
    assert registry.get_sample_value("oms_sourcing_relay_published_total") == 100
    assert registry.get_sample_value("oms_sourcing_relay_lag_seconds_count") == 100
    assert registry.get_sample_value("oms_sourcing_relay_broker_up") == 0  # stopped: disconnected
    assert registry.get_sample_value("oms_sourcing_relay_leader") == 0  # stopped: it gave the lease up
    state = outbox(store).relay_state("nats")
    assert state is not None and state[2] == 0  # the lease was given up at the stop, not left to expire


def test_kill_9_mid_stream_repeatedly_loses_nothing_and_duplicates_nothing(
    store: Store, store_url: str, nats_url: str, prefix: str, tmp_path: Path
) -> None:
    # Backlogs long enough that a kill lands mid-stream even on a quiet machine, where the relay
    # publishes a few hundred events between two looks at its stored position.
    order_ids = [f"O-{i}" for i in range(40)]
    rounds, rounds_per_attempt = 12, 6
    write_round_robin(store, order_ids, rounds)
    log = tmp_path / "relay.log"
    killed_at: list[tuple[int, int]] = []
    for attempt in range(3):
        before = _position(store)
        # Small windows and frequent stores: killed mid-stream, between stores (what it acknowledged
        # since the last one is published again, and deduplicated).
        relay = start_relay(
            store_url, nats_url, prefix, "--batch", "3", "--lease-seconds", "1", "--position-seconds", "0.05", log=log
        )
        try:
            wait_for(lambda: _position(store) > before, "the relay made progress")  # noqa: B023
        finally:
            kill_9(relay)
        killed_at.append((_position(store), len(committed_events(store))))
        more = rounds + attempt * rounds_per_attempt
        write_round_robin(store, order_ids, rounds_per_attempt, first_round=more)  # more while none runs
    relay = start_relay(store_url, nats_url, prefix, log=log)
    try:
        wait_for(lambda: _all_published(store), "everything published after the kills")
    finally:
        assert stop(relay) == 0, log.read_text()
    assert any(position < total for position, total in killed_at), killed_at  # some kill came mid-stream
    assert_exactly_once_in_order(read_stream(nats_url, Destination(prefix)), committed_events(store))


def test_two_relays_on_one_database_one_publishes_the_other_takes_over(
    store: Store, store_url: str, nats_url: str, prefix: str, tmp_path: Path
) -> None:
    order_ids = [f"O-{i}" for i in range(10)]
    write_round_robin(store, order_ids, 2)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    relays = [start_relay(store_url, nats_url, prefix, "--lease-seconds", "2", log=log) for log in logs]
    try:
        wait_for(lambda: _all_published(store), "the first events published")
        wait_for(lambda: all("relay " in log.read_text() for log in logs), "both relays started")
        leading = [i for i, log in enumerate(logs) if "relay leads" in log.read_text()]
        assert len(leading) == 1, [log.read_text() for log in logs]
        leader, other = leading[0], 1 - leading[0]
        state = outbox(store).relay_state("nats")
        assert state is not None and state[1].endswith(_holder_suffix(logs[leader]))
        kill_9(relays[leader])  # its lease is left to expire
        write_round_robin(store, order_ids, 2, first_round=2)
        wait_for(lambda: _all_published(store), "the other relay took over and published")
        assert "relay leads" in logs[other].read_text()
    finally:
        for relay in relays:
            if relay.poll() is None:
                assert stop(relay) == 0
    assert_exactly_once_in_order(read_stream(nats_url, Destination(prefix)), committed_events(store))


def _holder_suffix(log: Path) -> str:
    """The holder a relay printed at start ("relay HOST:PID:NONCE to ...")."""
    first = next(line for line in log.read_text().splitlines() if line.startswith("relay "))
    return first.split()[1]


# --- a broker that goes down and comes back ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class PrivateNats:
    """``nats-server -js`` on a port and storage folder of its own, to stop and start again."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary, self.folder, self.port = binary, folder, _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.folder)]
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the child holds it
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: _listening(self.port), "nats-server listening", seconds=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        wait_for(lambda: not _listening(self.port), "nats-server stopped", seconds=30)


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    binary = shutil.which("nats-server") or ("/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else "")
    if not binary:
        if os.environ.get("CI"):
            pytest.fail("nats-server is not installed; CI is set, so the relay's outage test must run")
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    folder = tmp_path / "nats"
    folder.mkdir()
    server = PrivateNats(binary, folder)
    server.start()
    yield server
    server.stop()


def test_while_the_broker_is_down_events_wait_and_then_all_arrive_in_order(
    store: Store, private_nats: PrivateNats
) -> None:
    order_ids = [f"O-{i}" for i in range(10)]
    write_round_robin(store, order_ids, 2)
    registry = CollectorRegistry()
    settings = RelaySettings(private_nats.url, ack_timeout_seconds=1.0, backoff_max_seconds=0.5)
    halt = threading.Event()
    thread = start_relay_thread(Relay(outbox(store), settings, RelayMetrics(registry)), halt)
    try:
        wait_for(lambda: _all_published(store), "published while the broker is up")
        private_nats.stop()
        write_round_robin(store, order_ids, 3, first_round=2)  # 30 events while it is down
        wait_for(lambda: registry.get_sample_value("oms_sourcing_relay_broker_up") == 0, "the relay saw it down")
        retried = lambda: (registry.get_sample_value("oms_sourcing_relay_retries_total") or 0) >= 2  # noqa: E731
        wait_for(retried, "the relay failed to publish and backed off, twice")
        assert not _all_published(store)
        private_nats.start()
        wait_for(lambda: _all_published(store), "caught up once the broker is back")
        assert registry.get_sample_value("oms_sourcing_relay_broker_up") == 1
    finally:
        halt.set()
        thread.join(timeout=30)
    assert_exactly_once_in_order(read_stream(private_nats.url, Destination()), committed_events(store))


def test_a_relay_started_while_the_broker_is_unreachable_backs_off_and_stops_at_once(store: Store) -> None:
    """The first connection failing must not hold the relay inside the client: it says so, retries
    after a back-off, and on stop gives its lease up."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        unreachable = f"nats://127.0.0.1:{probe.getsockname()[1]}"
    registry = CollectorRegistry()
    settings = RelaySettings(unreachable, backoff_max_seconds=0.5, connect_timeout_seconds=0.5)
    halt = threading.Event()
    thread = start_relay_thread(Relay(outbox(store), settings, RelayMetrics(registry)), halt)
    retried = lambda: (registry.get_sample_value("oms_sourcing_relay_retries_total") or 0) >= 2  # noqa: E731
    try:
        wait_for(retried, "the relay failed to connect and backed off, twice")
        assert registry.get_sample_value("oms_sourcing_relay_broker_up") == 0
    finally:
        halt.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    state = outbox(store).relay_state("nats")
    assert state is not None and state[2] == 0  # the lease given up on the way out
