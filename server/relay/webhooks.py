"""Signed webhooks: committed outbox events POSTed to each subscriber, in order, with retries.

One dispatcher per subscriber (``[[webhooks]]`` in the config file, server/webhook_config.py),
fed from the same outbox as the NATS relay but with a position of its own: the ``outbox_relay``
row ``webhook:<name>`` (position and lease), so one slow or dead receiver holds up nobody else.
With several servers, the lease lets one dispatcher per subscriber deliver.

For each event after its position, in commit order, that the subscriber wants:

1. POST the event's JSON (the body the relay publishes) with ``Oms-Event-Id`` (the receiver's
   dedupe key), ``Oms-Timestamp`` (Unix seconds) and ``Oms-Signature: v1=<hex HMAC-SHA256 of
   "<timestamp>.<body>" under the subscriber's secret>``;
2. a 2xx answer delivers it; anything else (an error status, a timeout, a refused connection)
   is tried again after a back-off that doubles from ``backoff_min_seconds`` up to
   ``backoff_max_seconds``, each wait between half and all of it (jitter: many subscribers
   retrying after one outage do not come back in step);
3. after ``max_attempts`` the event goes to the dead letters (``webhook_dead_letters``) and the
   dispatcher moves on. Per-order order: while an order has an event in a subscriber's dead
   letters, its later events go there too (parked, 0 attempts), so a receiver never gets an
   order's events out of order; ``oms-sourcing webhooks replay`` delivers them in order.
4. The position is stored after each delivered or dead-lettered event. A crash between the
   receiver's 2xx and the stored position delivers that event again with the same
   ``Oms-Event-Id``: receivers dedupe by it (at least once, once per event id when they do).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException

from server.metrics import WebhookMetrics
from server.relay.messages import Destination, order_message
from server.relay.relay import default_holder
from server.store.outbox import DeadLetter, OutboxEvent, OutboxStoreMixin
from server.webhook_config import WebhookSubscriber

_log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Oms-Signature"
TIMESTAMP_HEADER = "Oms-Timestamp"
EVENT_ID_HEADER = "Oms-Event-Id"
SIGNATURE_VERSION = "v1"


def relay_name(subscriber: str) -> str:
    """The subscriber's ``outbox_relay`` row: its position and lease."""
    return f"webhook:{subscriber}"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def _now_ms() -> int:
    return int(time.time() * 1000)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: following it would turn the POST into a GET elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# Direct connections (no proxy from the environment), no redirects.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


@dataclass(frozen=True, slots=True)
class Message:
    event: OutboxEvent
    subject: str
    body: bytes


def event_message(destination: Destination, event: OutboxEvent) -> Message:
    message = order_message(destination, event)
    return Message(event, message.subject, message.body)


def post(subscriber: WebhookSubscriber, message: Message, attempt: int, now_s: float | None = None) -> str | None:
    """One delivery; None when the receiver accepted it (2xx), else why not."""
    timestamp = str(int(time.time() if now_s is None else now_s))
    event = message.event
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "oms-sourcing-webhooks/1",
        EVENT_ID_HEADER: str(event.id),
        "Oms-Event-Type": event.type,
        "Oms-Delivery-Attempt": str(attempt),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(subscriber.secret, timestamp, message.body),
    }
    if event.order_id:
        headers["Oms-Order-Id"] = event.order_id
        headers["Oms-Order-Seq"] = str(event.order_seq)
    request = urllib.request.Request(subscriber.url, data=message.body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=subscriber.timeout_seconds) as response:
            response.read(65_536)  # drained, so the receiver never blocks writing its answer
            status = int(response.status)
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, HTTPException, ValueError) as error:
        return f"{type(error).__name__}: {getattr(error, 'reason', error)}"
    return None if 200 <= status < 300 else f"HTTP {status}"


class _LeaseLost(Exception):
    pass


class _Stopped(Exception):
    pass


