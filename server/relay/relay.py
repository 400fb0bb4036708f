"""The relay: committed outbox events to NATS JetStream, in order, each acknowledged once.

One loop, run by ``oms-sourcing relay`` or in a thread of ``serve`` (``relay_nats_url``):

1. Take the lease (``outbox_relay`` row) or wait: with several servers, one relay publishes and
   the others poll until its lease expires (it stopped renewing: killed, hung, cut off).
2. Number committed events (the feed's sequencer) and read the next ones after the stored
   position, in one transaction (a read on SQLite, whose events are numbered at commit).
3. Publish a window of them, at most one per order, all at once, and wait for the broker's
   acknowledgements; each message's ``Nats-Msg-Id`` is its event id.
4. Store the position of the last event of the acknowledged prefix (renewing the lease, and only
   while holding it): at most every ``position_seconds`` while events keep coming, at once when
   caught up, before a back-off and on the way out. A failure anywhere (broker down, a slow ack)
   retries from the acknowledged position after a back-off that doubles up to
   ``backoff_max_seconds``.
5. Unless the read was a full batch, wait ``poll_seconds`` before the next: a round's cost (a
   read, a publish round trip, on PostgreSQL a numbering write) is then paid for many events at
   peak.

Why this delivers every committed event once: the outbox row commits with the change, so nothing
uncommitted is ever read and nothing committed is skipped (the position is a commit-ordered
cursor). A crash between the broker's ack and the stored position republishes what was
acknowledged since the last store (at most ``position_seconds`` of events) with the same message
ids, which JetStream's duplicate window (``duplicate_window_seconds``) drops. Per-order order: an
order's next event is sent only after its previous one was acknowledged, and a failed event is
retried before anything after it in the same order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from server.metrics import RelayMetrics
from server.relay.messages import (
    Destination,
    Outgoing,
    fulfillment_messages,
    needs_order,
    order_message,
    publish_window,
)
from server.store.outbox import OutboxEvent, OutboxStoreMixin

_log = logging.getLogger(__name__)

RELAY_NAME = "nats"
CLIENT_RECONNECT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class RelaySettings:
    nats_url: str
    prefix: str = ""
    batch: int = 512  # events read per round; a window holds at most this many
    lease_seconds: float = 10.0  # renewed every third of it; another relay takes over after it
    # The wait before the next read when the last one was not a full batch (nothing new, or a
    # part of one): at Allocate's peak a round then carries ~50 ms of events, not the two or
    # three that committed while the last round's acks were awaited. Each round costs a read, a
    # publish round trip and, on PostgreSQL, a numbering write, on the cores Allocate runs on
    # (docs/integrations.md).
    poll_seconds: float = 0.05
    # The acknowledged position is stored at most this often while events keep coming (and at once
    # when the relay is caught up, backs off or stops): each store is a durable write. A relay
    # killed in between publishes up to this much again, with the same message ids (deduplicated).
    position_seconds: float = 0.5
    ack_timeout_seconds: float = 5.0
    backoff_min_seconds: float = 0.1
    backoff_max_seconds: float = 5.0
    duplicate_window_seconds: float = 300.0
    connect_timeout_seconds: float = 2.0

    def __post_init__(self) -> None:
        Destination(self.prefix)  # refuses a bad prefix at once
        if not self.nats_url.startswith(("nats://", "tls://", "ws://", "wss://")):
            raise ValueError(f"relay NATS URL {self.nats_url!r} must start with nats://, tls://, ws:// or wss://")
        if not 1 <= self.batch <= 10_000:
            raise ValueError("relay batch must be 1-10000")
        if not 1.0 <= self.lease_seconds <= 3600:
            raise ValueError("relay lease must be 1-3600 seconds")
        if self.position_seconds < 0:
            raise ValueError("relay position interval must not be negative")


def _now_ms() -> int:
    return int(time.time() * 1000)


def default_holder() -> str:
    """Who holds the lease: host, process and a nonce (a restarted process is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _LeaseLost(Exception):
    pass


class Relay:
    def __init__(
        self,
        store: OutboxStoreMixin,
        settings: RelaySettings,
        metrics: RelayMetrics | None = None,
        holder: str | None = None,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics
        self._destination = Destination(settings.prefix)
        self.holder = holder or default_holder()
        self._clock_ms = clock_ms
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._ttl_ms = int(settings.lease_seconds * 1000)
        # Storing the position renews the lease: never less often than a renewal is due.
        self._position_ms = min(settings.position_seconds * 1000, self._ttl_ms / 3)
        self._renewed_ms = 0  # when the position (and the lease) was last stored
        self._acked = 0  # the position of the last event JetStream acknowledged
        self._stored = 0  # the position last stored
        self._backoff = settings.backoff_min_seconds
        self._depth_read_ms = 0
        self.leading = False

    # --- the loop ------------------------------------------------------------------

    async def run(self, stop: threading.Event) -> None:
        """Lead or wait, until ``stop`` is set; gives the lease up on the way out."""
        try:
            while not stop.is_set():
                try:
                    position = self._store.acquire_relay_lease(RELAY_NAME, self.holder, self._clock_ms(), self._ttl_ms)
                except Exception as error:  # the database is down: say so, wait, try again
                    _log.warning("relay cannot reach the database", extra={"error": str(error)})
                    await self._sleep(stop, self._next_backoff())
                    continue
                if position is None:
                    self._set_leading(False)
                    await self._sleep(stop, self._settings.lease_seconds / 3)
                    continue
                self._set_leading(True)
                self._renewed_ms = self._clock_ms()
                self._acked = self._stored = position
                try:
                    await self._lead(position, stop)
                except _LeaseLost:
                    _log.warning("relay lost its lease; waiting", extra={"holder": self.holder})
                    self._set_leading(False)
                except Exception as error:  # the database failed mid-round: start over from the lease
                    _log.warning("relay round failed", extra={"error": repr(error)})
                    await self._sleep(stop, self._next_backoff())
        finally:
            if self.leading:
                try:
                    if self._acked > self._stored:  # what was acknowledged since the last store
                        self._advance(self._acked)
                except Exception as error:  # lost the lease meanwhile, or the database is down
                    _log.warning("relay could not store its last position", extra={"error": repr(error)})
                try:
                    self._store.release_relay_lease(RELAY_NAME, self.holder)
                except Exception as error:
                    _log.warning("relay could not give its lease up", extra={"error": str(error)})
                self._set_leading(False)
            await self._disconnect()

    async def _lead(self, position: int, stop: threading.Event) -> None:
        while not stop.is_set():
            if self._js is None and not await self._connect():
                if self._metrics is not None:
                    self._metrics.retries.inc()
                await self._wait_renewing(stop, position, self._next_backoff())
                continue
            try:
                events = self._store.next_outbox_events(position, self._settings.batch)
                self._observe_depth(position)
            except Exception as error:
                _log.warning("relay cannot read the outbox", extra={"error": str(error)})
                await self._wait_renewing(stop, position, self._next_backoff())
                continue
            if not events:  # caught up: store what is acknowledged, renew the lease when due
                if position > self._stored:
                    self._advance(position)
                else:
                    self._renew_if_due(position)
                await self._sleep(stop, self._settings.poll_seconds)
                continue
            window = publish_window(events, self._settings.batch)
            acked = await self._publish(window)
            if acked:
                position = self._acked = window[acked - 1].seq
            if acked < len(window):
                if self._metrics is not None:
                    self._metrics.retries.inc()
                if position > self._stored:
                    self._advance(position)
                self._js = None  # look the stream up again before the retry (a broker restarted empty)
                await self._wait_renewing(stop, position, self._next_backoff())
                continue
            self._backoff = self._settings.backoff_min_seconds
            if self._clock_ms() - self._renewed_ms >= self._position_ms:
                self._advance(position)
            if len(events) < self._settings.batch:  # more will have committed by the next read
                await self._sleep(stop, self._settings.poll_seconds)

    def _messages(self, event: OutboxEvent) -> list[Outgoing]:
        """An event's message, then the fulfillment instructions it carries (a release, a cancel...)."""
        messages = [order_message(self._destination, event)]
        if needs_order(event):
            request = self._store.order_request(event.order_id)
            messages += fulfillment_messages(self._destination, event, request)
        return messages

    async def _publish(self, window: list[OutboxEvent]) -> int:
        """Send the window at once, wait for every ack; how many leading events were acknowledged
        (an event counts once its message and all its instructions were)."""
        js = self._js
        assert js is not None
        batches = [self._messages(event) for event in window]
        futures: list[asyncio.Future[Any]] = []
        owners: list[int] = []  # the window index of each future's event
        failed_at = len(window)
        try:
            for index, messages in enumerate(batches):
                failed_at = index  # until all of this event's messages are sent
                for message in messages:
                    futures.append(
                        await js.publish_async(
                            message.subject,
                            message.body,
                            # No timeout here: one would yield to the event loop after every message, and
                            # the client would then write each to the socket alone. Without one the window
                            # is buffered whole and flushed in a few writes (the client's 4000 pending
                            # acks are far above a window, so this never waits).
                            wait_stall=None,
                            stream=message.stream,
                            headers=message.headers,
                        )
                    )
                    owners.append(index)
            failed_at = len(window)
        except Exception as error:  # the connection is closed or its buffer full: what was sent still counts
            _log.warning("relay could not send", extra={"error": repr(error)})
        results = await _acks(futures, self._settings.ack_timeout_seconds)
        for index, result in zip(owners, results, strict=True):
            if isinstance(result, BaseException) and index < failed_at:
                _log.warning(
                    "broker did not acknowledge a message; retrying after a back-off",
                    extra={"event_id": window[index].id, "error": repr(result) or type(result).__name__},
                )
                failed_at = index
        if failed_at < len(window):
            self._broker_up(False)
        else:
            self._broker_up(True)
        if self._metrics is not None:
            for index, result in zip(owners, results, strict=True):
                if index >= failed_at or isinstance(result, BaseException):
                    continue
                if getattr(result, "duplicate", False):
                    self._metrics.duplicates.inc()
                else:
                    self._metrics.published.inc()
            now = datetime.now(UTC)
            for event in window[:failed_at]:
                self._metrics.lag_seconds.observe(max(0.0, (now - event.created_at).total_seconds()))
        return failed_at

    # --- the lease -----------------------------------------------------------------

    def _advance(self, position: int) -> None:
        if not self._store.advance_relay(RELAY_NAME, self.holder, position, self._clock_ms(), self._ttl_ms):
            raise _LeaseLost()
        self._renewed_ms = self._clock_ms()
        self._stored = max(self._stored, position)

    def _renew_if_due(self, position: int) -> None:
        if self._clock_ms() - self._renewed_ms >= self._ttl_ms / 3:
            self._advance(position)

    async def _wait_renewing(self, stop: threading.Event, position: int, seconds: float) -> None:
        """Back off for ``seconds`` while keeping the lease (a broker outage is no reason to hand over)."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                self._renew_if_due(position)
            except _LeaseLost:
                raise
            except Exception as error:
                _log.warning("relay cannot renew its lease", extra={"error": str(error)})
            await self._sleep(stop, min(0.05, max(0.0, deadline - time.monotonic())))

    def _set_leading(self, leading: bool) -> None:
        if leading != self.leading:
            _log.info("relay leads" if leading else "relay waits", extra={"holder": self.holder})
        self.leading = leading
        if self._metrics is not None:
            self._metrics.leader.set(1 if leading else 0)

    # --- the broker ----------------------------------------------------------------

    async def _connect(self) -> bool:
        """Connect and make sure the stream exists; False (logged) when the broker is unreachable."""
        try:
            if self._nc is None or self._nc.is_closed:
                self._nc = await nats.connect(
                    servers=[self._settings.nats_url],
                    connect_timeout=self._settings.connect_timeout_seconds,
                    allow_reconnect=True,
                    # Bounded: with -1 nats-py retries a first connection that fails forever, inside
                    # this call, so a relay started while the broker is down never saw its stop and
                    # kept its lease. Past these attempts the client closes and the relay's own
                    # back-off, which watches the stop, connects again.
                    max_reconnect_attempts=CLIENT_RECONNECT_ATTEMPTS,
                    reconnect_time_wait=self._settings.backoff_min_seconds,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            js = self._nc.jetstream(timeout=self._settings.ack_timeout_seconds)
            await self._ensure_stream(js)
        except Exception as error:
            _log.warning("relay cannot reach the broker", extra={"nats": self._settings.nats_url, "error": repr(error)})
            self._broker_up(False)
            return False
        self._js = js
        self._broker_up(True)
        _log.info("relay connected", extra={"nats": self._settings.nats_url, "stream": self._destination.orders_stream})
        return True

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Create the orders and fulfillment streams when missing; an existing one is left as its
        operator set it."""
        destination = self._destination
        for name, subjects in (
            (destination.orders_stream, [destination.orders_subjects]),
            (destination.fulfillment_stream, [destination.fulfillment_subjects]),
            (destination.operations_stream, destination.operations_subjects),
        ):
            try:
                await js.stream_info(name)
                continue
            except NotFoundError:
                pass
            await js.add_stream(
                StreamConfig(
                    name=name,
                    subjects=subjects,
                    storage=StorageType.FILE,
                    duplicate_window=self._settings.duplicate_window_seconds,
                )
            )

    async def _disconnect(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.close()
            except Exception as error:
                _log.debug("relay close failed", extra={"error": repr(error)})

    async def _on_error(self, error: Exception) -> None:
        _log.debug("nats client error", extra={"error": repr(error)})

    async def _on_disconnected(self) -> None:
        self._broker_up(False)

    async def _on_reconnected(self) -> None:
        self._broker_up(True)

    def _broker_up(self, up: bool) -> None:
        if self._metrics is not None:
            self._metrics.broker_up.set(1 if up else 0)

    # --- helpers -------------------------------------------------------------------

    def _observe_depth(self, position: int) -> None:
        if self._metrics is None:
            return
        now = self._clock_ms()
        if now - self._depth_read_ms >= 1000:  # a count a second at most
            self._depth_read_ms = now
            self._metrics.outbox_depth.set(self._store.outbox_depth(position))

    def _next_backoff(self) -> float:
        current = self._backoff
        self._backoff = min(self._settings.backoff_max_seconds, self._backoff * 2)
        return current

    @staticmethod
    async def _sleep(stop: threading.Event, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))


async def _acks(futures: list[asyncio.Future[Any]], timeout: float) -> list[Any]:
    """Each future's result or exception, in order, waiting at most ``timeout`` for them all: one
    wait for the window (a ``wait_for`` each made a task and a timer per message, a quarter of the
    relay's CPU). One still pending then is cancelled and counts as timed out."""
    if not futures:
        return []
    _, pending = await asyncio.wait(futures, timeout=timeout)
    results: list[Any] = []
    for future in futures:
        if future in pending:
            future.cancel()
            results.append(TimeoutError(f"no acknowledgement within {timeout:g} s"))
        elif future.cancelled():
            results.append(asyncio.CancelledError())
        else:
            results.append(future.exception() or future.result())
    return results


def run_relay(relay: Relay, stop: threading.Event) -> None:
    """Run ``relay`` on an event loop of its own in this thread until ``stop`` is set."""
    asyncio.run(relay.run(stop))


def start_relay_thread(relay: Relay, stop: threading.Event) -> threading.Thread:
    """A daemon thread running ``relay`` until ``stop``; join it to let it give its lease up."""
    thread = threading.Thread(target=run_relay, args=(relay, stop), name="outbox-relay", daemon=True)
    thread.start()
    return thread
