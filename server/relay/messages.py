"""What the relay sends: streams, subjects, headers and the message body of each outbox event.

Pure functions of an event (no I/O), so the wire format is tested without a broker and
documented in one place (docs/integrations.md, "Messages").

- Stream ``OMS_ORDERS`` holds subjects ``oms.v1.orders.>``; an event of type ``ALLOCATED`` goes
  to ``oms.v1.orders.allocated``. A consumer subscribes to all of them (``oms.v1.orders.>``) or
  to the types it acts on.
- ``Nats-Msg-Id`` is the event id, so JetStream's duplicate window drops a message published
  again after a retry or a restart.
- The order id travels in the ``Oms-Order-Id`` header (order ids may hold characters a subject
  token may not), with the order's own sequence number (``Oms-Order-Seq``).
- A prefix (``relay_prefix``) puts every subject under ``<prefix>.`` and every stream name under
  ``<PREFIX>_``: several deployments (or test runs) on one NATS account stay apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC

from server.store.outbox import OutboxEvent

SCHEMA_VERSION = 1
API_VERSION = "v1"
_PREFIX = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class Outgoing:
    subject: str
    headers: dict[str, str]
    body: bytes
    msg_id: str


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one deployment's messages go: its stream names and subjects."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if self.prefix and not _PREFIX.match(self.prefix):
            raise ValueError(
                f"relay prefix {self.prefix!r} must be lower-case letters and digits, words joined by - or _"
            )

    @property
    def _subject_root(self) -> str:
        root = f"oms.{API_VERSION}"
        return f"{self.prefix}.{root}" if self.prefix else root

    @property
    def orders_stream(self) -> str:
        return self._stream("OMS_ORDERS")

    @property
    def orders_subjects(self) -> str:
        return f"{self._subject_root}.orders.>"

    def order_subject(self, event_type: str) -> str:
        return f"{self._subject_root}.orders.{_token(event_type)}"

    def _stream(self, name: str) -> str:
        return f"{self.prefix.upper().replace('-', '_')}_{name}" if self.prefix else name


def _token(event_type: str) -> str:
    """An event type as one subject token: lower case, anything but letters, digits, - and _ as _."""
    return re.sub(r"[^a-z0-9_-]", "_", event_type.lower()) or "_"


def order_message(destination: Destination, event: OutboxEvent) -> Outgoing:
    """The message of one outbox event: its subject, headers and JSON body."""
    data = json.loads(event.payload) if event.payload else {}
    occurred = event.created_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = {
        "schema_version": SCHEMA_VERSION,
        "event_id": event.id,
        "position": event.seq,
        "type": event.type,
        "order_id": event.order_id or None,
        "order_seq": event.order_seq or None,
        "occurred_at": occurred,
        "by": data.get("by") if isinstance(data, dict) else None,
        "data": data,
    }
    msg_id = str(event.id)
    headers = {
        "Nats-Msg-Id": msg_id,
        "Oms-Schema-Version": str(SCHEMA_VERSION),
        "Oms-Event-Type": event.type,
        "Oms-Event-Position": str(event.seq),
    }
    if event.order_id:
        headers["Oms-Order-Id"] = event.order_id
        headers["Oms-Order-Seq"] = str(event.order_seq)
    return Outgoing(
        subject=destination.order_subject(event.type),
        headers=headers,
        body=json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
        msg_id=msg_id,
    )


def publish_window(events: list[OutboxEvent], limit: int) -> list[OutboxEvent]:
    """The longest prefix of ``events`` (at most ``limit``) with at most one event per order: what
    may be in flight at once without an order's later event overtaking its earlier one."""
    seen: set[str] = set()
    window: list[OutboxEvent] = []
    for event in events[:limit]:
        if event.order_id and event.order_id in seen:
            break
        seen.add(event.order_id)
        window.append(event)
    return window