class WebhookDispatcher:
    """Delivers one subscriber's events until stopped (``run`` in a thread of its own)."""

    def __init__(
        self,
        store: OutboxStoreMixin,
        subscriber: WebhookSubscriber,
        metrics: WebhookMetrics | None = None,
        prefix: str = "",
        holder: str | None = None,
        clock_ms: Callable[[], int] = _now_ms,
        rng: random.Random | None = None,
        poll_seconds: float = 0.05,
    ) -> None:
        self._store = store
        self.subscriber = subscriber
        self._metrics = metrics
        self._destination = Destination(prefix)
        self.holder = holder or default_holder()
        self._clock_ms = clock_ms
        self._rng = rng or random.Random()
        self._poll_seconds = poll_seconds
        self._name = relay_name(subscriber.name)
        # A POST may take its whole timeout: the lease outlasts a few of them.
        self._ttl_ms = int(max(30.0, 4 * subscriber.timeout_seconds) * 1000)
        self._renewed_ms = 0
        self.leading = False

    def _label(self) -> str:
        return self.subscriber.name

    def run(self, stop: threading.Event) -> None:
        try:
            if not self.subscriber.from_beginning:  # a new subscriber starts at the outbox's head
                self._store.start_relay_at(self._name, self._store.outbox_head())
        except Exception as error:
            _log.warning("webhook dispatcher cannot reach the database", extra={"error": str(error)})
        backoff = 0.1
        try:
            while not stop.is_set():
                try:
                    position = self._store.acquire_relay_lease(self._name, self.holder, self._clock_ms(), self._ttl_ms)
                except Exception as error:
                    _log.warning("webhook dispatcher cannot reach the database", extra={"error": str(error)})
                    stop.wait(backoff)
                    backoff = min(5.0, backoff * 2)
                    continue
                if position is None:
                    self.leading = False
                    stop.wait(self._ttl_ms / 3000)
                    continue
                self.leading = True
                self._renewed_ms = self._clock_ms()
                try:
                    self._lead(position, stop)
                except (_LeaseLost, _Stopped):
                    self.leading = False
                except Exception as error:  # the database failed mid-round: start over from the lease
                    _log.warning("webhook round failed", extra={"subscriber": self._label(), "error": repr(error)})
                    stop.wait(backoff)
                    backoff = min(5.0, backoff * 2)
        finally:
            if self.leading:
                try:
                    self._store.release_relay_lease(self._name, self.holder)
                except Exception as error:
                    _log.warning("webhook dispatcher could not give its lease up", extra={"error": str(error)})
                self.leading = False

    def _lead(self, position: int, stop: threading.Event) -> None:
        depth_read_ms = 0
        while not stop.is_set():
            events = self._store.next_outbox_events(position, 200)
            if self._metrics is not None and self._clock_ms() - depth_read_ms >= 1000:
                depth_read_ms = self._clock_ms()
                self._metrics.backlog.labels(self._label()).set(self._store.outbox_depth(position))
            if not events:
                self._renew_if_due(position)
                stop.wait(self._poll_seconds)
                continue
            skipped = False
            for event in events:
                if stop.is_set():
                    break
                message = event_message(self._destination, event)
                if not self.subscriber.wants(event.type, message.subject):
                    position, skipped = event.seq, True  # stored with the next delivery, or below
                    continue
                self._handle(message, position, stop)
                position, skipped = event.seq, False
                self._advance(position)
            if skipped:
                self._advance(position)

    def _handle(self, message: Message, position: int, stop: threading.Event) -> None:
        """Deliver ``message`` or dead-letter it; raises _Stopped (position not moved) when stopped."""
        event = message.event
        subscriber = self.subscriber
        if self._store.has_open_dead_letter(subscriber.name, event.order_id):
            self._dead(event, 0, f"parked: an earlier event of order {event.order_id!r} is in the dead letters")
            return
        delay = subscriber.backoff_min_seconds
        for attempt in range(1, subscriber.max_attempts + 1):
            error = post(subscriber, message, attempt)
            if error is None:
                if self._metrics is not None:
                    self._metrics.delivered.labels(self._label()).inc()
                    lag = (datetime.now(UTC) - event.created_at).total_seconds()
                    self._metrics.lag_seconds.labels(self._label()).observe(max(0.0, lag))
                return
            _log.warning(
                "webhook delivery failed",
                extra={"subscriber": subscriber.name, "event_id": event.id, "attempt": attempt, "error": error},
            )
            if attempt == subscriber.max_attempts:
                self._dead(event, attempt, error)
                return
            if self._metrics is not None:
                self._metrics.retries.labels(self._label()).inc()
            wait = delay / 2 + self._rng.uniform(0, delay / 2)
            delay = min(subscriber.backoff_max_seconds, delay * 2)
            self._wait_renewing(stop, position, wait)

    def _dead(self, event: OutboxEvent, attempts: int, error: str) -> None:
        now = self._clock_ms()
        letter = DeadLetter(self.subscriber.name, event.id, event.seq, event.order_id, event.type, attempts, error, now)
        self._store.add_dead_letter(letter)
        if self._metrics is not None:
            self._metrics.dead_lettered.labels(self._label()).inc()
        _log.error(
            "webhook event dead-lettered",
            extra={"subscriber": self.subscriber.name, "event_id": event.id, "attempts": attempts, "error": error},
        )

    # --- the lease -----------------------------------------------------------------

    def _advance(self, position: int) -> None:
        if not self._store.advance_relay(self._name, self.holder, position, self._clock_ms(), self._ttl_ms):
            raise _LeaseLost()
        self._renewed_ms = self._clock_ms()

    def _renew_if_due(self, position: int) -> None:
        if self._clock_ms() - self._renewed_ms >= self._ttl_ms / 3:
            self._advance(position)

    def _wait_renewing(self, stop: threading.Event, position: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if stop.is_set():
                raise _Stopped()
            self._renew_if_due(position)
            stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))


def start_webhook_threads(
    store: OutboxStoreMixin,
    subscribers: tuple[WebhookSubscriber, ...],
    stop: threading.Event,
    metrics: WebhookMetrics | None = None,
    prefix: str = "",
) -> list[threading.Thread]:
    """A daemon thread per subscriber until ``stop``; join them to let them give their leases up."""
    threads = []
    for subscriber in subscribers:
        dispatcher = WebhookDispatcher(store, subscriber, metrics, prefix)
        thread = threading.Thread(target=dispatcher.run, args=(stop,), name=f"webhook-{subscriber.name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads


# --- replay --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replayed:
    letter: DeadLetter
    error: str | None  # None: the receiver accepted it (now marked replayed)


def replay_dead_letters(
    store: OutboxStoreMixin,
    subscriber: WebhookSubscriber,
    event_ids: set[int] | None = None,
    prefix: str = "",
    clock_ms: Callable[[], int] = _now_ms,
) -> list[Replayed]:
    """Deliver ``subscriber``'s open dead letters once each (those of ``event_ids``; None: all), in
    event order. An order whose earlier dead event was not delivered (it failed again, or was not
    asked for) keeps its later ones: its events never reach the receiver out of order."""
    destination = Destination(prefix)
    open_letters = store.dead_letters(subscriber.name)
    blocked: set[str] = set()  # orders with an earlier event still dead
    out: list[Replayed] = []
    for letter in open_letters:
        if event_ids is not None and letter.event_id not in event_ids:
            if letter.order_id:
                blocked.add(letter.order_id)
            continue
        if letter.order_id and letter.order_id in blocked:
            out.append(Replayed(letter, "kept: an earlier event of its order is still in the dead letters"))
            continue
        event = store.outbox_event(letter.event_id)
        error = "the event is no longer in the outbox" if event is None else None
        if event is not None:
            error = post(subscriber, event_message(destination, event), letter.attempts + 1)
        if error is None:
            store.mark_replayed(subscriber.name, letter.event_id, clock_ms())
        elif letter.order_id:
            blocked.add(letter.order_id)
        out.append(Replayed(letter, error))
    return out
